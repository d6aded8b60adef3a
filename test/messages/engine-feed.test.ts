/**
 * End to end: a workflow triggered through `@knocklabs/node` runs on Herald's workers, and
 * the in-app message it writes reaches a browser feed (`@knocklabs/client`) in real time,
 * with its rendered blocks, resolved actor and categories; the run reads back through the
 * recipient-runs API.
 */
import Knock from '@knocklabs/node';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestHerald, type TestHerald } from '../support/herald.ts';
import { commitWorkflow } from '../support/engine.ts';
import { createSigningKey, eventually, inAppChannel, userToken } from './fixtures.ts';

type KnockClientClass = (typeof import('@knocklabs/client'))['default'];

let herald: TestHerald;
let knock: Knock;

beforeAll(async () => {
  herald = await startTestHerald();
  knock = new Knock({ apiKey: herald.secrets.environments.development.secret_key, baseURL: herald.url, maxRetries: 0 });
});
afterAll(async () => herald?.close());

it('a triggered in-app message reaches the browser feed in real time, rendered, with its actor', async () => {
  const channel = await inAppChannel(herald);
  await commitWorkflow(herald, 'comment-created', {
    categories: ['collaboration'],
    steps: [{ ref: 'feed', type: 'channel', channel_key: 'in-app-feed', template: { markdown_body: '**{{ actor.name }}** commented: {{ data.text }}', action_url: 'https://app.test/c/{{ data.id }}' } }],
  });
  await knock.users.update('reader', { name: 'Reader' });
  await knock.users.update('writer', { name: 'Writer' });
  const signingKey = (await createSigningKey(herald, 'development')).privateKey;

  (globalThis as { window?: unknown }).window = globalThis;
  const KnockClient = (await import('@knocklabs/client')).default as unknown as KnockClientClass;
  const client = new KnockClient(herald.secrets.environments.development.public_key, { host: herald.url });
  client.authenticate('reader', await userToken(signingKey, 'reader'));
  const feed = client.feeds.initialize(channel);
  try {
    await feed.fetch();
    expect(feed.getState().items).toEqual([]);
    const received: unknown[] = [];
    feed.on('items.received.realtime', (payload: unknown) => received.push(payload));
    feed.listenForUpdates();
    const topic = `feeds:${channel}:reader`;
    const joined = () => (client.client().socket as unknown as { channels: Array<{ topic: string; state: string }> } | undefined)?.channels.some((c) => c.topic === topic && c.state === 'joined');
    await eventually(joined, 'the feed channel to be joined');

    const { workflow_run_id: runId } = await knock.workflows.trigger('comment-created', { recipients: ['reader'], actor: 'writer', data: { text: 'Nice!', id: 'c9' } });
    await eventually(() => feed.getState().items.length === 1, 'the realtime message in the feed', 20_000);
    expect(received.length).toBeGreaterThan(0);
    const [item] = feed.getState().items;
    expect(item.blocks).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'action_url', rendered: 'https://app.test/c/c9' })]));
    expect(JSON.stringify(item.blocks)).toContain('Writer');
    expect(item.actors[0]).toMatchObject({ id: 'writer', name: 'Writer' });
    expect(item.source).toMatchObject({ key: 'comment-created', categories: ['collaboration'] });
    expect(item.data).toMatchObject({ text: 'Nice!' });
    expect(feed.getState().metadata).toMatchObject({ total_count: 1, unread_count: 1, unseen_count: 1 });

    const message = await knock.messages.get(item.id);
    expect(message).toMatchObject({ status: 'delivered', recipient: 'reader', actors: ['writer'], source: { workflow_run_id: runId } });
    const runs = [];
    for await (const run of knock.workflowRecipientRuns.list({ workflow: 'comment-created' })) runs.push(run);
    expect(runs).toEqual([expect.objectContaining({ workflow_run_id: runId, status: 'completed', error_count: 0, recipient: 'reader' })]);
  } finally {
    feed.dispose();
    client.teardown();
  }
});
