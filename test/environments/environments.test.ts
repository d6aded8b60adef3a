import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { startHerald } from '../../src/main.ts';
import { startTestHerald, type TestHerald } from '../support/herald.ts';

let herald: TestHerald;
let token: string;

beforeAll(async () => {
  herald = await startTestHerald();
  token = herald.secrets.service_token;
});
afterAll(async () => herald?.close());

async function slugs(): Promise<string[]> {
  const res = await herald.request('GET', '/mgmt/v1/environments', { token });
  expect(res.statusCode).toBe(200);
  return res.json().entries.map((e: { slug: string }) => e.slug);
}

describe('environments', () => {
  it('start as development (first, order 0) and production (last), both owned by the system', async () => {
    const res = await herald.request('GET', '/mgmt/v1/environments', { token });
    const { entries, page_info } = res.json();
    expect(entries.map((e: { slug: string; order: number; owner: string }) => [e.slug, e.order, e.owner])).toEqual([
      ['development', 0, 'system'],
      ['production', 1, 'system'],
    ]);
    expect(page_info).toMatchObject({ after: null, before: null });
  });

  it('production hides PII and message content by default; development does not', async () => {
    const prod = (await herald.request('GET', '/mgmt/v1/environments/production', { token })).json();
    const dev = (await herald.request('GET', '/mgmt/v1/environments/development', { token })).json();
    expect([prod.hide_pii_data, prod.hide_message_content]).toEqual([true, true]);
    expect([dev.hide_pii_data, dev.hide_message_content]).toEqual([false, false]);
  });

  it('inserts new environments after the one named, moving later ones down, never reordering', async () => {
    const staging = await herald.request('POST', '/mgmt/v1/environments', { token, body: { name: 'Staging', slug: 'staging', insert_after: 'development' } });
    expect(staging.statusCode).toBe(201);
    expect(staging.json()).toMatchObject({ slug: 'staging', name: 'Staging', owner: 'user', order: 1, hide_pii_data: false, hide_message_content: false });
    const qa = await herald.request('POST', '/mgmt/v1/environments', { token, body: { name: 'QA', slug: 'qa', insert_after: 'development' } });
    expect(qa.statusCode).toBe(201);
    // Without insert_after, a new environment goes directly below production.
    const uat = await herald.request('POST', '/mgmt/v1/environments', { token, body: { name: 'UAT', slug: 'uat' } });
    expect(uat.statusCode).toBe(201);
    expect(await slugs()).toEqual(['development', 'qa', 'staging', 'uat', 'production']);
    const orders = (await herald.request('GET', '/mgmt/v1/environments', { token })).json().entries.map((e: { order: number }) => e.order);
    expect(orders).toEqual([0, 1, 2, 3, 4]);
  });

  it('refuses to place an environment below production', async () => {
    const res = await herald.request('POST', '/mgmt/v1/environments', { token, body: { name: 'Late', slug: 'late', insert_after: 'production' } });
    expect(res.statusCode).toBe(422);
    expect(res.json().errors[0].field).toBe('insert_after');
    expect(await slugs()).not.toContain('late');
  });

  it('refuses a duplicate slug with 409', async () => {
    const res = await herald.request('POST', '/mgmt/v1/environments', { token, body: { name: 'Again', slug: 'staging' } });
    expect(res.statusCode).toBe(409);
  });

  it('a new environment comes with a working key pair that sees none of the others\' data', async () => {
    const created = await herald.request('POST', '/mgmt/v1/environments', { token, body: { name: 'Preview', slug: 'preview', insert_after: 'development' } });
    const keys = created.json().api_keys as Array<{ kind: string; key: string }>;
    expect(keys.map((k) => k.kind).sort()).toEqual(['public', 'secret']);
    const secret = keys.find((k) => k.kind === 'secret')!.key;
    expect(secret.startsWith('sk_preview_')).toBe(true);
    await herald.request('PUT', '/v1/users/shared-id', { token: herald.secrets.environments.development.secret_key, body: { name: 'dev only' } });
    expect((await herald.request('GET', '/v1/users/shared-id', { token: secret })).statusCode).toBe(404);
    expect((await herald.request('GET', '/v1/users', { token: secret })).json().entries).toEqual([]);
  });

  it('PATCH changes name, colour and data controls', async () => {
    const res = await herald.request('PATCH', '/mgmt/v1/environments/production', { token, body: { name: 'Prod', label_color: '#000000', hide_pii_data: false } });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ slug: 'production', name: 'Prod', label_color: '#000000', hide_pii_data: false, hide_message_content: true });
    expect((await herald.request('GET', '/mgmt/v1/environments/production', { token })).json().name).toBe('Prod');
  });

  it('PATCH rejects unknown settings with 422 and unknown environments with 404', async () => {
    expect((await herald.request('PATCH', '/mgmt/v1/environments/production', { token, body: { slug: 'prod' } })).statusCode).toBe(422);
    expect((await herald.request('PATCH', '/mgmt/v1/environments/nope', { token, body: { name: 'x' } })).statusCode).toBe(404);
  });
});

describe('API keys', () => {
  it('lists keys by prefix only, never the secret', async () => {
    const res = await herald.request('GET', '/mgmt/v1/environments/development/api_keys', { token });
    expect(res.statusCode).toBe(200);
    const body = res.body;
    expect(body).not.toContain(herald.secrets.environments.development.secret_key);
    expect(body).not.toContain(herald.secrets.environments.development.public_key);
    const entries = res.json().entries as Array<{ kind: string; prefix: string; key?: string }>;
    expect(entries.map((e) => e.kind).sort()).toEqual(['public', 'secret']);
    expect(entries.every((e) => e.key === undefined)).toBe(true);
    expect(entries.find((e) => e.kind === 'secret')!.prefix.startsWith('sk_development_')).toBe(true);
  });

  it('stores keys only as SHA-256 hashes', async () => {
    const rows = await herald.db.selectFrom('api_keys').select(['key_hash', 'key_prefix']).execute();
    for (const row of rows) expect(row.key_hash.length).toBe(32);
    const stored = JSON.stringify(rows.map((r) => [r.key_hash.toString('hex'), r.key_prefix]));
    expect(stored).not.toContain(herald.secrets.environments.development.secret_key);
  });

  it('creates a new pair shown once, and a revoked key is refused (401) on its next request', async () => {
    const created = await herald.request('POST', '/mgmt/v1/environments/development/api_keys', { token, body: { name: 'ci' } });
    expect(created.statusCode).toBe(201);
    const secret = created.json().entries.find((e: { kind: string }) => e.kind === 'secret');
    expect((await herald.request('GET', '/v1/users', { token: secret.key })).statusCode).toBe(200);

    const revoked = await herald.request('DELETE', `/mgmt/v1/environments/development/api_keys/${secret.id}`, { token });
    expect(revoked.statusCode).toBe(200);
    expect(revoked.json().revoked_at).not.toBeNull();
    const after = await herald.request('GET', '/v1/users', { token: secret.key });
    expect(after.statusCode).toBe(401);
    expect(after.json()).toMatchObject({ status: 401, code: 'authentication_error' });
    // The other keys keep working.
    expect((await herald.request('GET', '/v1/users', { token: herald.secrets.environments.development.secret_key })).statusCode).toBe(200);
  });

  it('a revocation reaches other Herald processes (cached keys are invalidated by NOTIFY)', async () => {
    const other = await startHerald(loadConfig({ DATABASE_URL: herald.databaseUrl, PORT: '0' }), { print: () => {}, logLevel: 'warn' });
    try {
      const created = await herald.request('POST', '/mgmt/v1/environments/development/api_keys', { token, body: { kind: 'secret' } });
      const [key] = created.json().entries;
      const viaOther = () => other.app!.inject({ method: 'GET', url: '/v1/users', headers: { authorization: `Bearer ${key.key}` } });
      expect((await viaOther()).statusCode).toBe(200); // now cached in the other process
      await herald.request('DELETE', `/mgmt/v1/environments/development/api_keys/${key.id}`, { token });
      const deadline = Date.now() + 5_000;
      let status = (await viaOther()).statusCode;
      while (status !== 401 && Date.now() < deadline) {
        await new Promise((resolve) => setImmediate(resolve));
        status = (await viaOther()).statusCode;
      }
      expect(status).toBe(401);
    } finally {
      await other.close();
    }
  });

  it('a key cannot be revoked through another environment', async () => {
    const list = (await herald.request('GET', '/mgmt/v1/environments/development/api_keys', { token })).json().entries;
    const res = await herald.request('DELETE', `/mgmt/v1/environments/production/api_keys/${list[0].id}`, { token });
    expect(res.statusCode).toBe(404);
  });
});

describe('management API auth', () => {
  it('whoami names the account and the token', async () => {
    const res = await herald.request('GET', '/mgmt/v1/whoami', { token });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ account_slug: 'herald', type: 'service_token', user_email: 'owner@herald.local' });
  });

  it('refuses a missing or unknown service token with 401, and data API keys too', async () => {
    expect((await herald.request('GET', '/mgmt/v1/environments')).statusCode).toBe(401);
    expect((await herald.request('GET', '/mgmt/v1/environments', { token: 'hst_nope' })).statusCode).toBe(401);
    expect((await herald.request('GET', '/mgmt/v1/environments', { token: herald.secrets.environments.development.secret_key })).statusCode).toBe(401);
  });
});
