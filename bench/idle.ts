/**
 * Scenario "idle": what an idle Herald costs. Starts Herald (default role: API + workers,
 * empty queue) on a fresh database of an embedded PostgreSQL, waits until it is ready and
 * has settled, then measures for 30 s its process CPU (utime + stime from /proc), its RSS
 * (sampled every second) and the CPU of the PostgreSQL processes (postmaster + backends)
 * and its transactions. For context, the same PostgreSQL alone is measured first, before
 * Herald starts. Targets (targets.md): Herald < 1% CPU, RSS < 250 MB.
 *
 * Run alone: `node bench/idle.ts` (Node 22). Env: BENCH_IDLE_SECONDS (default 30),
 * BENCH_IDLE_SETTLE_SECONDS (default 5).
 */
import os from 'node:os';
import { loadConfig } from '../src/config.ts';
import { fmt, ownerQuery, rssBytes, startHeraldTarget } from './lib/herald.ts';
import { startBenchPostgres } from './lib/postgres.ts';
import { cpuSeconds, treeCpuSeconds } from './lib/processes.ts';
import { isMain, runAsMain, type Scenario, type ScenarioResult } from './lib/scenario.ts';
import { withTeardown } from './lib/teardown.ts';

const SECONDS = Number(process.env.BENCH_IDLE_SECONDS ?? 30);
const SETTLE_SECONDS = Number(process.env.BENCH_IDLE_SETTLE_SECONDS ?? 5);
const POSTGRES_ALONE_SECONDS = 10;
const TARGET_CPU_PERCENT = 1;
const TARGET_RSS_MB = 250;
const LOG_LEVEL = 'warn';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const MB = 1024 * 1024;

async function transactions(databaseUrl: string, name: string): Promise<number> {
  const [row] = await ownerQuery(databaseUrl, 'SELECT (xact_commit + xact_rollback)::bigint AS n FROM pg_stat_database WHERE datname = $1', [name]);
  return Number(row?.n ?? 0);
}

export async function run(): Promise<ScenarioResult> {
  return withTeardown(async (teardown) => {
    const postgres = await startBenchPostgres(teardown);
    const databaseUrl = await postgres.createDatabase('herald');

    // PostgreSQL alone, for context.
    await sleep(2000);
    const alone0 = { pg: treeCpuSeconds(postgres.pid), at: performance.now() };
    await sleep(POSTGRES_ALONE_SECONDS * 1000);
    const aloneSeconds = (performance.now() - alone0.at) / 1000;
    const pgAlonePercent = ((treeCpuSeconds(postgres.pid) - alone0.pg) / aloneSeconds) * 100;

    const startedAt = performance.now();
    const herald = await startHeraldTarget(teardown, databaseUrl, { role: 'all', logLevel: LOG_LEVEL });
    const readyMs = performance.now() - startedAt;
    const response = await fetch(`${herald.url}/readyz`);
    if (response.status !== 200) throw new Error(`/readyz answered ${response.status}`);
    const [queue] = await ownerQuery(databaseUrl, 'SELECT count(*)::int AS n FROM graphile_worker.jobs');
    await sleep(SETTLE_SECONDS * 1000);

    const pid = herald.server.pid;
    const before = { herald: cpuSeconds(pid), pg: treeCpuSeconds(postgres.pid), xacts: await transactions(databaseUrl, 'herald'), at: performance.now() };
    const rss: number[] = [];
    const deadline = before.at + SECONDS * 1000;
    while (performance.now() < deadline) {
      rss.push(await rssBytes(pid));
      await sleep(Math.min(1000, Math.max(0, deadline - performance.now())));
    }
    const seconds = (performance.now() - before.at) / 1000;
    const after = { herald: cpuSeconds(pid), pg: treeCpuSeconds(postgres.pid), xacts: await transactions(databaseUrl, 'herald') };
    rss.push(await rssBytes(pid));

    const heraldPercent = ((after.herald - before.herald) / seconds) * 100;
    const pgPercent = ((after.pg - before.pg) / seconds) * 100;
    const rssMax = Math.max(...rss) / MB;
    const rssEnd = rss.at(-1)! / MB;
    // The stored transaction counter lags by up to a second (stats flush), and counts this bench's two reads.
    const xactsPerSecond = Math.max(0, after.xacts - before.xacts - 2) / seconds;
    const exited = herald.server.exit !== undefined;
    const passed = !exited && heraldPercent < TARGET_CPU_PERCENT && rssMax < TARGET_RSS_MB;

    return {
      summary: `idle Herald (API + workers): CPU ${fmt(heraldPercent, 2)}% of one core (target < ${TARGET_CPU_PERCENT}%) · RSS max ${fmt(rssMax, 0)} MB (target < ${TARGET_RSS_MB} MB) · PostgreSQL ${fmt(pgPercent, 2)}% with Herald vs ${fmt(pgAlonePercent, 2)}% alone · ${fmt(xactsPerSecond, 1)} transactions/s · ${passed ? 'PASS' : 'FAIL'}`,
      passed,
      table: {
        columns: ['process', 'CPU % of one core', 'CPU ms/s', 'RSS MB (max · end)', 'target'],
        rows: [
          ['herald (API + workers)', fmt(heraldPercent, 2), fmt(heraldPercent * 10, 1), `${fmt(rssMax, 0)} · ${fmt(rssEnd, 0)}`, `< ${TARGET_CPU_PERCENT}% CPU, < ${TARGET_RSS_MB} MB`],
          ['postgres, with herald idle (postmaster + backends)', fmt(pgPercent, 2), fmt(pgPercent * 10, 1), '', '—'],
          [`postgres alone, before herald started (${POSTGRES_ALONE_SECONDS} s)`, fmt(pgAlonePercent, 2), fmt(pgAlonePercent * 10, 1), '', '—'],
        ],
      },
      notes: [
        `Herald started with \`HERALD_ROLE=all\` (HTTP API, realtime LISTEN connection, graphile-worker runner with concurrency ${loadConfig({}).workerConcurrency}, pool ${loadConfig({}).poolSize}), LOG_LEVEL=${LOG_LEVEL}, on a fresh database (migrations + bootstrap at start: ready line after ${fmt(readyMs)} ms, /readyz 200); ${queue.n} jobs queued. Measured ${fmt(seconds, 1)} s after ${SETTLE_SECONDS} s of settling, with no requests. CPU from /proc/<pid>/stat (utime + stime, 10 ms ticks: ±${fmt(1 / seconds, 2)}% resolution); RSS = VmRSS sampled every second.`,
        `PostgreSQL: the bench's embedded server ${postgres.description}; its CPU includes background processes (checkpointer, autovacuum, WAL writer, stats). Herald's database saw ${fmt(xactsPerSecond, 1)} transactions/s while idle (graphile-worker's polling for due jobs and the worker liveness loop).`,
        `Machine: ${os.cpus().length} cores, shared (other processes' load does not enter the per-process figures, but may slow timers).`,
        ...(exited ? [`Herald exited during the measurement (${herald.server.exit}).`] : []),
        ...(herald.server.output.length ? [`Herald printed ${herald.server.output.length} line(s) at ${LOG_LEVEL} or above, first: \`${herald.server.output[0]!.slice(0, 300)}\``] : []),
      ],
      environment: { PostgreSQL: postgres.description },
    };
  });
}

export const scenario: Scenario = { name: 'idle', run };

if (isMain(import.meta.url)) await runAsMain([scenario], 'node bench/idle.ts');
