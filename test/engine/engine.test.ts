/**
 * The engine end to end, with real parts: triggers through the data API, runs executed by
 * the queue's workers in the same process, emails received by a real SMTP server,
 * webhooks and fetches answered by a local HTTP server.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Db } from '../../src/db/database.ts';
import { startTestHerald, type TestHerald } from '../support/herald.ts';
import { api, commitWorkflow, eventually, mgmt, startHttpSink, startSmtpSink, trigger, type HttpSink, type SmtpSink } from '../support/engine.ts';

let herald: TestHerald;
let smtp: SmtpSink;
let http: HttpSink;
/** The database owner's view (row-level security does not hide rows from it): what is really stored. */
let owner: Db;

const messagesOf = (runId: string) =>
  owner.selectFrom('messages').selectAll().where('workflow_run_id', '=', runId).orderBy('inserted_at').execute();
const recipientRun = (runId: string, user = 'u1') =>
  owner.selectFrom('workflow_recipient_runs').selectAll().where('workflow_run_id', '=', runId).where('recipient_key', '=', `user:${user}`).executeTakeFirst();
const finished = (runId: string, user = 'u1') => eventually(async () => {
  const run = await recipientRun(runId, user);
  return run && ['completed', 'halted', 'error', 'cancelled', 'batched'].includes(run.status) ? run : undefined;
}, 30_000, `run ${runId} of ${user} to finish`);

beforeAll(async () => {
  smtp = await startSmtpSink();
  http = await startHttpSink();
  herald = await startTestHerald({ HERALD_DELIVERY_RETRY_BASE_MS: '20', HERALD_STEP_RETRY_BASE_MS: '20', HERALD_DELIVERY_MAX_ATTEMPTS: '3' });
  owner = openDatabase({ url: herald.databaseUrl, poolSize: 2 });
  await mgmt(herald, 'POST', '/channels', { key: 'email', name: 'Email', type: 'email', provider: 'smtp' });
  await mgmt(herald, 'PUT', '/environments/development/channels/email', { settings: { host: '127.0.0.1', port: smtp.port, from_address: 'dev@herald.test', from_name: 'Herald Dev' } });
  await mgmt(herald, 'POST', '/channels', { key: 'hooks', name: 'Webhooks', type: 'http', provider: 'webhook' });
  await mgmt(herald, 'PUT', '/environments/development/channels/hooks', { settings: {} });
  for (const id of ['u1', 'u2', 'u3']) {
    await api(herald, 'development', 'PUT', `/users/${id}`, { name: `User ${id}`, email: `${id}@example.com`, plan: id === 'u2' ? 'pro' : 'free' });
  }
});
afterAll(async () => {
  await owner?.destroy();
  await herald?.close();
  await smtp?.close();
  await http?.close();
});

describe('trigger', () => {
  it('runs the committed version: an in-app message lands in the feed channel for each recipient', async () => {
    await commitWorkflow(herald, 'welcome', {
      steps: [{ ref: 'feed', type: 'channel', channel_key: 'in-app-feed', template: { markdown_body: 'Hi **{{ recipient.name }}**, {{ data.what }}' } }],
    });
    const runId = await trigger(herald, 'development', 'welcome', { recipients: ['u1', 'u2'], data: { what: 'welcome aboard' }, actor: 'u3' });
    await finished(runId, 'u1');
    await finished(runId, 'u2');
    const messages = await messagesOf(runId);
    expect(messages).toHaveLength(2);
    expect(messages.map((m) => m.status)).toEqual(['delivered', 'delivered']);
    const body = JSON.stringify(messages.find((m) => m.recipient_key === 'user:u1')!.content);
    expect(body).toContain('User u1');
    expect(body).toContain('welcome aboard');
    expect(messages[0]!.actors).toEqual(['u3']);
  });

  it('sends email through the environment\'s SMTP channel with html and text bodies', async () => {
    await commitWorkflow(herald, 'mail', {
      steps: [{ ref: 'email_1', type: 'channel', channel_key: 'email', template: { subject: 'Hello {{ recipient.name }}', html_body: '<p>Order {{ data.order }}</p>', text_body: 'Order {{ data.order }}' } }],
    });
    const runId = await trigger(herald, 'development', 'mail', { recipients: ['u1'], data: { order: 'A-17' } });
    await finished(runId);
    const mail = await eventually(() => smtp.mails.find((m) => m.subject === 'Hello User u1'));
    expect(mail.html).toContain('Order A-17');
    expect(mail.text).toContain('Order A-17');
    expect(mail.from?.text).toContain('dev@herald.test');
    const [message] = await messagesOf(runId);
    expect(message!.status).toBe('sent');
    expect(mail.messageId).toBe(`<${message!.id}@herald>`);
  });

  it('inline-identifies recipients given as objects before running', async () => {
    await commitWorkflow(herald, 'inline', {
      steps: [{ ref: 'feed', type: 'channel', channel_key: 'in-app-feed', template: { markdown_body: 'Hello {{ recipient.name }}' } }],
    });
    const runId = await trigger(herald, 'development', 'inline', { recipients: [{ id: 'new-user', name: 'Newcomer', email: 'new@example.com' }] });
    await finished(runId, 'new-user');
    const user = await api(herald, 'development', 'GET', '/users/new-user');
    expect(user.json().name).toBe('Newcomer');
    expect(JSON.stringify((await messagesOf(runId))[0]!.content)).toContain('Newcomer');
  });

  it('answers 404 for an unknown workflow, workflow_inactive for an inactive one, 422 for data not matching the schema', async () => {
    expect((await api(herald, 'development', 'POST', '/workflows/nope/trigger', { recipients: ['u1'] })).statusCode).toBe(404);
    await commitWorkflow(herald, 'strict', {
      trigger_data_json_schema: { type: 'object', properties: { amount: { type: 'number' } }, required: ['amount'] },
      steps: [{ ref: 'feed', type: 'channel', channel_key: 'in-app-feed', template: { markdown_body: '{{ data.amount }}' } }],
    });
    const invalid = await api(herald, 'development', 'POST', '/workflows/strict/trigger', { recipients: ['u1'], data: { amount: 'lots' } });
    expect(invalid.statusCode).toBe(422);
    expect(JSON.stringify(invalid.json())).toContain('data.amount');
    expect((await api(herald, 'development', 'POST', '/workflows/strict/trigger', { recipients: ['u1'], data: { amount: 3 } })).statusCode).toBe(200);
    await mgmt(herald, 'PUT', '/workflows/strict/activate?environment=development', { status: false });
    const inactive = await api(herald, 'development', 'POST', '/workflows/strict/trigger', { recipients: ['u1'], data: { amount: 3 } });
    expect(inactive.statusCode).toBe(422);
    expect(inactive.json().code).toBe('workflow_inactive');
  });

  it('replays an Idempotency-Key within 24 h with the same run, and refuses it with other parameters', async () => {
    const headers = { 'idempotency-key': 'order-991' };
    const first = await api(herald, 'development', 'POST', '/workflows/welcome/trigger', { recipients: ['u1'], data: { what: 'x' } }, headers);
    const again = await api(herald, 'development', 'POST', '/workflows/welcome/trigger', { recipients: ['u1'], data: { what: 'x' } }, headers);
    expect(again.statusCode).toBe(200);
    expect(again.json().workflow_run_id).toBe(first.json().workflow_run_id);
    expect(again.headers['idempotent-replayed']).toBe('true');
    const other = await api(herald, 'development', 'POST', '/workflows/welcome/trigger', { recipients: ['u2'], data: { what: 'x' } }, headers);
    expect(other.statusCode).toBe(409);
    const runs = await owner.selectFrom('workflow_runs').select('id').where('idempotency_key', '=', 'order-991').execute();
    expect(runs).toHaveLength(1);
  });

  it('runs only in the key\'s environment: a workflow committed in development is 404 in production', async () => {
    expect((await api(herald, 'production', 'POST', '/workflows/welcome/trigger', { recipients: ['u1'] })).statusCode).toBe(404);
  });
});

describe('steps', () => {
  it('skips a step whose conditions fail and branches on the first matching branch', async () => {
    await commitWorkflow(herald, 'branchy', {
      steps: [
        { ref: 'only_pro', type: 'channel', channel_key: 'in-app-feed', conditions: { all: [{ variable: 'recipient.plan', operator: 'equal_to', argument: '"pro"' }] }, template: { markdown_body: 'pro only' } },
        {
          ref: 'split', type: 'branch', branches: [
            { name: 'big', conditions: { all: [{ variable: 'data.amount', operator: 'greater_than', argument: '100' }] }, steps: [{ ref: 'big_msg', type: 'channel', channel_key: 'in-app-feed', template: { markdown_body: 'big' } }] },
            { name: 'default', steps: [{ ref: 'small_msg', type: 'channel', channel_key: 'in-app-feed', template: { markdown_body: 'small' } }] },
          ],
        },
      ],
    });
    const runId = await trigger(herald, 'development', 'branchy', { recipients: ['u1', 'u2'], data: { amount: 500 } });
    await finished(runId, 'u1');
    await finished(runId, 'u2');
    const messages = await messagesOf(runId);
    expect(messages.filter((m) => m.recipient_key === 'user:u1').map((m) => m.step_ref)).toEqual(['big_msg']);
    expect(messages.filter((m) => m.recipient_key === 'user:u2').map((m) => m.step_ref).sort()).toEqual(['big_msg', 'only_pro']);
  });

  it('delays, then continues', async () => {
    await commitWorkflow(herald, 'later', {
      steps: [
        { ref: 'wait', type: 'delay', settings: { delay_for: { unit: 'seconds', value: 1 } } },
        { ref: 'feed', type: 'channel', channel_key: 'in-app-feed', template: { markdown_body: 'later' } },
      ],
    });
    const runId = await trigger(herald, 'development', 'later', { recipients: ['u1'] });
    const paused = await eventually(async () => ((await recipientRun(runId))?.status === 'paused' ? true : undefined));
    expect(paused).toBe(true);
    expect(await messagesOf(runId)).toHaveLength(0);
    const run = await finished(runId);
    expect(run.status).toBe('completed');
    expect(await messagesOf(runId)).toHaveLength(1);
  });

  it('pins a run to the version committed when it was triggered: a commit during its delay does not change it', async () => {
    const version = (text: string) => ({
      steps: [
        { ref: 'wait', type: 'delay', settings: { delay_for: { unit: 'seconds', value: 1 } } },
        { ref: 'feed', type: 'channel', channel_key: 'in-app-feed', template: { markdown_body: text } },
      ],
    });
    await commitWorkflow(herald, 'pinned', version('version one'));
    const first = await trigger(herald, 'development', 'pinned', { recipients: ['u1'] });
    await eventually(async () => ((await recipientRun(first))?.status === 'paused' ? true : undefined));
    await commitWorkflow(herald, 'pinned', version('version two'));
    const second = await trigger(herald, 'development', 'pinned', { recipients: ['u1'] });
    const [firstRun, secondRun] = [await finished(first), await finished(second)];
    expect(firstRun.version_id).not.toBe(secondRun.version_id);
    const [oldMessage] = await messagesOf(first);
    const [newMessage] = await messagesOf(second);
    expect(JSON.stringify(oldMessage!.content)).toContain('version one');
    expect(oldMessage!.version_id).toBe(firstRun.version_id);
    expect(JSON.stringify(newMessage!.content)).toContain('version two');
    expect(newMessage!.version_id).toBe(secondRun.version_id);
  });

  it('cancels runs paused at a delay by cancellation key', async () => {
    const runId = await trigger(herald, 'development', 'later', { recipients: ['u1'], cancellation_key: 'cancel-me' });
    await eventually(async () => ((await recipientRun(runId))?.status === 'paused' ? true : undefined));
    const cancelled = await api(herald, 'development', 'POST', '/workflows/later/cancel', { cancellation_key: 'cancel-me' });
    expect(cancelled.statusCode).toBe(204);
    expect((await recipientRun(runId))?.status).toBe('cancelled');
  });

  it('batches triggers for a recipient within the window into one message with all activities', async () => {
    await commitWorkflow(herald, 'digest', {
      steps: [
        { ref: 'collect', type: 'batch', settings: { batch_window: { unit: 'seconds', value: 2 } } },
        { ref: 'feed', type: 'channel', channel_key: 'in-app-feed', template: { markdown_body: '{{ total_activities }} new comments' } },
      ],
    });
    const first = await trigger(herald, 'development', 'digest', { recipients: ['u3'], data: { n: 1 }, actor: 'u1' });
    await eventually(async () => ((await recipientRun(first, 'u3'))?.status === 'paused' ? true : undefined));
    const second = await trigger(herald, 'development', 'digest', { recipients: ['u3'], data: { n: 2 }, actor: 'u2' });
    const third = await trigger(herald, 'development', 'digest', { recipients: ['u3'], data: { n: 3 }, actor: 'u2' });
    expect((await finished(second, 'u3')).status).toBe('batched');
    expect((await finished(third, 'u3')).status).toBe('batched');
    expect((await finished(first, 'u3')).status).toBe('completed');
    const [message] = await messagesOf(first);
    expect(JSON.stringify(message!.content)).toContain('3 new comments');
    expect((message!.metadata as { total_activities: number }).total_activities).toBe(3);
    expect(message!.actors).toEqual(['u1', 'u2']);
  });

  it('throttles: only throttle_limit runs per window pass', async () => {
    await commitWorkflow(herald, 'throttled', {
      steps: [
        { ref: 'gate', type: 'throttle', settings: { throttle_window: { unit: 'minutes', value: 10 }, throttle_limit: 2 } },
        { ref: 'feed', type: 'channel', channel_key: 'in-app-feed', template: { markdown_body: 'ping' } },
      ],
    });
    const runs = [];
    for (let i = 0; i < 4; i++) runs.push(await trigger(herald, 'development', 'throttled', { recipients: ['u1'] }));
    for (const run of runs) await finished(run);
    const counts = await Promise.all(runs.map(async (run) => (await messagesOf(run)).length));
    expect(counts.reduce((a, b) => a + b, 0)).toBe(2);
  });

  it('fetches data into the run and posts webhooks rendered with it', async () => {
    http.respond.body = { plan_name: 'Gold' };
    await commitWorkflow(herald, 'fetchy', {
      steps: [
        { ref: 'lookup', type: 'http_fetch', settings: { method: 'get', url: `${http.url}/plans/{{ recipient.id }}` } },
        { ref: 'hook', type: 'channel', channel_key: 'hooks', template: { method: 'post', url: `${http.url}/hook`, body: '{"user":"{{ recipient.id }}","plan":"{{ data.plan_name }}"}', headers: [{ key: 'x-herald', value: 'yes' }] } },
      ],
    });
    const runId = await trigger(herald, 'development', 'fetchy', { recipients: ['u2'] });
    expect((await finished(runId, 'u2')).status).toBe('completed');
    expect(http.requests.some((r) => r.url === '/plans/u2' && r.method === 'GET')).toBe(true);
    const hook = http.requests.find((r) => r.url === '/hook')!;
    expect(JSON.parse(hook.body)).toEqual({ user: 'u2', plan: 'Gold' });
    expect(hook.headers['x-herald']).toBe('yes');
    const [message] = await messagesOf(runId);
    expect(message!.status).toBe('delivered');
  });

  it('halts the run after 3 failed tries of a step, with the error on the run', async () => {
    await commitWorkflow(herald, 'broken', {
      steps: [
        { ref: 'lookup', type: 'http_fetch', settings: { method: 'get', url: `${http.url}/down` } },
        { ref: 'feed', type: 'channel', channel_key: 'in-app-feed', template: { markdown_body: 'never' } },
      ],
    });
    http.respond.statuses = [500, 500, 500];
    const runId = await trigger(herald, 'development', 'broken', { recipients: ['u1'] });
    const run = await finished(runId);
    expect(run.status).toBe('halted');
    expect(run.error).toMatchObject({ step_ref: 'lookup', tries: 3 });
    expect(String((run.error as { message: string }).message)).toContain('500');
    expect(await messagesOf(runId)).toHaveLength(0);
  });

  it('retries a failing SMTP send with backoff, then records it undelivered with the error', async () => {
    smtp.failNext(5, 451);
    const runId = await trigger(herald, 'development', 'mail', { recipients: ['u2'], data: { order: 'never' } });
    await finished(runId, 'u2');
    const [message] = await messagesOf(runId);
    expect(message!.status).toBe('undelivered');
    const logs = await owner.selectFrom('message_delivery_logs').selectAll().where('message_id', '=', message!.id).orderBy('attempt').execute();
    expect(logs.map((l) => l.status)).toEqual(['failed', 'failed', 'failed']);
    expect(logs[2]!.error).toMatch(/451|try later/);
    smtp.failNext(0, 451);
  });

  it('triggers another workflow from a trigger_workflow step', async () => {
    await commitWorkflow(herald, 'chain', { steps: [{ ref: 'next', type: 'trigger_workflow', settings: { workflow_key: 'welcome' } }] });
    const runId = await trigger(herald, 'development', 'chain', { recipients: ['u3'], data: { what: 'chained' } });
    const run = await finished(runId, 'u3');
    const childRunId = (run.refs as Record<string, { output: { workflow_run_id: string } }>).next!.output.workflow_run_id;
    await finished(childRunId, 'u3');
    expect(JSON.stringify((await messagesOf(childRunId))[0]!.content)).toContain('chained');
  });
});

describe('preferences', () => {
  it('does not send a channel type the recipient opted out of, and override_preferences sends anyway', async () => {
    await api(herald, 'development', 'PUT', '/users/u3/preferences/default', { channel_types: { in_app_feed: false } });
    const blocked = await trigger(herald, 'development', 'welcome', { recipients: ['u3'], data: { what: 'x' } });
    const run = await finished(blocked, 'u3');
    expect(await messagesOf(blocked)).toHaveLength(0);
    expect(JSON.stringify(run.refs)).toContain('preferences');
    await commitWorkflow(herald, 'critical', {
      settings: { override_preferences: true },
      steps: [{ ref: 'feed', type: 'channel', channel_key: 'in-app-feed', template: { markdown_body: 'security alert' } }],
    });
    const forced = await trigger(herald, 'development', 'critical', { recipients: ['u3'] });
    await finished(forced, 'u3');
    expect(await messagesOf(forced)).toHaveLength(1);
    await api(herald, 'development', 'DELETE', '/users/u3/preferences/default');
  });
});

describe('recipients and channels', () => {
  it('fans an object out to its subscribers once each, with the subscription properties in scope', async () => {
    await api(herald, 'development', 'PUT', '/objects/projects/p1', { name: 'Apollo' });
    const subscribed = await api(herald, 'development', 'POST', '/objects/projects/p1/subscriptions', { recipients: ['u1', 'u2'], properties: { role: 'watcher' } });
    expect(subscribed.statusCode).toBe(200);
    await commitWorkflow(herald, 'project-update', {
      steps: [{ ref: 'feed', type: 'channel', channel_key: 'in-app-feed', template: { markdown_body: '{{ recipient.name }} ({{ recipient.subscription.role }})' } }],
    });
    const runId = await trigger(herald, 'development', 'project-update', { recipients: [{ id: 'p1', collection: 'projects' }, 'u1'] });
    await finished(runId, 'u1');
    await finished(runId, 'u2');
    const messages = await messagesOf(runId);
    const byRecipient = new Map(messages.map((m) => [m.recipient_key, JSON.stringify(m.content)]));
    expect([...byRecipient.keys()].sort()).toEqual(['object:projects:p1', 'user:u1', 'user:u2']);
    // u1 was named directly: no subscription; u2 came through the object.
    expect(byRecipient.get('user:u2')).toContain('User u2 (watcher)');
    expect(byRecipient.get('user:u1')).not.toContain('watcher');
  });

  it('sandbox mode records the message as not_sent without calling the provider', async () => {
    const before = smtp.mails.length;
    const runId = await trigger(herald, 'development', 'mail', { recipients: ['u1'], data: { order: 'sandboxed' }, settings: { sandbox_mode: true } });
    await finished(runId);
    const [message] = await messagesOf(runId);
    expect(message!.status).toBe('not_sent');
    expect(smtp.mails.length).toBe(before);
    expect(smtp.mails.some((m) => m.html && String(m.html).includes('sandboxed'))).toBe(false);
  });

  it('sends through each environment\'s own channel settings: development never uses production\'s SMTP, nor the reverse', async () => {
    const productionSmtp = await startSmtpSink();
    try {
      await mgmt(herald, 'PATCH', '/account', { production_write_access: false });
      await mgmt(herald, 'PUT', '/environments/production/channels/email', { settings: { host: '127.0.0.1', port: productionSmtp.port, from_address: 'prod@herald.test' } });
      await mgmt(herald, 'PUT', '/commits/promote?to_environment=production');
      await api(herald, 'production', 'PUT', '/users/u1', { name: 'Prod User', email: 'u1@example.com' });
      const prodRun = await trigger(herald, 'production', 'mail', { recipients: ['u1'], data: { order: 'P-1' } });
      const devRun = await trigger(herald, 'development', 'mail', { recipients: ['u1'], data: { order: 'D-1' } });
      await finished(prodRun);
      await finished(devRun);
      const logsOf = async (runId: string) => JSON.stringify(await owner.selectFrom('message_delivery_logs as l').innerJoin('messages as m', 'm.id', 'l.message_id').select(['l.status', 'l.error', 'm.status as message_status']).where('m.workflow_run_id', '=', runId).execute());
      expect((await messagesOf(prodRun))[0]?.status, await logsOf(prodRun)).toBe('sent');
      expect((await messagesOf(devRun))[0]?.status, await logsOf(devRun)).toBe('sent');
      await eventually(() => productionSmtp.mails.find((m) => String(m.html).includes('P-1')));
      await eventually(() => smtp.mails.find((m) => String(m.html).includes('D-1')));
      expect(productionSmtp.mails.every((m) => m.from?.text.includes('prod@herald.test'))).toBe(true);
      expect(productionSmtp.mails.some((m) => String(m.html).includes('D-1'))).toBe(false);
      expect(smtp.mails.some((m) => String(m.html).includes('P-1'))).toBe(false);
      expect((await messagesOf(prodRun))[0]!.status).toBe('sent');
      expect((await messagesOf(devRun))[0]!.status).toBe('sent');
    } finally {
      await productionSmtp.close();
    }
  });
});

