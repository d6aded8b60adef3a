import { sql, type Selectable } from 'kysely';
import type { EnvTx } from '../../db/scoped.ts';
import type { ObjectsTable, ObjectSubscriptionsTable } from '../../db/schema.ts';
import { isBackwards, type PageRequest } from '../../http/pagination.ts';
import type { PreferenceSettings } from '../preferences/schema.ts';
import type { StoredPreferenceSet } from '../preferences/store.ts';

export type ObjectRow = Selectable<ObjectsTable>;
export type SubscriptionRow = Selectable<ObjectSubscriptionsTable>;

/** The `recipient_collection` of a user subscriber. */
export const USERS_COLLECTION = '$users';

/** A subscriber as stored: `$users` for a user, else an object's collection. */
export interface StoredRecipient {
  collection: string;
  id: string;
}

export function findObject(tx: EnvTx, environmentId: string, collection: string, id: string): Promise<ObjectRow | undefined> {
  return tx
    .selectFrom('objects')
    .selectAll()
    .where('environment_id', '=', environmentId)
    .where('collection', '=', collection)
    .where('id', '=', id)
    .executeTakeFirst();
}

/** Creates the object or deep-merges `properties` into the stored ones (given values win). */
export function upsertObject(tx: EnvTx, environmentId: string, collection: string, id: string, properties: Record<string, unknown>): Promise<ObjectRow> {
  return tx
    .insertInto('objects')
    .values({ environment_id: environmentId, collection, id, properties: JSON.stringify(properties) })
    .onConflict((oc) =>
      oc.columns(['environment_id', 'collection', 'id']).doUpdateSet({
        properties: sql`herald_jsonb_merge(objects.properties, excluded.properties)`,
        updated_at: sql`now()`,
      }),
    )
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** Creates an empty object if none exists (subscribing to or with an object creates it). */
export async function ensureObject(tx: EnvTx, environmentId: string, collection: string, id: string): Promise<void> {
  await tx
    .insertInto('objects')
    .values({ environment_id: environmentId, collection, id, properties: '{}' })
    .onConflict((oc) => oc.doNothing())
    .execute();
}

/** Deletes an object, its subscribers (by cascade) and its own subscriptions to other objects. */
export async function deleteObject(tx: EnvTx, environmentId: string, collection: string, id: string): Promise<boolean> {
  const result = await tx
    .deleteFrom('objects')
    .where('environment_id', '=', environmentId)
    .where('collection', '=', collection)
    .where('id', '=', id)
    .executeTakeFirst();
  if (result.numDeletedRows === 0n) return false;
  await tx
    .deleteFrom('object_subscriptions')
    .where('environment_id', '=', environmentId)
    .where('recipient_collection', '=', collection)
    .where('recipient_id', '=', id)
    .execute();
  return true;
}

/** One page of a collection's objects in id order, fetching one extra row to know if more follow. */
export function listObjects(tx: EnvTx, environmentId: string, collection: string, page: PageRequest): Promise<ObjectRow[]> {
  let query = tx.selectFrom('objects').selectAll().where('environment_id', '=', environmentId).where('collection', '=', collection);
  if (page.after !== undefined) query = query.where('id', '>', page.after);
  if (page.before !== undefined) query = query.where('id', '<', page.before);
  return query.orderBy('id', isBackwards(page) ? 'desc' : 'asc').limit(page.size + 1).execute();
}

/**
 * Subscribes recipients (distinct) to an object; an existing subscription is updated:
 * its properties are replaced when `properties` is given, kept otherwise.
 */
export async function upsertSubscriptions(
  tx: EnvTx,
  environmentId: string,
  object: { collection: string; id: string },
  recipients: StoredRecipient[],
  properties: Record<string, unknown> | null | undefined,
): Promise<void> {
  const json = properties == null ? null : JSON.stringify(properties);
  await tx
    .insertInto('object_subscriptions')
    .values(recipients.map((r) => ({
      environment_id: environmentId,
      collection: object.collection,
      object_id: object.id,
      recipient_collection: r.collection,
      recipient_id: r.id,
      properties: json,
    })))
    .onConflict((oc) =>
      oc.columns(['environment_id', 'collection', 'object_id', 'recipient_collection', 'recipient_id']).doUpdateSet({
        ...(properties === undefined ? {} : { properties: sql`excluded.properties` }),
        updated_at: sql`now()`,
      }),
    )
    .execute();
}

/** Deletes the given recipients' subscriptions to an object; returns the rows deleted. */
export function deleteSubscriptions(
  tx: EnvTx,
  environmentId: string,
  object: { collection: string; id: string },
  recipients: StoredRecipient[],
): Promise<SubscriptionRow[]> {
  return tx
    .deleteFrom('object_subscriptions')
    .where('environment_id', '=', environmentId)
    .where('collection', '=', object.collection)
    .where('object_id', '=', object.id)
    .where((eb) => eb.or(recipients.map((r) => eb.and([eb('recipient_collection', '=', r.collection), eb('recipient_id', '=', r.id)]))))
    .returningAll()
    .execute();
}

/** A subscription with its object and its recipient (a user's or an object's columns, by `recipient_collection`). */
export interface SubscriptionJoinRow {
  collection: string;
  object_id: string;
  recipient_collection: string;
  recipient_id: string;
  properties: Record<string, unknown> | null;
  inserted_at: Date;
  updated_at: Date;
  /** Microseconds since the epoch of `inserted_at` (exact, unlike a Date): the sort key. */
  inserted_us: string;
  object_properties: Record<string, unknown>;
  object_updated_at: Date;
  recipient_properties: Record<string, unknown>;
  recipient_updated_at: Date;
}

/** Where a page of subscriptions resumes: (inserted_at, object, recipient), newest first. */
export interface SubscriptionCursor {
  insertedUs: string;
  collection: string;
  objectId: string;
  recipientCollection: string;
  recipientId: string;
}

export interface SubscriptionFilter {
  /** Subscribers of this object. */
  object?: { collection: string; id: string };
  /** Subscriptions of this recipient. */
  recipient?: StoredRecipient;
  /** Only these recipients (with `object`). */
  recipients?: StoredRecipient[];
  /** Only subscriptions to these objects (with `recipient`). */
  objects?: Array<{ collection: string; id: string }>;
}

/**
 * Subscriptions with their object and recipient, newest first (a page of `page.size + 1`
 * rows in the direction of travel). A subscription whose recipient no longer exists
 * (a deleted user) is not listed.
 */
export async function listSubscriptions(
  tx: EnvTx,
  environmentId: string,
  filter: SubscriptionFilter,
  page: { after?: SubscriptionCursor; before?: SubscriptionCursor; size: number },
): Promise<SubscriptionJoinRow[]> {
  const backwards = page.before !== undefined && page.after === undefined;
  const key = sql`(s.inserted_at, s.collection, s.object_id, s.recipient_collection, s.recipient_id)`;
  const at = (c: SubscriptionCursor) =>
    sql`(timestamptz 'epoch' + ${c.insertedUs}::bigint * interval '1 microsecond', ${c.collection}::text, ${c.objectId}::text, ${c.recipientCollection}::text, ${c.recipientId}::text)`;
  const conditions = [sql`s.environment_id = ${environmentId}`, sql`(u.id IS NOT NULL OR ro.id IS NOT NULL)`];
  if (filter.object) conditions.push(sql`s.collection = ${filter.object.collection} AND s.object_id = ${filter.object.id}`);
  if (filter.recipient) conditions.push(sql`s.recipient_collection = ${filter.recipient.collection} AND s.recipient_id = ${filter.recipient.id}`);
  if (filter.recipients) {
    conditions.push(sql`(${sql.join(filter.recipients.map((r) => sql`(s.recipient_collection = ${r.collection} AND s.recipient_id = ${r.id})`), sql` OR `)})`);
  }
  if (filter.objects) {
    conditions.push(sql`(${sql.join(filter.objects.map((o) => sql`(s.collection = ${o.collection} AND s.object_id = ${o.id})`), sql` OR `)})`);
  }
  if (page.after) conditions.push(sql`${key} < ${at(page.after)}`);
  if (page.before) conditions.push(sql`${key} > ${at(page.before)}`);
  const direction = sql.raw(backwards ? 'ASC' : 'DESC');
  const { rows } = await sql<SubscriptionJoinRow>`
    SELECT s.collection, s.object_id, s.recipient_collection, s.recipient_id, s.properties, s.inserted_at, s.updated_at,
           ((extract(epoch FROM s.inserted_at) * 1000000)::bigint)::text AS inserted_us,
           o.properties AS object_properties, o.updated_at AS object_updated_at,
           coalesce(u.properties, ro.properties) AS recipient_properties,
           coalesce(u.updated_at, ro.updated_at) AS recipient_updated_at
    FROM object_subscriptions s
    JOIN objects o ON o.environment_id = s.environment_id AND o.collection = s.collection AND o.id = s.object_id
    LEFT JOIN users u ON s.recipient_collection = ${USERS_COLLECTION} AND u.environment_id = s.environment_id AND u.id = s.recipient_id
    LEFT JOIN objects ro ON s.recipient_collection <> ${USERS_COLLECTION} AND ro.environment_id = s.environment_id
                         AND ro.collection = s.recipient_collection AND ro.id = s.recipient_id
    WHERE ${sql.join(conditions, sql` AND `)}
    ORDER BY s.inserted_at ${direction}, s.collection ${direction}, s.object_id ${direction}, s.recipient_collection ${direction}, s.recipient_id ${direction}
    LIMIT ${page.size + 1}
  `.execute(tx);
  return rows;
}

/**
 * The subscriptions of one object to the given recipients, with object and recipient, in
 * the order the recipients are given (used to answer an add).
 */
export async function findSubscriptions(
  tx: EnvTx,
  environmentId: string,
  object: { collection: string; id: string },
  recipients: StoredRecipient[],
): Promise<SubscriptionJoinRow[]> {
  const rows = await listSubscriptions(tx, environmentId, { object, recipients }, { size: recipients.length });
  const byKey = new Map(rows.map((row) => [`${row.recipient_collection}\u0000${row.recipient_id}`, row]));
  return recipients.flatMap((r) => byKey.get(`${r.collection}\u0000${r.id}`) ?? []);
}

/** Recipients' current rows, to describe deleted subscriptions: users by id, objects by (collection, id). */
export async function findRecipients(
  tx: EnvTx,
  environmentId: string,
  recipients: StoredRecipient[],
): Promise<Map<string, { properties: Record<string, unknown>; updated_at: Date }>> {
  const found = new Map<string, { properties: Record<string, unknown>; updated_at: Date }>();
  const userIds = recipients.filter((r) => r.collection === USERS_COLLECTION).map((r) => r.id);
  const objects = recipients.filter((r) => r.collection !== USERS_COLLECTION);
  if (userIds.length > 0) {
    const users = await tx
      .selectFrom('users')
      .select(['id', 'properties', 'updated_at'])
      .where('environment_id', '=', environmentId)
      .where('id', 'in', userIds)
      .execute();
    for (const u of users) found.set(`${USERS_COLLECTION}\u0000${u.id}`, { properties: u.properties, updated_at: u.updated_at });
  }
  if (objects.length > 0) {
    const rows = await tx
      .selectFrom('objects')
      .select(['collection', 'id', 'properties', 'updated_at'])
      .where('environment_id', '=', environmentId)
      .where((eb) => eb.or(objects.map((o) => eb.and([eb('collection', '=', o.collection), eb('id', '=', o.id)]))))
      .execute();
    for (const o of rows) found.set(`${o.collection}\u0000${o.id}`, { properties: o.properties, updated_at: o.updated_at });
  }
  return found;
}

// ---------------------------------------------------------------------------
// An object's channel data and preference sets (objects as recipients)
// ---------------------------------------------------------------------------

/** An object's data for one channel (a Slack connection, push tokens), if set. */
export async function findObjectChannelData(tx: EnvTx, environmentId: string, collection: string, objectId: string, channelId: string): Promise<Record<string, unknown> | undefined> {
  const row = await tx
    .selectFrom('object_channel_data')
    .select('data')
    .where('environment_id', '=', environmentId)
    .where('collection', '=', collection)
    .where('object_id', '=', objectId)
    .where('channel_id', '=', channelId)
    .executeTakeFirst();
  return row?.data;
}

/** Sets an object's data for one channel, replacing what was there. */
export async function upsertObjectChannelData(tx: EnvTx, environmentId: string, collection: string, objectId: string, channelId: string, data: Record<string, unknown>): Promise<void> {
  const json = JSON.stringify(data);
  await tx
    .insertInto('object_channel_data')
    .values({ environment_id: environmentId, collection, object_id: objectId, channel_id: channelId, data: json })
    .onConflict((oc) => oc.columns(['environment_id', 'collection', 'object_id', 'channel_id']).doUpdateSet({ data: json, updated_at: sql`now()` }))
    .execute();
}

export async function deleteObjectChannelData(tx: EnvTx, environmentId: string, collection: string, objectId: string, channelId: string): Promise<boolean> {
  const result = await tx
    .deleteFrom('object_channel_data')
    .where('environment_id', '=', environmentId)
    .where('collection', '=', collection)
    .where('object_id', '=', objectId)
    .where('channel_id', '=', channelId)
    .executeTakeFirst();
  return result.numDeletedRows > 0n;
}

export async function listObjectPreferenceSets(tx: EnvTx, environmentId: string, collection: string, objectId: string): Promise<StoredPreferenceSet[]> {
  const rows = await tx
    .selectFrom('object_preference_sets')
    .select(['set_id', 'settings'])
    .where('environment_id', '=', environmentId)
    .where('collection', '=', collection)
    .where('object_id', '=', objectId)
    .orderBy('set_id')
    .execute();
  return rows as unknown as StoredPreferenceSet[];
}

/** One set, locked for the rest of the transaction so merges do not race. */
export async function findObjectPreferenceSetForUpdate(tx: EnvTx, environmentId: string, collection: string, objectId: string, setId: string): Promise<PreferenceSettings | undefined> {
  const row = await tx
    .selectFrom('object_preference_sets')
    .select('settings')
    .where('environment_id', '=', environmentId)
    .where('collection', '=', collection)
    .where('object_id', '=', objectId)
    .where('set_id', '=', setId)
    .forUpdate()
    .executeTakeFirst();
  return row?.settings as PreferenceSettings | undefined;
}

export async function upsertObjectPreferenceSet(tx: EnvTx, environmentId: string, collection: string, objectId: string, setId: string, settings: PreferenceSettings): Promise<void> {
  const json = JSON.stringify(settings);
  await tx
    .insertInto('object_preference_sets')
    .values({ environment_id: environmentId, collection, object_id: objectId, set_id: setId, settings: json })
    .onConflict((oc) => oc.columns(['environment_id', 'collection', 'object_id', 'set_id']).doUpdateSet({ settings: json, updated_at: sql`now()` }))
    .execute();
}

export async function deleteObjectPreferenceSet(tx: EnvTx, environmentId: string, collection: string, objectId: string, setId: string): Promise<boolean> {
  const result = await tx
    .deleteFrom('object_preference_sets')
    .where('environment_id', '=', environmentId)
    .where('collection', '=', collection)
    .where('object_id', '=', objectId)
    .where('set_id', '=', setId)
    .executeTakeFirst();
  return result.numDeletedRows > 0n;
}
