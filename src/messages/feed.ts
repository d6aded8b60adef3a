import type { Db } from '../db/database.ts';
import { inEnvironment, type EnvTx } from '../db/scoped.ts';
import { recipientKey } from '../engine/recipients.ts';
import { Forbidden, NotFound } from '../errors.ts';
import { encodeCursor, pageRequest, toPage, type PageInfoShape } from '../http/pagination.ts';
import { timeKeyOf } from './cursor.ts';
import { RecipientResolver } from './recipients.ts';
import { engineMetadata, parseTriggerData, referencesOf, toActivity, type Caller } from './service.ts';
import * as store from './store.ts';
import type { EngagementFilter, MessageFilters, MessageListRow } from './store.ts';

/**
 * A user's in-app feed on one channel: their messages on it, newest first, with badge
 * counts. The same options narrow the HTTP feed and a realtime subscription.
 */
export interface FeedOptions {
  status?: 'unread' | 'read' | 'unseen' | 'seen' | 'all';
  archived?: 'exclude' | 'include' | 'only';
  source?: string;
  tenant?: string;
  has_tenant?: boolean;
  workflow_categories?: string[];
  /** A JSON string (HTTP) or an object (a socket's join params). */
  trigger_data?: string | Record<string, unknown>;
  'inserted_at.gt'?: string;
  'inserted_at.gte'?: string;
  'inserted_at.lt'?: string;
  'inserted_at.lte'?: string;
}

export interface FeedQuery extends FeedOptions {
  after?: string;
  before?: string;
  page_size?: number;
  mode?: 'compact' | 'rich';
  exclude?: string;
  locale?: string;
}

export interface FeedMeta {
  __typename: 'FeedMetadata';
  total_count: number;
  unread_count: number;
  unseen_count: number;
}

const STATUS_FILTER: Record<NonNullable<FeedOptions['status']>, EngagementFilter[]> = {
  unread: ['unread'],
  read: ['read'],
  unseen: ['unseen'],
  seen: ['seen'],
  all: [],
};

const ARCHIVED_FILTER: Record<NonNullable<FeedOptions['archived']>, EngagementFilter[]> = {
  exclude: ['unarchived'],
  include: [],
  only: ['archived'],
};

/**
 * The feed's filters: `base` (everything but the read/seen status; archived messages
 * are excluded by default) and `narrow` (the status). Badge counts are over `base`;
 * entries and `total_count` over both.
 */
export function feedFilters(channelId: string, userId: string, options: FeedOptions): { base: MessageFilters; narrow: MessageFilters } {
  const triggerData = typeof options.trigger_data === 'string' ? parseTriggerData(options.trigger_data) : options.trigger_data;
  return {
    base: {
      channelId,
      recipientKeys: [recipientKey({ id: userId })],
      engagement: ARCHIVED_FILTER[options.archived ?? 'exclude'],
      tenants: options.tenant !== undefined ? [options.tenant] : undefined,
      hasTenant: options.has_tenant,
      workflowKeys: options.source !== undefined ? [options.source] : undefined,
      categories: options.workflow_categories,
      triggerData,
      insertedAt: { gt: options['inserted_at.gt'], gte: options['inserted_at.gte'], lt: options['inserted_at.lt'], lte: options['inserted_at.lte'] },
    },
    narrow: { engagement: STATUS_FILTER[options.status ?? 'all'] },
  };
}

function both(filters: { base: MessageFilters; narrow: MessageFilters }): MessageFilters {
  return { ...filters.base, engagement: [...(filters.base.engagement ?? []), ...(filters.narrow.engagement ?? [])] };
}

/** The feed's badge counts. */
export async function feedMeta(tx: EnvTx, environmentId: string, channelId: string, userId: string, options: FeedOptions): Promise<FeedMeta> {
  const { base, narrow } = feedFilters(channelId, userId, options);
  const counts = await store.countFeed(tx, environmentId, base, narrow);
  return { __typename: 'FeedMetadata', total_count: counts.total, unread_count: counts.unread, unseen_count: counts.unseen };
}

/** Whether any of these messages would show in the feed with these options. */
export async function feedIncludesAny(tx: EnvTx, environmentId: string, channelId: string, userId: string, options: FeedOptions, messageIds: string[]): Promise<boolean> {
  return (await store.matchingIds(tx, environmentId, messageIds, both(feedFilters(channelId, userId, options)))).length > 0;
}

/** Compact mode keeps only the flat values of `data`. */
function flatData(data: Record<string, unknown> | null): Record<string, unknown> | null {
  if (!data) return data;
  return Object.fromEntries(Object.entries(data).filter(([, value]) => value === null || typeof value !== 'object'));
}

interface InAppContent {
  blocks?: Array<Record<string, unknown>>;
  action_url?: string | null;
}

/** The rendered blocks, plus the action URL as Knock's feed components read it (a text block named `action_url`). */
function blocksOf(row: MessageListRow): Array<Record<string, unknown>> {
  const content = (row.content ?? {}) as InAppContent;
  const blocks = [...(content.blocks ?? [])];
  if (content.action_url && !blocks.some((block) => block.name === 'action_url')) {
    blocks.push({ type: 'text', name: 'action_url', content: content.action_url, rendered: content.action_url });
  }
  return blocks;
}

/** Knock's `FeedItem` shape (compact mode: at most one actor, no activities, flat data). */
export function toFeedItem(row: MessageListRow, mode: 'compact' | 'rich', recipients: RecipientResolver) {
  const metadata = engineMetadata(row);
  const actors = (row.actors ?? []).map((actor) => recipients.resolve(actor, row.inserted_at)).filter((actor) => actor !== null);
  const rich = mode === 'rich';
  return {
    __typename: 'FeedItem' as const,
    __cursor: encodeCursor(timeKeyOf(row)),
    id: row.id,
    actors: rich ? actors : actors.slice(0, 1),
    ...(rich ? { activities: (metadata.activities ?? []).map((activity, index) => toActivity(activity, index, row, recipients)) } : {}),
    blocks: blocksOf(row),
    data: rich ? row.data : flatData(row.data),
    inserted_at: row.inserted_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
    read_at: row.read_at?.toISOString() ?? null,
    seen_at: row.seen_at?.toISOString() ?? null,
    archived_at: row.archived_at?.toISOString() ?? null,
    interacted_at: row.interacted_at?.toISOString() ?? null,
    link_clicked_at: row.link_clicked_at?.toISOString() ?? null,
    clicked_at: row.link_clicked_at?.toISOString() ?? null,
    source: { __typename: 'NotificationSource' as const, key: row.workflow_key, version_id: row.version_id, categories: metadata.categories ?? [] },
    tenant: row.tenant,
    ...(rich ? { total_activities: metadata.total_activities ?? (metadata.activities ?? []).length } : {}),
    total_actors: metadata.total_actors ?? actors.length,
  };
}

/** Removes `a.b.c` paths (at most 3 levels; arrays apply to each element). */
function omitPaths(value: unknown, paths: string[][]): void {
  for (const path of paths) omitPath(value, path);
}

function omitPath(value: unknown, path: string[]): void {
  if (Array.isArray(value)) {
    for (const item of value) omitPath(item, path);
    return;
  }
  if (value === null || typeof value !== 'object' || path.length === 0) return;
  const [head, ...rest] = path;
  // Own properties only: `__proto__.x` must never reach a prototype.
  if (!Object.hasOwn(value, head)) return;
  if (rest.length === 0) delete (value as Record<string, unknown>)[head];
  else omitPath((value as Record<string, unknown>)[head], rest);
}

/** Fails unless the caller may read this user's feed. */
export function requireFeedUser(caller: Caller, userId: string): void {
  if (caller.onlyUser !== undefined && caller.onlyUser !== userId) {
    throw new Forbidden('The user token allows access to its own user\'s feed only', 'user_token_forbidden');
  }
}

/** The channel a feed is on: by id, or by key (a Herald convenience). */
export async function feedChannel(tx: EnvTx | Db, accountId: string, idOrKey: string) {
  const channel = await store.findChannel(tx, accountId, idOrKey);
  if (!channel) throw new NotFound('Channel', idOrKey);
  return channel;
}

/** GET /v1/users/{user_id}/feeds/{channel_id}: a page of the feed, its counts and the environment's public variables. */
export async function getFeed(db: Db, caller: Caller, userId: string, channelIdOrKey: string, query: FeedQuery) {
  requireFeedUser(caller, userId);
  const request = pageRequest(query);
  const mode = query.mode ?? 'rich';
  return inEnvironment(db, caller.environmentId, async (tx) => {
    const channel = await feedChannel(tx, caller.accountId, channelIdOrKey);
    const filters = feedFilters(channel.id, userId, query);
    const fetched = await store.listMessages(tx, caller.environmentId, both(filters), request);
    const { rows, pageInfo } = toPage(fetched, request, timeKeyOf);
    const counts = await store.countFeed(tx, caller.environmentId, filters.base, filters.narrow);
    const recipients = new RecipientResolver();
    await recipients.load(tx, caller.environmentId, referencesOf(rows));
    const response: { entries: Array<ReturnType<typeof toFeedItem>>; meta: FeedMeta; page_info: PageInfoShape; vars: Record<string, string> } = {
      entries: rows.map((row) => toFeedItem(row, mode, recipients)),
      meta: { __typename: 'FeedMetadata', total_count: counts.total, unread_count: counts.unread, unseen_count: counts.unseen },
      page_info: pageInfo,
      vars: await store.publicVariables(tx, caller.accountId, caller.environmentId),
    };
    if (query.exclude) {
      omitPaths(response, query.exclude.split(',').map((p) => p.trim()).filter(Boolean).map((p) => p.split('.').slice(0, 3)));
    }
    return response;
  });
}
