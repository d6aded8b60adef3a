/**
 * Custom permission groups (Herald, beyond Knock; environments.md §3): per-environment
 * levels (access none/view/manage, release none/commit/manage) for members and service
 * tokens with role `custom`, decided in `decide()` like every built-in role.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROUTE_PERMISSIONS } from '../../src/access/route-permissions.ts';
import { startTestHerald, type TestHerald } from '../support/herald.ts';

let herald: TestHerald;
let owner: string;
let counter = 0;
/** Development manage + commit, staging view, production none. */
let devGroup: string;
/** Production view + release manage (may approve promotions into production). */
let releaseGroup: string;
let devMember: { id: string; email: string; token: string };
let releaseMember: { id: string; email: string; token: string };
let productionCommit: string;
let developmentCommit: string;

const call = (token: string, method: string, url: string, body?: unknown) => herald.request(method, url, { token, body });
const workflow = (name: string) => ({ name, steps: [{ ref: 'feed', type: 'channel', channel_key: 'in-app-feed', template: { markdown_body: name } }] });

async function createGroup(name: string, environments: Record<string, { access: string; release?: string }>): Promise<string> {
  const res = await call(owner, 'POST', '/mgmt/v1/permission_groups', { name, description: `${name} (test)`, environments });
  expect(res.statusCode, res.body).toBe(201);
  return res.json().id;
}

/** Invites a member with role `custom` in `group`, accepts and signs in (see members.test.ts). */
async function joinGroup(group: string) {
  const email = `grouped-${++counter}@example.com`;
  const password = 'correct horse battery';
  const invited = await call(owner, 'POST', '/mgmt/v1/members', { email, role: 'custom', permission_group_id: group });
  expect(invited.statusCode, invited.body).toBe(201);
  expect(invited.json()).toMatchObject({ role: 'custom', permission_group_id: group, status: 'invited' });
  const accepted = await herald.request('POST', '/mgmt/v1/members/accept', { body: { invite_token: invited.json().invite_token, password, name: `Grouped ${counter}` } });
  expect(accepted.statusCode, accepted.body).toBe(200);
  const signedIn = await herald.app!.inject({ method: 'POST', url: '/mgmt/v1/sessions', payload: { email, password }, remoteAddress: `10.9.0.${counter}` });
  expect(signedIn.statusCode, signedIn.body).toBe(201);
  return { id: invited.json().id as string, email, token: signedIn.json().token as string };
}

async function customToken(group: string): Promise<{ id: string; token: string }> {
  const res = await call(owner, 'POST', '/mgmt/v1/service_tokens', { name: `grouped token ${++counter}`, role: 'custom', permission_group_id: group });
  expect(res.statusCode, res.body).toBe(201);
  expect(res.json()).toMatchObject({ role: 'custom', permission_group_id: group });
  return { id: res.json().id, token: res.json().token };
}

function expectDenied(res: { statusCode: number; body: string; json(): any }, capability: string, where = '') {
  expect(res.statusCode, `${where} ${res.body}`).toBe(403);
  expect(res.json().code, where).toBe('missing_permission');
  expect(res.json().message, where).toContain(`"${capability}"`);
}

async function events(action: string): Promise<Array<{ action: string; environment: string | null; target: { type: string; id: string }; data: any; actor: { email: string } }>> {
  const res = await call(owner, 'GET', `/mgmt/v1/audit_events?action=${action}&limit=100`);
  expect(res.statusCode, res.body).toBe(200);
  return res.json().entries;
}

beforeAll(async () => {
  herald = await startTestHerald();
  owner = herald.secrets.service_token;
  expect((await call(owner, 'POST', '/mgmt/v1/environments', { name: 'Staging', slug: 'staging', insert_after: 'development' })).statusCode).toBe(201);
  expect((await herald.request('PUT', '/v1/users/group-user', { token: herald.secrets.environments.production.secret_key, body: { name: 'Prod User' } })).statusCode).toBe(200);
  // Content committed in development and promoted to production.
  expect((await call(owner, 'PUT', '/mgmt/v1/workflows/welcome?environment=development&commit=true&commit_message=v1', { workflow: workflow('v1') })).statusCode).toBe(200);
  for (const slug of ['staging', 'production']) expect((await call(owner, 'PUT', `/mgmt/v1/commits/promote?to_environment=${slug}`)).statusCode).toBe(200);
  productionCommit = (await call(owner, 'GET', '/mgmt/v1/commits?environment=production&limit=1')).json().entries[0].id;
  developmentCommit = (await call(owner, 'GET', '/mgmt/v1/commits?environment=development&limit=1')).json().entries[0].id;
  devGroup = await createGroup('Developers', { development: { access: 'manage', release: 'commit' }, staging: { access: 'view' }, production: { access: 'none' } });
  releaseGroup = await createGroup('Release managers', { staging: { access: 'view', release: 'manage' }, production: { access: 'view', release: 'manage' } });
  devMember = await joinGroup(devGroup);
  releaseMember = await joinGroup(releaseGroup);
});
afterAll(async () => herald?.close());

/** Every production route a development-only principal might call, with a real target (never a 404). */
const productionRoutes = (): Array<[route: string, method: string, url: string, body?: unknown]> => [
  ['GET /mgmt/v1/environments/:environment_slug', 'GET', '/mgmt/v1/environments/production'],
  ['PATCH /mgmt/v1/environments/:environment_slug', 'PATCH', '/mgmt/v1/environments/production', { label_color: '#000000' }],
  ['GET /mgmt/v1/environments/:environment_slug/api_keys', 'GET', '/mgmt/v1/environments/production/api_keys'],
  ['POST /mgmt/v1/environments/:environment_slug/api_keys', 'POST', '/mgmt/v1/environments/production/api_keys', { kind: 'secret' }],
  ['GET /mgmt/v1/environments/:environment_slug/users', 'GET', '/mgmt/v1/environments/production/users'],
  ['GET /mgmt/v1/environments/:environment_slug/users/:user_id', 'GET', '/mgmt/v1/environments/production/users/group-user'],
  ['POST /mgmt/v1/environments/:environment_slug/users/:user_id/reveal', 'POST', '/mgmt/v1/environments/production/users/group-user/reveal', { reason: 'ticket' }],
  ['GET /mgmt/v1/workflows', 'GET', '/mgmt/v1/workflows?environment=production'],
  ['GET /mgmt/v1/workflows/:workflow_key', 'GET', '/mgmt/v1/workflows/welcome?environment=production'],
  ['PUT /mgmt/v1/workflows/:workflow_key', 'PUT', '/mgmt/v1/workflows/welcome?environment=production', { workflow: workflow('prod') }],
  ['PUT /mgmt/v1/workflows/:workflow_key/activate', 'PUT', '/mgmt/v1/workflows/welcome/activate?environment=production', { status: false }],
  ['GET /mgmt/v1/email_layouts', 'GET', '/mgmt/v1/email_layouts?environment=production'],
  ['GET /mgmt/v1/translations', 'GET', '/mgmt/v1/translations?environment=production'],
  ['GET /mgmt/v1/commits', 'GET', '/mgmt/v1/commits?environment=production'],
  ['GET /mgmt/v1/commits/:id', 'GET', `/mgmt/v1/commits/${productionCommit}`],
  ['GET /mgmt/v1/commits/:id/diff', 'GET', `/mgmt/v1/commits/${productionCommit}/diff`],
  ['PUT /mgmt/v1/commits', 'PUT', '/mgmt/v1/commits?environment=production&allow_empty=true&commit_message=x'],
  ['PUT /mgmt/v1/commits/promote', 'PUT', '/mgmt/v1/commits/promote?to_environment=production'],
  ['PUT /mgmt/v1/commits/:id/revert', 'PUT', `/mgmt/v1/commits/${productionCommit}/revert`],
  ['PUT /mgmt/v1/environments/:environment_slug/rollback', 'PUT', `/mgmt/v1/environments/production/rollback?to_commit=${productionCommit}`],
  ['GET /mgmt/v1/promotion_requests', 'GET', '/mgmt/v1/promotion_requests?environment=production'],
  ['GET /mgmt/v1/environments/:environment_slug/channels/:channel_key', 'GET', '/mgmt/v1/environments/production/channels/in-app-feed'],
  ['GET /mgmt/v1/variables', 'GET', '/mgmt/v1/variables?environment=production'],
  ['PUT /mgmt/v1/variables/:key', 'PUT', '/mgmt/v1/variables/group_var?environment=production', { values: { production: 'x' } }],
  ['GET /mgmt/v1/environments/:environment_slug/signing_keys', 'GET', '/mgmt/v1/environments/production/signing_keys'],
];

/** What a development-manage/commit, staging-view, production-none principal may and may not do. */
async function checkDevelopmentOnly(token: string, label: string) {
  // Edit and commit in development.
  const edited = await call(token, 'PUT', `/mgmt/v1/workflows/by-${label}?environment=development`, { workflow: workflow(label) });
  expect(edited.statusCode, edited.body).toBe(200);
  const committed = await call(token, 'PUT', `/mgmt/v1/commits?environment=development&commit_message=${label}`);
  expect(committed.statusCode, committed.body).toBe(200);
  const upserted = await call(token, 'PUT', `/mgmt/v1/workflows/by-${label}?environment=development&commit=true&commit_message=again`, { workflow: workflow(`${label} 2`) });
  expect(upserted.statusCode, upserted.body).toBe(200);
  expect((await call(token, 'GET', '/mgmt/v1/environments/development/api_keys')).statusCode).toBe(200);
  expect((await call(token, 'GET', '/mgmt/v1/environments/development/users')).statusCode).toBe(200);
  // Read in staging, nothing more.
  expect((await call(token, 'GET', '/mgmt/v1/workflows/welcome?environment=staging')).statusCode).toBe(200);
  expect((await call(token, 'GET', '/mgmt/v1/commits?environment=staging')).statusCode).toBe(200);
  expectDenied(await call(token, 'PUT', '/mgmt/v1/workflows/welcome?environment=staging', { workflow: workflow('x') }), 'content.manage', 'staging edit');
  expectDenied(await call(token, 'PUT', '/mgmt/v1/commits?environment=staging&allow_empty=true'), 'release.commit', 'staging commit');
  // No promotion anywhere: promoting needs release manage in the target.
  expectDenied(await call(token, 'PUT', '/mgmt/v1/commits/promote?to_environment=staging'), 'release.manage', 'promote all');
  expectDenied(await call(token, 'PUT', `/mgmt/v1/commits/${developmentCommit}/promote`), 'release.manage', 'promote one');
  expectDenied(await call(token, 'PUT', `/mgmt/v1/commits/${developmentCommit}/revert`), 'release.manage', 'revert');
  // Production: 403 naming the capability on every route, never 404 or data.
  for (const [route, method, url, body] of productionRoutes()) {
    expect(ROUTE_PERMISSIONS[route], route).toBeDefined();
    const res = await call(token, method, url, body);
    expectDenied(res, ROUTE_PERMISSIONS[route].capability, `${label} × ${method} ${url}`);
    expect(res.body).not.toContain('Prod User');
  }
  // Account-level: only account.read; production is hidden from environment lists.
  const environments = (await call(token, 'GET', '/mgmt/v1/environments')).json().entries.map((e: { slug: string }) => e.slug);
  expect(environments).toEqual(['development', 'staging']);
  expect((await call(token, 'GET', '/mgmt/v1/whoami')).statusCode).toBe(200);
  expectDenied(await call(token, 'GET', '/mgmt/v1/members'), 'members.manage');
  expectDenied(await call(token, 'GET', '/mgmt/v1/permission_groups'), 'members.manage');
  expectDenied(await call(token, 'GET', '/mgmt/v1/audit_events'), 'audit.read');
  expectDenied(await call(token, 'POST', '/mgmt/v1/environments/development/api_keys', { kind: 'secret' }), 'secrets.manage');
  // Across every environment at once: name one.
  expectDenied(await call(token, 'GET', '/mgmt/v1/commits'), 'content.read');
}

describe('a member of a permission group', () => {
  it('edits and commits in development, reads staging, and gets 403 naming the capability on every production route', async () => {
    await checkDevelopmentOnly(devMember.token, 'member');
    const whoami = (await call(devMember.token, 'GET', '/mgmt/v1/whoami')).json();
    expect(whoami.user_id).toBe(devMember.id);
    // The member's commits name them as author.
    const [latest] = (await call(owner, 'GET', '/mgmt/v1/commits?environment=development&limit=1')).json().entries;
    expect(latest.author.email).toBe(devMember.email);
  });

  it('a service token with the group behaves the same', async () => {
    const { token } = await customToken(devGroup);
    await checkDevelopmentOnly(token, 'token');
  });

  it('the reverse: a production-only group gets 403 on every development route', async () => {
    const group = await createGroup('Production only', { production: { access: 'manage', release: 'manage' } });
    const { token } = await customToken(group);
    expect((await call(token, 'GET', '/mgmt/v1/workflows/welcome?environment=production')).statusCode).toBe(200);
    expectDenied(await call(token, 'GET', '/mgmt/v1/workflows/welcome?environment=development'), 'content.read');
    expectDenied(await call(token, 'GET', `/mgmt/v1/commits/${developmentCommit}`), 'content.read');
    expectDenied(await call(token, 'GET', '/mgmt/v1/environments/development/users'), 'data.read');
    expectDenied(await call(token, 'GET', '/mgmt/v1/environments/development'), 'account.read');
    expect((await call(token, 'GET', '/mgmt/v1/environments')).json().entries.map((e: { slug: string }) => e.slug)).toEqual(['production']);
  });

  it('a change to the group applies from the next request', async () => {
    const group = await createGroup('Changing', { development: { access: 'view' } });
    const { token } = await customToken(group);
    expectDenied(await call(token, 'PUT', '/mgmt/v1/workflows/changing?environment=development', { workflow: workflow('c') }), 'content.manage');
    const patched = await call(owner, 'PATCH', `/mgmt/v1/permission_groups/${group}`, { environments: { development: { access: 'manage', release: 'none' } } });
    expect(patched.statusCode, patched.body).toBe(200);
    expect(patched.json().environments).toEqual({ development: { access: 'manage', release: 'none' } });
    expect((await call(token, 'PUT', '/mgmt/v1/workflows/changing?environment=development', { workflow: workflow('c') })).statusCode).toBe(200);
    // Committing needs release commit, also through an upsert with commit=true.
    expectDenied(await call(token, 'PUT', '/mgmt/v1/workflows/changing?environment=development&commit=true', { workflow: workflow('c2') }), 'release.commit');
    expectDenied(await call(token, 'PUT', '/mgmt/v1/commits?environment=development'), 'release.commit');
  });
});

describe('promotion approval with permission groups', () => {
  it('a member with production release manage approves a pending promotion; one without is refused', async () => {
    expect((await call(owner, 'PATCH', '/mgmt/v1/environments/production', { require_promotion_approval: true })).statusCode).toBe(200);
    await call(owner, 'PUT', '/mgmt/v1/workflows/guarded?environment=development&commit=true&commit_message=g1', { workflow: workflow('g1') });
    expect((await call(owner, 'PUT', '/mgmt/v1/commits/promote?to_environment=staging')).statusCode).toBe(200);
    const requested = await call(owner, 'PUT', '/mgmt/v1/commits/promote?to_environment=production');
    expect(requested.statusCode, requested.body).toBe(202);
    const id = requested.json().promotion_request.id;
    expectDenied(await call(devMember.token, 'POST', `/mgmt/v1/promotion_requests/${id}/approve`), 'release.manage');
    // A token of the development group is refused too (not as self-approval: as a missing permission).
    expectDenied(await call((await customToken(devGroup)).token, 'POST', `/mgmt/v1/promotion_requests/${id}/reject`), 'release.manage');
    // Staging release manage is not production release manage.
    const stagingOnly = await createGroup('Staging releasers', { staging: { access: 'manage', release: 'manage' }, production: { access: 'view', release: 'commit' } });
    expectDenied(await call((await customToken(stagingOnly)).token, 'POST', `/mgmt/v1/promotion_requests/${id}/approve`), 'release.manage');

    const approved = await call(releaseMember.token, 'POST', `/mgmt/v1/promotion_requests/${id}/approve`);
    expect(approved.statusCode, approved.body).toBe(200);
    expect(approved.json().promotion_request).toMatchObject({ status: 'applied', decided_by: { email: releaseMember.email } });
    expect(approved.json().commits.map((c: { resource: { identifier: string } }) => c.resource.identifier)).toContain('guarded');

    const [requestedEvent] = (await events('promotion.requested')).filter((e) => e.target.id === id);
    expect(requestedEvent).toMatchObject({ environment: 'production', target: { type: 'promotion_request', id }, data: { kind: 'promote_all' } });
    const [approvedEvent] = (await events('promotion.approved')).filter((e) => e.target.id === id);
    expect(approvedEvent).toMatchObject({ environment: 'production', actor: { email: releaseMember.email } });
  });

  it('the group member may request a promotion it can make, and another member rejects it (audited)', async () => {
    await call(owner, 'PUT', '/mgmt/v1/workflows/guarded?environment=development&commit=true&commit_message=g2', { workflow: workflow('g2') });
    expect((await call(owner, 'PUT', '/mgmt/v1/commits/promote?to_environment=staging')).statusCode).toBe(200);
    const requested = await call(releaseMember.token, 'PUT', '/mgmt/v1/commits/promote?to_environment=production');
    expect(requested.statusCode, requested.body).toBe(202);
    const id = requested.json().promotion_request.id;
    // Not by the requester.
    const self = await call(releaseMember.token, 'POST', `/mgmt/v1/promotion_requests/${id}/reject`);
    expect(self.statusCode).toBe(403);
    expect(self.json().code).toBe('self_approval');
    expect((await events('promotion.rejected')).filter((e) => e.target.id === id)).toHaveLength(0);
    const rejected = await call(owner, 'POST', `/mgmt/v1/promotion_requests/${id}/reject`);
    expect(rejected.statusCode, rejected.body).toBe(200);
    expect((await events('promotion.requested')).filter((e) => e.target.id === id)[0]).toMatchObject({ actor: { email: releaseMember.email }, environment: 'production' });
    const [event] = (await events('promotion.rejected')).filter((e) => e.target.id === id);
    expect(event).toMatchObject({ environment: 'production', data: { kind: 'promote_all', requested_by: { email: releaseMember.email } } });
    await call(owner, 'PATCH', '/mgmt/v1/environments/production', { require_promotion_approval: false });
  });
});

describe('permission group management', () => {
  it('creates, lists, gets and changes groups; levels by slug, in environment order', async () => {
    const list = (await call(owner, 'GET', '/mgmt/v1/permission_groups')).json().entries;
    const dev = list.find((g: { id: string }) => g.id === devGroup);
    // `none` everywhere is the same as not listed.
    expect(dev).toMatchObject({
      name: 'Developers',
      description: 'Developers (test)',
      environments: { development: { access: 'manage', release: 'commit' }, staging: { access: 'view', release: 'none' } },
    });
    expect(Object.keys(dev.environments)).toEqual(['development', 'staging']);
    expect((await call(owner, 'GET', `/mgmt/v1/permission_groups/${devGroup}`)).json()).toEqual(dev);
    const renamed = await call(owner, 'PATCH', `/mgmt/v1/permission_groups/${releaseGroup}`, { name: 'Releasers', description: null });
    expect(renamed.statusCode, renamed.body).toBe(200);
    expect(renamed.json()).toMatchObject({ name: 'Releasers', description: null, environments: { production: { access: 'view', release: 'manage' } } });
    expect((await call(owner, 'GET', '/mgmt/v1/permission_groups/00000000-0000-4000-8000-000000000000')).statusCode).toBe(404);
  });

  it('refuses unknown environments, bad levels, release without access, and duplicate names', async () => {
    const create = (body: unknown) => call(owner, 'POST', '/mgmt/v1/permission_groups', body);
    const unknown = await create({ name: 'Bad', environments: { nowhere: { access: 'view' } } });
    expect(unknown.statusCode).toBe(422);
    expect(unknown.json().errors[0].field).toBe('environments.nowhere');
    expect((await create({ name: 'Bad', environments: { development: { access: 'admin' } } })).statusCode).toBe(422);
    expect((await create({ name: 'Bad', environments: { development: { access: 'view', release: 'promote' } } })).statusCode).toBe(422);
    expect((await create({ name: 'Bad', environments: { development: { release: 'commit' } } })).statusCode).toBe(422);
    expect((await create({ name: 'Bad', environments: { development: { access: 'view', extra: true } } })).statusCode).toBe(422);
    const noAccess = await create({ name: 'Bad', environments: { development: { access: 'none', release: 'manage' } } });
    expect(noAccess.statusCode).toBe(422);
    expect(noAccess.json().errors[0].field).toBe('environments.development.release');
    expect((await create({ name: '', environments: {} })).statusCode).toBe(422);
    const duplicate = await create({ name: 'developers', environments: {} });
    expect(duplicate.statusCode).toBe(409);
    expect(duplicate.json().code).toBe('permission_group_exists');
    expect((await call(owner, 'PATCH', `/mgmt/v1/permission_groups/${devGroup}`, { environments: { nowhere: { access: 'view' } } })).statusCode).toBe(422);
    expect((await call(owner, 'GET', '/mgmt/v1/permission_groups')).json().entries.some((g: { name: string }) => g.name === 'Bad')).toBe(false);
  });

  it('role custom needs a group, and other roles take none', async () => {
    const invite = (body: object) => call(owner, 'POST', '/mgmt/v1/members', { email: `x-${++counter}@example.com`, ...body });
    expect((await invite({ role: 'custom' })).statusCode).toBe(422);
    expect((await invite({ role: 'custom', permission_group_id: '00000000-0000-4000-8000-000000000000' })).statusCode).toBe(422);
    expect((await invite({ role: 'member', permission_group_id: devGroup })).statusCode).toBe(422);
    expect((await call(owner, 'POST', '/mgmt/v1/service_tokens', { name: 't', role: 'custom' })).statusCode).toBe(422);
    expect((await call(owner, 'POST', '/mgmt/v1/service_tokens', { name: 't', role: 'admin', permission_group_id: devGroup })).statusCode).toBe(422);
    // Built-in members keep Knock's Member shape.
    const plain = await invite({ role: 'member' });
    expect(plain.json()).not.toHaveProperty('permission_group_id');
  });

  it('a group in use cannot be deleted (409); once unused it can, and assignments are audited', async () => {
    const group = await createGroup('Short-lived', { development: { access: 'view' } });
    const member = await joinGroup(group);
    const token = await customToken(group);
    const refused = await call(owner, 'DELETE', `/mgmt/v1/permission_groups/${group}`);
    expect(refused.statusCode).toBe(409);
    expect(refused.json().code).toBe('permission_group_in_use');
    // Move the member to another group, then to a built-in role.
    const moved = await call(owner, 'PATCH', `/mgmt/v1/members/${member.id}`, { role: 'custom', permission_group_id: devGroup });
    expect(moved.statusCode, moved.body).toBe(200);
    expect(moved.json()).toMatchObject({ role: 'custom', permission_group_id: devGroup });
    expect((await call(member.token, 'GET', '/mgmt/v1/workflows?environment=development')).statusCode).toBe(200);
    const support = await call(owner, 'PATCH', `/mgmt/v1/members/${member.id}`, { role: 'support' });
    expect(support.json()).not.toHaveProperty('permission_group_id');
    expect((await call(owner, 'DELETE', `/mgmt/v1/permission_groups/${group}`)).statusCode).toBe(409);
    expect((await call(owner, 'DELETE', `/mgmt/v1/service_tokens/${token.id}`)).statusCode).toBe(204);
    expect((await call(owner, 'DELETE', `/mgmt/v1/permission_groups/${group}`)).statusCode).toBe(204);
    expect((await call(owner, 'GET', `/mgmt/v1/permission_groups/${group}`)).statusCode).toBe(404);
    expect((await call(owner, 'DELETE', `/mgmt/v1/permission_groups/${group}`)).statusCode).toBe(404);
    // A deleted group can no longer be assigned.
    expect((await call(owner, 'PATCH', `/mgmt/v1/members/${member.id}`, { role: 'custom', permission_group_id: group })).statusCode).toBe(422);

    const changes = (await events('member.role_changed')).filter((e) => e.target.id === member.id).reverse();
    expect(changes.map((e) => e.data)).toEqual([
      { email: member.email, role: { before: 'custom', after: 'custom' }, permission_group_id: { before: group, after: devGroup } },
      { email: member.email, role: { before: 'custom', after: 'support' }, permission_group_id: { before: devGroup, after: null } },
    ]);
    const [invited] = (await events('member.invited')).filter((e) => e.target.id === member.id);
    expect(invited.data).toMatchObject({ role: 'custom', permission_group_id: group });
    const [tokenCreated] = (await events('service_token.created')).filter((e) => e.target.id === token.id);
    expect(tokenCreated.data).toMatchObject({ role: 'custom', permission_group_id: group });
  });

  it('group changes are audited once each, in their own transaction (refusals record nothing)', async () => {
    const created = (await events('permission_group.created')).find((e) => e.target.id === devGroup);
    expect(created).toMatchObject({
      environment: null,
      target: { type: 'permission_group', id: devGroup },
      data: { name: 'Developers', environments: { development: { access: 'manage', release: 'commit' }, staging: { access: 'view', release: 'none' } } },
    });
    const updated = (await events('permission_group.updated')).filter((e) => e.target.id === releaseGroup);
    expect(updated).toHaveLength(1);
    expect(updated[0].data).toEqual({
      name: 'Releasers',
      changes: { name: { before: 'Release managers', after: 'Releasers' }, description: { before: 'Release managers (test)', after: null } },
    });
    // A PATCH that changes nothing records nothing.
    expect((await call(owner, 'PATCH', `/mgmt/v1/permission_groups/${releaseGroup}`, { name: 'Releasers' })).statusCode).toBe(200);
    expect((await events('permission_group.updated')).filter((e) => e.target.id === releaseGroup)).toHaveLength(1);
    const deleted = await events('permission_group.deleted');
    expect(deleted).toHaveLength(1);
    expect(deleted[0].data).toEqual({ name: 'Short-lived' });
    // The refused deletions (409) and creations (422, 409) left no events.
    expect((await events('permission_group.created')).map((e) => e.data.name)).not.toContain('Bad');
  });
});
