import { sql, type Kysely, type Updateable } from 'kysely';
import type { Database, EnvironmentRow, EnvironmentsTable } from '../db/schema.ts';

type Tx = Kysely<Database>;

/** Environments of an account, in order (development first, production last). */
export function listEnvironments(db: Tx, accountId: string): Promise<EnvironmentRow[]> {
  return db
    .selectFrom('environments')
    .selectAll()
    .where('account_id', '=', accountId)
    .where('deleted_at', 'is', null)
    .orderBy('position')
    .execute();
}

/** An environment by slug; `forUpdate` locks its row until the transaction ends. */
export function findEnvironmentBySlug(db: Tx, accountId: string, slug: string, options: { forUpdate?: boolean } = {}): Promise<EnvironmentRow | undefined> {
  const query = db
    .selectFrom('environments')
    .selectAll()
    .where('account_id', '=', accountId)
    .where('slug', '=', slug)
    .where('deleted_at', 'is', null);
  return (options.forUpdate ? query.forUpdate() : query).executeTakeFirst();
}

export function findEnvironmentById(db: Tx, id: string): Promise<EnvironmentRow | undefined> {
  return db.selectFrom('environments').selectAll().where('id', '=', id).executeTakeFirst();
}

/** Makes room at `position` by moving every later environment down one place. */
export async function shiftPositionsFrom(db: Tx, accountId: string, position: number): Promise<void> {
  await db
    .updateTable('environments')
    .set({ position: sql`position + 1` })
    .where('account_id', '=', accountId)
    .where('position', '>=', position)
    .execute();
}

export function insertEnvironment(
  db: Tx,
  values: Pick<EnvironmentRow, 'account_id' | 'slug' | 'name' | 'position' | 'owner' | 'label_color' | 'hide_pii_data' | 'hide_message_content'>,
): Promise<EnvironmentRow> {
  return db
    .insertInto('environments')
    .values({ ...values, last_commit_at: null, deleted_at: null })
    .returningAll()
    .executeTakeFirstOrThrow();
}

export function updateEnvironment(
  db: Tx,
  id: string,
  changes: Updateable<EnvironmentsTable>,
): Promise<EnvironmentRow> {
  return db
    .updateTable('environments')
    .set({ ...changes, updated_at: new Date() })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** Serialises changes to the environment list (ordering, creation) across processes. */
export async function lockEnvironmentList(db: Tx, accountId: string): Promise<void> {
  await sql`SELECT pg_advisory_xact_lock(hashtext('herald.environments'), hashtext(${accountId}))`.execute(db);
}
