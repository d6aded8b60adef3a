/**
 * Conformance: the official Knock SDKs against Herald's messages, feeds and runs.
 * `@knocklabs/node` with a secret key (every call through the real SDK, only the base URL
 * differs from Knock), and `@knocklabs/client` (the browser feed client) with the public
 * key and a signed user token, over HTTP and the realtime socket.
 */
import { randomUUID } from 'node:crypto';
import Knock, { NotFoundError } from '@knocklabs/node';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inEnvironment } from '../../src/db/scoped.ts';
import { startTestHerald, type TestHerald } from '../support/herald.ts';
import { createSigningKey, environmentIds, eventually, inAppChannel, insertMessage, userToken } from './fixtures.ts';

let herald: TestHerald;
let dev: string;
let channel: string;
let knock: Knock;
let signingKey: string;

beforeAll(async () => {
  herald = await startTestHerald();
  dev = (await environmentIds(herald)).development;
  channel = await inAppChannel(herald);
  knock = new Knock({ apiKey: herald.secrets.environments.development.secret_key, baseURL: herald.url, maxRetries: 0 });
  signingKey = (await createSigningKey(herald, 'development')).privateKey;
});
afterAll(async () => herald?.close());

type KnockClientClass = (typeof import('@knocklabs/client'))['default'];

async function collect<T>(list: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of list) items.push(item);
  return items;
}

describe('@knocklabs/node: messages', () => {
  it('lists (auto-paginating), gets, and reads content, events, activities and delivery logs', async () => {
    const user = `sdk-${randomUUID()}`;
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push(await insertMessage(herald, { environmentId: dev, channelId: channel, user, insertedAt: new Date(Date.UTC(2024, 6, 1, 0, i)), actors: ['sdk-actor'] }));
    const listed = await collect(knock.users.listMessages(user, { page_size: 2 }));
    expect(listed.map((m) => m.id)).toEqual([...ids].reverse());
    const all = await collect(knock.messages.list({ page_size: 3, status: ['delivered'], channel_id: channel }));
    expect(all.map((m) => m.id)).toEqual(expect.arrayContaining(ids));

    const message = await knock.messages.get(ids[0]);
    expect(message).toMatchObject({ __typename: 'Message', id: ids[0], channel_id: channel, recipient: user, status: 'delivered', engagement_statuses: [] });
    expect(message.source).toMatchObject({ key: 'comment-created', categories: [] });

    const content = await knock.messages.getContent(ids[0]);
    expect(content).toMatchObject({ __typename: 'MessageContent', message_id: ids[0], data: { __typename: 'MessageInAppFeedContent' } });

    const events = await collect(knock.messages.listEvents(ids[0]));
    expect(events.map((e) => e.type)).toEqual(['message.delivered']);
    const activities = await collect(knock.messages.listActivities(ids[0]));
    expect(activities).toHaveLength(1);
    expect(activities[0].actor).toMatchObject({ id: 'sdk-actor' });
    expect(await collect(knock.messages.listDeliveryLogs(ids[0]))).toEqual([]);

    await expect(knock.messages.get(randomUUID())).rejects.toBeInstanceOf(NotFoundError);
  });

  it('changes engagement one message at a time and in batches', async () => {
    const user = `sdk-engage-${randomUUID()}`;
    const a = await insertMessage(herald, { environmentId: dev, channelId: channel, user });
    const b = await insertMessage(herald, { environmentId: dev, channelId: channel, user });
    expect((await knock.messages.markAsSeen(a)).seen_at).toEqual(expect.any(String));
    expect((await knock.messages.markAsRead(a)).engagement_statuses).toEqual(['seen', 'read']);
    expect((await knock.messages.markAsUnread(a)).read_at).toBeNull();
    expect((await knock.messages.markAsUnseen(a)).seen_at).toBeNull();
    expect((await knock.messages.archive(a)).archived_at).toEqual(expect.any(String));
    expect((await knock.messages.unarchive(a)).archived_at).toBeNull();
    expect((await knock.messages.markAsInteracted(a, { metadata: { button: 'primary' } })).interacted_at).toEqual(expect.any(String));

    const read = await knock.messages.batch.markAsRead({ message_ids: [a, b] });
    expect(read.map((m) => m.id)).toEqual([a, b]);
    expect(read.every((m) => m.read_at !== null)).toBe(true);
    expect((await knock.messages.batch.markAsSeen({ message_ids: [b] }))[0].seen_at).not.toBeNull();
    expect((await knock.messages.batch.markAsUnseen({ message_ids: [b] }))[0].seen_at).toBeNull();
    expect((await knock.messages.batch.markAsUnread({ message_ids: [b] }))[0].read_at).toBeNull();
    expect((await knock.messages.batch.archive({ message_ids: [b] }))[0].archived_at).not.toBeNull();
    expect((await knock.messages.batch.unarchive({ message_ids: [b] }))[0].archived_at).toBeNull();
    expect((await knock.messages.batch.markAsInteracted({ message_ids: [b], metadata: { k: 'v' } }))[0].interacted_at).not.toBeNull();
    const contents = await knock.messages.batch.getContent({ message_ids: [a, b] });
    expect(contents.map((c) => c.message_id)).toEqual([a, b]);

    const events = await collect(knock.messages.listEvents(a));
    expect(events.map((e) => e.type).reverse()).toEqual([
      'message.delivered', 'message.seen', 'message.read', 'message.unread', 'message.unseen', 'message.archived', 'message.unarchived',
      'message.interacted', 'message.read',
    ]);
  });

  it('reads a user\'s feed, its settings, and bulk-updates a channel\'s messages', async () => {
    const user = `sdk-feed-${randomUUID()}`;
    const a = await insertMessage(herald, { environmentId: dev, channelId: channel, user });
    const b = await insertMessage(herald, { environmentId: dev, channelId: channel, user });
    const items = await collect(knock.users.feeds.listItems(user, channel, { page_size: 1 }));
    expect(items.map((i) => i.id)).toEqual([b, a]);
    expect(items[0]).toMatchObject({ __typename: 'FeedItem', total_activities: 1, total_actors: 0, tenant: null });
    const raw = await knock.users.feeds.listItems(user, channel, { status: 'unread' }).asResponse();
    expect(((await raw.json()) as { meta: unknown }).meta).toEqual({ __typename: 'FeedMetadata', total_count: 2, unread_count: 2, unseen_count: 2 });
    expect(await knock.users.feeds.getSettings(user, channel)).toEqual({ features: { branding_required: false } });

    const operation = await knock.channels.bulk.updateMessageStatus(channel, 'read', { recipient_ids: [user] });
    expect(operation).toMatchObject({ __typename: 'BulkOperation', status: 'completed', success_count: 2 });
    expect(await collect(knock.users.feeds.listItems(user, channel, { status: 'unread' }))).toEqual([]);
  });
});

describe('@knocklabs/node: workflow recipient runs', () => {
  it('lists and gets runs with Knock\'s statuses', async () => {
    const id = randomUUID();
    await inEnvironment(herald.db, dev, (tx) =>
      sql`INSERT INTO workflow_recipient_runs (environment_id, id, workflow_run_id, workflow_key, recipient, recipient_key, status, refs, error, completed_at, cancellation_key)
          VALUES (${dev}, ${id}, ${randomUUID()}, 'sdk-wf', '"run-user"', 'user:run-user', 'halted', ${JSON.stringify({ step_1: { status: 'failed', tries: 3, error: 'boom' } })}::jsonb,
                  ${JSON.stringify({ step_ref: 'step_1', message: 'boom' })}::jsonb, now(), 'ck-1')`.execute(tx));
    const runs = await collect(knock.workflowRecipientRuns.list({ workflow: 'sdk-wf', status: ['completed'] }));
    expect(runs.map((r) => r.id)).toEqual([id]);
    expect(runs[0]).toMatchObject({ __typename: 'WorkflowRecipientRun', status: 'completed', error_count: 1, workflow: 'sdk-wf', recipient: 'run-user', trigger_source: { type: 'api', cancellation_key: 'ck-1' } });
    const detail = await knock.workflowRecipientRuns.get(id);
    expect(detail.events.some((e) => e.step_ref === 'step_1' && e.status === 'error')).toBe(true);
  });
});

describe('@knocklabs/client: the browser feed', () => {
  it('fetches the feed with the public key and a user token, marks items, and receives new messages in real time', async () => {
    (globalThis as { window?: unknown }).window = globalThis;
    // The package's types are read as CommonJS (a namespace holding `default`); at run time ESM gives the class itself.
    const KnockClient = (await import('@knocklabs/client')).default as unknown as KnockClientClass;
    const user = `browser-${randomUUID()}`;
    const first = await insertMessage(herald, { environmentId: dev, channelId: channel, user, insertedAt: new Date('2024-08-01T00:00:00Z') });
    const second = await insertMessage(herald, { environmentId: dev, channelId: channel, user, insertedAt: new Date('2024-08-02T00:00:00Z') });
    await insertMessage(herald, { environmentId: dev, channelId: channel, user: `${user}-other` });

    const client = new KnockClient(herald.secrets.environments.development.public_key, { host: herald.url });
    client.authenticate(user, await userToken(signingKey, user));
    const feed = client.feeds.initialize(channel, { archived: 'exclude' });
    try {
      const fetched = await feed.fetch();
      expect(fetched?.status).toBe('ok');
      let state = feed.getState();
      expect(state.items.map((i) => i.id)).toEqual([second, first]);
      expect(state.metadata).toMatchObject({ total_count: 2, unread_count: 2, unseen_count: 2 });

      await feed.markAsRead(state.items[1]);
      expect((await knock.messages.get(first)).read_at).not.toBeNull();
      await feed.markAllAsSeen();
      await feed.fetch();
      expect(feed.getState().metadata).toMatchObject({ total_count: 2, unread_count: 1, unseen_count: 0 });

      // Realtime: join the socket, then a worker commits a new message.
      const received: Array<{ items: Array<{ id: string }>; metadata: { unread_count: number } }> = [];
      feed.on('items.received.realtime', (payload: unknown) => received.push(payload as (typeof received)[number]));
      feed.listenForUpdates();
      const topic = `feeds:${channel}:${user}`;
      // Phoenix's Socket keeps its channels in `channels` (not in its published types).
      const joined = () => (client.client().socket as unknown as { channels: Array<{ topic: string; state: string }> } | undefined)?.channels.some((c) => c.topic === topic && c.state === 'joined');
      await eventually(joined, 'the feed channel to be joined');
      const third = await insertMessage(herald, { environmentId: dev, channelId: channel, user });
      await eventually(() => received.find((r) => r.items.some((i) => i.id === third)), 'a realtime items.received event with the new message');
      state = feed.getState();
      expect(state.items.map((i) => i.id)).toEqual([third, second, first]);
      expect(state.metadata).toMatchObject({ total_count: 3, unread_count: 2, unseen_count: 1 });

      await feed.markAsArchived(state.items[0]);
      expect((await knock.messages.get(third)).archived_at).not.toBeNull();
      await feed.fetch();
      expect(feed.getState().items.map((i) => i.id)).toEqual([second, first]);

      // A token opens only its own user's feed.
      const impostor = new KnockClient(herald.secrets.environments.development.public_key, { host: herald.url });
      impostor.authenticate(`${user}-other`, await userToken(signingKey, user));
      const refused = await impostor.feeds.initialize(channel).fetch();
      expect(refused).toMatchObject({ status: 'error' });
      impostor.teardown();
    } finally {
      feed.dispose();
      client.teardown();
    }
  });
});
