/**
 * Obfuscation leak test over real workflow runs: unique markers are planted in user
 * fields, custom properties, channel data, tenant and object properties, trigger data,
 * rendered message bodies, a fetched response and a webhook's request and response. Then
 * every management GET route (read from the OpenAPI document, path parameters filled
 * with real ids) is called as each role: in production (both data controls on by
 * default) no response contains a marker; in development (controls off) the dashboard
 * views show them all.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROLES } from '../../src/access/permissions.ts';
import { startTestHerald, type TestHerald } from '../support/herald.ts';
import { api, commitWorkflow, eventually, mgmt, trigger } from '../support/engine.ts';

type Env = 'development' | 'production';
const ENVS: Env[] = ['development', 'production'];
const CHANNEL_DATA_ID = '5d2c7e10-2222-4333-8444-955566667777';

let herald: TestHerald;
let owner: string;
let sink: Server;
let sinkUrl: string;
/** What the local HTTP server was sent (webhook deliveries, fetches). */
const received: Array<{ url: string; body: string }> = [];
const ids: Record<Env, { messages: string[]; run: string; commit: string }> = {
  development: { messages: [], run: '', commit: '' },
  production: { messages: [], run: '', commit: '' },
};

function markers(env: Env) {
  const m = (what: string) => `MK-${env}-${what}-q9z`;
  return {
    userName: m('user-name'),
    userEmail: `mk-${env}-email-q9z@example.com`,
    userPhone: `+1555${env.length}0q9z`,
    userCustom: m('user-custom'),
    userNestedId: m('user-nested-id'),
    channelToken: m('channel-token'),
    actorName: m('actor-name'),
    tenantName: m('tenant-name'),
    tenantCustom: m('tenant-custom'),
    tenantChannel: m('tenant-channel'),
    objectName: m('object-name'),
    objectCustom: m('object-custom'),
    triggerData: m('trigger-data'),
    triggerNested: m('trigger-nested'),
    triggerTypename: m('trigger-typename'),
    fetched: m('fetched-body'),
    hookResponse: m('hook-response'),
  };
}
const PRODUCTION = Object.values(markers('production'));

/** Answers a fetch of `/profile/<env>` and a webhook post to `/hook/<env>` with that environment's markers. */
async function startSink() {
  sink = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      received.push({ url: req.url ?? '', body });
      const env = (req.url ?? '').split('/')[2] as Env;
      const m = markers(env === 'production' ? 'production' : 'development');
      res.writeHead(200, { 'content-type': 'application/json', 'x-echo': m.hookResponse });
      res.end(JSON.stringify(req.url?.startsWith('/profile') ? { profile_note: m.fetched, status: m.fetched } : { accepted: m.hookResponse }));
    });
  });
  await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve));
  sinkUrl = `http://127.0.0.1:${(sink.address() as AddressInfo).port}`;
}

async function plant(env: Env) {
  const m = markers(env);
  const put = async (path: string, body: unknown) => {
    const res = await api(herald, env, 'PUT', path, body);
    expect(res.statusCode, `${path}: ${res.body}`).toBe(200);
  };
  await put('/users/leaky', {
    name: m.userName,
    email: m.userEmail,
    phone_number: m.userPhone,
    plan: m.userCustom,
    address: { id: m.userNestedId, street: m.userCustom },
    channel_data: { [CHANNEL_DATA_ID]: { tokens: [m.channelToken] } },
  });
  await put('/users/leaky-actor', { name: m.actorName, email: `actor-${m.userEmail}` });
  await put('/tenants/acme', { name: m.tenantName, region: m.tenantCustom, channel_data: { [CHANNEL_DATA_ID]: { tokens: [m.tenantChannel] } } });
  await put('/objects/projects/p1', { name: m.objectName, owner: { id: m.objectCustom } });
}

/** Runs the `leak` workflow in `env` and waits for its in-app message and delivered webhook. */
async function run(env: Env) {
  const m = markers(env);
  const runId = await trigger(herald, env, 'leak', {
    recipients: ['leaky'],
    actor: 'leaky-actor',
    tenant: 'acme',
    data: { env, secret: m.triggerData, nested: { deep: m.triggerNested, __typename: m.triggerTypename } },
  });
  const found = await eventually(async () => {
    const listed = await api(herald, env, 'GET', '/workflow_recipient_runs?workflow=leak');
    const runs = listed.json().items as Array<{ id: string; workflow_run_id: string; status: string }>;
    const recipientRun = runs.find((r) => r.workflow_run_id === runId);
    if (recipientRun?.status !== 'completed') return undefined;
    const messages = (await api(herald, env, 'GET', `/messages?workflow_run_id=${runId}`)).json().items as Array<{ id: string; status: string }>;
    if (messages.length !== 2 || messages.some((message) => message.status !== 'delivered')) return undefined;
    return { run: recipientRun.id, messages: messages.map((message) => message.id) };
  }, 20_000, `the leak workflow to finish in ${env}`);
  ids[env].run = found.run;
  ids[env].messages = found.messages;
  ids[env].commit = (await mgmt(herald, 'GET', `/commits?environment=${env}&limit=1`)).entries[0].id;
}

async function tokenFor(role: string): Promise<string> {
  const res = await herald.request('POST', '/mgmt/v1/service_tokens', { token: owner, body: { name: `leak ${role}`, role } });
  expect(res.statusCode, res.body).toBe(201);
  return res.json().token;
}

interface Route {
  path: string;
  /** Query parameters the operation takes. */
  query: string[];
}

/** Every management GET route of the OpenAPI document (the authenticated ones). */
async function getRoutes(): Promise<Route[]> {
  const doc = (await herald.request('GET', '/mgmt/v1/openapi.json')).json() as {
    paths: Record<string, Record<string, { security?: unknown[]; parameters?: Array<{ in: string; name: string }> }>>;
  };
  return Object.entries(doc.paths).flatMap(([path, methods]) => {
    const get = methods.get;
    if (!get || (Array.isArray(get.security) && get.security.length === 0)) return [];
    return [{ path, query: (get.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name) }];
  });
}

/** Real values for a path parameter, by its name and the collection before it. */
async function valuesFor(env: Env, route: string, param: string): Promise<string[]> {
  const before = route.slice(0, route.indexOf(`{${param}}`) - 1);
  const collection = before.split('/').at(-1);
  switch (param) {
    case 'environment_slug': return [env];
    case 'user_id': return ['leaky', 'leaky-actor'];
    case 'tenant_id': return ['acme'];
    case 'collection': return ['projects'];
    case 'object_id': return ['p1'];
    case 'message_id': return ids[env].messages;
    case 'run_id': return [ids[env].run];
    case 'channel_key': return ['hooks', 'in-app-feed'];
    case 'workflow_key': return ['leak'];
  }
  if (collection === 'commits') return [ids[env].commit];
  // Anything else: the first entry of the collection the parameter indexes.
  const list = await herald.request('GET', `${before.replace(/\{(\w+)\}/g, (_, name: string) => (name === 'environment_slug' ? env : name))}?environment=${env}`, { token: owner });
  const first = list.statusCode === 200 ? (list.json().entries ?? list.json().items ?? [])[0] : undefined;
  const value = first?.id ?? first?.key ?? first?.locale_code ?? first?.slug;
  return value === undefined ? [] : [String(value)];
}

/** Every management GET request there is to make in `env`, path parameters filled in. */
async function requestsIn(env: Env): Promise<{ urls: string[]; unfilled: string[] }> {
  const urls: string[] = [];
  const unfilled: string[] = [];
  for (const route of await getRoutes()) {
    let paths = [route.path];
    for (const [, param] of route.path.matchAll(/\{(\w+)\}/g)) {
      const values = await valuesFor(env, route.path, param);
      if (values.length === 0) unfilled.push(route.path);
      paths = paths.flatMap((path) => values.map((value) => path.replace(`{${param}}`, encodeURIComponent(value))));
    }
    const query = route.query.includes('environment') ? `?environment=${env}` : '';
    urls.push(...paths.map((path) => `${path}${query}`));
  }
  return { urls, unfilled };
}

const VIEWS = (env: Env) => [
  `/mgmt/v1/environments/${env}/users/leaky`,
  `/mgmt/v1/environments/${env}/tenants`,
  `/mgmt/v1/environments/${env}/tenants/acme`,
  `/mgmt/v1/environments/${env}/objects/projects`,
  `/mgmt/v1/environments/${env}/objects/projects/p1`,
  `/mgmt/v1/environments/${env}/messages`,
  ...ids[env].messages.flatMap((id) => [`/mgmt/v1/environments/${env}/messages/${id}`, `/mgmt/v1/environments/${env}/messages/${id}/content`, `/mgmt/v1/environments/${env}/messages/${id}/delivery_logs`]),
  `/mgmt/v1/environments/${env}/workflow_runs`,
  `/mgmt/v1/environments/${env}/workflow_runs/${ids[env].run}`,
];

beforeAll(async () => {
  await startSink();
  herald = await startTestHerald({ HERALD_DELIVERY_RETRY_BASE_MS: '20', HERALD_STEP_RETRY_BASE_MS: '20' });
  owner = herald.secrets.service_token;
  await mgmt(herald, 'PATCH', '/account', { production_write_access: true });
  await mgmt(herald, 'POST', '/channels', { key: 'hooks', name: 'Webhooks', type: 'http', provider: 'webhook' });
  for (const env of ENVS) await mgmt(herald, 'PUT', `/environments/${env}/channels/hooks`, { settings: {} });
  // Content of every kind (promoted with the workflow below) and account fixtures, so every route has an id to read.
  await mgmt(herald, 'POST', '/permission_groups', { name: 'Leak readers', environments: { production: { access: 'view' } } });
  await mgmt(herald, 'PUT', '/variables/leak_var', { type: 'public', values: { development: 'dev', production: 'prod' } });
  for (const [collection, body] of [
    ['email_layouts', { email_layout: { name: 'Leak', html_layout: '<p>{{ content }}</p>', text_layout: '{{ content }}' } }],
    ['partials', { partial: { name: 'Leak', type: 'html', content: '<b>hi</b>' } }],
    ['translations', { translation: { locale_code: 'en', content: '{"hello":"Hello"}', format: 'json' } }],
  ] as const) {
    await mgmt(herald, 'PUT', `/${collection}/${collection === 'translations' ? 'en' : 'leak'}?environment=development&commit=true&commit_message=fixture`, body);
  }
  await commitWorkflow(herald, 'leak', {
    steps: [
      { ref: 'lookup', type: 'http_fetch', settings: { method: 'get', url: `${sinkUrl}/profile/{{ data.env }}` } },
      { ref: 'feed', type: 'channel', channel_key: 'in-app-feed', template: { markdown_body: 'Hi {{ recipient.name }} ({{ recipient.email }}): {{ data.secret }} / {{ data.nested.deep }} / {{ data.profile_note }} from {{ actor.name }}' } },
      {
        ref: 'hook',
        type: 'channel',
        channel_key: 'hooks',
        template: {
          method: 'post',
          url: `${sinkUrl}/hook/{{ data.env }}`,
          body: '{"secret":"{{ data.secret }}","email":"{{ recipient.email }}","plan":"{{ recipient.plan }}","note":"{{ data.profile_note }}"}',
          headers: [{ key: 'x-secret', value: '{{ data.secret }}' }],
        },
      },
    ],
  }, 'production');
  for (const env of ENVS) {
    await plant(env);
    await run(env);
  }
  // The markers really were sent out: the webhook carried trigger data and recipient details.
  const hook = received.find((r) => r.url === '/hook/production')!;
  expect(hook.body).toContain(markers('production').triggerData);
  expect(hook.body).toContain(markers('production').userEmail);
}, 60_000);

afterAll(async () => {
  await herald?.close();
  await new Promise((resolve) => sink?.close(resolve));
});

describe('obfuscation over real workflow runs', () => {
  it('production (both controls on by default): no management GET route shows a marker, to any role', async () => {
    const { urls, unfilled } = await requestsIn('production');
    expect(unfilled, 'routes whose path parameters could not be filled').toEqual([]);
    for (const view of VIEWS('production')) expect(urls, `the OpenAPI document lists ${view}`).toContain(view);
    let reads = 0;
    for (const role of ROLES) {
      const token = await tokenFor(role);
      for (const url of urls) {
        const res = await herald.request('GET', url, { token });
        expect(res.statusCode, `${role} GET ${url}: ${res.body.slice(0, 300)}`).toBeLessThan(500);
        for (const marker of PRODUCTION) expect(res.body, `${role} GET ${url} leaks ${marker}`).not.toContain(marker);
        if (res.statusCode === 200) reads++;
      }
    }
    // The owner (and every data reader) gets every view, not a refusal.
    for (const url of VIEWS('production')) expect((await herald.request('GET', url, { token: owner })).statusCode, url).toBe(200);
    expect(reads).toBeGreaterThan(urls.length * 3);
  });

  it('masked views keep their shape, ids and statuses, and say they are obfuscated', async () => {
    const get = async (path: string) => (await herald.request('GET', `/mgmt/v1/environments/production${path}`, { token: owner })).json();
    const messages = (await get('/messages')).items as Array<Record<string, any>>;
    expect(messages).toHaveLength(2);
    const feed = messages.find((m) => m.channel.key === 'in-app-feed')!;
    expect(feed).toMatchObject({ obfuscated: true, status: 'delivered', workflow: 'leak', tenant: 'acme', recipient: { id: 'leaky', __typename: 'User', obfuscated: true } });
    expect(feed.actors[0]).toMatchObject({ id: 'leaky-actor', obfuscated: true });
    expect(typeof feed.data.secret).toBe('string');
    expect(typeof feed.data.nested.deep).toBe('string');
    const content = await get(`/messages/${feed.id}/content`);
    expect(content).toMatchObject({ message_id: feed.id, obfuscated: true, data: { __typename: 'MessageInAppFeedContent' } });
    expect(Array.isArray(content.data.blocks)).toBe(true);
    const hook = messages.find((m) => m.channel.key === 'hooks')!;
    const [log] = (await get(`/messages/${hook.id}/delivery_logs`)).items;
    expect(log).toMatchObject({ obfuscated: true, status: 'succeeded', request: { method: 'POST' }, response: { status: 200 } });
    const run = await get(`/workflow_runs/${ids.production.run}`);
    expect(run).toMatchObject({ id: ids.production.run, status: 'completed', obfuscated: true, recipient: { id: 'leaky', obfuscated: true } });
    expect(run.steps.lookup).toMatchObject({ status: 'done', output: { status: 200 } });
    expect(run.steps.feed).toMatchObject({ status: 'done', message_id: feed.id });
    const tenant = await get('/tenants/acme');
    expect(tenant).toMatchObject({ id: 'acme', __typename: 'Tenant', obfuscated: true, channel_data: [{ channel_id: CHANNEL_DATA_ID }] });
    const object = await get('/objects/projects/p1');
    expect(object).toMatchObject({ id: 'p1', collection: 'projects', obfuscated: true });
  });

  it('development (controls off): the dashboard views show every marker', async () => {
    const m = markers('development');
    let seen = '';
    for (const url of VIEWS('development')) {
      const res = await herald.request('GET', url, { token: owner });
      expect(res.statusCode, url).toBe(200);
      const json = res.json();
      const records = json.items ?? json.entries ?? [json];
      for (const record of records) expect(record.obfuscated, url).toBe(false);
      seen += res.body;
    }
    for (const [what, marker] of Object.entries(m)) expect(seen, what).toContain(marker);
    // Each kind of record shows its own markers.
    const body = async (path: string) => (await herald.request('GET', `/mgmt/v1/environments/development${path}`, { token: owner })).body;
    const feedId = ids.development.messages[0]!;
    expect(await body('/messages')).toContain(m.triggerData);
    expect(await body('/messages')).toContain(m.userName);
    expect(await body('/messages')).toContain(m.actorName);
    expect(await body(`/workflow_runs/${ids.development.run}`)).toContain(m.fetched);
    const contents = await Promise.all(ids.development.messages.map((id) => body(`/messages/${id}/content`)));
    expect(contents.join()).toContain(m.triggerNested);
    const logs = await Promise.all(ids.development.messages.map((id) => body(`/messages/${id}/delivery_logs`)));
    expect(logs.join()).toContain(m.hookResponse);
    expect(feedId).toBeTruthy();
  });

  it('filters that would probe hidden values are refused where they are hidden', async () => {
    const filter = encodeURIComponent(JSON.stringify({ secret: markers('production').triggerData }));
    const refused = await herald.request('GET', `/mgmt/v1/environments/production/messages?trigger_data=${filter}`, { token: owner });
    expect(refused.statusCode).toBe(422);
    expect((await herald.request('GET', `/mgmt/v1/environments/production/tenants?name=x`, { token: owner })).statusCode).toBe(422);
    const devFilter = encodeURIComponent(JSON.stringify({ secret: markers('development').triggerData }));
    const allowed = await herald.request('GET', `/mgmt/v1/environments/development/messages?trigger_data=${devFilter}`, { token: owner });
    expect(allowed.statusCode).toBe(200);
    expect(allowed.json().items).toHaveLength(2);
  });

  it('the data API (sk_ key) always sees full messages', async () => {
    const res = await api(herald, 'production', 'GET', `/messages/${ids.production.messages[0]}`);
    expect(res.body).toContain(markers('production').triggerData);
  });

  it('owner/admin may reveal a message, tenant or object with a reason (audited); others may not', async () => {
    const m = markers('production');
    const admin = await tokenFor('admin');
    const member = await tokenFor('member');
    const support = await tokenFor('support');
    const reveals = [
      ...ids.production.messages.map((id) => ({ path: `messages/${id}`, type: 'message', id, shows: m.triggerData })),
      { path: 'tenants/acme', type: 'tenant', id: 'acme', shows: m.tenantName },
      { path: 'objects/projects/p1', type: 'object', id: 'projects/p1', shows: m.objectCustom },
    ];
    for (const reveal of reveals) {
      const url = `/mgmt/v1/environments/production/${reveal.path}/reveal`;
      for (const token of [member, support]) expect((await herald.request('POST', url, { token, body: { reason: 'curious' } })).statusCode, url).toBe(403);
      expect((await herald.request('POST', url, { token: admin, body: {} })).statusCode, `${url} without a reason`).toBe(422);
      const res = await herald.request('POST', url, { token: admin, body: { reason: `ticket for ${reveal.type}` } });
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json().obfuscated).toBe(false);
      expect(res.body).toContain(reveal.shows);
    }
    const message = await herald.request('POST', `/mgmt/v1/environments/production/messages/${ids.production.messages[0]}/reveal`, { token: owner, body: { reason: 'full view' } });
    expect(message.body).toContain(m.userName);
    const events = (await herald.request('GET', '/mgmt/v1/audit_events?action=record.revealed', { token: owner })).json().entries as Array<{ target: { type: string; id: string }; data: { reason: string }; environment: string }>;
    for (const reveal of reveals) {
      expect(events.some((e) => e.target.type === reveal.type && e.target.id === reveal.id && e.environment === 'production' && e.data.reason === `ticket for ${reveal.type}`), `${reveal.type} ${reveal.id} audited`).toBe(true);
    }
    // Refused reveals leave no trace: only the admin's and the owner's.
    expect(events).toHaveLength(reveals.length + 1);
  });

  it('the sweep is not vacuous: with production\'s controls turned off, it finds every marker', async () => {
    await mgmt(herald, 'PATCH', '/environments/production', { hide_pii_data: false, hide_message_content: false });
    try {
      const { urls } = await requestsIn('production');
      let seen = '';
      for (const url of urls) seen += (await herald.request('GET', url, { token: owner })).body;
      for (const marker of PRODUCTION) expect(seen, marker).toContain(marker);
    } finally {
      await mgmt(herald, 'PATCH', '/environments/production', { hide_pii_data: true, hide_message_content: true });
    }
  });
});
