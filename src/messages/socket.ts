import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import { Type } from 'typebox';
import type { Db } from '../db/database.ts';
import { inEnvironment } from '../db/scoped.ts';
import type { ApiKeyAuthenticator } from '../environments/api-keys.ts';
import { recipientKey } from '../engine/recipients.ts';
import { Forbidden, Invalid, Unauthorized } from '../errors.ts';
import { feedIncludesAny, feedMeta, type FeedMeta, type FeedOptions } from './feed.ts';
import type { FeedHub, FeedSignal } from './realtime.ts';
import * as store from './store.ts';
import type { UserTokenVerifier } from './user-token.ts';

/**
 * The realtime feed socket, `/ws/v1/websocket`, speaking the Phoenix channels protocol
 * (v2 JSON serializer: `[join_ref, ref, topic, event, payload]`) as `@knocklabs/client`
 * does. The connection authenticates with `api_key` (a public key) and `user_token`
 * query parameters; it may join `feeds:{channel_id}:{user_id}` for the token's user
 * only. When a message for that feed is committed, every joined feed gets a
 * `new-message` event carrying the badge counts of each feed client that joined (their
 * join params are keyed by client reference) and `attn`: the clients whose filters the
 * new message matches. The client then fetches the new items over HTTP.
 */

export interface FeedSocketDeps {
  db: Db;
  accountId: string;
  keys: ApiKeyAuthenticator;
  hub: FeedHub;
  verifyUserToken: UserTokenVerifier;
  /** Close connections silent for this long (Phoenix clients heartbeat every 30 s). */
  idleTimeoutMs?: number;
}

export const SOCKET_PATH = '/ws/v1/websocket';
const SERIALIZER_VERSION = '2.0.0';
const MAX_TOPICS = 100;
const MAX_CLIENTS_PER_TOPIC = 50;
const MAX_FRAME_BYTES = 64 * 1024;

interface SocketIdentity {
  environmentId: string;
  userId: string;
}

type Frame = [string | null, string | null, string, string, unknown];

/** One feed joined on a connection. */
interface JoinedFeed {
  topic: string;
  joinRef: string | null;
  channelId: string;
  userId: string;
  /** Each feed client's options, by its reference id. */
  clients: Map<string, FeedOptions>;
  unsubscribe: () => void;
  /** Coalescing: while counts are being computed, later signals wait here. */
  running: boolean;
  pending: { messageIds: Set<string>; resync: boolean };
}

const identities = new WeakMap<FastifyRequest, SocketIdentity>();

/** The feed options a client's join params carry (unknown or mistyped values are dropped). */
export function feedOptionsFrom(value: unknown): FeedOptions {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return {};
  const v = value as Record<string, unknown>;
  const options: FeedOptions = {};
  const oneOf = <T extends string>(x: unknown, allowed: readonly T[]): T | undefined => (allowed.includes(x as T) ? (x as T) : undefined);
  const text = (x: unknown) => (typeof x === 'string' && x.length <= 256 ? x : undefined);
  options.status = oneOf(v.status, ['unread', 'read', 'unseen', 'seen', 'all'] as const);
  options.archived = oneOf(v.archived, ['exclude', 'include', 'only'] as const);
  options.source = text(v.source);
  options.tenant = text(v.tenant);
  if (typeof v.has_tenant === 'boolean') options.has_tenant = v.has_tenant;
  if (Array.isArray(v.workflow_categories)) options.workflow_categories = v.workflow_categories.filter((c): c is string => typeof c === 'string').slice(0, 50);
  if (typeof v.trigger_data === 'string' && v.trigger_data.length <= 10_000) options.trigger_data = v.trigger_data;
  else if (v.trigger_data && typeof v.trigger_data === 'object' && !Array.isArray(v.trigger_data)) options.trigger_data = JSON.stringify(v.trigger_data);
  for (const bound of ['inserted_at.gt', 'inserted_at.gte', 'inserted_at.lt', 'inserted_at.lte'] as const) {
    const at = text(v[bound]);
    if (at !== undefined && !Number.isNaN(Date.parse(at))) options[bound] = at;
  }
  return options;
}

/**
 * Join params as `@knocklabs/client` sends them: `{[client reference id]: options}`.
 * Flat options (older clients) count as one client named `default`.
 */
export function feedClientsFrom(payload: unknown): Map<string, FeedOptions> {
  const clients = new Map<string, FeedOptions>();
  if (payload && typeof payload === 'object' && !Array.isArray(payload)) {
    const entries = Object.entries(payload as Record<string, unknown>);
    const keyed = entries.length > 0 && entries.every(([, value]) => value !== null && typeof value === 'object' && !Array.isArray(value));
    if (keyed) {
      for (const [ref, options] of entries.slice(0, MAX_CLIENTS_PER_TOPIC)) clients.set(ref, feedOptionsFrom(options));
      return clients;
    }
  }
  clients.set('default', feedOptionsFrom(payload));
  return clients;
}

/** `feeds:{channel_id}:{user_id}` → its parts (user ids may contain colons; channel ids do not). */
function parseFeedTopic(topic: string): { channel: string; userId: string } | undefined {
  const match = /^feeds:([^:]+):(.+)$/.exec(topic);
  return match ? { channel: match[1], userId: match[2] } : undefined;
}

/** One Phoenix connection. */
class FeedSession {
  private readonly feeds = new Map<string, JoinedFeed>();
  /** Frames are handled one at a time, in order (a join awaits the database). */
  private queue: Promise<void> = Promise.resolve();
  private readonly idle: NodeJS.Timeout;
  private readonly socket: WebSocket;
  private readonly identity: SocketIdentity;
  private readonly deps: FeedSocketDeps;
  private readonly log: FastifyRequest['log'];

  constructor(socket: WebSocket, identity: SocketIdentity, deps: FeedSocketDeps, log: FastifyRequest['log']) {
    this.socket = socket;
    this.identity = identity;
    this.deps = deps;
    this.log = log;
    this.idle = setTimeout(() => socket.close(1000, 'heartbeat timeout'), deps.idleTimeoutMs ?? 60_000);
    this.idle.unref();
    socket.on('message', (data, isBinary) => {
      this.idle.refresh();
      if (isBinary) return;
      const text = String(data);
      this.queue = this.queue.then(() => this.receive(text)).catch((error) => this.log.warn({ err: error }, 'feed socket frame failed'));
    });
    socket.on('close', () => this.close());
    socket.on('error', () => this.close());
  }

  private send(frame: Frame): void {
    if (this.socket.readyState === this.socket.OPEN) this.socket.send(JSON.stringify(frame));
  }

  private reply(joinRef: string | null, ref: string | null, topic: string, status: 'ok' | 'error', response: Record<string, unknown> = {}): void {
    this.send([joinRef, ref, topic, 'phx_reply', { status, response }]);
  }

  private async receive(text: string): Promise<void> {
    let frame: unknown;
    try {
      frame = JSON.parse(text);
    } catch {
      return;
    }
    if (!Array.isArray(frame) || frame.length !== 5 || typeof frame[2] !== 'string' || typeof frame[3] !== 'string') return;
    const [joinRef, ref, topic, event, payload] = frame as Frame;
    if (topic === 'phoenix') {
      if (event === 'heartbeat') this.reply(null, ref, topic, 'ok');
      return;
    }
    if (event === 'phx_join') return this.join(joinRef, ref, topic, payload);
    const feed = this.feeds.get(topic);
    if (!feed || (joinRef !== null && feed.joinRef !== joinRef)) {
      this.reply(joinRef, ref, topic, 'error', { reason: 'unmatched topic' });
      return;
    }
    if (event === 'phx_leave') {
      this.leave(feed);
      this.reply(joinRef, ref, topic, 'ok');
      this.send([feed.joinRef, feed.joinRef, topic, 'phx_close', {}]);
      return;
    }
    this.reply(joinRef, ref, topic, 'ok');
  }

  private async join(joinRef: string | null, ref: string | null, topic: string, payload: unknown): Promise<void> {
    const parsed = parseFeedTopic(topic);
    if (!parsed) return this.reply(joinRef, ref, topic, 'error', { reason: 'unmatched topic' });
    if (parsed.userId !== this.identity.userId) return this.reply(joinRef, ref, topic, 'error', { reason: 'unauthorized' });
    const previous = this.feeds.get(topic);
    if (!previous && this.feeds.size >= MAX_TOPICS) return this.reply(joinRef, ref, topic, 'error', { reason: 'too many channels joined' });
    const channel = await store.findChannel(this.deps.db, this.deps.accountId, parsed.channel);
    if (!channel) return this.reply(joinRef, ref, topic, 'error', { reason: 'channel not found' });
    if (previous) {
      // A rejoin (new params) replaces the earlier join, as Phoenix does with duplicate joins.
      this.leave(previous);
      if (previous.joinRef !== joinRef) this.send([previous.joinRef, previous.joinRef, topic, 'phx_close', {}]);
    }
    const feed: JoinedFeed = {
      topic,
      joinRef,
      channelId: channel.id,
      userId: parsed.userId,
      clients: feedClientsFrom(payload),
      unsubscribe: () => {},
      running: false,
      pending: { messageIds: new Set(), resync: false },
    };
    feed.unsubscribe = this.deps.hub.subscribe(this.identity.environmentId, channel.id, recipientKey({ id: parsed.userId }), (signal) => this.signal(feed, signal));
    this.feeds.set(topic, feed);
    this.reply(joinRef, ref, topic, 'ok');
  }

  private leave(feed: JoinedFeed): void {
    feed.unsubscribe();
    if (this.feeds.get(feed.topic) === feed) this.feeds.delete(feed.topic);
  }

  private close(): void {
    clearTimeout(this.idle);
    for (const feed of [...this.feeds.values()]) this.leave(feed);
  }

  /** Queues a signal; one computation of counts runs at a time per feed, taking every signal queued meanwhile. */
  private signal(feed: JoinedFeed, signal: FeedSignal): void {
    if (signal.kind === 'resync') feed.pending.resync = true;
    else for (const id of signal.messageIds) feed.pending.messageIds.add(id);
    if (!feed.running) void this.drain(feed);
  }

  private async drain(feed: JoinedFeed): Promise<void> {
    feed.running = true;
    try {
      while (this.feeds.get(feed.topic) === feed && (feed.pending.resync || feed.pending.messageIds.size > 0)) {
        const resync = feed.pending.resync;
        const messageIds = [...feed.pending.messageIds];
        feed.pending = { messageIds: new Set(), resync: false };
        try {
          await this.announce(feed, resync, messageIds);
        } catch (error) {
          this.log.warn({ err: error }, 'feed socket could not compute feed counts');
        }
      }
    } finally {
      feed.running = false;
    }
  }

  /** Sends `new-message` with each client's counts, to the clients whose feed shows one of the messages. */
  private async announce(feed: JoinedFeed, resync: boolean, messageIds: string[]): Promise<void> {
    const { environmentId } = this.identity;
    const results = await inEnvironment(this.deps.db, environmentId, async (tx) => {
      const out: Array<{ ref: string; metadata: FeedMeta; attn: boolean }> = [];
      for (const [ref, options] of feed.clients) {
        try {
          const metadata = await feedMeta(tx, environmentId, feed.channelId, feed.userId, options);
          const attn = resync || (await feedIncludesAny(tx, environmentId, feed.channelId, feed.userId, options, messageIds));
          out.push({ ref, metadata, attn });
        } catch (error) {
          // A client's unusable filter (e.g. malformed trigger data) only leaves that client out.
          if (!(error instanceof Invalid)) throw error;
        }
      }
      return out;
    });
    const attn = results.filter((r) => r.attn);
    if (attn.length === 0) return;
    this.send([
      feed.joinRef,
      null,
      feed.topic,
      'new-message',
      {
        event: 'new-message',
        metadata: attn[0].metadata,
        data: Object.fromEntries(results.map((r) => [r.ref, { metadata: r.metadata }])),
        attn: attn.map((r) => r.ref),
      },
    ]);
  }
}

/** Authenticates the upgrade request: a public key and a signed user token (as query parameters, since browsers cannot set socket headers). */
async function authenticate(deps: FeedSocketDeps, request: FastifyRequest<{ Querystring: { api_key?: string; user_token?: string; vsn?: string } }>): Promise<void> {
  const { api_key: apiKey, user_token: userToken, vsn } = request.query;
  if (vsn !== undefined && vsn !== SERIALIZER_VERSION) throw Invalid.field('vsn', `must be ${SERIALIZER_VERSION} (the Phoenix v2 JSON serializer)`);
  if (!apiKey) throw new Unauthorized('Missing API key: connect with ?api_key=pk_…&user_token=…');
  const identity = await deps.keys.authenticate(apiKey);
  if (!identity) throw new Unauthorized('The API key is invalid or has been revoked');
  if (identity.kind !== 'public') throw new Forbidden('Connect to the realtime feed with the public API key (never the secret key)', 'public_key_required');
  if (!userToken) throw new Unauthorized('A signed user token is required: connect with ?user_token=…', 'user_token_required');
  const userId = await deps.verifyUserToken(identity.environmentId, userToken);
  identities.set(request, { environmentId: identity.environmentId, userId });
}

/** Registers the realtime feed socket (the websocket plugin must be registered on the app). */
export function feedSocketRoutes(deps: FeedSocketDeps): FastifyPluginAsync {
  return async (app) => {
    app.get<{ Querystring: { api_key?: string; user_token?: string; vsn?: string } }>(
      SOCKET_PATH,
      {
        websocket: true,
        schema: {
          hide: true,
          querystring: Type.Object({
            api_key: Type.Optional(Type.String({ maxLength: 512 })),
            user_token: Type.Optional(Type.String({ maxLength: 8192 })),
            vsn: Type.Optional(Type.String({ maxLength: 16 })),
          }),
        },
        preHandler: async (request) => authenticate(deps, request),
      },
      (socket, request) => {
        const identity = identities.get(request);
        if (!identity) {
          socket.close(1008, 'unauthenticated');
          return;
        }
        new FeedSession(socket, identity, deps, request.log);
      },
    );
  };
}

/** Options for `@fastify/websocket`: frames are small JSON arrays. */
export const WEBSOCKET_OPTIONS = { maxPayload: MAX_FRAME_BYTES };
