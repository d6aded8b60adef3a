import type { Static } from 'typebox';
import type { Db } from '../../db/database.ts';
import type { User } from './schema.ts';
import type { UserRow } from '../../db/schema.ts';
import { inEnvironment, type EnvTx } from '../../db/scoped.ts';
import { Invalid, NotFound } from '../../errors.ts';
import { pageRequest, toPage, type PageInfoShape } from '../../http/pagination.ts';
import { upsertUserChannelData, type ChannelDataValue } from '../channel-data/store.ts';
import type { PreferenceSetRequestShape, PreferenceSetShape } from '../preferences/schema.ts';
import { toPreferenceSet, writeUserPreferenceSet } from '../preferences/service.ts';
import { listUserPreferenceSets } from '../preferences/store.ts';
import { recordCompletedBulkOperation, toBulkOperation } from '../bulk-operations/store.ts';
import { checkPropertiesSize, deepMerge } from '../properties.ts';
import type { IdentifyCommitter } from './identify-batch.ts';
import * as store from './store.ts';


/** Keys of an identify body that are not stored as properties. */
const NOT_PROPERTIES = new Set(['id', '__typename', 'updated_at', 'inserted_at', 'channel_data', 'preferences']);
const STANDARD_FIELDS = ['name', 'email', 'phone_number', 'avatar', 'timezone'] as const;

export interface IdentifyBody {
  channel_data?: Record<string, ChannelDataValue> | null;
  preferences?: Record<string, PreferenceSetRequestShape> | null;
  [property: string]: unknown;
}

export type UserView = Static<typeof User> & Record<string, unknown>;

/** The Knock `User` shape: standard fields (null when unset), custom properties, timestamps. */
export function toUser(row: Pick<UserRow, 'id' | 'properties' | 'updated_at'>, preferences?: PreferenceSetShape): UserView {
  const user: Record<string, unknown> = {};
  for (const field of STANDARD_FIELDS) user[field] = null;
  Object.assign(user, row.properties);
  user.created_at = (row.properties.created_at as string | undefined) ?? null;
  user.id = row.id;
  user.__typename = 'User';
  user.updated_at = row.updated_at.toISOString();
  if (preferences) user.preferences = preferences;
  return user as UserView;
}

/** Zones already accepted: building a formatter to check one costs ~90 µs. */
const knownTimezones = new Set<string>();

function isValidTimezone(tz: string): boolean {
  if (knownTimezones.has(tz)) return true;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
  } catch {
    return false;
  }
  if (knownTimezones.size < 10_000) knownTimezones.add(tz);
  return true;
}

/** The properties an identify body stores (all but id, channel data and preferences), checked against the limits. */
export function identifyProperties(body: IdentifyBody, field = ''): Record<string, unknown> {
  const properties: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(body)) {
    if (!NOT_PROPERTIES.has(key)) properties[key] = value;
  }
  if (typeof properties.timezone === 'string' && !isValidTimezone(properties.timezone)) {
    throw Invalid.field(`${field}timezone`, 'must be a valid tz database time zone');
  }
  checkPropertiesSize(properties, `${field}properties`);
  return properties;
}

/** Identifies one user inside the caller's transaction (properties already checked). */
export async function identifyWithin(tx: EnvTx, environmentId: string, userId: string, body: IdentifyBody, properties: Record<string, unknown>): Promise<UserRow> {
  const row = await store.upsertUser(tx, environmentId, userId, properties);
  for (const [channelId, data] of Object.entries(body.channel_data ?? {})) {
    await upsertUserChannelData(tx, environmentId, userId, channelId, data);
  }
  // Inline preferences merge into what is stored (Knock's documented behaviour).
  for (const [setId, set] of Object.entries(body.preferences ?? {})) {
    await writeUserPreferenceSet(tx, environmentId, userId, setId, set, 'merge');
  }
  return row;
}

/** Creates or updates a user (properties deep-merge; given values win), with inline channel data and preferences. */
export async function identifyUser(
  db: Db,
  committer: IdentifyCommitter,
  environmentId: string,
  userId: string,
  body: IdentifyBody,
): Promise<UserView> {
  const properties = identifyProperties(body);
  const plain = !body.channel_data && !body.preferences;
  // Plain identifies are group-committed with concurrent ones; the rest get a transaction of their own.
  const row = plain
    ? await committer.submit(environmentId, { id: userId, properties })
    : await inEnvironment(db, environmentId, (tx) => identifyWithin(tx, environmentId, userId, body, properties));
  return toUser(row);
}

export async function getUser(db: Db, environmentId: string, userId: string): Promise<UserView> {
  const row = await inEnvironment(db, environmentId, (tx) => store.findUser(tx, environmentId, userId));
  if (!row) throw new NotFound('User', userId);
  return toUser(row);
}

export async function deleteUser(db: Db, environmentId: string, userId: string): Promise<void> {
  const deleted = await inEnvironment(db, environmentId, (tx) => store.deleteUsers(tx, environmentId, [userId]));
  if (deleted.length === 0) throw new NotFound('User', userId);
}

export async function listUsers(
  db: Db,
  environmentId: string,
  query: { after?: string; before?: string; page_size?: number; include?: string[] },
): Promise<{ entries: UserView[]; page_info: PageInfoShape }> {
  const request = pageRequest(query);
  const withPreferences = query.include?.includes('preferences') ?? false;
  return inEnvironment(db, environmentId, async (tx) => {
    const { rows, pageInfo } = toPage(await store.listUsers(tx, environmentId, request), request, (row) => row.id);
    const entries: UserView[] = [];
    for (const row of rows) {
      let preferences: PreferenceSetShape | undefined;
      if (withPreferences) {
        const sets = await listUserPreferenceSets(tx, environmentId, row.id);
        const stored = sets.find((s) => s.set_id === 'default');
        preferences = toPreferenceSet('default', stored?.settings);
      }
      entries.push(toUser(row, preferences));
    }
    return { entries, page_info: pageInfo };
  });
}

/** Identifies up to 1,000 users atomically: all of them are stored, or none. */
export async function bulkIdentifyUsers(db: Db, environmentId: string, users: Array<IdentifyBody & { id: string }>) {
  const properties = users.map((user, index) => identifyProperties(user, `users.${index}.`));
  const operation = await inEnvironment(db, environmentId, async (tx) => {
    for (const [index, user] of users.entries()) await identifyWithin(tx, environmentId, user.id, user, properties[index]);
    return recordCompletedBulkOperation(tx, environmentId, 'users.identify', users.length);
  });
  return toBulkOperation(operation);
}

/** Deletes up to 1,000 users atomically; ids that do not exist are reported as error items. */
export async function bulkDeleteUsers(db: Db, environmentId: string, userIds: string[]) {
  const unique = [...new Set(userIds)];
  const operation = await inEnvironment(db, environmentId, async (tx) => {
    const deleted = new Set(await store.deleteUsers(tx, environmentId, unique));
    const missing = unique.filter((id) => !deleted.has(id)).map((id) => ({ id, collection: null }));
    return recordCompletedBulkOperation(tx, environmentId, 'users.delete', unique.length, missing);
  });
  return toBulkOperation(operation);
}

/**
 * Merges `fromId` into `intoId`: properties deep-merge with the target's values winning
 * conflicts; the target takes over preference sets and channel data it does not have; the source
 * user is then deleted.
 */
export async function mergeUsers(db: Db, environmentId: string, intoId: string, fromId: string): Promise<UserView> {
  if (intoId === fromId) throw Invalid.field('from_user_id', 'must differ from the user merged into');
  const row = await inEnvironment(db, environmentId, async (tx) => {
    // Lock both in a fixed order so concurrent merges of the same pair cannot deadlock.
    const locked = new Map<string, UserRow | undefined>();
    for (const id of [intoId, fromId].sort()) locked.set(id, await store.findUser(tx, environmentId, id, true));
    const into = locked.get(intoId);
    if (!into) throw new NotFound('User', intoId);
    const from = locked.get(fromId);
    if (!from) throw new NotFound('User', fromId);
    await store.moveRecipientData(tx, environmentId, fromId, intoId);
    const merged = await store.replaceUserProperties(tx, environmentId, intoId, deepMerge(from.properties, into.properties));
    await store.deleteUsers(tx, environmentId, [fromId]);
    return merged;
  });
  return toUser(row);
}

/** Fails with 404 unless the user exists (used by sub-resources of a user). */
export async function requireUser(tx: EnvTx, environmentId: string, userId: string): Promise<void> {
  if (!(await store.findUser(tx, environmentId, userId))) throw new NotFound('User', userId);
}
