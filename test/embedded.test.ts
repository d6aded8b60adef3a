import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.ts';
import { startHerald } from '../src/main.ts';

const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

describe('embedded PostgreSQL (no DATABASE_URL)', () => {
  it('starts on an embedded database in HERALD_DATA_DIR and keeps data across restarts', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'herald-embedded-'));
    await chmod(dir, 0o755);
    dirs.push(dir);
    const config = loadConfig({ HERALD_DATA_DIR: path.join(dir, 'data'), PORT: '0' });

    const first = await startHerald(config, { print: () => {}, logLevel: 'warn' });
    expect((await fetch(`${first.url}/readyz`)).status).toBe(200);
    const key = first.secrets!.environments.development.secret_key;
    const put = await fetch(`${first.url}/v1/users/persisted`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Still here' }),
    });
    expect(put.status).toBe(200);
    await first.close();

    const second = await startHerald(config, { print: () => {}, logLevel: 'warn' });
    expect(second.secrets).toBeUndefined();
    const got = await fetch(`${second.url}/v1/users/persisted`, { headers: { authorization: `Bearer ${key}` } });
    expect(got.status).toBe(200);
    expect(((await got.json()) as { name: string }).name).toBe('Still here');
    await second.close();
  });
});
