/**
 * Objects as recipients end to end (Knock's "Slack channel as an object"): the object's
 * channel data holds the Slack connection, a workflow triggered for the object posts there
 * through a local server speaking Slack's API, and the object's own preferences (default
 * and per tenant) can block the step.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Db } from '../../src/db/database.ts';
import { startVendorServer, type VendorServer } from '../../src/channels/providers/vendor-test-server.ts';
import { startTestHerald, type TestHerald } from '../support/herald.ts';
import { api, commitWorkflow, eventually, mgmt, trigger } from '../support/engine.ts';

let herald: TestHerald;
/** Owner connection: reads engine rows across row-level security. */
let owner: Db;
let vendor: VendorServer;
let slackChannelId: string;

const COLLECTION = 'slack-channels';

const hookUrl = (name: string) => `${vendor.baseUrl}/slack-hook/${name}`;
const postsTo = (name: string) => vendor.requests.filter((r) => r.url === `/slack-hook/${name}`);

/** The run of a trigger once it finished (completed, or otherwise stopped). */
const finishedRun = (runId: string) => eventually(async () => {
  const row = await owner.selectFrom('workflow_recipient_runs').selectAll().where('workflow_run_id', '=', runId).executeTakeFirst();
  return row && !['queued', 'processing', 'paused'].includes(row.status) ? row : undefined;
});

const sentMessage = (runId: string) => eventually(async () => {
  const message = await owner.selectFrom('messages').selectAll().where('workflow_run_id', '=', runId).executeTakeFirst();
  return message && !['queued', 'delivery_attempted'].includes(message.status) ? message : undefined;
});

async function setObjectChannel(id: string, url: string): Promise<void> {
  const res = await api(herald, 'development', 'PUT', `/objects/${COLLECTION}/${id}/channel_data/${slackChannelId}`, { data: { connections: [{ incoming_webhook: { url } }] } });
  expect(res.statusCode, res.body).toBe(200);
}

beforeAll(async () => {
  vendor = await startVendorServer((request) => (request.url.startsWith('/slack-hook/') ? { status: 200, body: 'ok' } : { status: 404, body: { error: 'unknown' } }));
  herald = await startTestHerald();
  owner = openDatabase({ url: herald.databaseUrl, poolSize: 2 });
  const created = await mgmt(herald, 'POST', '/channels', { key: 'slack', name: 'Slack', type: 'chat', provider: 'slack' });
  slackChannelId = created.id;
  await mgmt(herald, 'PUT', '/environments/development/channels/slack', { settings: { base_url: vendor.baseUrl } });
  await commitWorkflow(herald, 'deploys', { steps: [{ ref: 'chat_1', type: 'channel', channel_key: 'slack', template: { markdown_body: '*Deploy* {{ data.version }} to {{ recipient.name }}' } }] });
});
afterAll(async () => {
  await owner?.destroy();
  await herald?.close();
  await vendor?.close();
});

describe('an object as a Slack channel', () => {
  it('posts to the incoming webhook in the object\'s channel data, and lists the message under the object', async () => {
    await api(herald, 'development', 'PUT', `/objects/${COLLECTION}/eng`, { name: '#eng' });
    await setObjectChannel('eng', hookUrl('eng'));

    const runId = await trigger(herald, 'development', 'deploys', { recipients: [{ id: 'eng', collection: COLLECTION }], data: { version: 'v3' } });
    const message = await sentMessage(runId);
    expect(message.status).toBe('sent');
    expect(message.recipient).toEqual({ id: 'eng', collection: COLLECTION });
    expect(message.recipient_key).toBe(`object:${COLLECTION}:eng`);
    expect(message.channel_id).toBe(slackChannelId);
    const posts = postsTo('eng');
    expect(posts).toHaveLength(1);
    expect(JSON.parse(posts[0]!.body).text).toContain('*Deploy* v3 to #eng');

    const listed = await api(herald, 'development', 'GET', `/objects/${COLLECTION}/eng/messages?workflow_run_id=${runId}`);
    expect(listed.statusCode).toBe(200);
    expect(listed.json().items).toEqual([expect.objectContaining({ id: message.id, recipient: { id: 'eng', collection: COLLECTION }, status: 'sent' })]);
  });

  it('posts to an inline object given its channel data in the trigger', async () => {
    const runId = await trigger(herald, 'development', 'deploys', {
      recipients: [{ id: 'ops', collection: COLLECTION, name: '#ops', channel_data: { [slackChannelId]: { connections: [{ incoming_webhook: { url: hookUrl('ops') } }] } } }],
      data: { version: 'v4' },
    });
    expect((await sentMessage(runId)).status).toBe('sent');
    expect(JSON.parse(postsTo('ops')[0]!.body).text).toContain('*Deploy* v4 to #ops');
  });

  it('skips an object without channel data for the channel: no message, the reason on the run', async () => {
    await api(herald, 'development', 'PUT', `/objects/${COLLECTION}/silent`, { name: '#silent' });
    const runId = await trigger(herald, 'development', 'deploys', { recipients: [{ id: 'silent', collection: COLLECTION }], data: { version: 'v5' } });
    const run = await finishedRun(runId);
    expect(run.status).toBe('completed');
    expect(JSON.stringify(run.refs)).toContain('channel data');
    expect(await owner.selectFrom('messages').select('id').where('workflow_run_id', '=', runId).execute()).toHaveLength(0);
  });

  it('honours the object\'s preferences: channel_types chat false blocks the step', async () => {
    await api(herald, 'development', 'PUT', `/objects/${COLLECTION}/muted`, { name: '#muted' });
    await setObjectChannel('muted', hookUrl('muted'));
    const prefs = await api(herald, 'development', 'PUT', `/objects/${COLLECTION}/muted/preferences/default`, { channel_types: { chat: false } });
    expect(prefs.statusCode, prefs.body).toBe(200);

    const runId = await trigger(herald, 'development', 'deploys', { recipients: [{ id: 'muted', collection: COLLECTION }], data: { version: 'v6' } });
    const run = await finishedRun(runId);
    expect(run.status).toBe('completed');
    expect(run.refs).toMatchObject({ chat_1: { status: 'skipped', reason: expect.stringContaining('preferences') } });
    expect(await owner.selectFrom('messages').select('id').where('workflow_run_id', '=', runId).execute()).toHaveLength(0);
    expect(postsTo('muted')).toHaveLength(0);

    // Turning chat back on lets the next trigger through.
    await api(herald, 'development', 'PUT', `/objects/${COLLECTION}/muted/preferences/default`, { channel_types: { chat: true } });
    const again = await trigger(herald, 'development', 'deploys', { recipients: [{ id: 'muted', collection: COLLECTION }], data: { version: 'v7' } });
    expect((await sentMessage(again)).status).toBe('sent');
    expect(postsTo('muted')).toHaveLength(1);
  });

  it('applies the object\'s set for the run\'s tenant', async () => {
    const tenant = `tenant-${randomUUID().slice(0, 8)}`;
    await api(herald, 'development', 'PUT', `/objects/${COLLECTION}/tenanted`, {
      name: '#tenanted',
      channel_data: { [slackChannelId]: { connections: [{ incoming_webhook: { url: hookUrl('tenanted') } }] } },
      preferences: { [tenant]: { channel_types: { chat: false } } },
    });
    const blocked = await trigger(herald, 'development', 'deploys', { recipients: [{ id: 'tenanted', collection: COLLECTION }], tenant, data: { version: 'v8' } });
    expect((await finishedRun(blocked)).refs).toMatchObject({ chat_1: { status: 'skipped' } });
    const allowed = await trigger(herald, 'development', 'deploys', { recipients: [{ id: 'tenanted', collection: COLLECTION }], data: { version: 'v9' } });
    expect((await sentMessage(allowed)).status).toBe('sent');
    expect(postsTo('tenanted')).toHaveLength(1);
    expect(JSON.parse(postsTo('tenanted')[0]!.body).text).toContain('v9');
  });
});
