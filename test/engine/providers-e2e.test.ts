/**
 * SMS, push and chat channel steps end to end: triggers run through the workers and reach
 * local HTTP servers speaking Twilio's, FCM's and Slack's APIs, configured per environment
 * through the management API.
 */
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Db } from '../../src/db/database.ts';
import { startVendorServer, type VendorServer } from '../../src/channels/providers/vendor-test-server.ts';
import { startTestHerald, type TestHerald } from '../support/herald.ts';
import { api, commitWorkflow, eventually, mgmt, trigger } from '../support/engine.ts';

let herald: TestHerald;
let owner: Db;
let vendor: VendorServer;
let failTwilio = 0;
const channelIds: Record<string, string> = {};

const messageOf = (runId: string) => eventually(async () => {
  const message = await owner.selectFrom('messages').selectAll().where('workflow_run_id', '=', runId).executeTakeFirst();
  return message && !['queued', 'delivery_attempted'].includes(message.status) ? message : undefined;
});

beforeAll(async () => {
  vendor = await startVendorServer((request) => {
    if (request.url.startsWith('/2010-04-01/')) {
      if (failTwilio > 0) {
        failTwilio--;
        return { status: 503, body: { message: 'try later' } };
      }
      return { status: 201, body: { sid: `SM${randomUUID().replaceAll('-', '')}`, status: 'queued' } };
    }
    if (request.url === '/token') return { status: 200, body: { access_token: 'fcm-access', expires_in: 3600, token_type: 'Bearer' } };
    if (request.url.includes('/messages:send')) return { status: 200, body: { name: 'projects/p/messages/1' } };
    if (request.url.startsWith('/slack-hook')) return { status: 200, body: 'ok' };
    return { status: 404, body: { error: 'unknown' } };
  });
  herald = await startTestHerald({ HERALD_DELIVERY_RETRY_BASE_MS: '20', HERALD_DELIVERY_MAX_ATTEMPTS: '3' });
  owner = openDatabase({ url: herald.databaseUrl, poolSize: 2 });
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const channels = [
    { key: 'sms', type: 'sms', provider: 'twilio', settings: { account_sid: 'AC123', auth_token: 'twilio-secret', from_number: '+15550001111', base_url: vendor.baseUrl } },
    { key: 'push', type: 'push', provider: 'fcm', settings: { project_id: 'herald-test', base_url: vendor.baseUrl, service_account: { client_email: 'sa@herald-test.iam.gserviceaccount.com', private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), token_uri: `${vendor.baseUrl}/token` } } },
    { key: 'slack', type: 'chat', provider: 'slack', settings: { base_url: vendor.baseUrl } },
  ];
  for (const channel of channels) {
    const created = await mgmt(herald, 'POST', '/channels', { key: channel.key, name: channel.key, type: channel.type, provider: channel.provider });
    channelIds[channel.key] = created.id;
    await mgmt(herald, 'PUT', `/environments/development/channels/${channel.key}`, { settings: channel.settings });
  }
  await api(herald, 'development', 'PUT', '/users/ada', {
    name: 'Ada', phone_number: '+15557654321',
    channel_data: {
      [channelIds.push!]: { tokens: ['device-token-1'] },
      [channelIds.slack!]: { connections: [{ incoming_webhook: { url: `${vendor.baseUrl}/slack-hook/T000/B000/XXXX` } }] },
    },
  });
  await api(herald, 'development', 'PUT', '/users/nobody', { name: 'No Phone' });
  await commitWorkflow(herald, 'texts', { steps: [{ ref: 'sms_1', type: 'channel', channel_key: 'sms', template: { text_body: 'Code {{ data.code }} for {{ recipient.name }}' } }] });
  await commitWorkflow(herald, 'pushes', { steps: [{ ref: 'push_1', type: 'channel', channel_key: 'push', template: { title: 'Hello {{ recipient.name }}', text_body: 'You have {{ data.count }} new' } }] });
  await commitWorkflow(herald, 'chats', { steps: [{ ref: 'chat_1', type: 'channel', channel_key: 'slack', template: { markdown_body: '*Deploy* {{ data.version }} done' } }] });
});
afterAll(async () => {
  await owner?.destroy();
  await herald?.close();
  await vendor?.close();
});

describe('provider channels', () => {
  it('sends SMS through Twilio\'s API with the environment\'s credentials', async () => {
    const runId = await trigger(herald, 'development', 'texts', { recipients: ['ada'], data: { code: '4242' } });
    const message = await messageOf(runId);
    expect(message.status).toBe('sent');
    const call = vendor.requests.find((r) => r.url === '/2010-04-01/Accounts/AC123/Messages.json')!;
    const form = new URLSearchParams(call.body);
    expect(form.get('To')).toBe('+15557654321');
    expect(form.get('From')).toBe('+15550001111');
    expect(form.get('Body')).toBe('Code 4242 for Ada');
    expect(call.headers.authorization).toBe(`Basic ${Buffer.from('AC123:twilio-secret').toString('base64')}`);
  });

  it('retries a provider answering 503 and then delivers', async () => {
    failTwilio = 2;
    const runId = await trigger(herald, 'development', 'texts', { recipients: ['ada'], data: { code: '7' } });
    const message = await messageOf(runId);
    expect(message.status).toBe('sent');
    const logs = await owner.selectFrom('message_delivery_logs').select(['attempt', 'status']).where('message_id', '=', message.id).orderBy('attempt').execute();
    expect(logs).toEqual([{ attempt: 1, status: 'failed' }, { attempt: 2, status: 'failed' }, { attempt: 3, status: 'succeeded' }]);
  });

  it('skips a recipient without a phone number: no message, the reason on the run', async () => {
    const runId = await trigger(herald, 'development', 'texts', { recipients: ['nobody'], data: { code: '1' } });
    const run = await eventually(async () => {
      const row = await owner.selectFrom('workflow_recipient_runs').selectAll().where('workflow_run_id', '=', runId).executeTakeFirst();
      return row?.status === 'completed' ? row : undefined;
    });
    expect(JSON.stringify(run.refs)).toContain('phone number');
    expect(await owner.selectFrom('messages').select('id').where('workflow_run_id', '=', runId).execute()).toHaveLength(0);
  });

  it('sends push through FCM v1 with a service-account access token to each device token', async () => {
    const runId = await trigger(herald, 'development', 'pushes', { recipients: ['ada'], data: { count: 3 } });
    expect((await messageOf(runId)).status).toBe('sent');
    const send = vendor.requests.find((r) => r.url === '/v1/projects/herald-test/messages:send')!;
    expect(send.headers.authorization).toBe('Bearer fcm-access');
    const body = JSON.parse(send.body);
    expect(body.message.token).toBe('device-token-1');
    expect(body.message.notification).toMatchObject({ title: 'Hello Ada', body: 'You have 3 new' });
    expect(vendor.requests.some((r) => r.url === '/token' && r.body.includes('grant_type'))).toBe(true);
  });

  it('posts chat messages to the recipient\'s Slack incoming webhook', async () => {
    const runId = await trigger(herald, 'development', 'chats', { recipients: ['ada'], data: { version: 'v2.1' } });
    expect((await messageOf(runId)).status).toBe('sent');
    const hook = vendor.requests.find((r) => r.url === '/slack-hook/T000/B000/XXXX')!;
    expect(JSON.parse(hook.body).text).toContain('*Deploy* v2.1 done');
  });
});
