/**
 * Scenario "identify": throughput and latency of `PUT /v1/users/{id}` (Knock identify)
 * on Herald against a naive baseline in the same run — a bare Fastify route doing one
 * INSERT … ON CONFLICT DO UPDATE of the same body (bench/servers/baseline-server.ts) —
 * both in their own processes on one embedded PostgreSQL. Target: Herald ≥ 0.5× the
 * baseline's req/s, and no non-2xx responses.
 *
 * Run alone: `node bench/identify.ts` (Node 22). Env: BENCH_SECONDS (measured seconds
 * per target, default 12), BENCH_WARMUP_SECONDS (default 3), BENCH_CPU_PROF=<dir>
 * (write a V8 CPU profile of the Herald process there).
 */
import os from 'node:os';
import pg from 'pg';
import { loadConfig } from '../src/config.ts';
import { runLoad, TargetTotals, type LoadPlan } from './lib/load.ts';
import { startBenchPostgres } from './lib/postgres.ts';
import { cleanEnv, cpuSeconds, serverScript, machineCpuSeconds, startServer, treeCpuSeconds, type ServerProcess } from './lib/processes.ts';
import { isMain, runAsMain, type Scenario, type ScenarioResult } from './lib/scenario.ts';
import { withTeardown } from './lib/teardown.ts';

const TARGET_RATIO = 0.5;
const CONNECTIONS = 64;
const USER_IDS = 10_000;
const MEASURED_SECONDS = Number(process.env.BENCH_SECONDS ?? 12);
const WARMUP_SECONDS = Number(process.env.BENCH_WARMUP_SECONDS ?? 3);
/** Herald's default application pool size; the baseline gets the same. */
const POOL_SIZE = loadConfig({ HERALD_DB_POOL_SIZE: process.env.HERALD_DB_POOL_SIZE }).poolSize;
const LOG_LEVEL = 'warn';

/** A typical identify: standard fields plus a few custom properties (about 200 bytes). */
const BODY = JSON.stringify({
  name: 'Ada Lovelace',
  email: 'ada.lovelace@example.com',
  phone_number: '+442079460000',
  timezone: 'Europe/London',
  plan: 'pro',
  company: 'Analytical Engines Ltd',
  role: 'admin',
  seats: 25,
  beta_features: true,
});

const server = serverScript;


interface Target {
  name: 'herald' | 'baseline';
  server: ServerProcess;
  plan: Omit<LoadPlan, 'durationSeconds'>;
}

/** One request through the whole path, so a broken setup fails fast and clearly. */
async function checkOnce(target: Target): Promise<void> {
  const { url, method, pathPrefix, headers, body } = target.plan;
  const response = await fetch(`${url}${pathPrefix}check-user`, { method, headers, body });
  const text = await response.text();
  if (response.status !== 200 || !text.includes('check-user')) {
    throw new Error(`${target.name}: ${method} ${pathPrefix}check-user answered ${response.status}: ${text.slice(0, 500)}`);
  }
}

async function countRows(databaseUrl: string): Promise<number> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    return Number((await client.query('SELECT count(*) AS n FROM users')).rows[0].n);
  } finally {
    await client.end();
  }
}

const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

export async function run(): Promise<ScenarioResult> {
  return withTeardown(async (teardown) => {
    const postgres = await startBenchPostgres(teardown);
    const heraldDb = await postgres.createDatabase('herald');
    const baselineDb = await postgres.createDatabase('baseline');

    const profileDir = process.env.BENCH_CPU_PROF;
    const herald = await startServer(
      'herald',
      server('herald-server'),
      cleanEnv({ DATABASE_URL: heraldDb, PORT: '0', HOST: '127.0.0.1', HERALD_DB_POOL_SIZE: String(POOL_SIZE), LOG_LEVEL, HERALD_RATE_LIMITS: 'off' }),
      { nodeArgs: profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [] },
    );
    teardown.add('stop herald', () => herald.stop());
    const baseline = await startServer('baseline', server('baseline-server'), cleanEnv({ DATABASE_URL: baselineDb, POOL_SIZE: String(POOL_SIZE), LOG_LEVEL }));
    teardown.add('stop baseline', () => baseline.stop());

    const common = { method: 'PUT', idPrefix: 'user-', idCount: USER_IDS, body: BODY, connections: CONNECTIONS };
    const targets: Record<Target['name'], Target> = {
      herald: {
        name: 'herald',
        server: herald,
        plan: { ...common, url: herald.ready.url, pathPrefix: '/v1/users/', headers: { 'content-type': 'application/json', authorization: `Bearer ${herald.ready.secretKey}` } },
      },
      baseline: {
        name: 'baseline',
        server: baseline,
        plan: { ...common, url: baseline.ready.url, pathPrefix: '/users/', headers: { 'content-type': 'application/json' } },
      },
    };
    await checkOnce(targets.herald);
    await checkOnce(targets.baseline);

    const crashed = () => [herald, baseline].filter((s) => s.exit !== undefined);
    const assertAlive = () => {
      const dead = crashed();
      if (dead.length) {
        throw new Error(dead.map((s) => `${s.name} exited (${s.exit}) under load; last output:\n${s.output.slice(-30).join('\n') || '(none)'}`).join('\n'));
      }
    };

    let warmupNon2xx = 0;
    for (const target of [targets.baseline, targets.herald]) {
      const round = await runLoad({ ...target.plan, durationSeconds: WARMUP_SECONDS });
      warmupNon2xx += round.non2xx + round.errors + round.timeouts;
      assertAlive();
    }

    // Interleaved A B B A, so a drift in the machine's load hits both targets alike.
    const totals = { herald: new TargetTotals(), baseline: new TargetTotals() };
    const roundSeconds = MEASURED_SECONDS / 2;
    for (const name of ['baseline', 'herald', 'herald', 'baseline'] as const) {
      const sample = () => ({ server: cpuSeconds(targets[name].server.pid), postgres: treeCpuSeconds(postgres.pid), machine: machineCpuSeconds() });
      const before = sample();
      const round = await runLoad({ ...targets[name].plan, durationSeconds: roundSeconds });
      const after = sample();
      const server = after.server - before.server;
      const db = after.postgres - before.postgres;
      const busy = after.machine.busy - before.machine.busy;
      totals[name].add(round, {
        server,
        postgres: db,
        loadgen: round.loadgenCpuSeconds,
        // Includes the load generator's start-up, so slightly above zero on a quiet machine.
        other: Math.max(0, busy - server - db - round.loadgenCpuSeconds),
        iowait: after.machine.iowait - before.machine.iowait,
      });
      assertAlive();
    }

    const rows = { herald: await countRows(heraldDb), baseline: await countRows(baselineDb) };
    const h = totals.herald;
    const b = totals.baseline;
    const ratio = h.rps / b.rps;
    const failures = h.non2xx + h.errors + h.timeouts + b.non2xx + b.errors + b.timeouts + warmupNon2xx;
    const passed = ratio >= TARGET_RATIO && failures === 0;

    const describe = (t: TargetTotals) => `${fmt(t.rps)} req/s (p50 ${fmt(t.latency.percentile(50), 1)} ms, p99 ${fmt(t.latency.percentile(99), 1)} ms)`;
    const statusText = (t: TargetTotals) => Object.entries(t.statusCounts).filter(([s]) => !s.startsWith('2')).map(([s, n]) => `${n}×${s}`).join(', ');
    const row = (name: string, t: TargetTotals) => [
      name,
      fmt(t.rps),
      fmt(t.latency.percentile(50), 2),
      fmt(t.latency.percentile(99), 2),
      fmt(t.ok),
      t.non2xx ? `${fmt(t.non2xx)} (${statusText(t)})` : '0',
      fmt(t.errors + t.timeouts),
      `${fmt(t.cores('server'), 2)} · ${fmt(t.cpuMsPerRequest('server'), 2)}`,
      `${fmt(t.cores('postgres'), 2)} · ${fmt(t.cpuMsPerRequest('postgres'), 2)}`,
      fmt(t.cores('loadgen'), 2),
      fmt(t.cores('other'), 2),
      fmt(t.cores('iowait'), 2),
    ];

    const notes = [
      `Ratio = Herald req/s ÷ baseline req/s = **${ratio.toFixed(2)}** (target ≥ ${TARGET_RATIO}).`,
      `Load: autocannon in its own process, ${CONNECTIONS} connections, ids \`user-0…user-${USER_IDS - 1}\` at random, the same ${Buffer.byteLength(BODY)}-byte JSON body for both; warm-up ${WARMUP_SECONDS} s per target, then ${MEASURED_SECONDS} s per target measured in rounds of ${roundSeconds} s interleaved baseline, Herald, Herald, baseline. Latency percentiles over all 2xx responses of a target.`,
      `Servers: each its own Node process, LOG_LEVEL=${LOG_LEVEL} for both, pg pool size ${POOL_SIZE} for both, one embedded PostgreSQL (separate databases). Herald: API-key auth, schema validation, rate limits off (the bench measures throughput, not the per-key tier), group commit: concurrent identifies of the environment share one RLS transaction (BEGIN + set_config, one multi-row upsert, COMMIT), each answered after that commit. Baseline: one upsert statement into a table of the same shape (no FK, no RLS, no transaction).`,
      `CPU columns: cores kept busy on average while that target was measured, of ${os.cpus().length} (server = its Node process; postgres = postmaster and backends; load generator = autocannon; other = everything else on the machine, i.e. noise; iowait = cores idle waiting for disk, e.g. WAL fsync). CPU ms per 2xx response is the least noise-sensitive figure here.`,
      `Rows after the run: herald ${fmt(rows.herald)} users, baseline ${fmt(rows.baseline)} users.`,
    ];
    if (warmupNon2xx) notes.push(`Warm-up saw ${warmupNon2xx} non-2xx responses or errors.`);
    for (const s of [herald, baseline]) {
      if (s.output.length) notes.push(`${s.name} printed ${s.output.length} line(s) at ${LOG_LEVEL} or above, first: \`${s.output[0]!.slice(0, 300)}\``);
    }
    if (profileDir) notes.push(`Herald was CPU-profiled (--cpu-prof), which slows it down.`);

    return {
      summary: `herald ${describe(h)} · baseline ${describe(b)} · ratio ${ratio.toFixed(2)} (target ≥ ${TARGET_RATIO}) · non-2xx ${h.non2xx + b.non2xx}, errors ${h.errors + h.timeouts + b.errors + b.timeouts} · ${passed ? 'PASS' : 'FAIL'}`,
      passed,
      table: {
        columns: ['target', 'req/s', 'p50 ms', 'p99 ms', '2xx', 'non-2xx', 'errors', 'server CPU (cores · ms/req)', 'postgres CPU (cores · ms/req)', 'load generator CPU', 'other CPU', 'iowait'],
        rows: [row('herald', h), row('baseline', b)],
      },
      notes,
      environment: { PostgreSQL: postgres.description },
    };
  });
}

export const scenario: Scenario = { name: 'identify', run };

if (isMain(import.meta.url)) await runAsMain([scenario], 'node bench/identify.ts');
