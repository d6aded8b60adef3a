import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { sql } from 'kysely';
import WebSocket from 'ws';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { inEnvironment } from '../../src/db/scoped.ts';
import { announceMessage } from '../../src/messages/notify.ts';
import { FeedHub, MessageListener, type FeedSignal } from '../../src/messages/realtime.ts';
import { startTestHerald, type TestHerald } from '../support/herald.ts';
import { createSigningKey, environmentIds, eventually, inAppChannel, insertMessage, userToken } from './fixtures.ts';

/** The realtime socket spoken as Phoenix channels v2 by hand: frames are `[join_ref, ref, topic, event, payload]`. */

type Frame = [string | null, string | null, string, string, Record<string, unknown>];

let herald: TestHerald;
let dev: string;
let pk: string;
let channel: string;
let signingKey: string;
const sockets: PhoenixTestSocket[] = [];

beforeAll(async () => {
  herald = await startTestHerald();
  dev = (await environmentIds(herald)).development;
  pk = herald.secrets.environments.development.public_key;
  channel = await inAppChannel(herald);
  signingKey = (await createSigningKey(herald, 'development')).privateKey;
});
afterEach(() => {
  for (const socket of sockets.splice(0)) socket.ws.close();
});
afterAll(async () => herald?.close());

class PhoenixTestSocket {
  readonly frames: Frame[] = [];
  private ref = 0;
  readonly ws: WebSocket;
  constructor(ws: WebSocket) {
    this.ws = ws;
    ws.on('message', (data) => this.frames.push(JSON.parse(String(data)) as Frame));
  }
  push(joinRef: string | null, topic: string, event: string, payload: unknown = {}): string {
    const ref = String(++this.ref);
    this.ws.send(JSON.stringify([joinRef, ref, topic, event, payload]));
    return ref;
  }
  reply(ref: string): Promise<Frame> {
    return eventually(() => this.frames.find((f) => f[1] === ref && f[3] === 'phx_reply'), `reply to ${ref}`);
  }
  events(event: string): Frame[] {
    return this.frames.filter((f) => f[3] === event);
  }
}

function socketUrl(params: Record<string, string>): string {
  const url = new URL('/ws/v1/websocket', herald.url.replace('http', 'ws'));
  for (const [k, v] of Object.entries({ vsn: '2.0.0', ...params })) url.searchParams.set(k, v);
  return url.toString();
}

/** Opens a socket; resolves with it once open, or rejects with the HTTP status of a refused upgrade. */
function connect(params: Record<string, string>): Promise<PhoenixTestSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(socketUrl(params));
    const socket = new PhoenixTestSocket(ws);
    ws.on('open', () => {
      sockets.push(socket);
      resolve(socket);
    });
    ws.on('unexpected-response', (_req, res) => reject(Object.assign(new Error(`upgrade refused: ${res.statusCode}`), { status: res.statusCode })));
    ws.on('error', reject);
  });
}

async function connectAs(user: string): Promise<PhoenixTestSocket> {
  return connect({ api_key: pk, user_token: await userToken(signingKey, user) });
}

async function join(socket: PhoenixTestSocket, user: string, params: unknown = {}): Promise<{ joinRef: string; topic: string; reply: Frame }> {
  const topic = `feeds:${channel}:${user}`;
  const joinRef = String(Math.random()).slice(2);
  const ref = socket.push(joinRef, topic, 'phx_join', params);
  return { joinRef, topic, reply: await socket.reply(ref) };
}

describe('feed socket: connecting', () => {
  it('refuses upgrades without a public key and valid user token', async () => {
    await expect(connect({})).rejects.toMatchObject({ status: 401 });
    await expect(connect({ api_key: pk })).rejects.toMatchObject({ status: 401 });
    await expect(connect({ api_key: pk, user_token: 'garbage' })).rejects.toMatchObject({ status: 401 });
    await expect(connect({ api_key: pk, user_token: await userToken(signingKey, 'u', -60) })).rejects.toMatchObject({ status: 401 });
    const sk = herald.secrets.environments.development.secret_key;
    await expect(connect({ api_key: sk, user_token: await userToken(signingKey, 'u') })).rejects.toMatchObject({ status: 403 });
    await expect(connect({ api_key: pk, user_token: await userToken(signingKey, 'u'), vsn: '1.0.0' })).rejects.toMatchObject({ status: 422 });
  });

  it('answers heartbeats on the phoenix topic', async () => {
    const socket = await connectAs('heart');
    const ref = socket.push(null, 'phoenix', 'heartbeat');
    expect(await socket.reply(ref)).toEqual([null, ref, 'phoenix', 'phx_reply', { status: 'ok', response: {} }]);
  });

  it('joins the token user\'s feed only; other users\' feeds, unknown channels and other topics get an error reply', async () => {
    const socket = await connectAs('joiner');
    expect((await join(socket, 'joiner')).reply[4]).toEqual({ status: 'ok', response: {} });
    expect((await join(socket, 'someone-else')).reply[4]).toEqual({ status: 'error', response: { reason: 'unauthorized' } });
    const badChannel = socket.push('9', `feeds:${randomUUID()}:joiner`, 'phx_join', {});
    expect((await socket.reply(badChannel))[4]).toMatchObject({ status: 'error' });
    const other = socket.push('10', 'rooms:lobby', 'phx_join', {});
    expect((await socket.reply(other))[4]).toMatchObject({ status: 'error' });
  });
});

describe('feed socket: new messages', () => {
  it('sends new-message with each feed client\'s counts, addressed (attn) to the clients whose filters match', async () => {
    const user = `rt-${randomUUID()}`;
    await insertMessage(herald, { environmentId: dev, channelId: channel, user, announce: false });
    const socket = await connectAs(user);
    const { joinRef, topic } = await join(socket, user, { client_all: { archived: 'exclude' }, client_team: { tenant: 'team-z', archived: 'exclude' } });
    const id = await insertMessage(herald, { environmentId: dev, channelId: channel, user });
    const [frame] = await eventually(() => (socket.events('new-message').length > 0 ? socket.events('new-message') : undefined), 'new-message');
    expect(frame[0]).toBe(joinRef);
    expect(frame[2]).toBe(topic);
    expect(frame[4]).toEqual({
      event: 'new-message',
      metadata: { __typename: 'FeedMetadata', total_count: 2, unread_count: 2, unseen_count: 2 },
      data: {
        client_all: { metadata: { __typename: 'FeedMetadata', total_count: 2, unread_count: 2, unseen_count: 2 } },
        client_team: { metadata: { __typename: 'FeedMetadata', total_count: 0, unread_count: 0, unseen_count: 0 } },
      },
      attn: ['client_all'],
    });
    expect(id).toBeTruthy();
  });

  it('hears nothing of other users\' messages, other channels\' or rolled-back ones', async () => {
    const user = `quiet-${randomUUID()}`;
    const socket = await connectAs(user);
    await join(socket, user, { c: {} });
    await insertMessage(herald, { environmentId: dev, channelId: channel, user: `${user}-other` });
    await insertMessage(herald, { environmentId: dev, channelId: await inAppChannel(herald, 'another-feed'), user });
    await inEnvironment(herald.db, dev, async (tx) => {
      await announceMessage(tx, { e: dev, c: channel, r: `user:${user}`, m: randomUUID() });
      await sql`SELECT 1 / 0`.execute(tx);
    }).catch(() => undefined);
    // A later message for this feed arrives alone: nothing was sent before it.
    await insertMessage(herald, { environmentId: dev, channelId: channel, user });
    await eventually(() => socket.events('new-message').length > 0, 'new-message');
    expect(socket.events('new-message')).toHaveLength(1);
    expect(socket.events('new-message')[0][4]).toMatchObject({ attn: ['c'], metadata: { total_count: 1 } });
  });

  it('stops sending after phx_leave (reply ok, then phx_close)', async () => {
    const user = `leaver-${randomUUID()}`;
    const socket = await connectAs(user);
    const { joinRef, topic } = await join(socket, user, { c: {} });
    const ref = socket.push(joinRef, topic, 'phx_leave');
    expect((await socket.reply(ref))[4]).toEqual({ status: 'ok', response: {} });
    await eventually(() => socket.events('phx_close').length > 0, 'phx_close');
    const beat = socket.push(null, 'phoenix', 'heartbeat');
    await insertMessage(herald, { environmentId: dev, channelId: channel, user });
    // Joined again on a second socket: it hears the next message, the left one never does.
    const watcher = await connectAs(user);
    await join(watcher, user, { c: {} });
    await insertMessage(herald, { environmentId: dev, channelId: channel, user });
    await eventually(() => watcher.events('new-message').length > 0, 'new-message on the watcher');
    await socket.reply(beat);
    expect(socket.events('new-message')).toHaveLength(0);
  });

  it('closes sockets when Herald shuts down', async () => {
    const other = await startTestHerald();
    const otherPk = other.secrets.environments.development.public_key;
    const key = await createSigningKey(other, 'development');
    const ws = new WebSocket(new URL(`/ws/v1/websocket?vsn=2.0.0&api_key=${otherPk}&user_token=${await userToken(key.privateKey, 'bye')}`, other.url.replace('http', 'ws')));
    await new Promise((resolve, reject) => {
      ws.on('open', resolve);
      ws.on('error', reject);
    });
    const closed = new Promise((resolve) => ws.on('close', resolve));
    await other.close();
    await closed;
  });
});

describe('feed listener', () => {
  it('reconnects after losing its connection and asks subscribers to resync; later announcements arrive', async () => {
    const hub = new FeedHub();
    const heard: FeedSignal[] = [];
    hub.subscribe(dev, channel, 'user:listener-test', (signal) => heard.push(signal));
    const listener = new MessageListener(herald.databaseUrl, hub, { retryMs: 20, maxRetryMs: 100 });
    const applicationName = 'herald-feed-listener';
    try {
      await listener.start();
      expect(listener.listening).toBe(true);
      const first = await insertMessage(herald, { environmentId: dev, channelId: channel, user: 'listener-test' });
      await eventually(() => heard.some((s) => s.kind === 'messages' && s.messageIds.includes(first)), 'the first announcement');

      const admin = new pg.Client({ connectionString: herald.databaseUrl });
      await admin.connect();
      try {
        // Every feed listener on this database: the test's and the test Herald's own; both must recover.
        const { rowCount } = await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1 AND datname = current_database()', [applicationName]);
        expect(rowCount).toBeGreaterThanOrEqual(2);
      } finally {
        await admin.end();
      }
      await eventually(() => heard.some((s) => s.kind === 'resync'), 'a resync after reconnecting');
      expect(listener.listening).toBe(true);
      const second = await insertMessage(herald, { environmentId: dev, channelId: channel, user: 'listener-test' });
      await eventually(() => heard.some((s) => s.kind === 'messages' && s.messageIds.includes(second)), 'an announcement after reconnecting');
    } finally {
      await listener.stop();
    }
    // The test Herald's own listener recovered too: its sockets hear new messages.
    const user = `after-reconnect-${randomUUID()}`;
    const socket = await connectAs(user);
    await join(socket, user, { c: {} });
    await insertMessage(herald, { environmentId: dev, channelId: channel, user });
    await eventually(() => socket.events('new-message').length > 0, 'new-message after the Herald listener reconnected');
  });
});
