import type { Static } from 'typebox';
import type { Db } from '../../db/database.ts';
import { inEnvironment, type EnvTx } from '../../db/scoped.ts';
import { Invalid, NotFound } from '../../errors.ts';
import { pageRequest, toPage, type PageInfoShape } from '../../http/pagination.ts';
import { toChannelData } from '../channel-data/routes.ts';
import type { ChannelDataValue } from '../channel-data/store.ts';
import type { PreferenceSetRequestShape, PreferenceSetShape } from '../preferences/schema.ts';
import { applyPreferenceRequest, toPreferenceSet } from '../preferences/service.ts';
import { checkPropertiesSize } from '../properties.ts';
import { identifyProperties, identifyWithin, requireUser, toUser, type IdentifyBody, type UserView } from '../users/service.ts';
import { ensureUser } from '../users/store.ts';
import type { KnockObject } from './schema.ts';
import * as store from './store.ts';
import { USERS_COLLECTION, type StoredRecipient, type SubscriptionCursor, type SubscriptionJoinRow } from './store.ts';

/** Keys of a set body that are not stored as properties. */
const NOT_PROPERTIES = new Set(['id', 'collection', '__typename', 'updated_at', 'inserted_at', 'channel_data', 'preferences']);

export type ObjectView = Static<typeof KnockObject>;

export interface SetObjectBody {
  channel_data?: Record<string, ChannelDataValue> | null;
  preferences?: Record<string, PreferenceSetRequestShape> | null;
  [property: string]: unknown;
}

/** A recipient in an add-subscriptions request: a user id, an inline user, or an inline object. */
export type RecipientRequest = string | ({ id: string; collection?: string } & Record<string, unknown>);
/** A recipient in a delete or filter: a user id or `{id, collection}`. */
export type RecipientReference = string | { id: string; collection: string };

export interface SubscriptionView {
  __typename: 'Subscription';
  object: ObjectView;
  recipient: UserView | ObjectView;
  properties: Record<string, unknown> | null;
  inserted_at: string;
  updated_at: string;
}

type ListQuery = { after?: string; before?: string; page_size?: number };

/** The Knock `Object` shape: custom properties nested under `properties`; `created_at` as the caller set it, else null. */
export function toObject(row: { collection: string; id: string; properties: Record<string, unknown>; updated_at: Date }): ObjectView {
  const { created_at: createdAt, ...properties } = row.properties;
  return {
    __typename: 'Object',
    id: row.id,
    collection: row.collection,
    created_at: typeof createdAt === 'string' ? createdAt : null,
    properties,
    updated_at: row.updated_at.toISOString(),
  };
}

/** Collections starting with `$` are Knock's own (`$users`, `$tenants`, …). */
export function checkCollection(collection: string, field = 'collection'): void {
  if (collection.startsWith('$')) throw Invalid.field(field, 'must not start with "$": such collections are reserved');
}

function isValidTimezone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** The properties a set body stores (all but id, collection, channel data and preferences), checked against the limits. */
export function objectProperties(body: SetObjectBody, field = ''): Record<string, unknown> {
  const properties: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(body)) if (!NOT_PROPERTIES.has(key)) properties[key] = value;
  if (typeof properties.timezone === 'string' && !isValidTimezone(properties.timezone)) {
    throw Invalid.field(`${field}timezone`, 'must be a valid tz database time zone');
  }
  checkPropertiesSize(properties, `${field}properties`);
  return properties;
}

/**
 * Identifies one object inside the caller's transaction (properties already checked): its
 * properties deep-merge, inline channel data replaces the data of each channel given, and
 * inline preference sets merge into the stored ones (as for users).
 */
export async function identifyObjectWithin(
  tx: EnvTx,
  environmentId: string,
  collection: string,
  id: string,
  body: SetObjectBody,
  properties: Record<string, unknown>,
): Promise<store.ObjectRow> {
  const row = await store.upsertObject(tx, environmentId, collection, id, properties);
  await writeInlineRecipientData(tx, environmentId, collection, id, body);
  return row;
}

/** Writes the inline channel data and preferences of a set body (the object exists). */
async function writeInlineRecipientData(tx: EnvTx, environmentId: string, collection: string, id: string, body: SetObjectBody): Promise<void> {
  for (const [channelId, data] of Object.entries(body.channel_data ?? {})) {
    await store.upsertObjectChannelData(tx, environmentId, collection, id, channelId, data);
  }
  for (const [setId, set] of Object.entries(body.preferences ?? {})) {
    await writeObjectPreferenceSet(tx, environmentId, collection, id, setId, set, 'merge');
  }
}

async function requireObject(tx: EnvTx, environmentId: string, collection: string, id: string): Promise<store.ObjectRow> {
  const row = await store.findObject(tx, environmentId, collection, id);
  if (!row) throw new NotFound('Object', `${collection}/${id}`);
  return row;
}

/** Creates or updates an object; properties deep-merge (given values win, nested objects merge). */
export async function setObject(db: Db, environmentId: string, collection: string, id: string, body: SetObjectBody): Promise<ObjectView> {
  checkCollection(collection);
  const properties = objectProperties(body);
  const row = await inEnvironment(db, environmentId, (tx) => identifyObjectWithin(tx, environmentId, collection, id, body, properties));
  return toObject(row);
}

export async function getObject(db: Db, environmentId: string, collection: string, id: string): Promise<ObjectView> {
  checkCollection(collection);
  return toObject(await inEnvironment(db, environmentId, (tx) => requireObject(tx, environmentId, collection, id)));
}

/** Deletes an object with its subscribers and its own subscriptions. */
export async function deleteObject(db: Db, environmentId: string, collection: string, id: string): Promise<void> {
  checkCollection(collection);
  const deleted = await inEnvironment(db, environmentId, (tx) => store.deleteObject(tx, environmentId, collection, id));
  if (!deleted) throw new NotFound('Object', `${collection}/${id}`);
}

export async function listObjects(db: Db, environmentId: string, collection: string, query: ListQuery): Promise<{ entries: ObjectView[]; page_info: PageInfoShape }> {
  checkCollection(collection);
  const request = pageRequest(query);
  const rows = await inEnvironment(db, environmentId, (tx) => store.listObjects(tx, environmentId, collection, request));
  const { rows: page, pageInfo } = toPage(rows, request, (row) => row.id);
  return { entries: page.map(toObject), page_info: pageInfo };
}

// ---------------------------------------------------------------------------
// Subscriptions
// ---------------------------------------------------------------------------

function keyOf(r: StoredRecipient): string {
  return `${r.collection}\u0000${r.id}`;
}

/** A reference as stored: `$users` for a user id. */
function storedReference(reference: RecipientReference, field: string): StoredRecipient {
  if (typeof reference === 'string') return { collection: USERS_COLLECTION, id: reference };
  checkCollection(reference.collection, `${field}.collection`);
  return { collection: reference.collection, id: reference.id };
}

function toSubscription(row: Omit<SubscriptionJoinRow, 'inserted_us'>): SubscriptionView {
  const recipient = row.recipient_collection === USERS_COLLECTION
    ? toUser({ id: row.recipient_id, properties: row.recipient_properties, updated_at: row.recipient_updated_at })
    : toObject({ collection: row.recipient_collection, id: row.recipient_id, properties: row.recipient_properties, updated_at: row.recipient_updated_at });
  return {
    __typename: 'Subscription',
    object: toObject({ collection: row.collection, id: row.object_id, properties: row.object_properties, updated_at: row.object_updated_at }),
    recipient,
    properties: row.properties,
    inserted_at: row.inserted_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}

/**
 * Subscribes up to 100 recipients to an object (created if it does not exist yet). Inline
 * users and objects are identified first; plain user ids and object references that do not
 * exist are created empty. An existing subscription is updated. Answers the subscriptions,
 * in the order of the request.
 */
export async function addSubscriptions(
  db: Db,
  environmentId: string,
  collection: string,
  objectId: string,
  body: { recipients: RecipientRequest[]; properties?: Record<string, unknown> | null },
): Promise<SubscriptionView[]> {
  checkCollection(collection);
  if (body.properties) checkPropertiesSize(body.properties);
  // Check everything before writing anything.
  const plan = body.recipients.map((input, index) => {
    const field = `recipients.${index}.`;
    if (typeof input === 'string') return { ref: { collection: USERS_COLLECTION, id: input } };
    if (typeof input.collection === 'string') {
      checkCollection(input.collection, `${field}collection`);
      if (input.collection === collection && input.id === objectId) throw Invalid.field(`recipients.${index}`, 'is the object itself: an object cannot subscribe to itself');
      return { ref: { collection: input.collection, id: input.id }, object: { body: input as SetObjectBody, properties: objectProperties(input as SetObjectBody, field) } };
    }
    return { ref: { collection: USERS_COLLECTION, id: input.id }, user: { body: input as IdentifyBody, properties: identifyProperties(input as IdentifyBody, field) } };
  });
  const unique = [...new Map(plan.map((p) => [keyOf(p.ref), p.ref])).values()];
  // Rows are written in key order (a stable sort keeps repeated recipients in request order),
  // so concurrent requests naming the same recipients lock them in the same order.
  const byKey = (a: StoredRecipient, b: StoredRecipient) => (keyOf(a) < keyOf(b) ? -1 : keyOf(a) > keyOf(b) ? 1 : 0);
  const rows = await inEnvironment(db, environmentId, async (tx) => {
    await store.ensureObject(tx, environmentId, collection, objectId);
    for (const step of [...plan].sort((a, b) => byKey(a.ref, b.ref))) {
      if (step.user) await identifyWithin(tx, environmentId, step.ref.id, step.user.body, step.user.properties);
      else if (step.object && Object.keys(step.object.properties).length > 0) {
        await identifyObjectWithin(tx, environmentId, step.ref.collection, step.ref.id, step.object.body, step.object.properties);
      } else if (step.object) {
        await store.ensureObject(tx, environmentId, step.ref.collection, step.ref.id);
        await writeInlineRecipientData(tx, environmentId, step.ref.collection, step.ref.id, step.object.body);
      }
      else await ensureUser(tx, environmentId, step.ref.id);
    }
    const object = { collection, id: objectId };
    await store.upsertSubscriptions(tx, environmentId, object, [...unique].sort(byKey), body.properties);
    return store.findSubscriptions(tx, environmentId, object, unique);
  });
  return rows.map(toSubscription);
}

/**
 * Removes up to 100 recipients' subscriptions to an object (404 if the object does not
 * exist). Answers the subscriptions deleted; recipients that were not subscribed are skipped.
 */
export async function deleteSubscriptions(
  db: Db,
  environmentId: string,
  collection: string,
  objectId: string,
  recipients: RecipientReference[],
): Promise<SubscriptionView[]> {
  checkCollection(collection);
  const refs = recipients.map((r, index) => storedReference(r, `recipients.${index}`));
  const unique = [...new Map(refs.map((r) => [keyOf(r), r])).values()];
  return inEnvironment(db, environmentId, async (tx) => {
    const object = await requireObject(tx, environmentId, collection, objectId);
    const deleted = await store.deleteSubscriptions(tx, environmentId, { collection, id: objectId }, unique);
    const current = await store.findRecipients(tx, environmentId, deleted.map((d) => ({ collection: d.recipient_collection, id: d.recipient_id })));
    const order = new Map(unique.map((r, i) => [keyOf(r), i]));
    return deleted
      .flatMap((d) => {
        const recipient = current.get(keyOf({ collection: d.recipient_collection, id: d.recipient_id }));
        if (!recipient) return [];
        return [{
          collection,
          object_id: objectId,
          recipient_collection: d.recipient_collection,
          recipient_id: d.recipient_id,
          properties: d.properties,
          inserted_at: d.inserted_at,
          updated_at: d.updated_at,
          object_properties: object.properties,
          object_updated_at: object.updated_at,
          recipient_properties: recipient.properties,
          recipient_updated_at: recipient.updated_at,
        }];
      })
      .sort((a, b) => order.get(keyOf({ collection: a.recipient_collection, id: a.recipient_id }))! - order.get(keyOf({ collection: b.recipient_collection, id: b.recipient_id }))!)
      .map(toSubscription);
  });
}

/** The sort key of a subscription, as its cursor carries it. */
function subscriptionKey(row: SubscriptionJoinRow): string {
  return JSON.stringify([row.inserted_us, row.collection, row.object_id, row.recipient_collection, row.recipient_id]);
}

function parseSubscriptionKey(key: string | undefined, field: 'after' | 'before'): SubscriptionCursor | undefined {
  if (key === undefined) return undefined;
  let parts: unknown;
  try {
    parts = JSON.parse(key);
  } catch {
    parts = undefined;
  }
  const valid = Array.isArray(parts) && parts.length === 5 && parts.every((p) => typeof p === 'string') && /^-?\d{1,18}$/.test(parts[0] as string);
  if (!valid) throw Invalid.field(field, 'is not a valid cursor');
  const [insertedUs, collection, objectId, recipientCollection, recipientId] = parts as string[];
  return { insertedUs, collection, objectId, recipientCollection, recipientId };
}

async function pageOfSubscriptions(
  tx: EnvTx,
  environmentId: string,
  filter: store.SubscriptionFilter,
  query: ListQuery,
): Promise<{ entries: SubscriptionView[]; page_info: PageInfoShape }> {
  const request = pageRequest(query);
  const rows = await store.listSubscriptions(tx, environmentId, filter, {
    after: parseSubscriptionKey(request.after, 'after'),
    before: parseSubscriptionKey(request.before, 'before'),
    size: request.size,
  });
  const { rows: page, pageInfo } = toPage(rows, request, subscriptionKey);
  return { entries: page.map(toSubscription), page_info: pageInfo };
}

/**
 * Lists an object's subscriptions, newest first. Mode `object` (default): the recipients
 * subscribed to it (optionally only `recipients`); mode `recipient`: the objects it is
 * subscribed to (optionally only `objects`). 404 if the object does not exist.
 */
export async function listObjectSubscriptions(
  db: Db,
  environmentId: string,
  collection: string,
  objectId: string,
  query: ListQuery & { mode?: 'object' | 'recipient'; recipients?: RecipientReference[]; objects?: Array<{ id: string; collection: string }> },
): Promise<{ entries: SubscriptionView[]; page_info: PageInfoShape }> {
  checkCollection(collection);
  const filter: store.SubscriptionFilter = query.mode === 'recipient'
    ? { recipient: { collection, id: objectId }, objects: query.objects?.map((o, i) => storedReference(o, `objects.${i}`)) }
    : { object: { collection, id: objectId }, recipients: query.recipients?.map((r, i) => storedReference(r, `recipients.${i}`)) };
  return inEnvironment(db, environmentId, async (tx) => {
    await requireObject(tx, environmentId, collection, objectId);
    return pageOfSubscriptions(tx, environmentId, withoutEmptyLists(filter), query);
  });
}

/** Lists a user's subscriptions (the objects the user is subscribed to), newest first; 404 if the user does not exist. */
export async function listUserSubscriptions(
  db: Db,
  environmentId: string,
  userId: string,
  query: ListQuery & { objects?: Array<{ id: string; collection: string }> },
): Promise<{ entries: SubscriptionView[]; page_info: PageInfoShape }> {
  const filter: store.SubscriptionFilter = {
    recipient: { collection: USERS_COLLECTION, id: userId },
    objects: query.objects?.map((o, i) => storedReference(o, `objects.${i}`)),
  };
  return inEnvironment(db, environmentId, async (tx) => {
    await requireUser(tx, environmentId, userId);
    return pageOfSubscriptions(tx, environmentId, withoutEmptyLists(filter), query);
  });
}

/** An empty filter list filters nothing (as if absent), like Knock's optional filters. */
function withoutEmptyLists(filter: store.SubscriptionFilter): store.SubscriptionFilter {
  return {
    ...filter,
    recipients: filter.recipients?.length ? filter.recipients : undefined,
    objects: filter.objects?.length ? filter.objects : undefined,
  };
}

// ---------------------------------------------------------------------------
// An object's channel data and preferences (objects as recipients)
// ---------------------------------------------------------------------------

/** Writes one preference set of an object within the caller's transaction; returns the stored result. */
export async function writeObjectPreferenceSet(
  tx: EnvTx,
  environmentId: string,
  collection: string,
  objectId: string,
  setId: string,
  request: PreferenceSetRequestShape,
  defaultStrategy: 'merge' | 'replace',
): Promise<PreferenceSetShape> {
  const existing = await store.findObjectPreferenceSetForUpdate(tx, environmentId, collection, objectId, setId);
  const settings = applyPreferenceRequest(existing, request, defaultStrategy);
  await store.upsertObjectPreferenceSet(tx, environmentId, collection, objectId, setId, settings);
  return toPreferenceSet(setId, settings);
}

type ChannelDataView = ReturnType<typeof toChannelData>;

/** Sets an object's data for one channel (creating the object if needed, as Knock does). */
export async function setObjectChannelData(db: Db, environmentId: string, collection: string, objectId: string, channelId: string, data: ChannelDataValue): Promise<ChannelDataView> {
  checkCollection(collection);
  await inEnvironment(db, environmentId, async (tx) => {
    await store.ensureObject(tx, environmentId, collection, objectId);
    await store.upsertObjectChannelData(tx, environmentId, collection, objectId, channelId, data);
  });
  return toChannelData(channelId, data);
}

/** An object's data for one channel; 404 if the object or its data for the channel does not exist. */
export async function getObjectChannelData(db: Db, environmentId: string, collection: string, objectId: string, channelId: string): Promise<ChannelDataView> {
  checkCollection(collection);
  const data = await inEnvironment(db, environmentId, async (tx) => {
    await requireObject(tx, environmentId, collection, objectId);
    return store.findObjectChannelData(tx, environmentId, collection, objectId, channelId);
  });
  if (!data) throw new NotFound('Channel data for channel', channelId);
  return toChannelData(channelId, data);
}

/** Unsets an object's data for one channel; 404 if the object or its data for the channel does not exist. */
export async function unsetObjectChannelData(db: Db, environmentId: string, collection: string, objectId: string, channelId: string): Promise<void> {
  checkCollection(collection);
  await inEnvironment(db, environmentId, async (tx) => {
    await requireObject(tx, environmentId, collection, objectId);
    if (!(await store.deleteObjectChannelData(tx, environmentId, collection, objectId, channelId))) throw new NotFound('Channel data for channel', channelId);
  });
}

/** An object's preference sets, by id; 404 if the object does not exist. */
export async function listObjectPreferences(db: Db, environmentId: string, collection: string, objectId: string): Promise<PreferenceSetShape[]> {
  checkCollection(collection);
  return inEnvironment(db, environmentId, async (tx) => {
    await requireObject(tx, environmentId, collection, objectId);
    const sets = await store.listObjectPreferenceSets(tx, environmentId, collection, objectId);
    return sets.map((set) => toPreferenceSet(set.set_id, set.settings));
  });
}

/** One preference set of an object (empty if never set); 404 if the object does not exist. */
export async function getObjectPreferences(db: Db, environmentId: string, collection: string, objectId: string, setId: string): Promise<PreferenceSetShape> {
  checkCollection(collection);
  return inEnvironment(db, environmentId, async (tx) => {
    await requireObject(tx, environmentId, collection, objectId);
    const sets = await store.listObjectPreferenceSets(tx, environmentId, collection, objectId);
    return toPreferenceSet(setId, sets.find((s) => s.set_id === setId)?.settings);
  });
}

/**
 * Sets one preference set of an object (creating the object if needed, as Knock does);
 * replaces the set unless `__persistence_strategy__` is `merge`.
 */
export async function setObjectPreferences(
  db: Db,
  environmentId: string,
  collection: string,
  objectId: string,
  setId: string,
  request: PreferenceSetRequestShape,
): Promise<PreferenceSetShape> {
  checkCollection(collection);
  return inEnvironment(db, environmentId, async (tx) => {
    await store.ensureObject(tx, environmentId, collection, objectId);
    return writeObjectPreferenceSet(tx, environmentId, collection, objectId, setId, request, 'replace');
  });
}

/** Deletes one preference set of an object; 404 if the object or the set does not exist. */
export async function unsetObjectPreferences(db: Db, environmentId: string, collection: string, objectId: string, setId: string): Promise<void> {
  checkCollection(collection);
  await inEnvironment(db, environmentId, async (tx) => {
    await requireObject(tx, environmentId, collection, objectId);
    if (!(await store.deleteObjectPreferenceSet(tx, environmentId, collection, objectId, setId))) throw new NotFound('Preference set', setId);
  });
}
