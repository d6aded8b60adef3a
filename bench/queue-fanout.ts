/**
 * Scenario "queue-fanout": graphile-worker against pg-boss as the engine's job queue, on
 * a 1,000-recipient fan-out, both on one embedded PostgreSQL (fsync on, like the other
 * scenarios and like production), each library in its own database.
 *
 * Per run: ONE transaction on our own pg client inserts 1,000 rows into
 * `fanout_runs(id uuid primary key, n int, done boolean)` and enqueues the jobs for them
 * (graphile-worker: `graphile_worker.add_jobs(job_spec[])`; pg-boss: `boss.insert(jobs,
 * { db })` with a `db` executor wrapping that client), then a worker with concurrency
 * 10 runs every job as `UPDATE fanout_runs SET done = true WHERE id = $1` through a pg
 * pool. Timed separately: the enqueue transaction (BEGIN … COMMIT) and the time from
 * COMMIT until every row has been updated by a handler. Variants: one job per recipient
 * (1,000 jobs) and one job per chunk of 25 recipients (40 jobs, `… WHERE id = ANY($1)`).
 * One warm-up round, then BENCH_FANOUT_ROUNDS rounds (default 5), the library order
 * alternating per round; median and min reported. For context, the same run times a
 * bare 1,000-row multi-insert transaction (baseline).
 *
 * Workers (same concurrency, 10, for all):
 * - graphile-worker: `run({ concurrency: 10 })`, defaults otherwise (LISTEN/NOTIFY,
 *   one get_job and one complete_job per job, pollInterval 2 s).
 * - pg-boss (v10): its `work()` fetches `batchSize` jobs and then waits out the polling
 *   interval (≥ 0.5 s) even when it found jobs, so 10 × `work({ batchSize: 1 })` caps at
 *   20 jobs/s. The main pg-boss target is therefore a small fetch loop over the public
 *   API — `fetch({ batchSize: free slots })`, then `complete`/`fail` per job, polling
 *   every 0.5 s only while the queue is empty — which is what the engine would run. The
 *   stock 10 × `work()` is measured on the 40-job variant only (1,000 jobs would take
 *   ≥ 50 s by construction; BENCH_FANOUT_STOCK_EACH=1 measures it anyway).
 *
 * Also: a SIGKILL test per library (10 jobs locked by a child worker that is killed,
 * then a fresh worker: when does it run them again?), and idle cost per worker (Node
 * CPU, PostgreSQL CPU and transactions/s with an empty queue over BENCH_IDLE_SECONDS,
 * default 10, each worker alone).
 *
 * Run alone: `node bench/queue-fanout.ts` (Node 22).
 */
import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Logger, run as runGraphile, runMigrations, type Runner, type TaskList, type WorkerEvents } from 'graphile-worker';
import pg from 'pg';
import PgBoss from 'pg-boss';
import { startBenchPostgres } from './lib/postgres.ts';
import { cleanEnv, startServer, treeCpuSeconds } from './lib/processes.ts';
import { isMain, runAsMain, type Scenario, type ScenarioResult } from './lib/scenario.ts';
import { withTeardown } from './lib/teardown.ts';
import { announceReady } from './servers/ready-line.ts';

const RECIPIENTS = 1000;
const CHUNK = 25;
const CONCURRENCY = 10;
const ROUNDS = Number(process.env.BENCH_FANOUT_ROUNDS ?? 5);
const IDLE_SECONDS = Number(process.env.BENCH_IDLE_SECONDS ?? 10);
const STOCK_EACH = process.env.BENCH_FANOUT_STOCK_EACH === '1';
/** pg-boss v10's minimum polling interval. */
const BOSS_POLL_MS = 500;
/** Longest a run may take before the scenario gives up on it. */
const RUN_TIMEOUT_MS = 90_000;
/** SIGKILL test: jobs the killed worker holds; how long the fresh graphile worker gets before we unlock by hand. */
const CRASH_JOBS = 10;
const GRAPHILE_CRASH_WAIT_MS = 3000;
/** SIGKILL test, pg-boss: queue expiry and the rescuer's maintenance interval (both pg-boss minimums are 1 s). */
const BOSS_CRASH_EXPIRE_SECONDS = 5;
const BOSS_CRASH_MAINTENANCE_SECONDS = 1;
const CHILD_ENV = 'BENCH_FANOUT_CHILD';

const FANOUT_TASK = 'fanout';
const CRASH_TASK = 'crash';
const BOSS_QUEUE = 'fanout';
const BOSS_STOCK_QUEUE = 'fanout-work';

const HERE = fileURLToPath(import.meta.url);
const version = (name: string) =>
  (JSON.parse(readFileSync(new URL(`../node_modules/${name}/package.json`, import.meta.url), 'utf8')) as { version: string }).version;

type Payload = { id: string; ids?: undefined } | { ids: string[]; id?: undefined };
type Variant = 'each' | 'chunk';
type TargetName = 'graphile-worker' | 'pg-boss' | 'pg-boss work()';

// ─── helpers ────────────────────────────────────────────────────────────────────

const fmt = (n: number, digits = 0) =>
  Number.isFinite(n) ? n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }) : '–';
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length === 0 ? NaN : s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const min = (xs: number[]) => (xs.length ? Math.min(...xs) : NaN);

/** Resolves when `check` is true, polling every `everyMs`; rejects after `timeoutMs` with `what`. */
async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string, everyMs = 10): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** A graphile-worker logger that keeps errors (and warnings) instead of printing them. */
function quietLogger(problems: string[]): Logger {
  return new Logger(() => (level, message) => {
    if (String(level) === 'error' || String(level) === 'warning') problems.push(`graphile-worker ${String(level)}: ${message}`);
  });
}

/** Counts what the handlers of one target did; a run waits for `rows` to reach its target. */
class Tracker {
  rows = 0;
  executions = 0;
  firstStartAt: number | undefined;
  private target = Infinity;
  private resolve: (() => void) | undefined;

  expect(rows: number): Promise<void> {
    this.rows = 0;
    this.executions = 0;
    this.firstStartAt = undefined;
    this.target = rows;
    return new Promise((resolve) => (this.resolve = resolve));
  }

  started(): void {
    this.firstStartAt ??= performance.now();
  }

  finished(rows: number): void {
    this.rows += rows;
    this.executions += 1;
    if (this.rows >= this.target) this.resolve?.();
  }
}

/** The job handler both libraries run: mark the recipient(s) done, through a pool. */
async function handle(pool: pg.Pool, payload: Payload, tracker: Tracker): Promise<void> {
  tracker.started();
  const result =
    payload.id !== undefined
      ? await pool.query('UPDATE fanout_runs SET done = true WHERE id = $1', [payload.id])
      : await pool.query('UPDATE fanout_runs SET done = true WHERE id = ANY($1::uuid[])', [payload.ids]);
  tracker.finished(result.rowCount ?? 0);
}

const INSERT_ROWS = 'INSERT INTO fanout_runs (id, n, done) SELECT id, n::int, false FROM unnest($1::uuid[]) WITH ORDINALITY AS t(id, n)';
const ADD_JOBS = `SELECT count(*)::int AS n FROM graphile_worker.add_jobs(
  ARRAY(SELECT ROW($2::text, p, NULL, NULL, NULL, NULL, NULL, NULL)::graphile_worker.job_spec FROM json_array_elements($1::json) AS p))`;

async function prepareDatabase(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query('CREATE TABLE fanout_runs (id uuid PRIMARY KEY, n int NOT NULL, done boolean NOT NULL DEFAULT false)');
  return client;
}

/**
 * pg-boss worker with a fixed concurrency over the public API: fetches as many jobs as
 * it has free slots, completes or fails each job on its own, and sleeps only while the
 * queue is empty.
 */
function bossFetchLoop(boss: PgBoss, queue: string, concurrency: number, run: (data: Payload) => Promise<void>, problems: string[]) {
  let stopping = false;
  let wake: (() => void) | undefined;
  const inflight = new Set<Promise<void>>();
  const nap = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  const loop = (async () => {
    while (!stopping) {
      const free = concurrency - inflight.size;
      if (free === 0) {
        await Promise.race(inflight);
        continue;
      }
      let jobs: PgBoss.Job<Payload>[] = [];
      try {
        jobs = await boss.fetch<Payload>(queue, { batchSize: free });
      } catch (error) {
        problems.push(`pg-boss fetch: ${(error as Error).message}`);
      }
      if (jobs.length === 0) {
        await nap(BOSS_POLL_MS);
        continue;
      }
      for (const job of jobs) {
        const p: Promise<void> = run(job.data)
          .then(
            () => boss.complete(queue, job.id),
            (error: unknown) => boss.fail(queue, job.id, { message: String(error) }),
          )
          .catch((error: unknown) => void problems.push(`pg-boss complete/fail: ${(error as Error).message}`))
          .finally(() => inflight.delete(p));
        inflight.add(p);
      }
    }
  })();
  return {
    async stop() {
      stopping = true;
      wake?.();
      await loop;
      await Promise.all(inflight);
    },
  };
}

/** 10 × pg-boss `work()`, batchSize 1, polling every 0.5 s: the library's own concurrency model in v10. */
async function bossStockWorkers(boss: PgBoss, queue: string, run: (data: Payload) => Promise<void>): Promise<{ stop(): Promise<void> }> {
  for (let i = 0; i < CONCURRENCY; i++) {
    await boss.work<Payload>(queue, { batchSize: 1, pollingIntervalSeconds: BOSS_POLL_MS / 1000 }, async (jobs) => {
      for (const job of jobs) await run(job.data);
    });
  }
  return { stop: () => boss.offWork(queue) };
}

// ─── the SIGKILL child ─────────────────────────────────────────────────────────

/**
 * Child mode (`BENCH_FANOUT_CHILD=<library>`): a worker whose crash handlers never
 * finish; announces itself ready once all CRASH_JOBS jobs are running (so locked), and
 * waits to be killed.
 */
async function crashChild(library: string, url: string): Promise<void> {
  const started = new Set<string>();
  const never = () => new Promise<void>(() => {});
  if (library === 'graphile-worker') {
    let poolId = '';
    const events = new EventEmitter() as WorkerEvents;
    events.on('pool:create', ({ workerPool }) => (poolId = workerPool.id));
    await runGraphile({
      connectionString: url,
      concurrency: CRASH_JOBS,
      noHandleSignals: true,
      logger: quietLogger([]),
      events,
      taskList: {
        [CRASH_TASK]: async (_payload, helpers) => {
          started.add(helpers.job.id);
          if (started.size === CRASH_JOBS) announceReady({ url: '', poolId });
          await never();
        },
      },
    });
  } else {
    const boss = new PgBoss({ connectionString: url, supervise: false, schedule: false, migrate: false });
    boss.on('error', (error) => process.stderr.write(`pg-boss: ${error.message}\n`));
    await boss.start();
    for (let i = 0; i < CRASH_JOBS; i++) {
      await boss.work(CRASH_TASK, { batchSize: 1, pollingIntervalSeconds: BOSS_POLL_MS / 1000 }, async (jobs) => {
        for (const job of jobs) started.add(job.id);
        if (started.size === CRASH_JOBS) announceReady({ url: '' });
        await never();
      });
    }
  }
}

// ─── the scenario ──────────────────────────────────────────────────────────────

interface RunSample {
  enqueueMs: number;
  processMs: number;
  firstJobMs: number;
  drainMs: number;
  nodeCpuMs: number;
  postgresCpuMs: number;
  executions: number;
}

interface IdleSample {
  nodeCpuMsPerSecond: number;
  postgresCpuMsPerSecond: number;
  xactsPerSecond: number;
}

interface Target {
  name: TargetName;
  client: pg.Client;
  tracker: Tracker;
  enqueue(client: pg.Client, payloads: Payload[]): Promise<void>;
  /** Jobs not yet completed. */
  pending(): Promise<number>;
  /** Starts the worker for one run (and returns its stop), for workers that must not idle through the others' runs. */
  around?: () => Promise<{ stop(): Promise<void> }>;
}

export async function run(): Promise<ScenarioResult> {
  return withTeardown(async (teardown) => {
    const problems: string[] = [];
    const postgres = await startBenchPostgres(teardown);
    const urls = {
      graphile: await postgres.createDatabase('graphile'),
      boss: await postgres.createDatabase('boss'),
      baseline: await postgres.createDatabase('baseline'),
    };
    const clients = {
      graphile: await prepareDatabase(urls.graphile),
      boss: await prepareDatabase(urls.boss),
      baseline: await prepareDatabase(urls.baseline),
    };
    for (const client of Object.values(clients)) teardown.add('disconnect client', () => client.end());
    const stats = clients.baseline; // idle during the idle measurements; reads the cluster-wide pg_stat_database
    const xacts = async (datname: string) =>
      Number((await stats.query('SELECT xact_commit + xact_rollback AS n FROM pg_stat_database WHERE datname = $1', [datname])).rows[0].n);

    // Pools: each library's own (as it would be in Herald), and one per library for the handlers.
    const pool = (url: string, max: number) => {
      const p = new pg.Pool({ connectionString: url, max });
      p.on('error', (error) => problems.push(`pool: ${error.message}`));
      // graphile-worker insists that clients of a pool it is given have error handlers too.
      p.on('connect', (client) => client.on('error', (error) => problems.push(`pool client: ${error.message}`)));
      teardown.add('end pool', () => p.end());
      return p;
    };
    const graphilePool = pool(urls.graphile, CONCURRENCY + 2);
    const graphileHandlerPool = pool(urls.graphile, CONCURRENCY);
    const bossHandlerPool = pool(urls.boss, CONCURRENCY);
    const logger = quietLogger(problems);

    // ── graphile-worker
    await runMigrations({ pgPool: graphilePool, logger });
    const graphileTracker = new Tracker();
    const graphileTasks: TaskList = { [FANOUT_TASK]: (payload) => handle(graphileHandlerPool, payload as Payload, graphileTracker) };
    const startGraphile = async () => {
      const runner: Runner = await runGraphile({ pgPool: graphilePool, concurrency: CONCURRENCY, noHandleSignals: true, logger, taskList: graphileTasks });
      return { stop: () => runner.stop() };
    };

    // ── pg-boss
    const newBoss = (options: PgBoss.ConstructorOptions = {}) => {
      const boss = new PgBoss({ connectionString: urls.boss, max: CONCURRENCY + 2, ...options });
      boss.on('error', (error) => problems.push(`pg-boss: ${error.message}`));
      return boss;
    };
    const setupBoss = newBoss();
    await setupBoss.start();
    await setupBoss.createQueue(BOSS_QUEUE);
    await setupBoss.createQueue(BOSS_STOCK_QUEUE);
    await setupBoss.createQueue(CRASH_TASK, { name: CRASH_TASK, expireInSeconds: BOSS_CRASH_EXPIRE_SECONDS, retryLimit: 3 });
    await setupBoss.stop({ graceful: true, wait: true });
    const boss = newBoss();
    await boss.start();
    let bossStopped = false;
    const stopBoss = async () => {
      if (!bossStopped) await boss.stop({ graceful: true, wait: true, timeout: 5000 });
      bossStopped = true;
    };
    teardown.add('stop pg-boss', stopBoss);
    const bossTracker = new Tracker();
    const bossStockTracker = new Tracker();
    const bossInsert = (queue: string) => async (client: pg.Client, payloads: Payload[]) => {
      const db = { executeSql: (text: string, values: unknown[]) => client.query(text, values) };
      await boss.insert(payloads.map((data) => ({ name: queue, data })), { db });
    };
    const bossPending = (queue: string) => () => boss.getQueueSize(queue, { before: 'completed' });

    const targets: Record<TargetName, Target> = {
      'graphile-worker': {
        name: 'graphile-worker',
        client: clients.graphile,
        tracker: graphileTracker,
        async enqueue(client, payloads) {
          const { rows } = await client.query(ADD_JOBS, [JSON.stringify(payloads), FANOUT_TASK]);
          if (rows[0].n !== payloads.length) throw new Error(`add_jobs added ${rows[0].n} of ${payloads.length} jobs`);
        },
        pending: async () => Number((await clients.graphile.query('SELECT count(*) AS n FROM graphile_worker._private_jobs')).rows[0].n),
      },
      'pg-boss': { name: 'pg-boss', client: clients.boss, tracker: bossTracker, enqueue: bossInsert(BOSS_QUEUE), pending: bossPending(BOSS_QUEUE) },
      'pg-boss work()': {
        name: 'pg-boss work()',
        client: clients.boss,
        tracker: bossStockTracker,
        enqueue: bossInsert(BOSS_STOCK_QUEUE),
        pending: bossPending(BOSS_STOCK_QUEUE),
        around: () => bossStockWorkers(boss, BOSS_STOCK_QUEUE, (data) => handle(bossHandlerPool, data, bossStockTracker)),
      },
    };

    // Main workers, alive through the timed rounds (idle while the other library runs).
    const graphileMain = await startGraphile();
    let graphileStopped = false;
    const stopGraphile = async () => {
      if (!graphileStopped) await graphileMain.stop();
      graphileStopped = true;
    };
    teardown.add('stop graphile-worker', stopGraphile);
    const bossLoop = bossFetchLoop(boss, BOSS_QUEUE, CONCURRENCY, (data) => handle(bossHandlerPool, data, bossTracker), problems);
    let loopStopped = false;
    const stopLoop = async () => {
      if (!loopStopped) await bossLoop.stop();
      loopStopped = true;
    };
    teardown.add('stop pg-boss loop', stopLoop);

    // ── one fan-out run
    const fanout = async (target: Target, variant: Variant): Promise<RunSample> => {
      const { client, tracker } = target;
      await client.query('TRUNCATE fanout_runs');
      const ids = Array.from({ length: RECIPIENTS }, () => randomUUID());
      const payloads: Payload[] =
        variant === 'each' ? ids.map((id) => ({ id })) : Array.from({ length: RECIPIENTS / CHUNK }, (_, i) => ({ ids: ids.slice(i * CHUNK, (i + 1) * CHUNK) }));
      const worker = target.around ? await target.around() : undefined;
      try {
        const cpu = process.cpuUsage();
        const pgCpu = treeCpuSeconds(postgres.pid);
        const done = tracker.expect(RECIPIENTS);
        const t0 = performance.now();
        await client.query('BEGIN');
        try {
          await client.query(INSERT_ROWS, [ids]);
          await target.enqueue(client, payloads);
          await client.query('COMMIT');
        } catch (error) {
          await client.query('ROLLBACK');
          throw error;
        }
        const t1 = performance.now();
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          done,
          new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`${target.name} ${variant}: ${tracker.rows}/${RECIPIENTS} rows after ${RUN_TIMEOUT_MS} ms`)), RUN_TIMEOUT_MS))),
        ]).finally(() => clearTimeout(timer));
        const t2 = performance.now();
        const used = process.cpuUsage(cpu);
        const postgresCpuMs = (treeCpuSeconds(postgres.pid) - pgCpu) * 1000;
        await waitFor(async () => (await target.pending()) === 0, 30_000, `${target.name} to mark its jobs complete`, 20);
        const t3 = performance.now();
        const left = Number((await client.query('SELECT count(*) AS n FROM fanout_runs WHERE NOT done')).rows[0].n);
        if (left !== 0) throw new Error(`${target.name} ${variant}: ${left} rows not done`);
        return {
          enqueueMs: t1 - t0,
          processMs: t2 - t1,
          firstJobMs: (tracker.firstStartAt ?? NaN) - t1,
          drainMs: t3 - t1,
          nodeCpuMs: (used.user + used.system) / 1000,
          postgresCpuMs,
          executions: tracker.executions,
        };
      } finally {
        await worker?.stop();
      }
    };
    const baselineInsert = async (): Promise<number> => {
      const client = clients.baseline;
      await client.query('TRUNCATE fanout_runs');
      const ids = Array.from({ length: RECIPIENTS }, () => randomUUID());
      const t0 = performance.now();
      await client.query('BEGIN');
      await client.query(INSERT_ROWS, [ids]);
      await client.query('COMMIT');
      return performance.now() - t0;
    };

    // ── rounds: one warm-up, then ROUNDS, alternating the order
    const key = (name: TargetName, variant: Variant) => `${name}|${variant}`;
    const samples = new Map<string, RunSample[]>();
    const baseline: number[] = [];
    const libraries: TargetName[] = ['graphile-worker', 'pg-boss'];
    for (let round = 0; round <= ROUNDS; round++) {
      const warmup = round === 0;
      process.stderr.write(`   ${warmup ? 'warm-up' : `round ${round}/${ROUNDS}`}\n`);
      const forward = round % 2 === 0;
      const eachTargets: TargetName[] = [...libraries, ...(STOCK_EACH ? ['pg-boss work()' as const] : [])];
      const chunkTargets: TargetName[] = [...libraries, 'pg-boss work()'];
      const b = await baselineInsert();
      if (!warmup) baseline.push(b);
      for (const [variant, list] of [['each', eachTargets], ['chunk', chunkTargets]] as const) {
        for (const name of forward ? list : [...list].reverse()) {
          if (warmup && name === 'pg-boss work()' && variant === 'each') continue;
          const sample = await fanout(targets[name], variant);
          if (warmup) continue;
          const k = key(name, variant);
          samples.set(k, [...(samples.get(k) ?? []), sample]);
        }
      }
    }

    // ── SIGKILL: a child worker holds CRASH_JOBS running jobs and is killed; a fresh worker takes over.
    process.stderr.write('   SIGKILL tests\n');
    const crashChildProcess = async (library: 'graphile-worker' | 'pg-boss', url: string) => {
      const child = await startServer(`${library} crash child`, HERE, cleanEnv({ [CHILD_ENV]: library, DATABASE_URL: url }), { readyTimeoutMs: 30_000 });
      teardown.add(`stop ${library} crash child`, () => child.stop());
      return child;
    };
    const crashPayloads = JSON.stringify(Array.from({ length: CRASH_JOBS }, (_, i) => ({ i })));

    // graphile-worker
    await clients.graphile.query(ADD_JOBS, [crashPayloads, CRASH_TASK]);
    const graphileChild = await crashChildProcess('graphile-worker', urls.graphile);
    const poolId = graphileChild.ready.poolId!;
    const lockedByChild = async () =>
      Number((await clients.graphile.query('SELECT count(*) AS n FROM graphile_worker._private_jobs WHERE locked_by = $1', [poolId])).rows[0].n);
    const graphileLocked = await lockedByChild();
    process.kill(graphileChild.pid, 'SIGKILL');
    await graphileChild.stop();
    const killedAt = performance.now();
    let graphileRerun = 0;
    const rescuerPool = pool(urls.graphile, CONCURRENCY + 2);
    const rescuer = await runGraphile({
      pgPool: rescuerPool,
      concurrency: CONCURRENCY,
      noHandleSignals: true,
      logger,
      taskList: { [CRASH_TASK]: () => void (graphileRerun += 1) },
    });
    await sleep(GRAPHILE_CRASH_WAIT_MS);
    const graphileRerunUnaided = graphileRerun;
    const graphileStillLocked = await lockedByChild();
    const unlockAt = performance.now();
    // The same as workerUtils.forceUnlockWorkers([poolId]).
    await clients.graphile.query('SELECT graphile_worker.force_unlock_workers($1::text[])', [[poolId]]);
    let graphileUnlockMs = NaN;
    try {
      await waitFor(() => graphileRerun >= CRASH_JOBS, 15_000, 'graphile-worker to re-run the unlocked jobs');
      graphileUnlockMs = performance.now() - unlockAt;
    } catch (error) {
      problems.push((error as Error).message);
    }
    await rescuer.stop();
    const graphileCrash = {
      locked: graphileLocked,
      rerunUnaided: graphileRerunUnaided,
      stillLocked: graphileStillLocked,
      waitedMs: unlockAt - killedAt,
      unlockMs: graphileUnlockMs,
    };

    // pg-boss (queue `crash`: expireInSeconds 5, retryLimit 3; rescuer: maintenanceIntervalSeconds 1)
    await boss.insert(Array.from({ length: CRASH_JOBS }, (_, i) => ({ name: CRASH_TASK, data: { i } })));
    const bossChild = await crashChildProcess('pg-boss', urls.boss);
    const bossActive = Number(
      (await clients.boss.query(`SELECT count(*) AS n FROM pgboss.job WHERE name = $1 AND state = 'active'`, [CRASH_TASK])).rows[0].n,
    );
    process.kill(bossChild.pid, 'SIGKILL');
    await bossChild.stop();
    const bossKilledAt = performance.now();
    let bossRerun = 0;
    const bossRescuer = newBoss({ maintenanceIntervalSeconds: BOSS_CRASH_MAINTENANCE_SECONDS, schedule: false, migrate: false });
    await bossRescuer.start();
    const rescuerLoop = bossFetchLoop(bossRescuer, CRASH_TASK, CONCURRENCY, async () => void (bossRerun += 1), problems);
    let bossRecoveryMs = NaN;
    try {
      await waitFor(() => bossRerun >= CRASH_JOBS, 30_000, 'pg-boss to re-run the expired jobs', 20);
      bossRecoveryMs = performance.now() - bossKilledAt;
    } catch (error) {
      problems.push((error as Error).message);
    }
    await rescuerLoop.stop();
    await bossRescuer.stop({ graceful: true, wait: true, timeout: 5000 });
    const bossCrash = { active: bossActive, recoveryMs: bossRecoveryMs };

    // ── idle cost, each worker alone (everything else stopped)
    process.stderr.write('   idle\n');
    await stopLoop();
    await stopBoss();
    await stopGraphile();
    const idle = async (datname: string, start: () => Promise<{ stop(): Promise<void> }>): Promise<IdleSample> => {
      const worker = await start();
      try {
        await sleep(1000);
        const before = { cpu: process.cpuUsage(), pg: treeCpuSeconds(postgres.pid), x: await xacts(datname), t: performance.now() };
        await sleep(IDLE_SECONDS * 1000);
        const used = process.cpuUsage(before.cpu);
        const pgSeconds = treeCpuSeconds(postgres.pid) - before.pg;
        const x = await xacts(datname);
        const seconds = (performance.now() - before.t) / 1000;
        return {
          nodeCpuMsPerSecond: (used.user + used.system) / 1000 / seconds,
          postgresCpuMsPerSecond: (pgSeconds * 1000) / seconds,
          xactsPerSecond: (x - before.x) / seconds,
        };
      } finally {
        await worker.stop();
      }
    };
    const withBoss = (attach: (b: PgBoss) => Promise<{ stop(): Promise<void> }> | { stop(): Promise<void> }) => async () => {
      const b = newBoss();
      await b.start();
      const worker = await attach(b);
      return {
        async stop() {
          await worker.stop();
          await b.stop({ graceful: true, wait: true, timeout: 5000 });
        },
      };
    };
    const idleSamples: Record<TargetName, IdleSample> = {
      'graphile-worker': await idle('graphile', startGraphile),
      'pg-boss': await idle('boss', withBoss((b) => bossFetchLoop(b, BOSS_QUEUE, CONCURRENCY, async () => {}, problems))),
      'pg-boss work()': await idle('boss', withBoss((b) => bossStockWorkers(b, BOSS_STOCK_QUEUE, async () => {}))),
    };

    // ── report
    const get = (name: TargetName, variant: Variant) => samples.get(key(name, variant)) ?? [];
    const stat = (name: TargetName, variant: Variant, field: keyof RunSample) => get(name, variant).map((s) => s[field]);
    const med = (name: TargetName, variant: Variant, field: keyof RunSample) => median(stat(name, variant, field));
    const jobsOf = (variant: Variant) => (variant === 'each' ? RECIPIENTS : RECIPIENTS / CHUNK);
    const rows: string[][] = [];
    for (const variant of ['each', 'chunk'] as const) {
      for (const name of ['graphile-worker', 'pg-boss', 'pg-boss work()'] as const) {
        const s = get(name, variant);
        if (!s.length) continue;
        const jobs = jobsOf(variant);
        const dupes = s.reduce((n, x) => n + x.executions - jobs, 0);
        rows.push([
          name,
          `${fmt(jobs)} × ${variant === 'each' ? '1' : CHUNK}`,
          `${fmt(med(name, variant, 'enqueueMs'), 1)} · ${fmt(min(stat(name, variant, 'enqueueMs')), 1)}`,
          `${fmt(med(name, variant, 'processMs'))} · ${fmt(min(stat(name, variant, 'processMs')))}`,
          fmt((RECIPIENTS / med(name, variant, 'processMs')) * 1000),
          fmt(med(name, variant, 'firstJobMs')),
          fmt(med(name, variant, 'drainMs')),
          fmt(med(name, variant, 'nodeCpuMs')),
          fmt(med(name, variant, 'postgresCpuMs')),
          String(dupes),
        ]);
      }
    }
    rows.push(['baseline: bare insert', `${fmt(RECIPIENTS)} rows`, `${fmt(median(baseline), 1)} · ${fmt(min(baseline), 1)}`, '', '', '', '', '', '', '']);

    const verdictLine = (name: TargetName) => {
      const e = (v: Variant) => `enqueue ${fmt(med(name, v, 'enqueueMs'), 1)} ms, processed ${fmt(med(name, v, 'processMs'))} ms`;
      const i = idleSamples[name];
      const each = get(name, 'each').length ? `1,000 jobs: ${e('each')}; ` : '';
      return `${name}: ${each}40 chunked jobs: ${e('chunk')} (medians of ${ROUNDS}); idle ${fmt(i.nodeCpuMsPerSecond, 2)} ms CPU/s node + ${fmt(i.postgresCpuMsPerSecond, 2)} ms/s postgres, ${fmt(i.xactsPerSecond, 1)} xact/s`;
    };
    for (const name of ['graphile-worker', 'pg-boss', 'pg-boss work()'] as const) console.log(verdictLine(name));

    const gEach = med('graphile-worker', 'each', 'processMs');
    const bEach = med('pg-boss', 'each', 'processMs');
    const gChunk = med('graphile-worker', 'chunk', 'processMs');
    const bChunk = med('pg-boss', 'chunk', 'processMs');
    const gEnq = med('graphile-worker', 'each', 'enqueueMs');
    const bEnq = med('pg-boss', 'each', 'enqueueMs');
    const faster = gEach <= bEach ? 'graphile-worker' : 'pg-boss';
    const crashOk =
      graphileCrash.locked === CRASH_JOBS && graphileCrash.rerunUnaided === 0 && Number.isFinite(graphileCrash.unlockMs) && bossCrash.active === CRASH_JOBS && Number.isFinite(bossCrash.recoveryMs);
    const passed = problems.length === 0 && crashOk;

    const notes = [
      `Per-library lines: ${(['graphile-worker', 'pg-boss', 'pg-boss work()'] as const).map((n) => `\`${verdictLine(n)}\``).join(' · ')}.`,
      `Columns: enqueue tx = BEGIN, INSERT of the ${fmt(RECIPIENTS)} fanout_runs rows (one multi-row statement), enqueue of the jobs on the same client, COMMIT. Processed = COMMIT → the last handler's UPDATE returned; first job = COMMIT → first handler started; drained = COMMIT → the library shows no uncompleted job. CPU = this Node process (workers + enqueue, the other library's idle worker included) and the PostgreSQL server, per run. Duplicates = handler executions beyond one per job, summed over the rounds.`,
      `Setup: ${ROUNDS} measured rounds after one warm-up, order alternating per round; each library in its own database of one embedded PostgreSQL with fsync and synchronous_commit on; handlers use a separate pg pool of ${CONCURRENCY}; libraries' pools ${CONCURRENCY + 2}. graphile-worker ${version('graphile-worker')}: run({ concurrency: ${CONCURRENCY} }), defaults otherwise (LISTEN/NOTIFY wake-up, one get_job + one complete_job per job, no localQueue, no completion batching). pg-boss ${version('pg-boss')}: "pg-boss" = a ${CONCURRENCY}-slot loop over fetch({ batchSize: free slots }) + complete/fail per job, polling every ${BOSS_POLL_MS} ms only while the queue is empty (v10 has no LISTEN/NOTIFY, hence the first-job delay); "pg-boss work()" = ${CONCURRENCY} × work({ batchSize: 1, pollingIntervalSeconds: 0.5 }), which waits out the polling interval after every fetch, found jobs or not: at most ${CONCURRENCY / (BOSS_POLL_MS / 1000)} jobs/s, so 1,000 single-recipient jobs would take ≥ ${(RECIPIENTS / (CONCURRENCY / (BOSS_POLL_MS / 1000))).toFixed(0)} s${STOCK_EACH ? '' : ' (not run; BENCH_FANOUT_STOCK_EACH=1 runs it)'}.`,
      `Idle (each worker alone, empty queue, ${IDLE_SECONDS} s, after 1 s settling): graphile-worker ${fmt(idleSamples['graphile-worker'].nodeCpuMsPerSecond, 2)} ms node CPU/s, ${fmt(idleSamples['graphile-worker'].postgresCpuMsPerSecond, 2)} ms postgres CPU/s, ${fmt(idleSamples['graphile-worker'].xactsPerSecond, 1)} transactions/s; pg-boss (loop + instance timers) ${fmt(idleSamples['pg-boss'].nodeCpuMsPerSecond, 2)} / ${fmt(idleSamples['pg-boss'].postgresCpuMsPerSecond, 2)} ms/s, ${fmt(idleSamples['pg-boss'].xactsPerSecond, 1)} xact/s; pg-boss work() ×${CONCURRENCY} ${fmt(idleSamples['pg-boss work()'].nodeCpuMsPerSecond, 2)} / ${fmt(idleSamples['pg-boss work()'].postgresCpuMsPerSecond, 2)} ms/s, ${fmt(idleSamples['pg-boss work()'].xactsPerSecond, 1)} xact/s (transactions from pg_stat_database of the library's database, ±1 s of stats-flush lag).`,
      `SIGKILL, graphile-worker: a child worker held ${graphileCrash.locked}/${CRASH_JOBS} jobs (locked_by = its pool id) and was SIGKILLed; a fresh worker ran ${graphileCrash.rerunUnaided} of them in the next ${fmt(graphileCrash.waitedMs / 1000, 1)} s (${graphileCrash.stillLocked} still locked): get_job only takes jobs with locked_at IS NULL, and the only automatic release is resetLockedAt, which clears locks older than a hard-coded 4 hours and runs every minResetLockedInterval–maxResetLockedInterval (8–10 min) per running pool, so unaided recovery takes 4 h to ~4 h 10 min. After \`graphile_worker.force_unlock_workers(ARRAY[<dead pool id>])\` (= workerUtils.forceUnlockWorkers) the fresh worker ran all ${CRASH_JOBS} in ${fmt(graphileCrash.unlockMs)} ms (force_unlock_workers sends no notification, so they wait for a worker's next poll, pollInterval 2 s by default).`,
      `SIGKILL, pg-boss: a child worker held ${bossCrash.active}/${CRASH_JOBS} jobs (state active) and was SIGKILLed; with the queue's expireInSeconds ${BOSS_CRASH_EXPIRE_SECONDS} and a live instance's maintenanceIntervalSeconds ${BOSS_CRASH_MAINTENANCE_SECONDS}, a fresh worker re-ran all ${CRASH_JOBS} ${fmt(bossCrash.recoveryMs / 1000, 1)} s after the kill (expiry counts from started_on, then maintenance moves expired active jobs to retry, consuming one retry; then the next poll). Defaults: expire 15 min, maintenance every 120 s, retryLimit 2 — a job killed more often than retryLimit ends failed.`,
      `Conclusion: ${faster} is faster on the 1,000-job fan-out (processed in ${fmt(gEach)} ms vs ${fmt(bEach)} ms median; chunked 40 jobs ${fmt(gChunk)} vs ${fmt(bChunk)} ms; enqueue tx ${fmt(gEnq, 1)} vs ${fmt(bEnq, 1)} ms, bare insert ${fmt(median(baseline), 1)} ms). Both enqueue transactionally on our own client (graphile-worker through its SQL API add_jobs; pg-boss through insert/send with { db }), and both are at-least-once, but they recover from a SIGKILL differently: pg-boss by time alone (job expiry + maintenance; expiry is also the handler's hard timeout since v10 has no heartbeat, so it must exceed the slowest legitimate job or jobs run twice), graphile-worker not at all for 4 h unless the engine unlocks the dead worker's pool id itself (force_unlock_workers), which needs the engine to know which pool ids are dead (e.g. a heartbeat row per pool, or unlocking every lock at start-up when only one worker process exists). pg-boss v10 also has no wake-up on insert: latency to the first job is up to the polling interval, and idle polling costs queries in proportion to the number of work() loops.`,
    ];
    for (const p of problems.slice(0, 10)) notes.push(`Problem: ${p}`);
    if (problems.length > 10) notes.push(`… and ${problems.length - 10} more problems.`);

    const p = (name: TargetName, v: Variant) => `${fmt(med(name, v, 'enqueueMs'), 1)} + ${fmt(med(name, v, 'processMs'))} ms`;
    return {
      summary: `1,000 jobs enqueue + processed (median): graphile-worker ${p('graphile-worker', 'each')} · pg-boss ${p('pg-boss', 'each')} · 40×25 chunks: graphile-worker ${p('graphile-worker', 'chunk')} · pg-boss ${p('pg-boss', 'chunk')} · pg-boss work() ${p('pg-boss work()', 'chunk')} · bare insert ${fmt(median(baseline), 1)} ms · after SIGKILL: graphile-worker ${graphileCrash.rerunUnaided}/${CRASH_JOBS} re-run unaided (4 h lock), ${fmt(graphileCrash.unlockMs)} ms after force_unlock_workers; pg-boss ${fmt(bossCrash.recoveryMs / 1000, 1)} s (expire ${BOSS_CRASH_EXPIRE_SECONDS} s) · ${passed ? 'PASS' : 'FAIL'}`,
      passed,
      table: {
        columns: ['target', 'jobs × recipients', 'enqueue tx ms (median · min)', 'processed ms (median · min)', 'recipients/s', 'first job ms', 'drained ms', 'node CPU ms/run', 'postgres CPU ms/run', 'duplicates'],
        rows,
      },
      notes,
      environment: { PostgreSQL: postgres.description, 'graphile-worker': version('graphile-worker'), 'pg-boss': version('pg-boss') },
    };
  });
}

export const scenario: Scenario = { name: 'queue-fanout', run };

if (isMain(import.meta.url)) {
  const child = process.env[CHILD_ENV];
  if (child) await crashChild(child, process.env.DATABASE_URL ?? '');
  else await runAsMain([scenario], 'node bench/queue-fanout.ts');
}
