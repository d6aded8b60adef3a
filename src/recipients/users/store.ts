import { sql } from 'kysely';
import type { EnvTx } from '../../db/scoped.ts';
import type { UserRow } from '../../db/schema.ts';
import { isBackwards, type PageRequest } from '../../http/pagination.ts';

/** Creates the user or deep-merges `properties` into the stored ones (given values win). */
export async function upsertUser(tx: EnvTx, environmentId: string, id: string, properties: Record<string, unknown>): Promise<UserRow> {
  const [row] = await upsertUsers(tx, environmentId, [{ id, properties }]);
  return row;
}

/** Creates an empty user if none exists (sub-resources such as channel data create their user). */
export async function ensureUser(tx: EnvTx, environmentId: string, id: string): Promise<void> {
  await tx.insertInto('users').values({ environment_id: environmentId, id, properties: '{}' }).onConflict((oc) => oc.doNothing()).execute();
}

export function findUser(tx: EnvTx, environmentId: string, id: string, lock = false): Promise<UserRow | undefined> {
  let query = tx.selectFrom('users').selectAll().where('environment_id', '=', environmentId).where('id', '=', id);
  if (lock) query = query.forUpdate();
  return query.executeTakeFirst();
}

export async function replaceUserProperties(tx: EnvTx, environmentId: string, id: string, properties: Record<string, unknown>): Promise<UserRow> {
  return tx
    .updateTable('users')
    .set({ properties: JSON.stringify(properties), updated_at: sql`now()` })
    .where('environment_id', '=', environmentId)
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** Deletes users (their preferences, channel data and subscriptions go with them); returns the ids deleted. */
export async function deleteUsers(tx: EnvTx, environmentId: string, ids: string[]): Promise<string[]> {
  if (ids.length === 0) return [];
  // Their subscriptions go too, so a later object fan-out never reaches a deleted user.
  await tx.deleteFrom('object_subscriptions').where('environment_id', '=', environmentId).where('recipient_collection', '=', '$users').where('recipient_id', 'in', ids).execute();
  const rows = await tx.deleteFrom('users').where('environment_id', '=', environmentId).where('id', 'in', ids).returning('id').execute();
  return rows.map((r) => r.id);
}

/** One page of users in id order, fetching one extra row to know if more follow. */
export function listUsers(tx: EnvTx, environmentId: string, page: PageRequest): Promise<UserRow[]> {
  let query = tx.selectFrom('users').selectAll().where('environment_id', '=', environmentId);
  if (page.after !== undefined) query = query.where('id', '>', page.after);
  if (page.before !== undefined) query = query.where('id', '<', page.before);
  return query.orderBy('id', isBackwards(page) ? 'desc' : 'asc').limit(page.size + 1).execute();
}

/** Moves a user's preference sets, channel data and subscriptions the target lacks onto the target. */
export async function moveRecipientData(tx: EnvTx, environmentId: string, fromId: string, intoId: string): Promise<void> {
  await sql`
    UPDATE user_preference_sets s SET user_id = ${intoId}
    WHERE s.environment_id = ${environmentId} AND s.user_id = ${fromId}
      AND NOT EXISTS (SELECT 1 FROM user_preference_sets t
                      WHERE t.environment_id = s.environment_id AND t.user_id = ${intoId} AND t.set_id = s.set_id)
  `.execute(tx);
  await sql`
    UPDATE user_channel_data s SET user_id = ${intoId}
    WHERE s.environment_id = ${environmentId} AND s.user_id = ${fromId}
      AND NOT EXISTS (SELECT 1 FROM user_channel_data t
                      WHERE t.environment_id = s.environment_id AND t.user_id = ${intoId} AND t.channel_id = s.channel_id)
  `.execute(tx);
  await sql`
    UPDATE object_subscriptions s SET recipient_id = ${intoId}
    WHERE s.environment_id = ${environmentId} AND s.recipient_collection = '$users' AND s.recipient_id = ${fromId}
      AND NOT EXISTS (SELECT 1 FROM object_subscriptions t
                      WHERE t.environment_id = s.environment_id AND t.collection = s.collection AND t.object_id = s.object_id
                        AND t.recipient_collection = '$users' AND t.recipient_id = ${intoId})
  `.execute(tx);
  await sql`DELETE FROM object_subscriptions WHERE environment_id = ${environmentId} AND recipient_collection = '$users' AND recipient_id = ${fromId}`.execute(tx);
}

/** Upserts many users in one statement (ids must be distinct), deep-merging properties; rows come back in no set order. */
export function upsertUsers(tx: EnvTx, environmentId: string, users: Array<{ id: string; properties: Record<string, unknown> }>): Promise<UserRow[]> {
  return tx
    .insertInto('users')
    .values(users.map((u) => ({ environment_id: environmentId, id: u.id, properties: JSON.stringify(u.properties) })))
    .onConflict((oc) =>
      oc.columns(['environment_id', 'id']).doUpdateSet({
        properties: sql`herald_jsonb_merge(users.properties, excluded.properties)`,
        updated_at: sql`now()`,
      }),
    )
    .returningAll()
    .execute();
}
