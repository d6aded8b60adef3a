import { randomUUID } from 'node:crypto';
import os from 'node:os';
import { EventEmitter } from 'node:events';
import { Logger, run, runMigrations, type Runner, type TaskList, type WorkerEvents } from 'graphile-worker';
import { sql, type Kysely } from 'kysely';
import pg from 'pg';
import { APP_ROLE } from '../db/database.ts';

/**
 * The job queue is graphile-worker (chosen by bench/queue-fanout.ts): jobs live in
 * Postgres, are enqueued in the same transaction as the rows they act on, and are
 * picked up through LISTEN/NOTIFY without polling latency.
 */

/** The engine's job kinds and their payloads. `e` is always the environment id. */
export interface JobPayloads {
  /** Expand a trigger into recipient runs. */
  trigger: { e: string; run: string };
  /** Execute (or continue) recipient runs. */
  run: { e: string; runs: string[] };
}
export type JobName = keyof JobPayloads;

export interface JobSpec<N extends JobName = JobName> {
  task: N;
  payload: JobPayloads[N];
  runAt?: Date;
  /** Replaces a pending job with the same key (a run is continued by at most one job). */
  jobKey?: string;
  maxAttempts?: number;
}

/**
 * Lower runs first (the queue takes jobs by priority, then run_at). Recipient runs go
 * before expanding further triggers: under a backlog, work already begun is finished and
 * messages keep flowing, instead of every new run waiting behind all triggers queued
 * before it.
 */
const PRIORITY: Record<JobName, number> = { run: 0, trigger: 1 };

/** Installs or upgrades the queue's schema (as the database owner) and lets the app role use it. */
export async function installQueue(ownerUrl: string): Promise<void> {
  const client = new pg.Client({ connectionString: ownerUrl });
  await client.connect();
  try {
    // Processes starting together would race on the grants ("tuple concurrently updated").
    await client.query('SELECT pg_advisory_lock($1, 1)', [LIVENESS_LOCK_CLASS]);
    await runMigrations({ connectionString: ownerUrl, logger: quietLogger });
    await client.query(`
      GRANT USAGE ON SCHEMA graphile_worker TO ${APP_ROLE};
      GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA graphile_worker TO ${APP_ROLE};
      GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA graphile_worker TO ${APP_ROLE};
      GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA graphile_worker TO ${APP_ROLE};
    `);
    // The queue keeps row-level security on its private tables (no policies: only their owner
    // may touch them). The app role enqueues inside its own transactions, so it gets a policy.
    await client.query(`
      DO $$ DECLARE t record; BEGIN
        FOR t IN SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE n.nspname = 'graphile_worker' AND c.relkind = 'r' AND c.relrowsecurity LOOP
          IF NOT EXISTS (SELECT 1 FROM pg_policies WHERE schemaname = 'graphile_worker' AND tablename = t.relname AND policyname = 'herald_app_enqueue') THEN
            EXECUTE format('CREATE POLICY herald_app_enqueue ON graphile_worker.%I TO ${APP_ROLE} USING (true) WITH CHECK (true)', t.relname);
          END IF;
        END LOOP;
      END $$;
    `);
  } finally {
    await client.end();
  }
}

/** Adds jobs inside the caller's transaction: they exist exactly when its writes commit. */
export async function enqueue(tx: Kysely<any>, jobs: JobSpec[]): Promise<void> {
  if (jobs.length === 0) return;
  const specs = jobs.map((job) => ({
    identifier: job.task,
    payload: job.payload,
    run_at: job.runAt?.toISOString() ?? null,
    max_attempts: job.maxAttempts ?? 25,
    job_key: job.jobKey ?? null,
    priority: PRIORITY[job.task],
  }));
  await sql`SELECT count(*) FROM graphile_worker.add_jobs(
    ARRAY(SELECT json_populate_recordset(null::graphile_worker.job_spec, ${JSON.stringify(specs)}::json)))`.execute(tx);
}

const quietLogger = new Logger(() => (level, message) => {
  if (level === 'error') process.stderr.write(`[queue] ${message}\n`);
});

export interface WorkerOptions {
  ownerUrl: string;
  tasks: { [N in JobName]: (payload: JobPayloads[N]) => Promise<void> };
  concurrency: number;
  /** Milliseconds between checks for jobs scheduled in the future (delays, retries). */
  pollInterval?: number;
  onError?: (error: unknown) => void;
}

export interface Workers {
  stop(): Promise<void>;
}

/**
 * Starts a pool of queue workers in this process. The process registers itself and holds
 * a session advisory lock while alive; on start (and every minute) it releases the queue
 * locks of registered processes whose lock is free — they died without shutting down
 * (SIGKILL, power loss), so their jobs run again at once instead of after the queue's
 * 4-hour lock timeout.
 */
export async function startWorkers(options: WorkerOptions): Promise<Workers> {
  const processId = randomUUID();
  const lockKey = Math.floor(Math.random() * 2 ** 31);
  const liveness = new pg.Client({ connectionString: options.ownerUrl, application_name: 'herald-worker-liveness' });
  liveness.on('error', () => {});
  await liveness.connect();
  await liveness.query('SELECT pg_advisory_lock($1, $2)', [LIVENESS_LOCK_CLASS, lockKey]);
  await liveness.query('INSERT INTO worker_processes (id, lock_key, hostname, pid) VALUES ($1, $2, $3, $4)', [processId, lockKey, os.hostname(), process.pid]);
  await releaseDeadWorkers(liveness, processId);

  const taskList: TaskList = {};
  for (const [name, handler] of Object.entries(options.tasks)) {
    taskList[name] = async (payload) => {
      await (handler as (p: unknown) => Promise<void>)(payload);
    };
  }
  const pool = new pg.Pool({ connectionString: options.ownerUrl, max: options.concurrency + 2, application_name: 'herald-worker' });
  // A connection lost while idle or in use must not crash the process (the queue reconnects).
  pool.on('error', () => {});
  pool.on('connect', (client) => client.on('error', () => {}));
  // Jobs are locked under the pool's id (and, in some versions, a worker's): record every
  // id this process locks with, so a successor can release them if this process dies.
  const lockerIds = new Set<string>();
  let registered = Promise.resolve();
  const register = (id: string) => {
    lockerIds.add(id);
    registered = registered.then(() => liveness.query('UPDATE worker_processes SET worker_ids = $2 WHERE id = $1', [processId, [...lockerIds]])).then(() => undefined, () => undefined);
  };
  const events = new EventEmitter() as WorkerEvents;
  events.on('pool:create', ({ workerPool }) => register(workerPool.id));
  events.on('worker:create', ({ worker }) => register(worker.workerId));
  events.on('job:error', ({ error }) => options.onError?.(error));
  const runner: Runner = await run({
    pgPool: pool,
    concurrency: options.concurrency,
    noHandleSignals: true,
    // New jobs arrive by LISTEN/NOTIFY; polling only finds scheduled ones (delays, retries).
    pollInterval: options.pollInterval ?? 2000,
    taskList,
    logger: quietLogger,
    events,
    preset: {
      worker: {
        // Fetch jobs a batch at a time for the whole pool, and complete them in batches:
        // per-job queue queries were a large share of the database's work under load.
        localQueue: { size: options.concurrency * 2 },
        completeJobBatchDelay: 0,
        failJobBatchDelay: 0,
      },
    },
  });
  await registered;

  const reaper = setInterval(() => {
    registered = registered.then(() => releaseDeadWorkers(liveness, processId)).catch(() => undefined);
  }, 60_000);
  reaper.unref();

  return {
    async stop() {
      clearInterval(reaper);
      await runner.stop();
      await registered;
      await pool.end();
      await liveness.query('DELETE FROM worker_processes WHERE id = $1', [processId]).catch(() => undefined);
      await liveness.end().catch(() => undefined);
    },
  };
}

const LIVENESS_LOCK_CLASS = 0x4845; // "HE"

/** Releases the queue locks held by registered worker processes that are no longer alive. */
async function releaseDeadWorkers(client: pg.Client, ownId: string): Promise<void> {
  const registered = await client.query<{ id: string; lock_key: number; worker_ids: string[] }>('SELECT id, lock_key, worker_ids FROM worker_processes WHERE id <> $1', [ownId]);
  for (const row of registered.rows) {
    const probe = await client.query<{ free: boolean }>('SELECT pg_try_advisory_lock($1, $2) AS free', [LIVENESS_LOCK_CLASS, row.lock_key]);
    if (!probe.rows[0]?.free) continue; // held by a live process's session
    await client.query('SELECT pg_advisory_unlock($1, $2)', [LIVENESS_LOCK_CLASS, row.lock_key]);
    if (row.worker_ids.length > 0) await client.query('SELECT graphile_worker.force_unlock_workers($1::text[])', [row.worker_ids]);
    await client.query('DELETE FROM worker_processes WHERE id = $1', [row.id]);
  }
}
