import { sql, type SqlBool } from 'kysely';
import type { Db } from '../db/database.ts';
import type { MessageStatus } from '../db/schema.ts';
import { inEnvironment, type EnvTx } from '../db/scoped.ts';
import { recipientKey } from '../engine/recipients.ts';
import { Forbidden, Invalid, NotFound } from '../errors.ts';
import { pageRequest, toPage, type PageInfoShape } from '../http/pagination.ts';
import { recordCompletedBulkOperation, toBulkOperation } from '../recipients/bulk-operations/store.ts';
import { timeKeyOf } from './cursor.ts';
import { applyEngagement, checkInteractionMetadata, engagementAction, type EngagementAction } from './engagement.ts';
import { RecipientResolver, type Recipient } from './recipients.ts';
import * as store from './store.ts';
import type { EngagementFilter, MessageFilters, MessageListRow } from './store.ts';

/**
 * Who is asking. A secret key sees the whole environment; a public key with a signed
 * user token (`onlyUser`) sees only that user's messages.
 */
export interface Caller {
  environmentId: string;
  accountId: string;
  onlyUser?: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Message ids are UUIDs; anything else names no message. */
export function isMessageId(id: string): boolean {
  return UUID.test(id);
}

/** Keys of the engine's `metadata` that are exposed elsewhere (source categories, activities), not as Message metadata. */
const ENGINE_METADATA = new Set(['categories', 'activities', 'total_activities', 'total_actors']);

interface EngineMetadata {
  categories?: string[];
  activities?: StoredActivity[];
  total_activities?: number;
  total_actors?: number;
}

interface StoredActivity {
  id?: string;
  actor?: unknown;
  recipient?: unknown;
  data?: Record<string, unknown> | null;
  inserted_at?: string;
}

export function engineMetadata(row: Pick<MessageListRow, 'metadata'>): EngineMetadata {
  return (row.metadata ?? {}) as EngineMetadata;
}

const iso = (d: Date | null): string | null => d?.toISOString() ?? null;

/** The engagement statuses a message has, in Knock's order. */
function engagementStatuses(row: MessageListRow): Array<'seen' | 'read' | 'interacted' | 'link_clicked' | 'archived'> {
  const statuses: Array<'seen' | 'read' | 'interacted' | 'link_clicked' | 'archived'> = [];
  if (row.seen_at) statuses.push('seen');
  if (row.read_at) statuses.push('read');
  if (row.interacted_at) statuses.push('interacted');
  if (row.link_clicked_at) statuses.push('link_clicked');
  if (row.archived_at) statuses.push('archived');
  return statuses;
}

/** The Knock `Message` shape. */
export function toMessage(row: MessageListRow) {
  const metadata = engineMetadata(row);
  const extra = Object.fromEntries(Object.entries(row.metadata ?? {}).filter(([key]) => !ENGINE_METADATA.has(key)));
  return {
    __typename: 'Message' as const,
    id: row.id,
    channel_id: row.channel_id,
    channel: {
      id: row.channel_id,
      key: row.channel_key,
      name: row.channel_name,
      type: row.channel_type,
      provider: row.channel_provider ?? 'unknown',
      created_at: (row.channel_created_at ?? row.inserted_at).toISOString(),
      updated_at: (row.channel_updated_at ?? row.inserted_at).toISOString(),
    },
    recipient: row.recipient as unknown as string | { id: string; collection: string },
    actors: row.actors as Array<string | { id: string; collection: string }>,
    status: row.status,
    engagement_statuses: engagementStatuses(row),
    seen_at: iso(row.seen_at),
    read_at: iso(row.read_at),
    interacted_at: iso(row.interacted_at),
    link_clicked_at: iso(row.link_clicked_at),
    clicked_at: iso(row.link_clicked_at),
    archived_at: iso(row.archived_at),
    scheduled_at: null,
    inserted_at: row.inserted_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
    data: row.data,
    metadata: Object.keys(extra).length > 0 ? extra : null,
    source: {
      __typename: 'NotificationSource' as const,
      type: 'workflow' as const,
      key: row.workflow_key,
      version_id: row.version_id,
      step_ref: row.step_ref,
      workflow_run_id: row.workflow_run_id,
      workflow_recipient_run_id: row.workflow_recipient_run_id,
      categories: metadata.categories ?? [],
    },
    tenant: row.tenant,
    workflow: row.workflow_key,
  };
}

export type MessageView = ReturnType<typeof toMessage>;

/** Knock's trigger data filter: a JSON object of flat key-value pairs (nested values are a 422). */
export function parseTriggerData(text: string | undefined, field = 'trigger_data'): Record<string, unknown> | undefined {
  if (text === undefined || text === '') return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw Invalid.field(field, 'must be a JSON object');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw Invalid.field(field, 'must be a JSON object');
  for (const [key, v] of Object.entries(value)) {
    if (v !== null && typeof v === 'object') throw Invalid.field(`${field}.${key}`, 'must be a string, number, boolean or null: nested data cannot be filtered on');
  }
  return value as Record<string, unknown>;
}

/** Fails unless the caller may see this recipient's messages. */
function requireRecipient(caller: Caller, key: string): void {
  if (caller.onlyUser !== undefined && key !== recipientKey({ id: caller.onlyUser })) {
    throw new Forbidden('The user token allows access to its own user\'s messages only', 'user_token_forbidden');
  }
}

/** A message the caller may see, or 404/403. */
async function loadMessage(tx: EnvTx, caller: Caller, messageId: string): Promise<MessageListRow> {
  const row = isMessageId(messageId) ? await store.findMessage(tx, caller.environmentId, messageId) : undefined;
  if (!row) throw new NotFound('Message', messageId);
  requireRecipient(caller, row.recipient_key);
  return row;
}

/** A channel id filter: a UUID, or a channel key of the account (an unknown key matches nothing). */
async function channelFilter(tx: EnvTx, accountId: string, idOrKey: string | undefined): Promise<string | undefined> {
  if (idOrKey === undefined) return undefined;
  if (UUID.test(idOrKey)) return idOrKey;
  const channel = await store.findChannel(tx, accountId, idOrKey);
  return channel?.id ?? '00000000-0000-0000-0000-000000000000';
}

export interface ListMessagesQuery {
  after?: string;
  before?: string;
  page_size?: number;
  tenant?: string;
  channel_id?: string;
  status?: MessageStatus[];
  engagement_status?: EngagementFilter[];
  message_ids?: string[];
  workflow_categories?: string[];
  source?: string;
  workflow_run_id?: string;
  workflow_recipient_run_id?: string;
  trigger_data?: string;
  'inserted_at.gt'?: string;
  'inserted_at.gte'?: string;
  'inserted_at.lt'?: string;
  'inserted_at.lte'?: string;
}

function insertedAt(query: { 'inserted_at.gt'?: string; 'inserted_at.gte'?: string; 'inserted_at.lt'?: string; 'inserted_at.lte'?: string }) {
  return { gt: query['inserted_at.gt'], gte: query['inserted_at.gte'], lt: query['inserted_at.lt'], lte: query['inserted_at.lte'] };
}

/** Lists messages (of one recipient when `recipient` is given), newest first, with the spec's filters. */
export async function listMessages(
  db: Db,
  caller: Caller,
  query: ListMessagesQuery,
  recipient?: { id: string; collection?: string },
): Promise<{ items: MessageView[]; page_info: PageInfoShape }> {
  const request = pageRequest(query);
  const key = recipient ? recipientKey(recipient) : undefined;
  // A user token may list its own user's messages, never the environment's.
  if (caller.onlyUser !== undefined) requireRecipient(caller, key ?? '');
  return inEnvironment(db, caller.environmentId, async (tx) => {
    const filters: MessageFilters = {
      recipientKeys: key ? [key] : undefined,
      channelId: await channelFilter(tx, caller.accountId, query.channel_id),
      tenants: query.tenant !== undefined ? [query.tenant] : undefined,
      statuses: query.status,
      engagement: query.engagement_status,
      messageIds: query.message_ids?.filter(isMessageId),
      categories: query.workflow_categories,
      workflowKeys: query.source !== undefined ? [query.source] : undefined,
      workflowRunId: query.workflow_run_id,
      workflowRecipientRunId: query.workflow_recipient_run_id,
      triggerData: parseTriggerData(query.trigger_data),
      insertedAt: insertedAt(query),
    };
    const { rows, pageInfo } = toPage(await store.listMessages(tx, caller.environmentId, filters, request), request, timeKeyOf);
    return { items: rows.map(toMessage), page_info: pageInfo };
  });
}

export async function getMessage(db: Db, caller: Caller, messageId: string): Promise<MessageView> {
  return inEnvironment(db, caller.environmentId, async (tx) => toMessage(await loadMessage(tx, caller, messageId)));
}

/** Typenames of the rendered content of each channel type (the spec's `MessageContents.data`). */
const CONTENT_TYPENAMES: Record<string, string> = {
  email: 'MessageEmailContent',
  sms: 'MessageSmsContent',
  push: 'MessagePushContent',
  chat: 'MessageChatContent',
  in_app_feed: 'MessageInAppFeedContent',
  http: 'MessageWebhookContent',
};

function toContents(row: MessageListRow) {
  return {
    __typename: 'MessageContent' as const,
    message_id: row.id,
    inserted_at: row.inserted_at.toISOString(),
    data: { __typename: CONTENT_TYPENAMES[row.channel_type] ?? 'MessageContent', ...((row.content ?? {}) as Record<string, unknown>) },
  };
}

export async function getContent(db: Db, caller: Caller, messageId: string) {
  return inEnvironment(db, caller.environmentId, async (tx) => toContents(await loadMessage(tx, caller, messageId)));
}

/** Contents of several messages (unknown ids left out). */
export async function batchGetContent(db: Db, caller: Caller, messageIds: string[]) {
  return inEnvironment(db, caller.environmentId, async (tx) => {
    const rows = await store.findMessages(tx, caller.environmentId, messageIds.filter(isMessageId));
    for (const row of rows) requireRecipient(caller, row.recipient_key);
    const byId = new Map(rows.map((row) => [row.id, row]));
    return [...new Set(messageIds)].flatMap((id) => (byId.has(id) ? [toContents(byId.get(id)!)] : []));
  });
}

type PageQuery = { after?: string; before?: string; page_size?: number };

export async function listEvents(db: Db, caller: Caller, messageId: string, query: PageQuery) {
  const request = pageRequest(query);
  return inEnvironment(db, caller.environmentId, async (tx) => {
    const message = await loadMessage(tx, caller, messageId);
    const { rows, pageInfo } = toPage(await store.listEvents(tx, caller.environmentId, message.id, request), request, timeKeyOf);
    return {
      items: rows.map((row) => ({
        __typename: 'MessageEvent' as const,
        id: row.id,
        type: row.type,
        recipient: message.recipient as unknown as string | { id: string; collection: string },
        data: row.data,
        inserted_at: row.inserted_at.toISOString(),
      })),
      page_info: pageInfo,
    };
  });
}

export async function listDeliveryLogs(db: Db, caller: Caller, messageId: string, query: PageQuery) {
  const request = pageRequest(query);
  return inEnvironment(db, caller.environmentId, async (tx) => {
    const message = await loadMessage(tx, caller, messageId);
    const { rows, pageInfo } = toPage(await store.listDeliveryLogs(tx, caller.environmentId, message.id, request), request, timeKeyOf);
    return {
      items: rows.map((row) => ({
        __typename: 'MessageDeliveryLog' as const,
        id: row.id,
        environment_id: row.environment_id,
        service_name: row.provider,
        request: (row.request ?? {}) as Record<string, unknown>,
        response: (row.response ?? {}) as Record<string, unknown>,
        inserted_at: row.inserted_at.toISOString(),
        // Herald additions: which attempt, how it ended.
        attempt: row.attempt,
        status: row.status,
        error: row.error,
        completed_at: iso(row.completed_at),
      })),
      page_info: pageInfo,
    };
  });
}

/** The Knock `Activity` shape of a stored activity. */
export function toActivity(activity: StoredActivity, index: number, message: MessageListRow, recipients: RecipientResolver) {
  const at = activity.inserted_at ?? message.inserted_at.toISOString();
  return {
    __typename: 'Activity' as const,
    id: activity.id ?? `${message.id}:${index}`,
    actor: recipients.resolve(activity.actor, message.inserted_at) as Recipient | null,
    recipient: recipients.resolve(activity.recipient ?? message.recipient, message.inserted_at) as Recipient,
    data: activity.data ?? null,
    inserted_at: at,
    updated_at: at,
  };
}

/** The references a message's actors and activities name (to resolve in one go). */
export function referencesOf(rows: MessageListRow[]): unknown[] {
  return rows.flatMap((row) => [row.recipient, ...(row.actors ?? []), ...(engineMetadata(row).activities ?? []).flatMap((a) => [a.actor, a.recipient])]);
}

function matchesTriggerData(data: Record<string, unknown> | null | undefined, filter: Record<string, unknown> | undefined): boolean {
  if (!filter) return true;
  return Object.entries(filter).every(([key, value]) => data?.[key] === value);
}

/** A message's activities (a batch's triggers, or the one trigger), paginated in their stored order. */
export async function listActivities(db: Db, caller: Caller, messageId: string, query: PageQuery & { trigger_data?: string }) {
  const request = pageRequest(query);
  const filter = parseTriggerData(query.trigger_data);
  const bound = (key: string | undefined, field: 'after' | 'before') => {
    if (key === undefined) return undefined;
    if (!/^\d{1,9}$/.test(key)) throw Invalid.field(field, 'is not a valid cursor');
    return Number(key);
  };
  const after = bound(request.after, 'after');
  const before = bound(request.before, 'before');
  return inEnvironment(db, caller.environmentId, async (tx) => {
    const message = await loadMessage(tx, caller, messageId);
    const stored = engineMetadata(message).activities ?? [];
    let indexed = stored.map((activity, index) => ({ activity, index })).filter(({ activity }) => matchesTriggerData(activity.data, filter));
    if (after !== undefined) indexed = indexed.filter(({ index }) => index > after);
    if (before !== undefined) indexed = indexed.filter(({ index }) => index < before);
    // toPage takes rows in the direction of travel.
    const travel = before !== undefined && after === undefined ? indexed.reverse() : indexed;
    const { rows, pageInfo } = toPage(travel.slice(0, request.size + 1), request, ({ index }) => String(index));
    const recipients = new RecipientResolver();
    await recipients.load(tx, caller.environmentId, rows.flatMap(({ activity }) => [activity.actor, activity.recipient ?? message.recipient]));
    return { items: rows.map(({ activity, index }) => toActivity(activity, index, message, recipients)), page_info: pageInfo };
  });
}

/** PUT/DELETE /v1/messages/{id}/{status}: one message's engagement; answers the message as it now is. */
export async function updateEngagement(db: Db, caller: Caller, messageId: string, action: EngagementAction, metadata?: Record<string, unknown> | null): Promise<MessageView> {
  if (action === 'interacted') checkInteractionMetadata(metadata);
  return inEnvironment(db, caller.environmentId, async (tx) => {
    const message = await loadMessage(tx, caller, messageId);
    await applyEngagement(tx, caller.environmentId, sql<SqlBool>`id = ${message.id}::uuid`, action, metadata);
    return toMessage((await store.findMessage(tx, caller.environmentId, message.id))!);
  });
}

/** POST /v1/messages/batch/{action}: answers the messages found, as they now are (unknown ids are left out). */
export async function batchUpdateEngagement(db: Db, caller: Caller, messageIds: string[], action: EngagementAction, metadata?: Record<string, unknown> | null): Promise<MessageView[]> {
  if (action === 'interacted') checkInteractionMetadata(metadata);
  const ids = [...new Set(messageIds.filter(isMessageId))];
  return inEnvironment(db, caller.environmentId, async (tx) => {
    const found = await store.findMessages(tx, caller.environmentId, ids);
    for (const row of found) requireRecipient(caller, row.recipient_key);
    const { matched } = await applyEngagement(tx, caller.environmentId, sql<SqlBool>`id = ANY(${found.map((r) => r.id)}::uuid[])`, action, metadata);
    const rows = await store.findMessages(tx, caller.environmentId, matched.map((m) => m.id));
    const byId = new Map(rows.map((row) => [row.id, row]));
    return ids.flatMap((id) => (byId.has(id) ? [toMessage(byId.get(id)!)] : []));
  });
}

export interface ChannelBulkBody {
  user_ids?: string[];
  recipient_ids?: string[];
  engagement_status?: EngagementFilter;
  delivery_status?: MessageStatus;
  archived?: 'exclude' | 'include' | 'only';
  has_tenant?: boolean;
  tenants?: string[];
  trigger_data?: string;
  workflows?: string[];
  newer_than?: string;
  older_than?: string;
}

/**
 * POST /v1/channels/{channel_id}/messages/bulk/{action}: changes (or deletes) every
 * message of the channel matching the filters, atomically; answers a completed bulk operation.
 */
export async function bulkUpdateChannel(db: Db, caller: Caller, channelIdOrKey: string, actionName: string, body: ChannelBulkBody | null) {
  const action = actionName === 'delete' ? 'delete' : engagementAction(actionName);
  if (!action) throw Invalid.field('action', 'is not a bulk action');
  const given = body?.recipient_ids ?? body?.user_ids;
  let userIds = given;
  if (caller.onlyUser !== undefined) {
    if (action === 'delete') throw new Forbidden('Deleting messages requires a secret API key', 'secret_key_required');
    if (userIds === undefined) userIds = [caller.onlyUser];
    for (const id of userIds) requireRecipient(caller, recipientKey({ id }));
  }
  const engagement: EngagementFilter[] = [];
  if (body?.engagement_status) engagement.push(body.engagement_status);
  if (body?.archived === 'exclude') engagement.push('unarchived');
  if (body?.archived === 'only') engagement.push('archived');
  return inEnvironment(db, caller.environmentId, async (tx) => {
    const channel = await store.findChannel(tx, caller.accountId, channelIdOrKey);
    if (!channel) throw new NotFound('Channel', channelIdOrKey);
    const filters: MessageFilters = {
      channelId: channel.id,
      recipientKeys: userIds?.map((id) => recipientKey({ id })),
      engagement,
      statuses: body?.delivery_status ? [body.delivery_status] : undefined,
      hasTenant: body?.has_tenant,
      tenants: body?.tenants,
      triggerData: parseTriggerData(body?.trigger_data),
      workflowKeys: body?.workflows,
      insertedAt: { gt: body?.newer_than, lt: body?.older_than },
    };
    const where = store.matching(filters);
    const total = action === 'delete'
      ? await store.deleteMessages(tx, caller.environmentId, where)
      : (await applyEngagement(tx, caller.environmentId, where, action)).matched.length;
    return toBulkOperation(await recordCompletedBulkOperation(tx, caller.environmentId, `messages.bulk_${action}`, total));
  });
}

