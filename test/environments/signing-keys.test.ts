import { signUserToken } from '@knocklabs/node';
import { importSPKI, jwtVerify } from 'jose';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { activeSigningKeys } from '../../src/environments/signing-keys.ts';
import { startTestHerald, type TestHerald } from '../support/herald.ts';

/**
 * Signing keys (enhanced security mode): RS256 key pairs per environment. Herald stores
 * only the public key; the private key is answered once, and signs user tokens with the
 * Knock SDK's `signUserToken`.
 */

let herald: TestHerald;
let token: string;
const bodies: string[] = [];

async function call(method: string, url: string, as = token): Promise<LightMyRequestResponse> {
  const res = await herald.request(method, url, { token: as });
  bodies.push(res.body);
  return res;
}

const environmentId = async (slug: string) => (await herald.db.selectFrom('environments').select('id').where('slug', '=', slug).executeTakeFirstOrThrow()).id;

/** The subject of a user token if one of the environment's active keys verifies it. */
async function verifiedSubject(environmentSlug: string, jwt: string): Promise<string | undefined> {
  for (const key of await activeSigningKeys(herald.db, await environmentId(environmentSlug))) {
    try {
      const { payload } = await jwtVerify(jwt, await importSPKI(key.publicKeyPem, 'RS256'), { algorithms: ['RS256'] });
      return payload.sub;
    } catch {
      // Not this key.
    }
  }
  return undefined;
}

beforeAll(async () => {
  herald = await startTestHerald();
  token = herald.secrets.service_token;
});
afterAll(async () => herald?.close());

describe('signing keys', () => {
  let created: { id: string; public_key: string; private_key: string; private_key_base64: string; fingerprint: string; created_at: string; revoked_at: null };

  it('creates an RS256 key pair, answering the private key once (PEM and base64)', async () => {
    const res = await call('POST', '/mgmt/v1/environments/development/signing_keys');
    expect(res.statusCode).toBe(201);
    created = res.json();
    expect(created).toMatchObject({ id: expect.any(String), fingerprint: expect.stringMatching(/^SHA256:/), revoked_at: null });
    expect(created.public_key).toMatch(/^-----BEGIN PUBLIC KEY-----\n/);
    expect(created.private_key).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    expect(Buffer.from(created.private_key_base64, 'base64').toString()).toBe(created.private_key);
    expect(created.private_key_base64.startsWith('LS0tLS1CRUdJTi')).toBe(true);
  });

  it('stores and lists only the public key', async () => {
    const list = await call('GET', '/mgmt/v1/environments/development/signing_keys');
    expect(list.statusCode).toBe(200);
    expect(list.json().entries).toEqual([{ id: created.id, fingerprint: created.fingerprint, public_key: created.public_key, created_at: created.created_at, revoked_at: null }]);
    const privateBody = created.private_key.split('\n').slice(1, -2).join('');
    expect(list.body).not.toContain(created.private_key.split('\n')[1]);
    const stored = JSON.stringify(await herald.db.selectFrom('signing_keys').selectAll().execute());
    expect(stored).not.toContain(created.private_key.split('\n')[1]);
    expect(stored).not.toContain(privateBody.slice(0, 64));
    expect(stored).not.toContain(created.private_key_base64.slice(0, 64));
    // Keys belong to their environment.
    expect((await call('GET', '/mgmt/v1/environments/production/signing_keys')).json().entries).toEqual([]);
  });

  it('verifies user tokens signed with the Knock SDK, with either form of the private key', async () => {
    const pem = await signUserToken('user-1', { signingKey: created.private_key });
    const base64 = await signUserToken('user-2', { signingKey: created.private_key_base64 });
    expect(await verifiedSubject('development', pem)).toBe('user-1');
    expect(await verifiedSubject('development', base64)).toBe('user-2');
    // Another environment's keys do not verify it.
    expect(await verifiedSubject('production', pem)).toBeUndefined();
  });

  it('revokes a key: its tokens are no longer verified; revoking again changes nothing', async () => {
    const jwt = await signUserToken('user-1', { signingKey: created.private_key });
    const second = (await call('POST', '/mgmt/v1/environments/development/signing_keys')).json();
    expect((await activeSigningKeys(herald.db, await environmentId('development'))).map((k) => k.id)).toEqual([second.id, created.id]);

    const revoked = await call('DELETE', `/mgmt/v1/environments/development/signing_keys/${created.id}`);
    expect(revoked.statusCode).toBe(200);
    expect(revoked.json().revoked_at).toEqual(expect.any(String));
    expect(await verifiedSubject('development', jwt)).toBeUndefined();
    expect(await verifiedSubject('development', await signUserToken('user-3', { signingKey: second.private_key }))).toBe('user-3');
    expect((await call('DELETE', `/mgmt/v1/environments/development/signing_keys/${created.id}`)).json().revoked_at).toBe(revoked.json().revoked_at);

    // A key is revoked only through its own environment.
    expect((await call('DELETE', `/mgmt/v1/environments/production/signing_keys/${second.id}`)).statusCode).toBe(404);
    expect((await call('DELETE', '/mgmt/v1/environments/development/signing_keys/00000000-0000-4000-8000-000000000000')).statusCode).toBe(404);
    expect((await call('DELETE', '/mgmt/v1/environments/development/signing_keys/not-a-uuid')).statusCode).toBe(422);
    expect((await call('POST', '/mgmt/v1/environments/nowhere/signing_keys')).statusCode).toBe(404);
  });

  it('audits creation and revocation once each, never with the private key', async () => {
    const events = (await call('GET', '/mgmt/v1/audit_events?action=signing_key.created,signing_key.revoked')).json().entries.reverse();
    expect(events.map((e: { action: string; environment: string; target: { id: string } }) => [e.action, e.environment, e.target.id])).toEqual([
      ['signing_key.created', 'development', created.id],
      ['signing_key.created', 'development', expect.any(String)],
      ['signing_key.revoked', 'development', created.id],
    ]);
    expect(events[0].data).toEqual({ fingerprint: created.fingerprint });
  });

  it('returns private keys in no other response', () => {
    const others = bodies.filter((body) => !body.includes('"private_key"'));
    expect(others.join('\n')).not.toContain('PRIVATE KEY');
  });

  it('lets members read keys but only owners and admins create or revoke them', async () => {
    const memberToken = (await herald.request('POST', '/mgmt/v1/service_tokens', { token, body: { name: 'member', role: 'member' } })).json().token;
    expect((await call('GET', '/mgmt/v1/environments/development/signing_keys', memberToken)).statusCode).toBe(200);
    const denied = await call('POST', '/mgmt/v1/environments/development/signing_keys', memberToken);
    expect(denied.statusCode).toBe(403);
    expect(denied.json().message).toContain('secrets.manage');
  });
});
