import KnockMgmt from '@knocklabs/mgmt';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadPublicVariables, loadVariables } from '../../src/variables/store.ts';
import { startTestHerald, type TestHerald } from '../support/herald.ts';

/**
 * Variables (engine.md, "Channels and variables per environment"; concepts_variables):
 * account-wide keys with per-environment values; secret values are never returned by any
 * read endpoint; every change is audited without values.
 */

let herald: TestHerald;
let token: string;
const bodies: string[] = [];
const DEV_SECRET = 'dev-api-secret-4c1d9e';
const PROD_SECRET = 'prod-api-secret-8b7a22';

async function call(method: string, url: string, body?: unknown, as = token): Promise<LightMyRequestResponse> {
  const res = await herald.request(method, url, { token: as, body });
  bodies.push(res.body);
  return res;
}

const environmentId = async (slug: string) => (await herald.db.selectFrom('environments').select('id').where('slug', '=', slug).executeTakeFirstOrThrow()).id;

beforeAll(async () => {
  herald = await startTestHerald();
  token = herald.secrets.service_token;
});
afterAll(async () => herald?.close());

describe('variables', () => {
  it('creates a public variable with per-environment values', async () => {
    const res = await call('PUT', '/mgmt/v1/variables/app_url', { description: 'Where the app lives', values: { development: 'http://localhost:3000', production: 'https://app.example.com' } });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({
      key: 'app_url',
      type: 'public',
      description: 'Where the app lives',
      value: null,
      environment_values: { development: 'http://localhost:3000', production: 'https://app.example.com' },
    });
    const dev = (await call('GET', '/mgmt/v1/variables/app_url?environment=development')).json();
    expect(dev).toMatchObject({ key: 'app_url', value: 'http://localhost:3000' });
    expect(dev.environment_values).toBeUndefined();
    expect((await call('GET', '/mgmt/v1/variables?environment=production')).json().entries).toEqual([
      expect.objectContaining({ key: 'app_url', value: 'https://app.example.com' }),
    ]);
  });

  it('never returns a secret value, in any read', async () => {
    const res = await call('PUT', '/mgmt/v1/variables/api_secret', { type: 'secret', values: { development: DEV_SECRET, production: PROD_SECRET } });
    expect(res.statusCode).toBe(200);
    expect(res.json().type).toBe('secret');
    expect(res.json().environment_values.development).toEqual(expect.any(String));
    const scoped = (await call('GET', '/mgmt/v1/variables/api_secret?environment=production')).json();
    expect(scoped.value).toEqual(expect.any(String));
    expect(scoped.value).not.toBe(PROD_SECRET);
    await call('GET', '/mgmt/v1/variables');
    await call('GET', '/mgmt/v1/variables?environment=development&type=secret');
    await call('GET', '/mgmt/v1/variables/api_secret');
    await call('GET', '/mgmt/v1/audit_events?limit=100');
    const everything = bodies.join('\n');
    expect(everything).not.toContain(DEV_SECRET);
    expect(everything).not.toContain(PROD_SECRET);
  });

  it('gives the engine every value of the environment, secrets included (and the feed only public ones)', async () => {
    const dev = await environmentId('development');
    const prod = await environmentId('production');
    expect(await loadVariables(herald.db, herald.accountId, dev)).toEqual({ app_url: 'http://localhost:3000', api_secret: DEV_SECRET });
    expect(await loadVariables(herald.db, herald.accountId, prod)).toEqual({ app_url: 'https://app.example.com', api_secret: PROD_SECRET });
    expect(await loadPublicVariables(herald.db, herald.accountId, prod)).toEqual({ app_url: 'https://app.example.com' });
  });

  it('changes values per environment: null removes one, environments not named keep theirs', async () => {
    const res = await call('PUT', '/mgmt/v1/variables/app_url', { values: { development: null } });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ type: 'public', description: 'Where the app lives', environment_values: { development: null, production: 'https://app.example.com' } });
    expect((await call('GET', '/mgmt/v1/variables/app_url?environment=development')).json().value).toBeNull();
    expect(await loadVariables(herald.db, herald.accountId, await environmentId('development'))).toEqual({ api_secret: DEV_SECRET });
  });

  it('filters by type and pages by key', async () => {
    for (const key of ['a_one', 'b_two', 'c_three']) expect((await call('PUT', `/mgmt/v1/variables/${key}`, { values: { development: key } })).statusCode).toBe(200);
    expect((await call('GET', '/mgmt/v1/variables?environment=development&type=secret')).json().entries.map((v: { key: string }) => v.key)).toEqual(['api_secret']);
    const all = (await call('GET', '/mgmt/v1/variables?environment=development')).json().entries.map((v: { key: string }) => v.key);
    expect(all).toEqual(['a_one', 'api_secret', 'app_url', 'b_two', 'c_three']);
    const first = (await call('GET', '/mgmt/v1/variables?environment=development&limit=2')).json();
    expect(first.entries.map((v: { key: string }) => v.key)).toEqual(['a_one', 'api_secret']);
    const second = (await call('GET', `/mgmt/v1/variables?environment=development&limit=2&after=${first.page_info.after}`)).json();
    expect(second.entries.map((v: { key: string }) => v.key)).toEqual(['app_url', 'b_two']);
    const back = (await call('GET', `/mgmt/v1/variables?environment=development&limit=2&before=${second.page_info.before}`)).json();
    expect(back.entries.map((v: { key: string }) => v.key)).toEqual(['a_one', 'api_secret']);
  });

  it('refuses bad input: unknown environments, bad keys, values outside the environment named', async () => {
    const unknown = await call('PUT', '/mgmt/v1/variables/x_var', { values: { nowhere: 'x' } });
    expect(unknown.statusCode).toBe(422);
    expect(unknown.json().errors[0].field).toBe('values.nowhere');
    expect((await call('PUT', '/mgmt/v1/variables/not-a-liquid-name', { values: {} })).statusCode).toBe(422);
    expect((await call('PUT', '/mgmt/v1/variables/x_var', { type: 'hidden' })).statusCode).toBe(422);
    expect((await call('PUT', '/mgmt/v1/variables/x_var', { values: { development: 42 } })).statusCode).toBe(422);
    const outside = await call('PUT', '/mgmt/v1/variables/app_url?environment=development', { values: { production: 'x' } });
    expect(outside.statusCode).toBe(422);
    expect(outside.json().errors[0].field).toBe('values.production');
    // Type and description apply in every environment: not through one environment.
    const typeChange = await call('PUT', '/mgmt/v1/variables/app_url?environment=development', { type: 'secret' });
    expect(typeChange.statusCode).toBe(422);
    expect(typeChange.json().errors[0].field).toBe('type');
    expect((await call('PUT', '/mgmt/v1/variables/app_url?environment=development', { type: 'public', values: { development: 'http://dev' } })).statusCode).toBe(200);
    expect((await call('GET', '/mgmt/v1/variables/x_var')).statusCode).toBe(404);
    expect((await call('GET', '/mgmt/v1/variables?environment=nowhere')).statusCode).toBe(404);
  });

  it('deletes one environment\'s value, or the whole variable', async () => {
    expect((await call('DELETE', '/mgmt/v1/variables/api_secret?environment=development')).statusCode).toBe(204);
    expect((await call('GET', '/mgmt/v1/variables/api_secret')).json().environment_values).toMatchObject({ development: null, production: expect.any(String) });
    expect(await loadVariables(herald.db, herald.accountId, await environmentId('production'))).toMatchObject({ api_secret: PROD_SECRET });
    expect((await call('DELETE', '/mgmt/v1/variables/api_secret')).statusCode).toBe(204);
    expect((await call('GET', '/mgmt/v1/variables/api_secret')).statusCode).toBe(404);
    expect((await call('DELETE', '/mgmt/v1/variables/api_secret')).statusCode).toBe(404);
    expect(await loadVariables(herald.db, herald.accountId, await environmentId('production'))).not.toHaveProperty('api_secret');
  });

  it('audits every change without values', async () => {
    const events = (await call('GET', '/mgmt/v1/audit_events?action=variable.created,variable.updated,variable.deleted&limit=100')).json().entries.reverse();
    const secretEvents = events.filter((e: { target: { id: string } }) => e.target.id === 'api_secret');
    expect(secretEvents.map((e: { action: string; environment: string | null }) => [e.action, e.environment])).toEqual([
      ['variable.created', null],
      ['variable.updated', 'development'],
      ['variable.deleted', null],
    ]);
    expect(secretEvents[0].data).toMatchObject({ type: 'secret', values_set: ['development', 'production'] });
    const appUrl = events.filter((e: { target: { id: string } }) => e.target.id === 'app_url');
    expect(appUrl[1].data).toMatchObject({ values_removed: ['development'] });
    const stored = JSON.stringify(await herald.db.selectFrom('audit_events').select('data').execute());
    expect(stored).not.toContain(DEV_SECRET);
    expect(stored).not.toContain(PROD_SECRET);
    expect(stored).not.toContain('https://app.example.com');
  });

  it('an environment-limited token must name its environment', async () => {
    const limited = (await call('POST', '/mgmt/v1/service_tokens', { name: 'dev admin', role: 'admin', environments: ['development'] })).json().token;
    expect((await call('GET', '/mgmt/v1/variables', undefined, limited)).statusCode).toBe(403);
    expect((await call('GET', '/mgmt/v1/variables?environment=development', undefined, limited)).statusCode).toBe(200);
    expect((await call('PUT', '/mgmt/v1/variables/dev_only?environment=development', { values: { development: 'x' } }, limited)).statusCode).toBe(200);
    expect((await call('PUT', '/mgmt/v1/variables/dev_only?environment=production', { values: { production: 'x' } }, limited)).statusCode).toBe(403);
    expect((await call('DELETE', '/mgmt/v1/variables/dev_only', undefined, limited)).statusCode).toBe(403);
    const member = (await call('POST', '/mgmt/v1/service_tokens', { name: 'member', role: 'member' })).json().token;
    expect((await call('GET', '/mgmt/v1/variables?environment=development', undefined, member)).statusCode).toBe(200);
    expect((await call('PUT', '/mgmt/v1/variables/nope?environment=development', { values: {} }, member)).statusCode).toBe(403);
  });

  it('@knocklabs/mgmt variables.list() and variables.retrieve() work against Herald', async () => {
    await call('PUT', '/mgmt/v1/variables/sdk_secret', { type: 'secret', values: { development: DEV_SECRET } });
    const mgmt = new KnockMgmt({ serviceToken: token, baseURL: `${herald.url}/mgmt`, maxRetries: 0 });
    const listed: KnockMgmt.Variable[] = [];
    for await (const variable of mgmt.variables.list({ environment: 'development', limit: 2 })) listed.push(variable);
    expect(listed.map((v) => v.key)).toEqual(['a_one', 'app_url', 'b_two', 'c_three', 'dev_only', 'sdk_secret']);
    expect(listed.find((v) => v.key === 'app_url')?.value).toBe('http://dev');
    const secret = await mgmt.variables.retrieve('sdk_secret');
    expect(secret).toMatchObject({ key: 'sdk_secret', type: 'secret' });
    expect(JSON.stringify([listed, secret])).not.toContain(DEV_SECRET);
  });
});
