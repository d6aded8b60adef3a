import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import pg from 'pg';
import { inject } from 'vitest';
import type { LightMyRequestResponse } from 'fastify';
import { loadConfig } from '../../src/config.ts';
import { startHerald, type Herald } from '../../src/main.ts';
import type { BootstrapSecrets } from '../../src/bootstrap.ts';

function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

/** Creates a fresh database for one test file from the migrated template. */
export async function createTestDatabase(): Promise<string> {
  const serverUrl = inject('serverUrl');
  const name = `herald_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name} TEMPLATE ${inject('templateDatabase')}`);
  } finally {
    await admin.end();
  }
  return withDatabase(serverUrl, name);
}

export interface TestHerald extends Herald {
  url: string;
  secrets: BootstrapSecrets;
  databaseUrl: string;
  /** Every log line written so far. */
  logs: string[];
  /** An HTTP request through Fastify's inject (no socket). */
  request(method: string, path: string, options?: { token?: string; body?: unknown; headers?: Record<string, string> }): Promise<LightMyRequestResponse>;
}

/** Starts a Herald on its own fresh database, listening on a free port; rate limits are off unless `env` sets HERALD_RATE_LIMITS. */
export async function startTestHerald(env: Record<string, string> = {}): Promise<TestHerald> {
  const databaseUrl = await createTestDatabase();
  const logs: string[] = [];
  const logStream = new Writable({
    write(chunk, _encoding, done) {
      logs.push(String(chunk));
      done();
    },
  });
  const config = loadConfig({ DATABASE_URL: databaseUrl, PORT: '0', HERALD_DB_POOL_SIZE: '5', HERALD_RATE_LIMITS: 'off', ...env });
  const herald = await startHerald(config, { logStream, print: () => {} });
  if (!herald.secrets || !herald.url) throw new Error('test Herald did not bootstrap');
  return {
    ...herald,
    url: herald.url,
    secrets: herald.secrets,
    databaseUrl,
    logs,
    request(method, path, options = {}) {
      const headers: Record<string, string> = { ...(options.headers ?? {}) };
      if (options.token) headers.authorization = `Bearer ${options.token}`;
      return herald.app!.inject({
        method: method as 'GET',
        url: path,
        headers,
        ...(options.body === undefined ? {} : { payload: options.body as object }),
      });
    },
  };
}
