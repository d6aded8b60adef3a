import { sql } from 'kysely';
import type { Db } from '../../db/database.ts';
import type { ChannelRow } from '../../db/schema.ts';

/**
 * Channels are account-level configuration (no row-level security): every query here
 * filters by account, and settings by (channel, environment).
 */

export interface ChannelSettingsRow {
  channel_id: string;
  environment_id: string;
  settings: Record<string, unknown>;
  sandbox: boolean;
  updated_at: Date;
}

export interface ChannelListQuery {
  /** Cursor keys (channel keys). */
  after?: string;
  before?: string;
  limit: number;
  id?: string;
}

/** A page of the account's channels by key, fetched with one extra row in the direction of travel. */
export function listChannels(db: Db, accountId: string, query: ChannelListQuery): Promise<ChannelRow[]> {
  const backwards = query.before !== undefined && query.after === undefined;
  let q = db.selectFrom('channels').selectAll().where('account_id', '=', accountId).where('archived_at', 'is', null);
  if (query.id !== undefined) q = q.where('id', '=', query.id);
  if (query.after !== undefined) q = q.where(sql<boolean>`key COLLATE "C" > ${query.after}`);
  if (query.before !== undefined) q = q.where(sql<boolean>`key COLLATE "C" < ${query.before}`);
  return q.orderBy(sql`key COLLATE "C"`, backwards ? 'desc' : 'asc').limit(query.limit + 1).execute();
}

export function findChannelByKey(db: Db, accountId: string, key: string): Promise<ChannelRow | undefined> {
  return db.selectFrom('channels').selectAll().where('account_id', '=', accountId).where('key', '=', key).where('archived_at', 'is', null).executeTakeFirst();
}

/** Inserts a channel; undefined when the account already has one with that key. */
export function insertChannel(
  db: Db,
  values: { account_id: string; key: string; name: string; type: string; provider: string; description: string | null },
): Promise<ChannelRow | undefined> {
  return db
    .insertInto('channels')
    .values({ ...values, archived_at: null })
    .onConflict((oc) => oc.columns(['account_id', 'key']).doNothing())
    .returningAll()
    .executeTakeFirst();
}

function toSettingsRow(row: { channel_id: string; environment_id: string; settings: unknown; sandbox: boolean; updated_at: Date }): ChannelSettingsRow {
  return { ...row, settings: (row.settings ?? {}) as Record<string, unknown> };
}

/** A channel's settings in one environment; `forUpdate` locks the row until the transaction ends. */
export async function findChannelSettings(db: Db, channelId: string, environmentId: string, options: { forUpdate?: boolean } = {}): Promise<ChannelSettingsRow | undefined> {
  const query = db.selectFrom('channel_environment_settings').selectAll().where('channel_id', '=', channelId).where('environment_id', '=', environmentId);
  const row = await (options.forUpdate ? query.forUpdate() : query).executeTakeFirst();
  return row && toSettingsRow(row);
}

/** The settings of these channels in every environment that has any. */
export async function listChannelSettings(db: Db, channelIds: string[]): Promise<ChannelSettingsRow[]> {
  if (channelIds.length === 0) return [];
  const rows = await db.selectFrom('channel_environment_settings').selectAll().where('channel_id', 'in', channelIds).execute();
  return rows.map(toSettingsRow);
}

export async function upsertChannelSettings(db: Db, channelId: string, environmentId: string, settings: Record<string, unknown>, sandbox: boolean): Promise<ChannelSettingsRow> {
  const json = JSON.stringify(settings);
  const row = await db
    .insertInto('channel_environment_settings')
    .values({ channel_id: channelId, environment_id: environmentId, settings: json, sandbox })
    .onConflict((oc) => oc.columns(['channel_id', 'environment_id']).doUpdateSet({ settings: json, sandbox, updated_at: sql`now()` }))
    .returningAll()
    .executeTakeFirstOrThrow();
  return toSettingsRow(row);
}

/** What the engine needs to send through a channel in one environment. */
export interface SendingChannel {
  id: string;
  key: string;
  type: string;
  provider: string;
  /** The full provider settings of this environment, secrets included: server-side only, never into a response or log. */
  settings: Record<string, unknown>;
  /** Sandbox mode: messages are recorded but not sent (`not_sent`). */
  sandbox: boolean;
}

/**
 * The channel `channelKey` of the account as configured in one environment (an
 * unconfigured channel has empty settings), or undefined when the account has no such
 * channel or the environment is not the account's. For the engine only.
 */
export async function loadChannelForSending(db: Db, accountId: string, environmentId: string, channelKey: string): Promise<SendingChannel | undefined> {
  const row = await db
    .selectFrom('channels as c')
    .innerJoin('environments as e', (join) => join.on('e.id', '=', environmentId).on('e.account_id', '=', accountId))
    .leftJoin('channel_environment_settings as s', (join) => join.onRef('s.channel_id', '=', 'c.id').on('s.environment_id', '=', environmentId))
    .select(['c.id', 'c.key', 'c.type', 'c.provider', 's.settings', 's.sandbox'])
    .where('c.account_id', '=', accountId)
    .where('c.key', '=', channelKey)
    .where('c.archived_at', 'is', null)
    .executeTakeFirst();
  if (!row) return undefined;
  return {
    id: row.id,
    key: row.key,
    type: row.type,
    provider: row.provider,
    settings: (row.settings ?? {}) as Record<string, unknown>,
    sandbox: row.sandbox ?? false,
  };
}
