import { generateKeyPairSync } from 'node:crypto';
import KnockMgmt from '@knocklabs/mgmt';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootstrap } from '../../src/bootstrap.ts';
import { ensureDefaultChannels } from '../../src/channels/config/service.ts';
import { loadChannelForSending } from '../../src/channels/config/store.ts';
import { startTestHerald, type TestHerald } from '../support/herald.ts';

/**
 * Channels (engine.md, "Channels and variables per environment"): account-level channels
 * with the same key everywhere, configured per environment; secrets in settings are never
 * returned by any read; every change is audited.
 */

let herald: TestHerald;
let token: string;
/** Every response body seen, searched at the end for secrets. */
const bodies: string[] = [];
const SECRETS = {
  devPassword: 'dev-smtp-password-7f3a91',
  prodPassword: 'prod-smtp-password-c2e8d4',
  twilioToken: 'twilio-auth-token-51b0aa',
  slackToken: 'xoxb-slack-token-9d1e77',
  headerSecret: 'Bearer webhook-secret-0c4f12',
};

async function call(method: string, url: string, body?: unknown, as = token): Promise<LightMyRequestResponse> {
  const res = await herald.request(method, url, { token: as, body });
  bodies.push(res.body);
  return res;
}

const environmentId = async (slug: string) => (await herald.db.selectFrom('environments').select('id').where('slug', '=', slug).executeTakeFirstOrThrow()).id;

const smtp = (host: string, password: string, from: string) => ({ host, port: 587, secure: false, username: 'mailer', password, from_address: from, from_name: 'Herald' });

beforeAll(async () => {
  herald = await startTestHerald();
  token = herald.secrets.service_token;
});
afterAll(async () => herald?.close());

describe('the default in-app feed channel', () => {
  it('exists after start, in every environment, ready (in-app feeds need no settings)', async () => {
    const list = await call('GET', '/mgmt/v1/channels');
    expect(list.statusCode).toBe(200);
    const inApp = list.json().entries.find((c: { key: string }) => c.key === 'in-app-feed');
    expect(inApp).toMatchObject({ key: 'in-app-feed', type: 'in_app_feed', provider: 'herald', archived_at: null });
    for (const slug of ['development', 'production']) {
      const res = await call('GET', `/mgmt/v1/environments/${slug}/channels/in-app-feed`);
      expect(res.statusCode).toBe(200);
      expect(res.json()).toMatchObject({ id: inApp.id, environment: slug, is_valid: true, sandbox_mode: false, configured: false });
      const sending = await loadChannelForSending(herald.db, herald.accountId, await environmentId(slug), 'in-app-feed');
      expect(sending).toEqual({ id: inApp.id, key: 'in-app-feed', type: 'in_app_feed', provider: 'herald', settings: {}, sandbox: false });
    }
  });

  it('is created idempotently on every start, also for a database that lacks it', async () => {
    await ensureDefaultChannels(herald.db, herald.accountId);
    await bootstrap(herald.db, 'owner@herald.local');
    const count = async () => (await herald.db.selectFrom('channels').select('id').where('key', '=', 'in-app-feed').execute()).length;
    expect(await count()).toBe(1);

    // An existing database from before the default channel: the next start creates it.
    const original = await herald.db.selectFrom('channels').selectAll().where('key', '=', 'in-app-feed').executeTakeFirstOrThrow();
    await herald.db.updateTable('channels').set({ key: 'in-app-feed-old' }).where('id', '=', original.id).execute();
    try {
      expect(await count()).toBe(0);
      await bootstrap(herald.db, 'owner@herald.local');
      expect(await count()).toBe(1);
    } finally {
      await herald.db.deleteFrom('channels').where('key', '=', 'in-app-feed').execute();
      await herald.db.updateTable('channels').set({ key: 'in-app-feed' }).where('id', '=', original.id).execute();
    }
  });

  it('serves environments created later', async () => {
    const staging = await call('POST', '/mgmt/v1/environments', { name: 'Staging', slug: 'staging', insert_after: 'development' });
    expect(staging.statusCode).toBe(201);
    const res = await call('GET', '/mgmt/v1/environments/staging/channels/in-app-feed');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ environment: 'staging', is_valid: true });
    expect(await loadChannelForSending(herald.db, herald.accountId, await environmentId('staging'), 'in-app-feed')).toBeDefined();
  });
});

describe('creating channels', () => {
  it('creates a channel that then exists, unconfigured, in every environment (201, audited)', async () => {
    const res = await call('POST', '/mgmt/v1/channels', { key: 'email', name: 'Email', type: 'email', provider: 'smtp', description: 'Transactional email' });
    expect(res.statusCode).toBe(201);
    const channel = res.json();
    expect(channel).toMatchObject({ key: 'email', name: 'Email', type: 'email', provider: 'smtp', description: 'Transactional email', archived_at: null });
    expect(channel.id).toMatch(/^[0-9a-f-]{36}$/);
    for (const slug of ['development', 'staging', 'production']) {
      const env = (await call('GET', `/mgmt/v1/environments/${slug}/channels/email`)).json();
      expect(env).toMatchObject({ id: channel.id, configured: false, is_valid: false, settings: {}, secret_fields: [], updated_at: null });
    }
    const events = (await call('GET', '/mgmt/v1/audit_events?action=channel.created')).json().entries;
    expect(events[0]).toMatchObject({ action: 'channel.created', environment: null, target: { type: 'channel', id: 'email' }, data: { type: 'email', provider: 'smtp' } });
  });

  it('refuses a duplicate key (409), a provider that does not suit the type (422) and an unknown type (422)', async () => {
    expect((await call('POST', '/mgmt/v1/channels', { key: 'email', name: 'Again', type: 'email', provider: 'smtp' })).statusCode).toBe(409);
    const mismatch = await call('POST', '/mgmt/v1/channels', { key: 'texts', name: 'Texts', type: 'sms', provider: 'smtp' });
    expect(mismatch.statusCode).toBe(422);
    expect(mismatch.json().errors[0]).toMatchObject({ field: 'provider' });
    expect(mismatch.json().message).toContain('twilio');
    expect((await call('POST', '/mgmt/v1/channels', { key: 'feed2', name: 'Feed', type: 'in_app_feed', provider: 'slack' })).statusCode).toBe(422);
    expect((await call('POST', '/mgmt/v1/channels', { key: 'fax', name: 'Fax', type: 'fax', provider: 'smtp' })).statusCode).toBe(422);
    expect((await call('POST', '/mgmt/v1/channels', { key: 'Bad Key', name: 'X', type: 'email', provider: 'smtp' })).statusCode).toBe(422);
    expect((await call('GET', '/mgmt/v1/channels')).json().entries.map((c: { key: string }) => c.key)).not.toContain('texts');
  });

  it('accepts each type with its provider', async () => {
    for (const [key, type, provider] of [['sms', 'sms', 'twilio'], ['push', 'push', 'fcm'], ['slack', 'chat', 'slack'], ['hooks', 'http', 'webhook'], ['feed-2', 'in_app_feed', 'herald']]) {
      expect((await call('POST', '/mgmt/v1/channels', { key, name: key, type, provider })).statusCode, key).toBe(201);
    }
  });
});

describe('configuring a channel per environment', () => {
  it("keeps each environment's settings apart: development's SMTP never serves production", async () => {
    const dev = await call('PUT', '/mgmt/v1/environments/development/channels/email', { settings: smtp('smtp.dev.example.com', SECRETS.devPassword, 'dev@example.com'), sandbox_mode: true });
    expect(dev.statusCode).toBe(200);
    expect(dev.json()).toMatchObject({ environment: 'development', configured: true, is_valid: true, sandbox_mode: true, secret_fields: ['password'] });
    expect(dev.json().settings).toMatchObject({ host: 'smtp.dev.example.com', username: 'mailer', from_address: 'dev@example.com' });
    const prod = await call('PUT', '/mgmt/v1/environments/production/channels/email', { settings: smtp('smtp.prod.example.com', SECRETS.prodPassword, 'hello@example.com') });
    expect(prod.statusCode).toBe(200);

    const devRead = (await call('GET', '/mgmt/v1/environments/development/channels/email')).json();
    const prodRead = (await call('GET', '/mgmt/v1/environments/production/channels/email')).json();
    expect(devRead.settings.host).toBe('smtp.dev.example.com');
    expect(devRead.sandbox_mode).toBe(true);
    expect(prodRead.settings.host).toBe('smtp.prod.example.com');
    expect(prodRead.sandbox_mode).toBe(false);
    expect(prodRead.settings.password).not.toBe(SECRETS.prodPassword);
    expect((await call('GET', '/mgmt/v1/environments/staging/channels/email')).json().configured).toBe(false);

    // What the engine sends with: the environment's own settings, secrets included (server side only).
    const devSend = await loadChannelForSending(herald.db, herald.accountId, await environmentId('development'), 'email');
    const prodSend = await loadChannelForSending(herald.db, herald.accountId, await environmentId('production'), 'email');
    expect(devSend).toMatchObject({ type: 'email', provider: 'smtp', sandbox: true, settings: { host: 'smtp.dev.example.com', password: SECRETS.devPassword } });
    expect(prodSend).toMatchObject({ sandbox: false, settings: { host: 'smtp.prod.example.com', password: SECRETS.prodPassword } });
    expect(await loadChannelForSending(herald.db, herald.accountId, await environmentId('development'), 'nope')).toBeUndefined();
  });

  it('checks the settings with the provider: 422 listing every problem, nothing stored', async () => {
    const res = await call('PUT', '/mgmt/v1/environments/development/channels/email', { settings: { port: 'twenty-five', username: 'u' } });
    expect(res.statusCode).toBe(422);
    const fields = res.json().errors.map((e: { field: string }) => e.field).sort();
    expect(fields).toEqual(expect.arrayContaining(['settings.host', 'settings.port', 'settings.from_address', 'settings.password']));
    expect((await call('GET', '/mgmt/v1/environments/development/channels/email')).json().settings.host).toBe('smtp.dev.example.com');
    expect((await call('PUT', '/mgmt/v1/environments/development/channels/email', {})).statusCode).toBe(422);
    expect((await call('PUT', '/mgmt/v1/environments/development/channels/email', { settings: 'smtp://x' })).statusCode).toBe(422);
  });

  it('keeps a secret sent back as the mask, so settings read can be written back', async () => {
    const read = (await call('GET', '/mgmt/v1/environments/development/channels/email')).json();
    const res = await call('PUT', '/mgmt/v1/environments/development/channels/email', { settings: { ...read.settings, from_name: 'Renamed' } });
    expect(res.statusCode).toBe(200);
    const sending = await loadChannelForSending(herald.db, herald.accountId, await environmentId('development'), 'email');
    expect(sending?.settings).toMatchObject({ password: SECRETS.devPassword, from_name: 'Renamed' });
    // A mask where nothing is stored is refused.
    const staging = await call('PUT', '/mgmt/v1/environments/staging/channels/email', { settings: { ...read.settings } });
    expect(staging.statusCode).toBe(422);
    expect(staging.json().errors[0].field).toBe('settings.password');
  });

  it('changes sandbox mode alone, keeping the settings', async () => {
    const res = await call('PUT', '/mgmt/v1/environments/development/channels/email', { sandbox_mode: false });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ sandbox_mode: false, settings: { host: 'smtp.dev.example.com' } });
  });

  it('masks the secrets of every provider (nested ones too) and never returns them', async () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
    const configs: Array<[string, Record<string, unknown>, string[]]> = [
      ['sms', { account_sid: 'AC123', auth_token: SECRETS.twilioToken, from_number: '+15550001111' }, ['auth_token']],
      ['push', { project_id: 'herald-test', service_account: { client_email: 'svc@herald-test.iam.gserviceaccount.com', private_key: privateKey } }, ['service_account.private_key']],
      ['slack', { access_token: SECRETS.slackToken }, ['access_token']],
      ['hooks', { headers: { Authorization: SECRETS.headerSecret, 'X-Trace': 'visible' } }, ['headers.Authorization']],
    ];
    for (const [key, settings, secretFields] of configs) {
      const res = await call('PUT', `/mgmt/v1/environments/production/channels/${key}`, { settings });
      expect(res.statusCode, `${key}: ${res.body}`).toBe(200);
      expect(res.json().secret_fields).toEqual(secretFields);
      expect(res.json().is_valid).toBe(true);
    }
    const push = (await call('GET', '/mgmt/v1/environments/production/channels/push')).json();
    expect(push.settings.service_account.client_email).toBe('svc@herald-test.iam.gserviceaccount.com');
    expect(push.settings.service_account.private_key).not.toContain('PRIVATE KEY');
    const hooks = (await call('GET', '/mgmt/v1/environments/production/channels/hooks')).json();
    expect(hooks.settings.headers['X-Trace']).toBe('visible');

    // Knock's list and get views: environment settings keyed by slug, secrets masked.
    const one = (await call('GET', '/mgmt/v1/channels/email')).json();
    expect(Object.keys(one.environment_settings).sort()).toEqual(['development', 'production', 'staging']);
    expect(one.environment_settings.production).toMatchObject({ is_valid: true, is_sandbox: false, provider_settings: { host: 'smtp.prod.example.com' } });
    expect(one.environment_settings.staging).toMatchObject({ is_valid: false, provider_settings: null });
    const listed = (await call('GET', '/mgmt/v1/channels?include=environment_settings')).json().entries;
    expect(listed.find((c: { key: string }) => c.key === 'push').environment_settings.production.provider_settings.project_id).toBe('herald-test');
    (await call('GET', '/mgmt/v1/audit_events?limit=100')).json();

    const everything = bodies.join('\n') + herald.logs.join('');
    for (const secret of [...Object.values(SECRETS), privateKey.split('\n')[1]]) expect(everything).not.toContain(secret);
  });

  it('masks secrets inside lists too, and restores them by position when sent back masked', async () => {
    const settings = { signers: [{ name: 'a', api_key: 'list-secret-a1' }, { name: 'b', api_key: 'list-secret-b2' }] };
    const put = await call('PUT', '/mgmt/v1/environments/development/channels/hooks', { settings });
    expect(put.statusCode).toBe(200);
    expect(put.json().secret_fields).toEqual(['signers.0.api_key', 'signers.1.api_key']);
    expect(put.body).not.toContain('list-secret');
    const back = await call('PUT', '/mgmt/v1/environments/development/channels/hooks', { settings: put.json().settings });
    expect(back.statusCode).toBe(200);
    const sending = await loadChannelForSending(herald.db, herald.accountId, await environmentId('development'), 'hooks');
    expect(sending?.settings).toEqual(settings);
  });

  it('audits each change with the names of the settings changed, never their values', async () => {
    const events = (await call('GET', '/mgmt/v1/audit_events?action=channel.settings_changed&environment=development')).json().entries;
    expect(events.length).toBeGreaterThanOrEqual(3);
    const first = events[events.length - 1];
    expect(first).toMatchObject({ target: { type: 'channel', id: 'email' }, environment: 'development', data: { provider: 'smtp', sandbox_mode: { before: false, after: true }, configured_before: false } });
    expect(first.data.changed_settings).toEqual(['from_address', 'from_name', 'host', 'password', 'port', 'secure', 'username']);
    const stored = await herald.db.selectFrom('audit_events').select('data').where('action', '=', 'channel.settings_changed').execute();
    const text = JSON.stringify(stored);
    for (const secret of Object.values(SECRETS)) expect(text).not.toContain(secret);
  });

  it('answers 404 for an unknown channel or environment', async () => {
    expect((await call('GET', '/mgmt/v1/environments/development/channels/nope')).statusCode).toBe(404);
    expect((await call('PUT', '/mgmt/v1/environments/development/channels/nope', { sandbox_mode: true })).statusCode).toBe(404);
    expect((await call('GET', '/mgmt/v1/environments/nowhere/channels/email')).statusCode).toBe(404);
    expect((await call('GET', '/mgmt/v1/channels/nope')).statusCode).toBe(404);
  });

  it('shows environment settings only for environments the caller may read', async () => {
    const created = await call('POST', '/mgmt/v1/service_tokens', { name: 'prod reader', role: 'member', environments: ['production'] });
    const limited = created.json().token;
    const one = (await call('GET', '/mgmt/v1/channels/email', undefined, limited)).json();
    expect(Object.keys(one.environment_settings)).toEqual(['production']);
    expect((await call('GET', '/mgmt/v1/environments/development/channels/email', undefined, limited)).statusCode).toBe(403);
    const support = (await call('POST', '/mgmt/v1/service_tokens', { name: 'support', role: 'support' })).json().token;
    expect((await call('GET', '/mgmt/v1/channels/email', undefined, support)).json().environment_settings).toEqual({});
    expect((await call('PUT', '/mgmt/v1/environments/production/channels/email', { sandbox_mode: true }, limited)).statusCode).toBe(403);
  });
});

describe('paging', () => {
  it('pages through channels by key with cursors', async () => {
    const all = (await call('GET', '/mgmt/v1/channels')).json().entries.map((c: { key: string }) => c.key);
    expect(all).toEqual([...all].sort());
    const seen: string[] = [];
    let after: string | null = null;
    do {
      const page: { entries: Array<{ key: string }>; page_info: { after: string | null; page_size: number } } = (await call('GET', `/mgmt/v1/channels?limit=2${after ? `&after=${after}` : ''}`)).json();
      expect(page.entries.length).toBeLessThanOrEqual(2);
      seen.push(...page.entries.map((c) => c.key));
      after = page.page_info.after;
    } while (after);
    expect(seen).toEqual(all);
    const second = (await call('GET', `/mgmt/v1/channels?limit=2&after=${(await call('GET', '/mgmt/v1/channels?limit=2')).json().page_info.after}`)).json();
    const back = (await call('GET', `/mgmt/v1/channels?limit=2&before=${second.page_info.before}`)).json();
    expect(back.entries.map((c: { key: string }) => c.key)).toEqual(all.slice(0, 2));
    const byId = (await call('GET', '/mgmt/v1/channels')).json().entries[0];
    expect((await call('GET', `/mgmt/v1/channels?id=${byId.id}`)).json().entries).toEqual([byId]);
    expect((await call('GET', '/mgmt/v1/channels?include=other')).statusCode).toBe(422);
  });
});

describe('@knocklabs/mgmt against Herald', () => {
  it('channels.list() and channels.retrieve() work, with environment settings masked', async () => {
    const mgmt = new KnockMgmt({ serviceToken: token, baseURL: `${herald.url}/mgmt`, maxRetries: 0 });
    const listed: KnockMgmt.Channel[] = [];
    for await (const channel of mgmt.channels.list({ limit: 2 })) listed.push(channel);
    expect(listed.map((c) => c.key)).toContain('in-app-feed');
    expect(listed.map((c) => c.key)).toContain('email');
    for (const channel of listed) {
      expect(typeof channel.id).toBe('string');
      expect(typeof channel.name).toBe('string');
      expect(channel.created_at).toMatch(/^\d{4}-\d{2}-\d{2}T/);
    }
    const withSettings: KnockMgmt.Channel[] = [];
    for await (const channel of mgmt.channels.list({ include: ['environment_settings'] })) withSettings.push(channel);
    expect(withSettings.find((c) => c.key === 'email')?.environment_settings?.development?.is_sandbox).toBe(false);
    const email = await mgmt.channels.retrieve('email');
    expect(email.environment_settings?.production?.provider_settings).toMatchObject({ host: 'smtp.prod.example.com' });
    expect(JSON.stringify(email)).not.toContain(SECRETS.prodPassword);
  });
});
