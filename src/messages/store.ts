import { sql, type RawBuilder, type SqlBool } from 'kysely';
import type { Db } from '../db/database.ts';
import type { EnvTx } from '../db/scoped.ts';
import type { ChannelRow, MessageStatus } from '../db/schema.ts';
import type { PageRequest } from '../http/pagination.ts';
import { cursorMicros, timePage } from './cursor.ts';

/** Filters on engagement: a timestamp set (`read`) or unset (`unread`). */
export type EngagementFilter = 'seen' | 'unseen' | 'read' | 'unread' | 'archived' | 'unarchived' | 'link_clicked' | 'interacted';

/** Every way messages are narrowed (list, feed, counts, bulk updates); all given filters must hold. */
export interface MessageFilters {
  recipientKeys?: string[];
  channelId?: string;
  tenants?: string[];
  hasTenant?: boolean;
  statuses?: MessageStatus[];
  engagement?: EngagementFilter[];
  messageIds?: string[];
  /** Any of these workflow categories. */
  categories?: string[];
  workflowKeys?: string[];
  workflowRunId?: string;
  workflowRecipientRunId?: string;
  /** The message's data contains these key-value pairs. */
  triggerData?: Record<string, unknown>;
  insertedAt?: { gt?: string; gte?: string; lt?: string; lte?: string };
}

const ENGAGEMENT_SQL: Record<EngagementFilter, RawBuilder<SqlBool>> = {
  seen: sql`messages.seen_at IS NOT NULL`,
  unseen: sql`messages.seen_at IS NULL`,
  read: sql`messages.read_at IS NOT NULL`,
  unread: sql`messages.read_at IS NULL`,
  archived: sql`messages.archived_at IS NOT NULL`,
  unarchived: sql`messages.archived_at IS NULL`,
  link_clicked: sql`messages.link_clicked_at IS NOT NULL`,
  interacted: sql`messages.interacted_at IS NOT NULL`,
};

/** The filters as one SQL condition on `messages` (TRUE when none are given). */
export function matching(f: MessageFilters): RawBuilder<SqlBool> {
  const c: RawBuilder<SqlBool>[] = [];
  if (f.recipientKeys) c.push(sql`messages.recipient_key = ANY(${f.recipientKeys}::text[])`);
  if (f.channelId) c.push(sql`messages.channel_id = ${f.channelId}::uuid`);
  if (f.tenants) c.push(sql`messages.tenant = ANY(${f.tenants}::text[])`);
  if (f.hasTenant !== undefined) c.push(f.hasTenant ? sql`messages.tenant IS NOT NULL` : sql`messages.tenant IS NULL`);
  if (f.statuses && f.statuses.length > 0) c.push(sql`messages.status = ANY(${f.statuses}::text[])`);
  for (const e of new Set(f.engagement ?? [])) c.push(ENGAGEMENT_SQL[e]);
  if (f.messageIds) c.push(sql`messages.id = ANY(${f.messageIds}::uuid[])`);
  if (f.categories && f.categories.length > 0) c.push(sql`COALESCE(messages.metadata->'categories', '[]') ?| ${f.categories}::text[]`);
  if (f.workflowKeys) c.push(sql`messages.workflow_key = ANY(${f.workflowKeys}::text[])`);
  if (f.workflowRunId) c.push(sql`messages.workflow_run_id = ${f.workflowRunId}::uuid`);
  if (f.workflowRecipientRunId) c.push(sql`messages.workflow_recipient_run_id = ${f.workflowRecipientRunId}::uuid`);
  if (f.triggerData) c.push(sql`COALESCE(messages.data, '{}') @> ${JSON.stringify(f.triggerData)}::jsonb`);
  const at = f.insertedAt ?? {};
  if (at.gt) c.push(sql`messages.inserted_at > ${at.gt}::timestamptz`);
  if (at.gte) c.push(sql`messages.inserted_at >= ${at.gte}::timestamptz`);
  if (at.lt) c.push(sql`messages.inserted_at < ${at.lt}::timestamptz`);
  if (at.lte) c.push(sql`messages.inserted_at <= ${at.lte}::timestamptz`);
  return c.length === 0 ? sql<SqlBool>`TRUE` : sql<SqlBool>`(${sql.join(c, sql` AND `)})`;
}

function selectMessages(tx: EnvTx, environmentId: string) {
  return tx
    .selectFrom('messages')
    .leftJoin('channels', 'channels.id', 'messages.channel_id')
    .selectAll('messages')
    .select([
      'channels.key as channel_key',
      'channels.name as channel_name',
      'channels.provider as channel_provider',
      'channels.created_at as channel_created_at',
      'channels.updated_at as channel_updated_at',
      cursorMicros('messages').as('cursor_us'),
    ])
    .where('messages.environment_id', '=', environmentId);
}

/** A message with its channel (channels are account-level) and its page key. */
export type MessageListRow = Awaited<ReturnType<ReturnType<typeof selectMessages>['executeTakeFirstOrThrow']>>;

/** One page of messages, newest first, with one extra row to tell whether more follow. */
export function listMessages(tx: EnvTx, environmentId: string, filters: MessageFilters, page: PageRequest): Promise<MessageListRow[]> {
  const { where, direction } = timePage('messages', page);
  let query = selectMessages(tx, environmentId).where(matching(filters));
  for (const bound of where) query = query.where(bound);
  return query.orderBy('messages.inserted_at', direction).orderBy('messages.id', direction).limit(page.size + 1).execute();
}

export function findMessage(tx: EnvTx, environmentId: string, id: string): Promise<MessageListRow | undefined> {
  return selectMessages(tx, environmentId).where('messages.id', '=', id).executeTakeFirst();
}

/** The messages with these ids (in no set order); unknown ids are left out. */
export function findMessages(tx: EnvTx, environmentId: string, ids: string[]): Promise<MessageListRow[]> {
  if (ids.length === 0) return Promise.resolve([]);
  return selectMessages(tx, environmentId).where(sql<SqlBool>`messages.id = ANY(${ids}::uuid[])`).execute();
}

/** The engagement state of messages, locked for update in id order (so concurrent batches cannot deadlock). */
export function lockEngagement(tx: EnvTx, environmentId: string, where: RawBuilder<SqlBool>) {
  return tx
    .selectFrom('messages')
    .select(['id', 'recipient_key', 'seen_at', 'read_at', 'archived_at', 'interacted_at'])
    .where('environment_id', '=', environmentId)
    .where(where)
    .orderBy('id')
    .forUpdate()
    .execute();
}

export type EngagementColumn = 'seen_at' | 'read_at' | 'archived_at' | 'interacted_at';

/** Sets (to the transaction's time) or clears one engagement timestamp of the given messages. */
export async function setEngagement(tx: EnvTx, environmentId: string, ids: string[], column: EngagementColumn, set: boolean): Promise<void> {
  if (ids.length === 0) return;
  const value = set ? sql`now()` : sql`NULL`;
  await sql`
    UPDATE messages SET ${sql.ref(column)} = ${value}, updated_at = now()
    WHERE environment_id = ${environmentId} AND id = ANY(${ids}::uuid[])
  `.execute(tx);
}

/** Marks messages interacted with now, and read if they were not. */
export async function setInteracted(tx: EnvTx, environmentId: string, ids: string[]): Promise<void> {
  if (ids.length === 0) return;
  await sql`
    UPDATE messages SET interacted_at = now(), read_at = COALESCE(read_at, now()), updated_at = now()
    WHERE environment_id = ${environmentId} AND id = ANY(${ids}::uuid[])
  `.execute(tx);
}

/** Records one event of `type` for each message. */
export async function insertEvents(tx: EnvTx, environmentId: string, ids: string[], type: string, data: Record<string, unknown> | null = null): Promise<void> {
  if (ids.length === 0) return;
  await sql`
    INSERT INTO message_events (environment_id, message_id, type, data)
    SELECT ${environmentId}, message_id, ${type}, ${data === null ? null : JSON.stringify(data)}::jsonb
    FROM unnest(${ids}::uuid[]) AS message_id
  `.execute(tx);
}

/** Deletes the messages matching `where` (their events and logs go with them); returns how many. */
export async function deleteMessages(tx: EnvTx, environmentId: string, where: RawBuilder<SqlBool>): Promise<number> {
  const result = await tx.deleteFrom('messages').where('environment_id', '=', environmentId).where(where).executeTakeFirst();
  return Number(result.numDeletedRows);
}

/** One page of a message's events, newest first. */
export function listEvents(tx: EnvTx, environmentId: string, messageId: string, page: PageRequest) {
  const { where, direction } = timePage('message_events', page);
  let query = tx
    .selectFrom('message_events')
    .selectAll()
    .select(cursorMicros('message_events').as('cursor_us'))
    .where('environment_id', '=', environmentId)
    .where('message_id', '=', messageId);
  for (const bound of where) query = query.where(bound);
  return query.orderBy('inserted_at', direction).orderBy('id', direction).limit(page.size + 1).execute();
}

/** One page of a message's delivery logs (one per provider call), newest first. */
export function listDeliveryLogs(tx: EnvTx, environmentId: string, messageId: string, page: PageRequest) {
  const { where, direction } = timePage('message_delivery_logs', page);
  let query = tx
    .selectFrom('message_delivery_logs')
    .selectAll()
    .select(cursorMicros('message_delivery_logs').as('cursor_us'))
    .where('environment_id', '=', environmentId)
    .where('message_id', '=', messageId);
  for (const bound of where) query = query.where(bound);
  return query.orderBy('inserted_at', direction).orderBy('id', direction).limit(page.size + 1).execute();
}

export interface FeedCounts {
  total: number;
  unread: number;
  unseen: number;
}

/** Feed counts: `total` of the messages matching `filters` and `narrow`; unread and unseen of those matching `filters`. */
export async function countFeed(tx: EnvTx, environmentId: string, filters: MessageFilters, narrow: MessageFilters): Promise<FeedCounts> {
  const { rows } = await sql<{ total: string; unread: string; unseen: string }>`
    SELECT count(*) FILTER (WHERE ${matching(narrow)}) AS total,
           count(*) FILTER (WHERE messages.read_at IS NULL) AS unread,
           count(*) FILTER (WHERE messages.seen_at IS NULL) AS unseen
    FROM messages
    WHERE messages.environment_id = ${environmentId} AND ${matching(filters)}
  `.execute(tx);
  const row = rows[0];
  return { total: Number(row.total), unread: Number(row.unread), unseen: Number(row.unseen) };
}

/** Which of these messages match the filters. */
export async function matchingIds(tx: EnvTx, environmentId: string, ids: string[], filters: MessageFilters): Promise<string[]> {
  if (ids.length === 0) return [];
  const rows = await tx
    .selectFrom('messages')
    .select('id')
    .where('environment_id', '=', environmentId)
    .where(matching({ ...filters, messageIds: ids }))
    .execute();
  return rows.map((r) => r.id);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A channel of the account by id, or by key (a Herald convenience). */
export function findChannel(db: Db | EnvTx, accountId: string, idOrKey: string): Promise<ChannelRow | undefined> {
  let query = db.selectFrom('channels').selectAll().where('account_id', '=', accountId);
  query = UUID.test(idOrKey) ? query.where('id', '=', idOrKey) : query.where('key', '=', idOrKey);
  return query.executeTakeFirst();
}

/** The environment's values of the account's public variables (`vars` of a feed). */
export async function publicVariables(tx: EnvTx, accountId: string, environmentId: string): Promise<Record<string, string>> {
  const rows = await tx
    .selectFrom('variables as v')
    .innerJoin('variable_values as vv', 'vv.variable_id', 'v.id')
    .select(['v.key', 'vv.value'])
    .where('v.account_id', '=', accountId)
    .where('vv.environment_id', '=', environmentId)
    .where('v.type', '=', 'public')
    .execute();
  return Object.fromEntries(rows.map((row) => [row.key, row.value]));
}
