import pg from 'pg';
import { MESSAGES_CHANNEL, type MessageAnnouncement } from './notify.ts';

/**
 * Realtime feeds: each API process holds one LISTEN connection on `herald_messages`
 * (new messages are announced there by the transaction that writes them, so only
 * committed ones are heard) and hands each announcement to the sockets of this process
 * subscribed to that environment, channel and recipient.
 */

/** What a subscriber hears: new messages, or (after the listener reconnected and may have missed some) a resync. */
export type FeedSignal = { kind: 'messages'; messageIds: string[] } | { kind: 'resync' };

export type FeedSubscriber = (signal: FeedSignal) => void;

function topicKey(environmentId: string, channelId: string, recipientKey: string): string {
  return `${environmentId}\u0000${channelId}\u0000${recipientKey}`;
}

/** In-process fan-out of announcements to subscribers, by environment, channel and recipient. */
export class FeedHub {
  private readonly subscribers = new Map<string, Set<FeedSubscriber>>();

  /** Subscribes to one recipient's feed on one channel; returns the unsubscribe function. */
  subscribe(environmentId: string, channelId: string, recipientKey: string, subscriber: FeedSubscriber): () => void {
    const key = topicKey(environmentId, channelId, recipientKey);
    let set = this.subscribers.get(key);
    if (!set) {
      set = new Set();
      this.subscribers.set(key, set);
    }
    set.add(subscriber);
    return () => {
      const current = this.subscribers.get(key);
      if (!current) return;
      current.delete(subscriber);
      if (current.size === 0) this.subscribers.delete(key);
    };
  }

  /** Hands an announcement to its subscribers (a subscriber's failure never reaches the others). */
  publish(announcement: MessageAnnouncement): void {
    const set = this.subscribers.get(topicKey(announcement.e, announcement.c, announcement.r));
    if (!set) return;
    for (const subscriber of [...set]) this.deliver(subscriber, { kind: 'messages', messageIds: [announcement.m] });
  }

  /** Tells every subscriber to refresh: announcements may have been missed. */
  resync(): void {
    for (const set of this.subscribers.values()) for (const subscriber of [...set]) this.deliver(subscriber, { kind: 'resync' });
  }

  private deliver(subscriber: FeedSubscriber, signal: FeedSignal): void {
    try {
      subscriber(signal);
    } catch {
      // A broken subscriber must not stop delivery to the others.
    }
  }
}

function parseAnnouncement(payload: string | undefined): MessageAnnouncement | undefined {
  if (!payload) return undefined;
  try {
    const value = JSON.parse(payload) as Partial<MessageAnnouncement>;
    if (typeof value.e === 'string' && typeof value.c === 'string' && typeof value.r === 'string' && typeof value.m === 'string') {
      return { e: value.e, c: value.c, r: value.r, m: value.m };
    }
  } catch {
    // Not ours: ignore.
  }
  return undefined;
}

export interface ListenerOptions {
  /** First reconnect delay (doubles up to `maxRetryMs`). */
  retryMs?: number;
  maxRetryMs?: number;
  onError?: (error: Error) => void;
}

/**
 * The one LISTEN connection of an API process. It reconnects with backoff whenever the
 * connection fails, and after reconnecting asks every subscriber to resync, since
 * announcements made while it was away were not heard.
 */
export class MessageListener {
  private client?: pg.Client;
  private closed = false;
  private connectedOnce = false;
  private attempt = 0;
  private retryTimer?: NodeJS.Timeout;
  private readonly url: string;
  private readonly hub: FeedHub;
  private readonly options: ListenerOptions;

  constructor(url: string, hub: FeedHub, options: ListenerOptions = {}) {
    this.url = url;
    this.hub = hub;
    this.options = options;
  }

  /** True while the LISTEN connection is up. */
  get listening(): boolean {
    return this.client !== undefined;
  }

  /** Connects (retrying in the background if the first attempt fails). */
  async start(): Promise<void> {
    await this.connect();
  }

  async stop(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retryTimer);
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => {});
  }

  private async connect(): Promise<void> {
    if (this.closed) return;
    const client = new pg.Client({ connectionString: this.url, application_name: 'herald-feed-listener' });
    let dropped = false;
    const drop = (error?: Error) => {
      if (dropped) return;
      dropped = true;
      if (error) this.options.onError?.(error);
      if (this.client === client) this.client = undefined;
      client.end().catch(() => {});
      this.scheduleReconnect();
    };
    client.on('error', drop);
    client.on('end', () => drop());
    client.on('notification', (message) => {
      if (message.channel !== MESSAGES_CHANNEL) return;
      const announcement = parseAnnouncement(message.payload);
      if (announcement) this.hub.publish(announcement);
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${MESSAGES_CHANNEL}`);
    } catch (error) {
      drop(error as Error);
      return;
    }
    if (this.closed) {
      await client.end().catch(() => {});
      return;
    }
    this.client = client;
    const reconnected = this.attempt > 0 || this.connectedOnce;
    this.attempt = 0;
    this.connectedOnce = true;
    if (reconnected) this.hub.resync();
  }

  private scheduleReconnect(): void {
    if (this.closed) return;
    const base = this.options.retryMs ?? 500;
    const delay = Math.min(base * 2 ** this.attempt, this.options.maxRetryMs ?? 30_000);
    this.attempt += 1;
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => void this.connect(), delay);
    this.retryTimer.unref();
  }
}
