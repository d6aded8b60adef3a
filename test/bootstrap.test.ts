import { mkdtemp, readFile, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { verify } from '@node-rs/argon2';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.ts';
import { startHerald } from '../src/main.ts';
import { createTestDatabase } from './support/herald.ts';

describe('first start (bootstrap)', () => {
  it('creates account, environments, owner, service token and key pairs once, and writes the JSON file (0600)', async () => {
    const databaseUrl = await createTestDatabase();
    const dir = await mkdtemp(path.join(os.tmpdir(), 'herald-bootstrap-'));
    const file = path.join(dir, 'bootstrap.json');
    const printed: string[] = [];
    const config = loadConfig({ DATABASE_URL: databaseUrl, PORT: '0', HERALD_OWNER_EMAIL: 'ops@example.com' }, { bootstrapJson: file });

    const first = await startHerald(config, { print: (text) => printed.push(text), logLevel: 'warn' });
    const json = JSON.parse(await readFile(file, 'utf8'));
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(Object.keys(json).sort()).toEqual(['environments', 'owner', 'service_token']);
    expect(Object.keys(json.owner).sort()).toEqual(['email', 'password']);
    expect(json.owner.email).toBe('ops@example.com');
    expect(Object.keys(json.environments)).toEqual(['development', 'production']);
    for (const slug of ['development', 'production']) {
      expect(Object.keys(json.environments[slug]).sort()).toEqual(['public_key', 'secret_key']);
      expect(json.environments[slug].public_key.startsWith(`pk_${slug}_`)).toBe(true);
      expect(json.environments[slug].secret_key.startsWith(`sk_${slug}_`)).toBe(true);
    }
    expect(printed.join('')).toContain(json.service_token);
    expect(printed.join('')).toContain(json.environments.production.secret_key);

    // The owner password is stored as an argon2id hash, the token only as a SHA-256 hash.
    const owner = await first.db.selectFrom('members').selectAll().executeTakeFirstOrThrow();
    expect(owner.role).toBe('owner');
    expect(owner.password_hash?.startsWith('$argon2id$')).toBe(true);
    expect(await verify(owner.password_hash!, json.owner.password)).toBe(true);
    const tokens = await first.db.selectFrom('service_tokens').select(['token_hash', 'role']).execute();
    expect(tokens).toHaveLength(1);
    expect(tokens[0].role).toBe('owner');
    expect(tokens[0].token_hash.toString('hex')).not.toContain(json.service_token);

    // The printed keys work against their own environment.
    const res = await first.app!.inject({ method: 'GET', url: '/v1/users', headers: { authorization: `Bearer ${json.environments.production.secret_key}` } });
    expect(res.statusCode).toBe(200);
    await first.close();

    // A later start neither prints nor rewrites secrets.
    const before = await readFile(file, 'utf8');
    const printedAgain: string[] = [];
    const second = await startHerald(config, { print: (text) => printedAgain.push(text), logLevel: 'warn' });
    expect(second.secrets).toBeUndefined();
    expect(printedAgain).toEqual([]);
    expect(await readFile(file, 'utf8')).toBe(before);
    expect(await second.db.selectFrom('accounts').select('id').execute()).toHaveLength(1);
    expect(await second.db.selectFrom('environments').select('id').execute()).toHaveLength(2);
    await second.close();
  });

  it('two processes starting at once on an empty database bootstrap exactly one account', async () => {
    const databaseUrl = await createTestDatabase();
    const config = loadConfig({ DATABASE_URL: databaseUrl, PORT: '0' });
    const [a, b] = await Promise.all([
      startHerald(config, { print: () => {}, logLevel: 'warn' }),
      startHerald(config, { print: () => {}, logLevel: 'warn' }),
    ]);
    expect([a.secrets, b.secrets].filter(Boolean)).toHaveLength(1);
    expect(a.accountId).toBe(b.accountId);
    expect(await a.db.selectFrom('environments').select('slug').execute()).toHaveLength(2);
    await Promise.all([a.close(), b.close()]);
  });
});
