import net from 'node:net';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHerald, type TestHerald } from '../support/herald.ts';

/**
 * Bad input on every rule of targets.md ("Bad input", Security): the right status, in
 * Knock's error shape, and a refused request changes nothing.
 */

let herald: TestHerald;
let sk: string;
let pk: string;
let serviceToken: string;

beforeAll(async () => {
  herald = await startTestHerald();
  sk = herald.secrets.environments.development.secret_key;
  pk = herald.secrets.environments.development.public_key;
  serviceToken = herald.secrets.service_token;
});
afterAll(async () => herald?.close());

interface ErrorBody {
  code: string;
  message: string;
  status: number;
  type: string;
  errors?: Array<{ field: string; message: string; type: string | null }>;
}

/** Asserts Knock's error shape with `status`, and `errors` naming `field` (when given) on 422. */
function expectError(res: LightMyRequestResponse, status: number, field?: string | RegExp): ErrorBody {
  expect(res.statusCode, res.body).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  const body = res.json() as ErrorBody;
  expect(body).toMatchObject({ code: expect.any(String), message: expect.any(String), status, type: expect.any(String) });
  if (status === 422) {
    expect(body.errors, res.body).toBeInstanceOf(Array);
    expect(body.errors!.length).toBeGreaterThan(0);
    for (const error of body.errors!) {
      expect(error).toMatchObject({ field: expect.any(String), message: expect.any(String) });
      expect(error.type === null || typeof error.type === 'string').toBe(true);
    }
    if (field !== undefined) {
      const fields = body.errors!.map((e) => e.field);
      if (typeof field === 'string') expect(fields, res.body).toContain(field);
      else expect(fields.some((f) => field.test(f)), res.body).toBe(true);
    }
  }
  return body;
}

const data = (method: string, path: string, body?: unknown, token = sk) => herald.request(method, path, { token, body });
const mgmt = (method: string, path: string, body?: unknown, token = serviceToken) => herald.request(method, `/mgmt/v1${path}`, { token, body });
const CHANNEL = '6c1b5a2e-6f7d-4c4b-9a55-0e2d6f1c7a10';
const UNKNOWN_UUID = '00000000-0000-4000-8000-000000000000';
const cursor = (text: string) => Buffer.from(text).toString('base64url');

async function identify(id: string, body: Record<string, unknown> = {}) {
  const res = await data('PUT', `/v1/users/${encodeURIComponent(id)}`, body);
  expect(res.statusCode, res.body).toBe(200);
  return res.json() as Record<string, unknown>;
}

async function userCount(): Promise<number> {
  let count = 0;
  let after: string | null = null;
  do {
    const res = await data('GET', `/v1/users?page_size=100${after ? `&after=${after}` : ''}`);
    expect(res.statusCode).toBe(200);
    const page = res.json() as { entries: unknown[]; page_info: { after: string | null } };
    count += page.entries.length;
    after = page.page_info.after;
  } while (after);
  return count;
}

/** Every data API route, with a path that exists once user `u-routes` and tenant `t-routes` do. */
const DATA_ROUTES: Array<[string, string, unknown?]> = [
  ['GET', '/v1/users'],
  ['GET', '/v1/users/u-routes'],
  ['PUT', '/v1/users/u-routes', { name: 'x' }],
  ['DELETE', '/v1/users/u-routes'],
  ['POST', '/v1/users/bulk/identify', { users: [{ id: 'u-routes' }] }],
  ['POST', '/v1/users/bulk/delete', { user_ids: ['u-routes'] }],
  ['POST', '/v1/users/u-routes/merge', { from_user_id: 'u-routes-2' }],
  ['GET', `/v1/bulk_operations/${UNKNOWN_UUID}`],
  ['GET', '/v1/users/u-routes/preferences'],
  ['GET', '/v1/users/u-routes/preferences/default'],
  ['PUT', '/v1/users/u-routes/preferences/default', { workflows: { w: true } }],
  ['DELETE', '/v1/users/u-routes/preferences/default'],
  ['PUT', `/v1/users/u-routes/channel_data/${CHANNEL}`, { data: { tokens: ['t'] } }],
  ['GET', `/v1/users/u-routes/channel_data/${CHANNEL}`],
  ['DELETE', `/v1/users/u-routes/channel_data/${CHANNEL}`],
  ['GET', '/v1/tenants'],
  ['GET', '/v1/tenants/t-routes'],
  ['PUT', '/v1/tenants/t-routes', { name: 'x' }],
  ['DELETE', '/v1/tenants/t-routes'],
];

const MGMT_ROUTES: Array<[string, string, unknown?]> = [
  ['GET', '/mgmt/v1/whoami'],
  ['GET', '/mgmt/v1/environments'],
  ['GET', '/mgmt/v1/environments/development'],
  ['POST', '/mgmt/v1/environments', { name: 'Nope', slug: 'nope' }],
  ['PATCH', '/mgmt/v1/environments/development', { name: 'Dev' }],
  ['GET', '/mgmt/v1/environments/development/api_keys'],
  ['POST', '/mgmt/v1/environments/development/api_keys', { kind: 'secret' }],
  ['DELETE', `/mgmt/v1/environments/development/api_keys/${UNKNOWN_UUID}`],
];

describe('401: missing, malformed, unknown or revoked credentials', () => {
  it('refuses every data API route without a valid secret key, and changes nothing', async () => {
    await identify('u-routes', { name: 'Kept' });
    const bad: Array<Record<string, string>> = [
      {},
      { authorization: '' },
      { authorization: sk }, // no "Bearer"
      { authorization: `Basic ${sk}` },
      { authorization: 'Bearer' },
      { authorization: `Bearer ${sk}x` },
      { authorization: 'Bearer sk_development_not-a-real-key' },
      { authorization: `Bearer ${serviceToken}` }, // a service token is not an API key
      { 'x-api-key': sk },
    ];
    for (const [method, path, body] of DATA_ROUTES) {
      for (const headers of bad) {
        const res = await herald.request(method, path, { headers, body });
        const error = expectError(res, 401);
        expect(error.type).toBe('authentication_error');
      }
    }
    expect(await identify('u-routes')).toMatchObject({ name: 'Kept' });
  });

  it('refuses a key once it is revoked', async () => {
    const created = await mgmt('POST', '/environments/development/api_keys', { kind: 'secret', name: 'to revoke' });
    expect(created.statusCode, created.body).toBe(201);
    const [key] = (created.json() as { entries: Array<{ id: string; key: string }> }).entries;
    expect((await data('GET', '/v1/users', undefined, key.key)).statusCode).toBe(200);
    expect((await mgmt('DELETE', `/environments/development/api_keys/${key.id}`)).statusCode).toBe(200);
    expectError(await data('GET', '/v1/users', undefined, key.key), 401);
    expectError(await data('PUT', '/v1/users/after-revoke', { name: 'x' }, key.key), 401);
    expectError(await data('GET', '/v1/users/after-revoke'), 404);
  });

  it('refuses every management route without a valid service token', async () => {
    const bad: Array<Record<string, string>> = [
      {},
      { authorization: `Basic ${serviceToken}` },
      { authorization: 'Bearer hst_not-a-real-token' },
      { authorization: `Bearer ${sk}` }, // an API key is not a service token
      { authorization: `Bearer ${pk}` },
    ];
    for (const [method, path, body] of MGMT_ROUTES) {
      for (const headers of bad) expectError(await herald.request(method, path, { headers, body }), 401);
    }
    const list = (await mgmt('GET', '/environments')).json() as { entries: Array<{ slug: string }> };
    expect(list.entries.map((e) => e.slug)).not.toContain('nope');
  });
});

describe('403: a public key on secret-only data routes', () => {
  it('refuses the public key on every data route, and writes nothing', async () => {
    await identify('u-routes', { name: 'Kept' });
    await data('PUT', '/v1/tenants/t-routes', { name: 'Kept tenant' });
    for (const [method, path, body] of DATA_ROUTES) {
      const error = expectError(await data(method, path, body, pk), 403);
      expect(error.type).toBe('authorization_error');
    }
    expect(await identify('u-routes')).toMatchObject({ name: 'Kept' });
    expect((await data('GET', '/v1/tenants/t-routes')).json()).toMatchObject({ name: 'Kept tenant' });
  });
});

describe('404: absent ids', () => {
  it('users', async () => {
    expectError(await data('GET', '/v1/users/nobody'), 404);
    expectError(await data('DELETE', '/v1/users/nobody'), 404);
    await identify('merge-into');
    expectError(await data('POST', '/v1/users/merge-into/merge', { from_user_id: 'nobody' }), 404);
    expectError(await data('POST', '/v1/users/nobody/merge', { from_user_id: 'merge-into' }), 404);
    expect(await identify('merge-into')).toMatchObject({ id: 'merge-into' });
    expectError(await data('GET', `/v1/bulk_operations/${UNKNOWN_UUID}`), 404);
  });

  it('preference sets and channel data of absent users, and absent ones of present users', async () => {
    expectError(await data('GET', '/v1/users/nobody/preferences'), 404);
    expectError(await data('GET', '/v1/users/nobody/preferences/default'), 404);
    expectError(await data('PUT', '/v1/users/nobody/preferences/default', { workflows: { w: true } }), 404);
    expectError(await data('DELETE', '/v1/users/nobody/preferences/default'), 404);
    expectError(await data('GET', `/v1/users/nobody/channel_data/${CHANNEL}`), 404);
    expectError(await data('DELETE', `/v1/users/nobody/channel_data/${CHANNEL}`), 404);
    // The refused writes created no user.
    expectError(await data('GET', '/v1/users/nobody'), 404);

    await identify('has-nothing');
    expectError(await data('DELETE', '/v1/users/has-nothing/preferences/never-set'), 404);
    expectError(await data('GET', `/v1/users/has-nothing/channel_data/${CHANNEL}`), 404);
    expectError(await data('DELETE', `/v1/users/has-nothing/channel_data/${CHANNEL}`), 404);
  });

  it('tenants', async () => {
    expectError(await data('GET', '/v1/tenants/no-tenant'), 404);
    expectError(await data('DELETE', '/v1/tenants/no-tenant'), 404);
  });

  it('unknown routes answer 404 in the same shape', async () => {
    expectError(await data('GET', '/v1/nothing-here'), 404);
    expectError(await herald.request('GET', '/nothing-here'), 404);
    expectError(await mgmt('GET', '/nothing-here'), 404);
  });

  it('environments and API keys (management API)', async () => {
    expectError(await mgmt('GET', '/environments/nowhere'), 404);
    expectError(await mgmt('PATCH', '/environments/nowhere', { name: 'X' }), 404);
    expectError(await mgmt('GET', '/environments/nowhere/api_keys'), 404);
    expectError(await mgmt('POST', '/environments/nowhere/api_keys', { kind: 'secret' }), 404);
    expectError(await mgmt('DELETE', `/environments/nowhere/api_keys/${UNKNOWN_UUID}`), 404);
    expectError(await mgmt('DELETE', `/environments/development/api_keys/${UNKNOWN_UUID}`), 404);
    // A key of another environment is absent from this one.
    const keys = (await mgmt('GET', '/environments/production/api_keys')).json() as { entries: Array<{ id: string }> };
    expectError(await mgmt('DELETE', `/environments/development/api_keys/${keys.entries[0].id}`), 404);
    const after = (await mgmt('GET', '/environments/production/api_keys')).json() as { entries: Array<{ id: string; revoked_at: string | null }> };
    expect(after.entries.find((k) => k.id === keys.entries[0].id)?.revoked_at).toBeNull();
  });
});

describe('422: invalid bodies and params, with field errors', () => {
  it('wrong types in an identify body', async () => {
    expectError(await data('PUT', '/v1/users/typed', { name: 123 }), 422, 'name');
    expectError(await data('PUT', '/v1/users/typed', { email: { a: 1 } }), 422, 'email');
    expectError(await data('PUT', '/v1/users/typed', { created_at: 'yesterday' }), 422, 'created_at');
    expectError(await data('PUT', '/v1/users/typed', { channel_data: { [CHANNEL]: { tokens: 'not-an-array' } } }), 422, /^channel_data/);
    expectError(await data('PUT', '/v1/users/typed', { preferences: { default: { workflows: { w: 'yes' } } } }), 422, /^preferences/);
    expectError(await data('PUT', '/v1/users/typed', [1, 2]), 422, 'body');
    expectError(await data('GET', '/v1/users/typed'), 404);
  });

  it('wrong types elsewhere: bulk, merge, preferences, channel data, tenants', async () => {
    await identify('typed-2');
    expectError(await data('POST', '/v1/users/bulk/identify', { users: 'all' }), 422, 'users');
    expectError(await data('POST', '/v1/users/bulk/identify', { users: [] }), 422, 'users');
    expectError(await data('POST', '/v1/users/bulk/identify', { users: [{ name: 'no id' }] }), 422, 'users.0.id');
    expectError(await data('POST', '/v1/users/bulk/delete', { user_ids: [1] }), 422, 'user_ids.0');
    expectError(await data('POST', '/v1/users/bulk/delete', { user_ids: ['a'], extra: 1 }), 422, 'extra');
    expectError(await data('POST', '/v1/users/typed-2/merge', {}), 422, 'from_user_id');
    expectError(await data('POST', '/v1/users/typed-2/merge', { from_user_id: 'typed-2' }), 422, 'from_user_id');
    expectError(await data('PUT', '/v1/users/typed-2/preferences/default', { workflows: { w: 'yes' } }), 422, /^workflows/);
    expectError(await data('PUT', '/v1/users/typed-2/preferences/default', { unknown_key: true }), 422, 'unknown_key');
    expectError(await data('PUT', '/v1/users/typed-2/preferences/default', { channels: { 'not-a-uuid': true } }), 422, /^channels/);
    expectError(await data('PUT', `/v1/users/typed-2/channel_data/${CHANNEL}`, { data: 'token' }), 422, 'data');
    expectError(await data('PUT', `/v1/users/typed-2/channel_data/${CHANNEL}`, {}), 422, 'data');
    expectError(await data('PUT', '/v1/tenants/typed', { name: 42 }), 422, 'name');
    expectError(await data('PUT', '/v1/tenants/typed', { settings: { branding: { unknown: 'x' } } }), 422, /^settings\.branding/);
    expectError(await data('GET', '/v1/tenants/typed?resolve_full_preference_settings=maybe'), 422, 'querystring.resolve_full_preference_settings');
    expectError(await data('GET', '/v1/tenants/typed'), 404);
    expectError(await data('GET', `/v1/bulk_operations/not-a-uuid`), 422, 'params.id');
  });

  it('bulk calls over 1,000 items are refused whole', async () => {
    const before = await userCount();
    const users = Array.from({ length: 1001 }, (_, i) => ({ id: `bulk-over-${i}` }));
    expectError(await data('POST', '/v1/users/bulk/identify', { users }), 422, 'users');
    expect(await userCount()).toBe(before);
    await identify('bulk-delete-survivor');
    const ids = ['bulk-delete-survivor', ...Array.from({ length: 1000 }, (_, i) => `x${i}`)];
    expectError(await data('POST', '/v1/users/bulk/delete', { user_ids: ids }), 422, 'user_ids');
    expect((await data('GET', '/v1/users/bulk-delete-survivor')).statusCode).toBe(200);
    // Exactly 1,000 is allowed.
    const ok = await data('POST', '/v1/users/bulk/identify', { users: users.slice(0, 1000) });
    expect(ok.statusCode, ok.body).toBe(200);
    expect(await userCount()).toBe(before + 1001);
  });

  it('user ids over 256 characters, wherever they appear', async () => {
    const long = 'u'.repeat(257);
    expectError(await data('PUT', `/v1/users/${long}`, {}), 422, 'params.user_id');
    expectError(await data('GET', `/v1/users/${long}`), 422, 'params.user_id');
    expectError(await data('GET', `/v1/users/${'u'.repeat(5000)}`), 422, 'params.user_id');
    expectError(await data('PUT', `/v1/users/${long}/preferences/default`, {}), 422, 'params.user_id');
    expectError(await data('PUT', `/v1/users/${long}/channel_data/${CHANNEL}`, { data: { tokens: [] } }), 422, 'params.user_id');
    expectError(await data('POST', '/v1/users/bulk/identify', { users: [{ id: 'fine' }, { id: long }] }), 422, 'users.1.id');
    expectError(await data('POST', '/v1/users/bulk/delete', { user_ids: [long] }), 422, 'user_ids.0');
    await identify('merge-long');
    expectError(await data('POST', '/v1/users/merge-long/merge', { from_user_id: long }), 422, 'from_user_id');
    expectError(await data('PUT', `/v1/tenants/${'t'.repeat(257)}`, {}), 422, 'params.id');
    expectError(await data('GET', '/v1/users/fine'), 404);
    // 256 characters is allowed, also when each takes 9 bytes percent-encoded.
    await identify('u'.repeat(256));
    const wide = '日'.repeat(256);
    expect(await identify(wide)).toMatchObject({ id: wide });
    expectError(await data('PUT', `/v1/users/${encodeURIComponent(wide + '日')}`, {}), 422, 'params.user_id');
  });

  it('custom properties over 256 kB leave the existing user or tenant unchanged', async () => {
    const original = await identify('big-props', { name: 'Original', email: 'orig@example.com', plan: 'free' });
    const big = 'x'.repeat(256 * 1024);
    expectError(await data('PUT', '/v1/users/big-props', { name: 'Changed', plan: 'pro', blob: big }), 422, 'properties');
    const after = (await data('GET', '/v1/users/big-props')).json();
    expect(after).toEqual(original);
    expectError(await data('PUT', '/v1/users/big-new', { blob: big }), 422, 'properties');
    expectError(await data('GET', '/v1/users/big-new'), 404);

    const tenant = await data('PUT', '/v1/tenants/big-tenant', { name: 'Original', tier: 1 });
    expect(tenant.statusCode).toBe(200);
    expectError(await data('PUT', '/v1/tenants/big-tenant', { name: 'Changed', blob: big }), 422, 'properties');
    expect((await data('GET', '/v1/tenants/big-tenant')).json()).toEqual(tenant.json());
    // Just under the limit is fine.
    const ok = await data('PUT', '/v1/users/big-props', { blob: 'x'.repeat(200 * 1024) });
    expect(ok.statusCode).toBe(200);
  });

  it('an invalid channel_id (not a uuid)', async () => {
    await identify('chan-user');
    for (const method of ['GET', 'PUT', 'DELETE']) {
      expectError(await data(method, '/v1/users/chan-user/channel_data/not-a-uuid', method === 'PUT' ? { data: { tokens: ['t'] } } : undefined), 422, 'params.channel_id');
    }
    expectError(await data('PUT', '/v1/users/chan-user', { channel_data: { 'not-a-uuid': { tokens: ['t'] } } }), 422, /^channel_data/);
    expectError(await data('GET', `/v1/users/chan-user/channel_data/${CHANNEL}`), 404);
  });

  it('invalid cursors and pagination parameters', async () => {
    for (const list of ['/v1/users', '/v1/tenants']) {
      expectError(await data('GET', `${list}?after=garbage`), 422, 'after');
      expectError(await data('GET', `${list}?before=garbage`), 422, 'before');
      expectError(await data('GET', `${list}?after=${cursor('\u0000\u0001garbage')}`), 422, 'after');
      expectError(await data('GET', `${list}?after=${'a'.repeat(201)}`), 422, 'querystring.after');
      expectError(await data('GET', `${list}?after[]=a&after[]=b`), 422, 'querystring.after');
      // Cursor-shaped, with a key Postgres cannot compare against (a NUL character).
      expectError(await data('GET', `${list}?after=${cursor('k:\u0000')}`), 422);
      expectError(await data('GET', `${list}?page_size=-1`), 422, 'querystring.page_size');
      expectError(await data('GET', `${list}?page_size=0`), 422, 'querystring.page_size');
      expectError(await data('GET', `${list}?page_size=101`), 422, 'querystring.page_size');
      expectError(await data('GET', `${list}?page_size=ten`), 422, 'querystring.page_size');
    }
    expectError(await data('GET', '/v1/users?include=x'), 422, /^querystring\.include/);
    expectError(await data('GET', '/v1/users?include[a]=preferences'), 422, /^querystring\.include/);
  });

  it('an invalid timezone', async () => {
    await identify('tz-user', { timezone: 'Europe/Berlin' });
    expectError(await data('PUT', '/v1/users/tz-user', { timezone: 'Mars/Olympus_Mons' }), 422, 'timezone');
    expectError(await data('PUT', '/v1/users/tz-user', { timezone: 7 }), 422, 'timezone');
    expect(await identify('tz-user')).toMatchObject({ timezone: 'Europe/Berlin' });
    expectError(await data('POST', '/v1/users/bulk/identify', { users: [{ id: 'tz-a' }, { id: 'tz-b', timezone: 'Nowhere/Else' }] }), 422, 'users.1.timezone');
    expectError(await data('GET', '/v1/users/tz-a'), 404);
  });

  it('values Postgres cannot store (NUL, unpaired surrogates) and absurd nesting, never a 500', async () => {
    await identify('nul-user', { name: 'Clean' });
    expectError(await data('PUT', '/v1/users/nul%00user', {}), 422, 'params.user_id');
    expectError(await data('GET', '/v1/users/nul%00user'), 422, 'params.user_id');
    expectError(await data('PUT', '/v1/users/nul-user', { name: 'a\u0000b' }), 422, 'name');
    expectError(await data('PUT', '/v1/users/nul-user', { ['k\u0000']: 1 }), 422);
    expectError(await data('PUT', '/v1/users/nul-user', { nested: { list: ['ok', '\ud800'] } }), 422, 'nested.list.1');
    expectError(await data('PUT', '/v1/users/nul-user/preferences/default', { workflows: { 'w\u0000': true } }), 422, /^workflows\./);
    expectError(await data('PUT', `/v1/users/nul-user/channel_data/${CHANNEL}`, { data: { tokens: ['\u0000'] } }), 422, 'data.tokens.0');
    expectError(await data('POST', '/v1/users/bulk/delete', { user_ids: ['\u0000'] }), 422, 'user_ids.0');
    expectError(await data('POST', '/v1/users/nul-user/merge', { from_user_id: '\udfff' }), 422, 'from_user_id');
    expectError(await data('PUT', '/v1/tenants/nul-tenant', { name: 'x\u0000' }), 422, 'name');
    expectError(await data('GET', '/v1/tenants?name=%00'), 422, 'querystring.name');
    expectError(await mgmt('GET', '/environments/dev%00'), 422, 'params.environment_slug');
    expectError(await mgmt('PATCH', '/environments/development', { label_color: '\u0000' }), 422, 'label_color');
    expectError(await mgmt('POST', '/environments/development/api_keys', { name: '\u0000' }), 422, 'name');
    const deep = '{"a":' + '['.repeat(10_000) + ']'.repeat(10_000) + '}';
    const res = await herald.app!.inject({ method: 'PUT', url: '/v1/users/nul-user', headers: { authorization: `Bearer ${sk}`, 'content-type': 'application/json' }, payload: deep });
    expectError(res, 422, /^a\.0\.0/);
    expect(await identify('nul-user')).toMatchObject({ name: 'Clean' });
    expect(herald.logs.some((line) => line.includes('"level":50'))).toBe(false);
  });

  it('management: invalid create-environment bodies, insert_after production, other invalid params', async () => {
    const slugsBefore = ((await mgmt('GET', '/environments')).json() as { entries: Array<{ slug: string }> }).entries.map((e) => e.slug);
    expectError(await mgmt('POST', '/environments', {}), 422, 'name');
    expectError(await mgmt('POST', '/environments', { name: 'Staging' }), 422, 'slug');
    expectError(await mgmt('POST', '/environments', { name: 'Staging', slug: 'Not Lowercase' }), 422, 'slug');
    expectError(await mgmt('POST', '/environments', { name: 'Staging', slug: 's'.repeat(64) }), 422, 'slug');
    expectError(await mgmt('POST', '/environments', { name: 42, slug: 'staging' }), 422, 'name');
    expectError(await mgmt('POST', '/environments', { name: '', slug: 'staging' }), 422, 'name');
    expectError(await mgmt('POST', '/environments', { name: 'Staging', slug: 'staging', unknown: true }), 422, 'unknown');
    expectError(await mgmt('POST', '/environments', { name: 'Staging', slug: 'staging', insert_after: 'no-such-env' }), 422, 'insert_after');
    expectError(await mgmt('POST', '/environments', { name: 'Staging', slug: 'staging', insert_after: 'production' }), 422, 'insert_after');
    expectError(await mgmt('POST', '/environments', { name: 'Staging', slug: 'staging', label_color: 'x'.repeat(33) }), 422, 'label_color');
    expectError(await mgmt('POST', '/environments', [{ name: 'Staging', slug: 'staging' }]), 422, 'body');
    expectError(await mgmt('POST', '/environments', { name: ['Staging'], slug: 'staging' }), 422, 'name');
    expectError(await mgmt('POST', '/environments', { name: 'Staging', slug: 'staging', insert_after: 1 }), 422, 'insert_after');
    const slugsAfter = ((await mgmt('GET', '/environments')).json() as { entries: Array<{ slug: string }> }).entries.map((e) => e.slug);
    expect(slugsAfter).toEqual(slugsBefore);

    expectError(await mgmt('PATCH', '/environments/development', {}), 422);
    expectError(await mgmt('PATCH', '/environments/development', { hide_pii_data: 'yes' }), 422, 'hide_pii_data');
    expectError(await mgmt('PATCH', '/environments/development', { slug: 'renamed' }), 422, 'slug');
    expectError(await mgmt('GET', `/environments/${'e'.repeat(101)}`), 422, 'params.environment_slug');
    expectError(await mgmt('POST', '/environments/development/api_keys', { kind: 'admin' }), 422, 'kind');
    expectError(await mgmt('DELETE', '/environments/development/api_keys/not-a-uuid'), 422, 'params.id');
    expect((await mgmt('GET', '/environments/development')).json()).toMatchObject({ slug: 'development', hide_pii_data: false });
  });
});

describe('409: conflicts', () => {
  it('a duplicate environment slug', async () => {
    const created = await mgmt('POST', '/environments', { name: 'Staging', slug: 'staging' });
    expect(created.statusCode, created.body).toBe(201);
    const again = expectError(await mgmt('POST', '/environments', { name: 'Staging 2', slug: 'staging' }), 409);
    expect(again.message).toContain('staging');
    expectError(await mgmt('POST', '/environments', { name: 'Dev', slug: 'development' }), 409);
    const list = ((await mgmt('GET', '/environments')).json() as { entries: Array<{ slug: string; name: string }> }).entries;
    expect(list.filter((e) => e.slug === 'staging')).toEqual([expect.objectContaining({ name: 'Staging' })]);
    expect(list.map((e) => e.slug)).toEqual(['development', 'staging', 'production']);
  });
});

describe('atomicity: a refused request stores nothing', () => {
  it('a bulk identify with one invalid item stores none of its users', async () => {
    await identify('bulk-existing', { name: 'Before' });
    const before = await userCount();
    const valid = Array.from({ length: 20 }, (_, i) => ({ id: `atomic-${i}`, name: `User ${i}` }));
    const invalidItems: Array<[Record<string, unknown>, string | RegExp]> = [
      [{ id: 'atomic-bad', name: 123 }, 'users.20.name'], // schema: wrong type
      [{ id: 'x'.repeat(257) }, 'users.20.id'], // schema: id too long
      [{ id: 'atomic-bad', timezone: 'Not/AZone' }, 'users.20.timezone'], // service: timezone
      [{ id: 'atomic-bad', blob: 'x'.repeat(256 * 1024) }, 'users.20.properties'], // service: properties limit
      [{ id: 'atomic-bad', name: 'nul\u0000' }, 'users.20.name'], // unstorable in Postgres
      [{ id: 'atomic-bad', channel_data: { 'not-a-uuid': { tokens: [] } } }, /^users\.20\.channel_data/],
    ];
    for (const [item, field] of invalidItems) {
      // An existing user first (would be changed), 19 new ones, then the invalid item at index 20.
      const users = [{ id: 'bulk-existing', name: 'After' }, ...valid.slice(1), item];
      expectError(await data('POST', '/v1/users/bulk/identify', { users }), 422, field);
    }
    expect(await userCount()).toBe(before);
    for (const { id } of valid.slice(1)) expectError(await data('GET', `/v1/users/${id}`), 404);
    expectError(await data('GET', '/v1/users/atomic-bad'), 404);
    expect(await identify('bulk-existing')).toMatchObject({ name: 'Before' });

    // The same batch without the invalid item is stored whole.
    const ok = await data('POST', '/v1/users/bulk/identify', { users: valid });
    expect(ok.statusCode, ok.body).toBe(200);
    expect(await userCount()).toBe(before + valid.length);
  });

  it('an identify whose inline preferences are invalid stores neither the user nor its channel data', async () => {
    const res = await data('PUT', '/v1/users/inline-bad', {
      name: 'Inline',
      channel_data: { [CHANNEL]: { tokens: ['t'] } },
      preferences: { default: { workflows: { w: 'not-a-setting' } } },
    });
    expectError(res, 422, /^preferences/);
    expectError(await data('GET', '/v1/users/inline-bad'), 404);
  });

  it('refused identifies sent alongside valid ones (group-committed together) fail alone', async () => {
    const bad = [{ name: 1 }, { name: 'nul\u0000' }, { timezone: 'Nope/Nope' }, { blob: 'x'.repeat(256 * 1024) }, { channel_data: { x: { tokens: [] } } }];
    const responses = await Promise.all(
      Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? data('PUT', `/v1/users/together-good-${i}`, { name: `Good ${i}` }) : data('PUT', `/v1/users/together-bad-${i}`, bad[i % bad.length]))),
    );
    responses.forEach((res, i) => {
      if (i % 2 === 0) expect(res.statusCode, res.body).toBe(200);
      else expectError(res, 422);
    });
    for (let i = 0; i < 20; i++) {
      const res = await data('GET', `/v1/users/together-${i % 2 === 0 ? 'good' : 'bad'}-${i}`);
      if (i % 2 === 0) expect(res.json()).toMatchObject({ name: `Good ${i}` });
      else expectError(res, 404);
    }
  });

  it('a bulk delete of a too-long id deletes nothing', async () => {
    await identify('delete-keep');
    expectError(await data('POST', '/v1/users/bulk/delete', { user_ids: ['delete-keep', 'y'.repeat(257)] }), 422, 'user_ids.1');
    expect((await data('GET', '/v1/users/delete-keep')).statusCode).toBe(200);
  });
});

describe('malformed requests below the schemas', () => {
  const raw = (payload: string, contentType = 'application/json', url = '/v1/users/raw-user', method: 'PUT' | 'POST' = 'PUT') =>
    herald.app!.inject({ method, url, headers: { authorization: `Bearer ${sk}`, 'content-type': contentType }, payload });

  it('invalid JSON, prototype poisoning, empty JSON body: 400', async () => {
    expectError(await raw('{"name":'), 400);
    expectError(await raw('{"__proto__":{"admin":true}}'), 400);
    expectError(await raw('{"constructor":{"prototype":{"admin":true}}}'), 400);
    expectError(await raw(''), 400);
    expectError(await data('GET', '/v1/users/raw-user'), 404);
  });

  it('unsupported content types: 415; text bodies: 422', async () => {
    expectError(await raw('name=x', 'application/x-www-form-urlencoded'), 415);
    expectError(await raw('<user/>', 'application/xml'), 415);
    expectError(await raw('{"name":"x"}', 'text/plain'), 422, 'body');
  });

  it('bodies over the 10 MB limit: 413', async () => {
    expectError(await raw(JSON.stringify({ blob: 'x'.repeat(11 * 1024 * 1024) })), 413);
    expectError(await data('GET', '/v1/users/raw-user'), 404);
  });

  it('malformed percent-encoding in the path: 400 in the same shape', async () => {
    expectError(await data('GET', '/v1/users/%E0%A4%A'), 400);
    expectError(await mgmt('GET', '/environments/%ZZ'), 400);
  });

  it('malformed HTTP on a real socket: 400 in the same shape', async () => {
    const { port } = new URL(herald.url);
    const response = await new Promise<string>((resolve, reject) => {
      const socket = net.connect(Number(port), '127.0.0.1', () => {
        socket.write('GET /v1/users HTTP/1.1\r\nHost: x\r\nBad Header: \x01\r\n\r\n');
      });
      let text = '';
      socket.on('data', (chunk) => (text += chunk.toString()));
      socket.on('close', () => resolve(text));
      socket.on('error', reject);
    });
    expect(response).toMatch(/^HTTP\/1\.1 400 /);
    const body = JSON.parse(response.slice(response.indexOf('\r\n\r\n') + 4)) as ErrorBody;
    expect(body).toMatchObject({ code: expect.any(String), message: expect.any(String), status: 400, type: expect.any(String) });
  });
});
