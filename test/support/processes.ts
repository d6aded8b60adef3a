/**
 * Herald as real child processes (`herald serve`) on a test database, for tests that
 * kill them (SIGKILL) and start them again. Every child is tracked, so `stopAllHeralds`
 * leaves none behind whatever the test did.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type pg from 'pg';
import { freePort } from '../../src/db/embedded.ts';
import type { BootstrapSecrets } from '../../src/bootstrap.ts';

const children = new Set<ChildProcess>();

export interface HeraldProcess {
  role: 'all' | 'api' | 'worker';
  child: ChildProcess;
  pid: number;
  /** Base URL of the HTTP server (roles `all` and `api`). */
  url?: string;
  /** Everything the process printed. */
  output: string[];
  /** How long it took to be ready, and the CPU time it used until then (seconds; 0 where /proc is missing). */
  startup: { ms: number; cpuSeconds: number };
  /** Resolves once the process has exited. */
  exited: Promise<void>;
  hasExited(): boolean;
}

export interface StartOptions {
  databaseUrl: string;
  role: 'all' | 'api' | 'worker';
  /** Written on the first start of the database (the secrets). */
  bootstrapJson?: string;
  /** More environment variables (HERALD_WORKER_CONCURRENCY, …). */
  env?: Record<string, string>;
  /** An owner connection to the database: a worker is ready once it has registered there. */
  owner?: pg.Pool | pg.Client;
  readyTimeoutMs?: number;
}

/** The parent's environment without anything that would point Herald elsewhere. */
function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!/^(HERALD_|DATABASE_URL$|PORT$|HOST$|LOG_LEVEL$|NODE_OPTIONS$)/.test(name)) env[name] = value;
  }
  return { ...env, ...extra };
}

/** Polls `check` until it returns a value (not undefined), or fails after `timeoutMs`. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined> | T | undefined, timeoutMs = 30_000, everyMs = 25): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/**
 * Starts `herald serve --role <role>` and resolves once it is ready: `/readyz` answers 200
 * (api, all), or the process has registered its queue workers in `worker_processes` (worker).
 */
export async function startHeraldProcess(options: StartOptions): Promise<HeraldProcess> {
  const port = await freePort();
  const args = ['src/cli/herald.ts', 'serve', '--role', options.role, '--port', String(port)];
  if (options.bootstrapJson) args.push('--bootstrap-json', options.bootstrapJson);
  const child = spawn(process.execPath, args, {
    cwd: process.cwd(),
    env: cleanEnv({ DATABASE_URL: options.databaseUrl, LOG_LEVEL: 'warn', HERALD_RATE_LIMITS: 'off', HERALD_DB_POOL_SIZE: '10', ...options.env }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  const output: string[] = [];
  child.stdout!.on('data', (chunk) => output.push(String(chunk)));
  child.stderr!.on('data', (chunk) => output.push(String(chunk)));
  let exitedFlag = false;
  const exited = new Promise<void>((resolve) => child.once('exit', () => {
    exitedFlag = true;
    children.delete(child);
    resolve();
  }));
  const started = performance.now();
  const proc: HeraldProcess = { role: options.role, child, pid: child.pid!, output, startup: { ms: 0, cpuSeconds: 0 }, exited, hasExited: () => exitedFlag };
  const url = `http://127.0.0.1:${port}`;
  const timeout = options.readyTimeoutMs ?? 60_000;
  try {
    if (options.role === 'worker') {
      const owner = options.owner;
      if (!owner) throw new Error('starting a worker process needs an owner connection to see it register');
      await waitFor(`the ${options.role} process to register`, async () => {
        if (exitedFlag) throw new Error(`herald serve --role worker exited during startup:\n${output.join('')}`);
        const { rows } = await owner.query(`SELECT 1 FROM worker_processes WHERE pid = $1 AND cardinality(worker_ids) > 0`, [proc.pid]);
        return rows.length > 0 ? true : undefined;
      }, timeout, 50);
    } else {
      await waitFor(`the ${options.role} process to be ready`, async () => {
        if (exitedFlag) throw new Error(`herald serve --role ${options.role} exited during startup:\n${output.join('')}`);
        try {
          return (await fetch(`${url}/readyz`)).status === 200 ? true : undefined;
        } catch {
          return undefined;
        }
      }, timeout, 50);
      proc.url = url;
    }
  } catch (error) {
    await killHerald(proc);
    throw error;
  }
  proc.startup = { ms: performance.now() - started, cpuSeconds: cpuSeconds(proc.pid) };
  return proc;
}

/** CPU time (user + system, seconds) a process has used so far, from /proc; 0 where unavailable. */
function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

/** SIGKILLs the process and waits until it has exited. */
export async function killHerald(proc: HeraldProcess): Promise<void> {
  if (!proc.hasExited()) proc.child.kill('SIGKILL');
  await proc.exited;
}

/** Stops every Herald child process still running (SIGKILL: tests do not need a clean shutdown). */
export async function stopAllHeralds(): Promise<void> {
  const waits: Array<Promise<void>> = [];
  for (const child of [...children]) {
    waits.push(new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    }));
  }
  await Promise.all(waits);
}

/** Reads the secrets a first start wrote with `--bootstrap-json`. */
export async function readBootstrap(file: string): Promise<BootstrapSecrets> {
  return JSON.parse(await readFile(file, 'utf8')) as BootstrapSecrets;
}

/** The advisory-lock class of worker liveness (src/engine/queue.ts). */
const LIVENESS_LOCK_CLASS = 0x4845;

/** A worker process's registration: its liveness lock and the ids its queue locks are taken under. */
export async function workerRegistration(owner: pg.Pool | pg.Client, pid: number): Promise<{ id: string; lockKey: number; workerIds: string[] } | undefined> {
  const { rows } = await owner.query<{ id: string; lock_key: number; worker_ids: string[] }>('SELECT id, lock_key, worker_ids FROM worker_processes WHERE pid = $1', [pid]);
  return rows[0] && { id: rows[0].id, lockKey: rows[0].lock_key, workerIds: rows[0].worker_ids };
}

/**
 * Waits until the database has noticed a killed worker is gone: its liveness lock is
 * free (its session ended), which is what a successor checks before releasing its jobs.
 */
export async function waitForLivenessReleased(owner: pg.Pool | pg.Client, lockKey: number, timeoutMs = 30_000): Promise<void> {
  await waitFor('the killed worker’s liveness lock to be released', async () => {
    const { rows } = await owner.query(
      `SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND classid = $1 AND objid = $2 AND objsubid = 2 AND granted`,
      [LIVENESS_LOCK_CLASS, lockKey],
    );
    return rows.length === 0 ? true : undefined;
  }, timeoutMs);
}
