import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CAPABILITIES, decide, ROLES, type EnvironmentLevels, type Grantee } from '../../src/access/permissions.ts';
import { ROUTE_PERMISSIONS } from '../../src/access/route-permissions.ts';
import { startTestHerald, type TestHerald } from '../support/herald.ts';
import { eventually } from '../support/engine.ts';

/**
 * The whole role × environment × route matrix through HTTP, generated from the
 * permission table: every management route must declare a capability, and every cell
 * must answer as `decide` says — 403 naming the capability, or not 403.
 */

let herald: TestHerald;
let owner: string;
const SLUGS = ['development', 'staging', 'production'] as const;
type Slug = (typeof SLUGS)[number];
const environmentIds: Record<string, string> = {};
const latestCommit: Record<string, string> = {};
/** A message (and its recipient run) of the `matrix` workflow in each environment, for the dashboard views. */
const messageOf: Record<string, { id: string; runId: string }> = {};
let counter = 0;

const call = (token: string, method: string, url: string, body?: unknown) => herald.request(method, url, { token, body });
const environmentId = async (slug: string) => (await herald.db.selectFrom('environments').select('id').where('slug', '=', slug).executeTakeFirstOrThrow()).id;

async function createToken(role: string, environments?: string[], permissionGroupId?: string): Promise<string> {
  const res = await call(owner, 'POST', '/mgmt/v1/service_tokens', { name: `${role} ${++counter}`, role, environments, permission_group_id: permissionGroupId });
  expect(res.statusCode, res.body).toBe(201);
  return res.json().token;
}

/** A fresh permission group (development view) no one uses. */
async function groupFixture(): Promise<string> {
  const res = await call(owner, 'POST', '/mgmt/v1/permission_groups', { name: `fixture group ${++counter}`, environments: { development: { access: 'view' } } });
  expect(res.statusCode, res.body).toBe(201);
  return res.json().id;
}

/** A fresh invited support member (any manager may act on it). */
async function inviteFixture(): Promise<string> {
  const res = await call(owner, 'POST', '/mgmt/v1/members', { email: `fixture-${++counter}@example.com`, role: 'support' });
  expect(res.statusCode, res.body).toBe(201);
  return res.json().id;
}

const workflow = (name: string) => ({ name, steps: [{ ref: 'feed', type: 'channel', channel_key: 'in-app-feed', template: { markdown_body: 'Hi {{ recipient.name }}' } }] });

/**
 * A fresh pending promotion into `env` (staging for development, which has nothing below),
 * requested by the owner; tokens here share the owner's member, so an allowed decision is
 * refused as self-approval (403 `self_approval`), a denied one as a missing permission.
 */
async function pendingPromotion(env: Slug, decision: 'approve' | 'reject') {
  const target = env === 'development' ? 'staging' : env;
  await call(owner, 'PATCH', `/mgmt/v1/environments/${target}`, { require_promotion_approval: true });
  const res = await call(owner, 'PUT', `/mgmt/v1/commits/promote?to_environment=${target}`);
  expect(res.statusCode, res.body).toBe(202);
  return { method: 'POST', url: `/mgmt/v1/promotion_requests/${res.json().promotion_request.id}/${decision}`, actsIn: target, answers: 403 };
}

/**
 * A request for each route that the permission layer lets the owner make in `env` (fresh fixtures for destructive ones);
 * `actsIn` when the route acts elsewhere; `answers` when a service token's correct answer is not a 2xx.
 */
const REQUESTS: Record<string, (env: Slug) => Promise<{ method: string; url: string; body?: unknown; actsIn?: string; answers?: number }>> = {
  'GET /mgmt/v1/whoami': async () => ({ method: 'GET', url: '/mgmt/v1/whoami' }),
  'GET /mgmt/v1/account': async () => ({ method: 'GET', url: '/mgmt/v1/account' }),
  'PATCH /mgmt/v1/account': async () => ({ method: 'PATCH', url: '/mgmt/v1/account', body: { production_write_access: true } }),
  'GET /mgmt/v1/environments': async () => ({ method: 'GET', url: '/mgmt/v1/environments' }),
  'GET /mgmt/v1/environments/:environment_slug': async (env) => ({ method: 'GET', url: `/mgmt/v1/environments/${env}` }),
  'POST /mgmt/v1/environments': async () => ({ method: 'POST', url: '/mgmt/v1/environments', body: { name: 'Extra', slug: `extra-${++counter}`, insert_after: 'development' } }),
  'PATCH /mgmt/v1/environments/:environment_slug': async (env) => ({ method: 'PATCH', url: `/mgmt/v1/environments/${env}`, body: { label_color: '#123456' } }),
  'GET /mgmt/v1/environments/:environment_slug/api_keys': async (env) => ({ method: 'GET', url: `/mgmt/v1/environments/${env}/api_keys` }),
  'POST /mgmt/v1/environments/:environment_slug/api_keys': async (env) => ({ method: 'POST', url: `/mgmt/v1/environments/${env}/api_keys`, body: { kind: 'secret' } }),
  'DELETE /mgmt/v1/environments/:environment_slug/api_keys/:id': async (env) => {
    const created = await call(owner, 'POST', `/mgmt/v1/environments/${env}/api_keys`, { kind: 'secret' });
    return { method: 'DELETE', url: `/mgmt/v1/environments/${env}/api_keys/${created.json().entries[0].id}` };
  },
  'GET /mgmt/v1/service_tokens': async () => ({ method: 'GET', url: '/mgmt/v1/service_tokens' }),
  'POST /mgmt/v1/service_tokens': async () => ({ method: 'POST', url: '/mgmt/v1/service_tokens', body: { name: 'support bot', role: 'support' } }),
  'DELETE /mgmt/v1/service_tokens/:id': async () => {
    const created = await call(owner, 'POST', '/mgmt/v1/service_tokens', { name: 'to revoke', role: 'support' });
    return { method: 'DELETE', url: `/mgmt/v1/service_tokens/${created.json().id}` };
  },
  'GET /mgmt/v1/members': async () => ({ method: 'GET', url: '/mgmt/v1/members' }),
  'GET /mgmt/v1/members/:id': async () => ({ method: 'GET', url: `/mgmt/v1/members/${await inviteFixture()}` }),
  'POST /mgmt/v1/members': async () => ({ method: 'POST', url: '/mgmt/v1/members', body: { email: `matrix-${++counter}@example.com`, role: 'member' } }),
  'PATCH /mgmt/v1/members/:id': async () => ({ method: 'PATCH', url: `/mgmt/v1/members/${await inviteFixture()}`, body: { role: 'member' } }),
  'DELETE /mgmt/v1/members/:id': async () => ({ method: 'DELETE', url: `/mgmt/v1/members/${await inviteFixture()}` }),
  'GET /mgmt/v1/permission_groups': async () => ({ method: 'GET', url: '/mgmt/v1/permission_groups' }),
  'POST /mgmt/v1/permission_groups': async (env) => ({
    method: 'POST',
    url: '/mgmt/v1/permission_groups',
    body: { name: `matrix group ${++counter}`, environments: { [env]: { access: 'manage', release: 'commit' } } },
  }),
  'GET /mgmt/v1/permission_groups/:id': async () => ({ method: 'GET', url: `/mgmt/v1/permission_groups/${await groupFixture()}` }),
  'PATCH /mgmt/v1/permission_groups/:id': async (env) => ({ method: 'PATCH', url: `/mgmt/v1/permission_groups/${await groupFixture()}`, body: { environments: { [env]: { access: 'view' } } } }),
  'DELETE /mgmt/v1/permission_groups/:id': async () => ({ method: 'DELETE', url: `/mgmt/v1/permission_groups/${await groupFixture()}` }),
  // A service token has no session to end: 422, not a permission denial.
  'DELETE /mgmt/v1/sessions/current': async () => ({ method: 'DELETE', url: '/mgmt/v1/sessions/current', answers: 422 }),
  'GET /mgmt/v1/audit_events': async () => ({ method: 'GET', url: '/mgmt/v1/audit_events' }),
  'GET /mgmt/v1/promotion_requests': async (env) => ({ method: 'GET', url: `/mgmt/v1/promotion_requests?environment=${env}` }),
  'POST /mgmt/v1/promotion_requests/:id/approve': async (env) => pendingPromotion(env, 'approve'),
  'POST /mgmt/v1/promotion_requests/:id/reject': async (env) => pendingPromotion(env, 'reject'),
  'GET /mgmt/v1/environments/:environment_slug/users': async (env) => ({ method: 'GET', url: `/mgmt/v1/environments/${env}/users` }),
  'GET /mgmt/v1/environments/:environment_slug/users/:user_id': async (env) => ({ method: 'GET', url: `/mgmt/v1/environments/${env}/users/matrix-user` }),
  'POST /mgmt/v1/environments/:environment_slug/users/:user_id/reveal': async (env) => ({ method: 'POST', url: `/mgmt/v1/environments/${env}/users/matrix-user/reveal`, body: { reason: 'support ticket 42' } }),
  'GET /mgmt/v1/environments/:environment_slug/tenants': async (env) => ({ method: 'GET', url: `/mgmt/v1/environments/${env}/tenants` }),
  'GET /mgmt/v1/environments/:environment_slug/tenants/:tenant_id': async (env) => ({ method: 'GET', url: `/mgmt/v1/environments/${env}/tenants/matrix-tenant` }),
  'POST /mgmt/v1/environments/:environment_slug/tenants/:tenant_id/reveal': async (env) => ({ method: 'POST', url: `/mgmt/v1/environments/${env}/tenants/matrix-tenant/reveal`, body: { reason: 'support ticket 42' } }),
  'GET /mgmt/v1/environments/:environment_slug/objects/:collection': async (env) => ({ method: 'GET', url: `/mgmt/v1/environments/${env}/objects/projects` }),
  'GET /mgmt/v1/environments/:environment_slug/objects/:collection/:object_id': async (env) => ({ method: 'GET', url: `/mgmt/v1/environments/${env}/objects/projects/matrix-object` }),
  'POST /mgmt/v1/environments/:environment_slug/objects/:collection/:object_id/reveal': async (env) => ({
    method: 'POST',
    url: `/mgmt/v1/environments/${env}/objects/projects/matrix-object/reveal`,
    body: { reason: 'support ticket 42' },
  }),
  'GET /mgmt/v1/environments/:environment_slug/messages': async (env) => ({ method: 'GET', url: `/mgmt/v1/environments/${env}/messages?recipient=matrix-user` }),
  'GET /mgmt/v1/environments/:environment_slug/messages/:message_id': async (env) => ({ method: 'GET', url: `/mgmt/v1/environments/${env}/messages/${messageOf[env].id}` }),
  'GET /mgmt/v1/environments/:environment_slug/messages/:message_id/content': async (env) => ({ method: 'GET', url: `/mgmt/v1/environments/${env}/messages/${messageOf[env].id}/content` }),
  'GET /mgmt/v1/environments/:environment_slug/messages/:message_id/events': async (env) => ({ method: 'GET', url: `/mgmt/v1/environments/${env}/messages/${messageOf[env].id}/events` }),
  'GET /mgmt/v1/environments/:environment_slug/messages/:message_id/delivery_logs': async (env) => ({ method: 'GET', url: `/mgmt/v1/environments/${env}/messages/${messageOf[env].id}/delivery_logs` }),
  'POST /mgmt/v1/environments/:environment_slug/messages/:message_id/reveal': async (env) => ({
    method: 'POST',
    url: `/mgmt/v1/environments/${env}/messages/${messageOf[env].id}/reveal`,
    body: { reason: 'support ticket 42' },
  }),
  'GET /mgmt/v1/environments/:environment_slug/workflow_runs': async (env) => ({ method: 'GET', url: `/mgmt/v1/environments/${env}/workflow_runs?workflow=matrix` }),
  'GET /mgmt/v1/environments/:environment_slug/workflow_runs/:run_id': async (env) => ({ method: 'GET', url: `/mgmt/v1/environments/${env}/workflow_runs/${messageOf[env].runId}` }),
  'GET /mgmt/v1/commits': async (env) => ({ method: 'GET', url: `/mgmt/v1/commits?environment=${env}` }),
  'GET /mgmt/v1/commits/:id': async (env) => ({ method: 'GET', url: `/mgmt/v1/commits/${latestCommit[env]}` }),
  'GET /mgmt/v1/commits/:id/diff': async (env) => ({ method: 'GET', url: `/mgmt/v1/commits/${latestCommit[env]}/diff` }),
  'PUT /mgmt/v1/commits': async (env) => ({ method: 'PUT', url: `/mgmt/v1/commits?environment=${env}&allow_empty=true&commit_message=matrix` }),
  'PUT /mgmt/v1/commits/promote': async (env) => ({ method: 'PUT', url: `/mgmt/v1/commits/promote?to_environment=${env}&dry_run=true` }),
  'PUT /mgmt/v1/commits/:id/promote': async (env) => {
    // A commit of the environment directly below `env` (environments created by other cells
    // may sit in between), so the promotion acts in `env`; development has nothing below,
    // so its own commit is promoted into whatever is next.
    const order = ((await call(owner, 'GET', '/mgmt/v1/environments')).json().entries as Array<{ slug: string }>).map((e) => e.slug);
    const index = order.indexOf(env);
    const from = index === 0 ? env : order[index - 1];
    const commit = (await call(owner, 'GET', `/mgmt/v1/commits?environment=${from}&limit=1`)).json().entries[0].id;
    return { method: 'PUT', url: `/mgmt/v1/commits/${commit}/promote?dry_run=true`, actsIn: index === 0 ? order[1] : env };
  },
  'PUT /mgmt/v1/commits/:id/revert': async (env) => ({ method: 'PUT', url: `/mgmt/v1/commits/${latestCommit[env]}/revert?dry_run=true` }),
  'PUT /mgmt/v1/environments/:environment_slug/rollback': async (env) => ({ method: 'PUT', url: `/mgmt/v1/environments/${env}/rollback?to_commit=${latestCommit[env]}&dry_run=true` }),
  'GET /mgmt/v1/channels': async () => ({ method: 'GET', url: '/mgmt/v1/channels?include=environment_settings' }),
  'GET /mgmt/v1/channels/:channel_key': async () => ({ method: 'GET', url: '/mgmt/v1/channels/in-app-feed' }),
  'POST /mgmt/v1/channels': async () => ({ method: 'POST', url: '/mgmt/v1/channels', body: { key: `matrix-${++counter}`, name: 'Matrix email', type: 'email', provider: 'smtp' } }),
  'GET /mgmt/v1/environments/:environment_slug/channels/:channel_key': async (env) => ({ method: 'GET', url: `/mgmt/v1/environments/${env}/channels/in-app-feed` }),
  'PUT /mgmt/v1/environments/:environment_slug/channels/:channel_key': async (env) => {
    await call(owner, 'POST', '/mgmt/v1/channels', { key: 'matrix-email', name: 'Matrix email', type: 'email', provider: 'smtp' });
    const settings = { host: `smtp.${env}.example.com`, port: 587, username: 'matrix', password: `pw-${env}`, from_address: `${env}@example.com` };
    return { method: 'PUT', url: `/mgmt/v1/environments/${env}/channels/matrix-email`, body: { settings, sandbox_mode: env !== 'production' } };
  },
  'GET /mgmt/v1/variables': async (env) => ({ method: 'GET', url: `/mgmt/v1/variables?environment=${env}` }),
  'GET /mgmt/v1/variables/:key': async (env) => {
    await call(owner, 'PUT', '/mgmt/v1/variables/matrix_var', { type: 'secret', values: { [env]: `secret-${env}` } });
    return { method: 'GET', url: `/mgmt/v1/variables/matrix_var?environment=${env}` };
  },
  'PUT /mgmt/v1/variables/:key': async (env) => ({ method: 'PUT', url: `/mgmt/v1/variables/matrix_${++counter}?environment=${env}`, body: { type: 'public', values: { [env]: 'value' } } }),
  'DELETE /mgmt/v1/variables/:key': async (env) => {
    const key = `matrix_delete_${++counter}`;
    await call(owner, 'PUT', `/mgmt/v1/variables/${key}`, { values: { [env]: 'value' } });
    return { method: 'DELETE', url: `/mgmt/v1/variables/${key}?environment=${env}` };
  },
  'GET /mgmt/v1/environments/:environment_slug/signing_keys': async (env) => ({ method: 'GET', url: `/mgmt/v1/environments/${env}/signing_keys` }),
  'POST /mgmt/v1/environments/:environment_slug/signing_keys': async (env) => ({ method: 'POST', url: `/mgmt/v1/environments/${env}/signing_keys` }),
  'DELETE /mgmt/v1/environments/:environment_slug/signing_keys/:id': async (env) => {
    const created = await call(owner, 'POST', `/mgmt/v1/environments/${env}/signing_keys`);
    return { method: 'DELETE', url: `/mgmt/v1/environments/${env}/signing_keys/${created.json().id}` };
  },
};
for (const [collection, keyPart, body] of [
  ['workflows', ':workflow_key', { workflow: workflow('Matrix') }],
  ['email_layouts', ':email_layout_key', { email_layout: { name: 'Matrix', html_layout: '<p>{{ content }}</p>', text_layout: '{{ content }}' } }],
  ['partials', ':partial_key', { partial: { name: 'Matrix', type: 'html', content: '<b>hi</b>' } }],
  ['translations', ':locale_code', { translation: { locale_code: 'en', content: '{"hello":"Hello"}', format: 'json' } }],
] as const) {
  const key = collection === 'translations' ? 'en' : 'matrix';
  REQUESTS[`GET /mgmt/v1/${collection}`] = async (env) => ({ method: 'GET', url: `/mgmt/v1/${collection}?environment=${env}` });
  REQUESTS[`GET /mgmt/v1/${collection}/${keyPart}`] = async (env) => ({ method: 'GET', url: `/mgmt/v1/${collection}/${key}?environment=${env}` });
  // With production write access on, content is editable where it was created: one resource per environment.
  REQUESTS[`PUT /mgmt/v1/${collection}/${keyPart}`] = async (env) => ({
    method: 'PUT',
    url: `/mgmt/v1/${collection}/${collection === 'translations' ? (env === 'development' ? 'en' : env === 'staging' ? 'fr' : 'de') : `matrix-${env}`}?environment=${env}`,
    body: collection === 'translations' ? { translation: { ...(body as { translation: object }).translation, locale_code: env === 'development' ? 'en' : env === 'staging' ? 'fr' : 'de' } } : body,
  });
  REQUESTS[`PUT /mgmt/v1/${collection}/${keyPart}/validate`] = async (env) => ({ method: 'PUT', url: `/mgmt/v1/${collection}/${key}/validate?environment=${env}`, body });
}
REQUESTS['PUT /mgmt/v1/workflows/:workflow_key/activate'] = async (env) => ({ method: 'PUT', url: `/mgmt/v1/workflows/matrix?environment=${env}`.replace('?', '/activate?'), body: { status: true } });

beforeAll(async () => {
  herald = await startTestHerald();
  owner = herald.secrets.service_token;
  expect((await call(owner, 'PATCH', '/mgmt/v1/account', { production_write_access: true })).statusCode).toBe(200);
  const staging = await call(owner, 'POST', '/mgmt/v1/environments', { name: 'Staging', slug: 'staging', insert_after: 'development' });
  expect(staging.statusCode).toBe(201);
  const secretKeys = {
    development: herald.secrets.environments.development.secret_key,
    staging: staging.json().api_keys.find((k: { kind: string }) => k.kind === 'secret').key,
    production: herald.secrets.environments.production.secret_key,
  };
  for (const key of Object.values(secretKeys)) {
    expect((await herald.request('PUT', '/v1/users/matrix-user', { token: key, body: { name: 'Matrix User' } })).statusCode).toBe(200);
  }
  // Content in every environment: committed in development, promoted up.
  expect((await call(owner, 'PUT', '/mgmt/v1/workflows/matrix?environment=development&commit=true&commit_message=m', { workflow: workflow('Matrix') })).statusCode).toBe(200);
  for (const slug of ['staging', 'production']) expect((await call(owner, 'PUT', `/mgmt/v1/commits/promote?to_environment=${slug}`)).statusCode).toBe(200);
  // Recipient data and a delivered message in every environment, for the dashboard views.
  for (const slug of SLUGS) {
    const key = secretKeys[slug];
    expect((await herald.request('PUT', '/v1/tenants/matrix-tenant', { token: key, body: { name: 'Matrix Tenant' } })).statusCode).toBe(200);
    expect((await herald.request('PUT', '/v1/objects/projects/matrix-object', { token: key, body: { name: 'Matrix Object' } })).statusCode).toBe(200);
    expect((await herald.request('POST', '/v1/workflows/matrix/trigger', { token: key, body: { recipients: ['matrix-user'] } })).statusCode).toBe(200);
    messageOf[slug] = await eventually(async () => {
      const [message] = (await herald.request('GET', '/v1/messages?page_size=1', { token: key })).json().items ?? [];
      return message ? { id: message.id as string, runId: message.source.workflow_recipient_run_id as string } : undefined;
    }, 15_000, `a message in ${slug}`);
  }
  for (const slug of SLUGS) {
    environmentIds[slug] = (await herald.db.selectFrom('environments').select('id').where('slug', '=', slug).executeTakeFirstOrThrow()).id;
    latestCommit[slug] = (await call(owner, 'GET', `/mgmt/v1/commits?environment=${slug}&limit=1`)).json().entries[0].id;
  }
});
afterAll(async () => herald?.close());

describe('permission matrix', () => {
  it('every management route in the OpenAPI document declares a capability, and the matrix covers it', async () => {
    const doc = (await herald.request('GET', '/mgmt/v1/openapi.json')).json() as { paths: Record<string, Record<string, unknown>> };
    // Routes documented as needing no authentication (`security: []`: accept an invitation, sign in) sit outside the hook.
    const routes = Object.entries(doc.paths).flatMap(([path, methods]) =>
      Object.entries(methods as Record<string, { security?: unknown[] }>)
        .filter(([, operation]) => !(Array.isArray(operation.security) && operation.security.length === 0))
        .map(([method]) => `${method.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`),
    );
    expect(routes.length).toBeGreaterThan(30);
    for (const route of routes) {
      expect(ROUTE_PERMISSIONS[route], `no capability declared for ${route}`).toBeDefined();
      expect(REQUESTS[route], `the matrix test has no request for ${route}`).toBeDefined();
    }
  });

  const grantees: Array<{ label: string; role: (typeof ROLES)[number] | 'custom'; environments?: Slug[]; group?: Partial<Record<Slug, EnvironmentLevels>> }> = [
    ...ROLES.map((role) => ({ label: role, role })),
    { label: 'member limited to development', role: 'member', environments: ['development'] },
    { label: 'admin limited to production', role: 'admin', environments: ['production'] },
    {
      label: 'group: development manage/commit, staging view, production none',
      role: 'custom',
      group: { development: { access: 'manage', release: 'commit' }, staging: { access: 'view', release: 'none' } },
    },
    {
      label: 'group: staging manage/manage, production view/manage',
      role: 'custom',
      group: { staging: { access: 'manage', release: 'manage' }, production: { access: 'view', release: 'manage' } },
    },
    { label: 'group (development view) on a token limited to production', role: 'custom', environments: ['production'], group: { development: { access: 'view', release: 'none' } } },
  ];

  for (const grantee of grantees) {
    it(`${grantee.label}: every route in every environment answers as the table says`, async () => {
      let permissionGroup: Grantee['permissionGroup'] = null;
      if (grantee.group) {
        const created = await call(owner, 'POST', '/mgmt/v1/permission_groups', { name: grantee.label, environments: grantee.group });
        expect(created.statusCode, created.body).toBe(201);
        const environments = Object.fromEntries(Object.entries(grantee.group).map(([slug, levels]) => [environmentIds[slug], levels]));
        permissionGroup = { id: created.json().id, name: grantee.label, environments };
      }
      const token = await createToken(grantee.role, grantee.environments, permissionGroup?.id);
      const asGrantee: Grantee = { role: grantee.role, environmentIds: grantee.environments?.map((s) => environmentIds[s]) ?? null, permissionGroup };
      let cells = 0;
      let allowed = 0;
      let succeeded = 0;
      for (const [route, rule] of Object.entries(ROUTE_PERMISSIONS)) {
        for (const env of SLUGS) {
          const request = await REQUESTS[route](env);
          const slug = request.actsIn ?? env;
          const envRef = rule.environment === 'none' ? undefined : { id: environmentIds[slug] ?? (await environmentId(slug)), slug };
          const expected = decide(asGrantee, rule.capability, envRef, { productionWriteAccess: true });
          const res = await call(token, request.method, request.url, request.body);
          const where = `${grantee.label} × ${env} × ${route}: ${res.statusCode} ${res.body.slice(0, 200)}`;
          if (expected.allowed) {
            // Allowed by the permission layer: never a permission denial (content rules such as
            // "editable only where created" may still answer 403 with their own code).
            if (res.statusCode === 403) expect(res.json().code, where).not.toBe('missing_permission');
            allowed++;
            if (res.statusCode < 300 || res.statusCode === request.answers) succeeded++;
            expect(res.statusCode, where).not.toBe(401);
            expect(res.statusCode, where).toBeLessThan(500);
          } else {
            expect(res.statusCode, where).toBe(403);
            expect(res.json().code, where).toBe('missing_permission');
            expect(res.json().message, where).toContain(rule.capability);
          }
          cells++;
        }
      }
      expect(cells).toBe(Object.keys(ROUTE_PERMISSIONS).length * SLUGS.length);
      // The requests are real ones: nearly every allowed cell succeeds outright.
      if (grantee.role === 'custom') expect(allowed).toBeGreaterThan(0);
      expect(succeeded, `${succeeded} of ${allowed} allowed cells answered 2xx`).toBeGreaterThanOrEqual(Math.floor(allowed * 0.85));
    });
  }

  it('the table gives each role exactly the capabilities of environments.md §3', () => {
    const holders = (capability: keyof typeof CAPABILITIES) => [...CAPABILITIES[capability].roles].sort();
    expect(holders('environments.manage')).toEqual(['admin', 'owner']);
    expect(holders('audit.read')).toEqual(['admin', 'owner']);
    expect(holders('billing.manage')).toEqual(['billing', 'owner']);
    expect(holders('account.delete')).toEqual(['owner']);
    expect(holders('secrets.manage')).toEqual(['admin', 'owner']);
    expect(holders('api_keys.read')).toEqual(['admin', 'member', 'owner', 'production_only_member']);
    expect(holders('content.manage')).toEqual(['admin', 'member', 'owner', 'production_only_member']);
    expect(holders('release.commit')).toEqual(['admin', 'member', 'owner', 'production_only_member']);
    expect(holders('release.manage')).toEqual(['admin', 'member', 'owner', 'production_only_member']);
    expect(holders('data.read')).toEqual(['admin', 'member', 'owner', 'production_only_member', 'support']);
  });
});

describe('roles and tokens', () => {
  it('production-only members exist only while production write access is on', async () => {
    const token = await createToken('production_only_member');
    expect((await call(token, 'GET', '/mgmt/v1/workflows?environment=production')).statusCode).toBe(200);
    await call(owner, 'PATCH', '/mgmt/v1/account', { production_write_access: false });
    try {
      const res = await call(token, 'GET', '/mgmt/v1/workflows?environment=production');
      expect(res.statusCode).toBe(403);
      expect(res.json().message).toContain('production write access');
    } finally {
      await call(owner, 'PATCH', '/mgmt/v1/account', { production_write_access: true });
    }
  });

  it('a token carries its creator\'s role or a narrower one, never a broader one', async () => {
    const member = await createToken('member');
    expect((await call(member, 'POST', '/mgmt/v1/service_tokens', { name: 'x', role: 'admin' })).statusCode).toBe(403);
    const admin = await createToken('admin');
    const res = await call(admin, 'POST', '/mgmt/v1/service_tokens', { name: 'x', role: 'owner' });
    expect(res.statusCode).toBe(403);
    expect(res.json().code).toBe('role_too_broad');
    expect((await call(admin, 'POST', '/mgmt/v1/service_tokens', { name: 'x', role: 'billing' })).statusCode).toBe(403);
    expect((await call(admin, 'POST', '/mgmt/v1/service_tokens', { name: 'x', role: 'support' })).statusCode).toBe(201);
  });

  it('an environment-limited token cannot grant environments it lacks, nor read across all environments', async () => {
    const devAdmin = await createToken('admin', ['development']);
    expect((await call(devAdmin, 'POST', '/mgmt/v1/service_tokens', { name: 'x', environments: ['production'] })).statusCode).toBe(403);
    expect((await call(devAdmin, 'GET', '/mgmt/v1/commits')).statusCode).toBe(403);
    expect((await call(devAdmin, 'GET', '/mgmt/v1/commits?environment=development')).statusCode).toBe(200);
  });

  it('a revoked token is refused on its next request', async () => {
    const created = await call(owner, 'POST', '/mgmt/v1/service_tokens', { name: 'short-lived', role: 'member' });
    const { id, token } = created.json();
    expect((await call(token, 'GET', '/mgmt/v1/whoami')).statusCode).toBe(200);
    expect((await call(owner, 'DELETE', `/mgmt/v1/service_tokens/${id}`)).statusCode).toBe(204);
    expect((await call(token, 'GET', '/mgmt/v1/whoami')).statusCode).toBe(401);
    const events = (await call(owner, 'GET', '/mgmt/v1/audit_events?limit=100')).json().entries as Array<{ action: string; target: { id: string } }>;
    expect(events.filter((e) => e.target.id === id).map((e) => e.action).sort()).toEqual(['service_token.created', 'service_token.revoked']);
  });

  it('changing production write access is audited', async () => {
    await call(owner, 'PATCH', '/mgmt/v1/account', { production_write_access: false });
    await call(owner, 'PATCH', '/mgmt/v1/account', { production_write_access: true });
    const events = (await call(owner, 'GET', '/mgmt/v1/audit_events?action=account.settings_changed')).json().entries;
    expect(events.slice(0, 2).map((e: { data: { production_write_access: { after: boolean } } }) => e.data.production_write_access.after)).toEqual([true, false]);
  });
});
