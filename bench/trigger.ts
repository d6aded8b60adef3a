/**
 * Scenario "trigger": throughput and latency of `POST /v1/workflows/{key}/trigger` (one
 * recipient) against a naive baseline in the same run — a bare Fastify route doing one
 * INSERT of the same body into a workflow_runs-shaped table (bench/lib/trigger-baseline-
 * server.ts) — each in its own process on one embedded PostgreSQL. Herald runs with
 * `--role api` (no workers: ingestion alone), then, for context, a second Herald with the
 * default role (API + workers executing the runs meanwhile). Target (targets.md): Herald
 * (api) ≥ 2× the baseline's req/s, p99 < 20 ms, no non-2xx responses.
 *
 * Run alone: `node bench/trigger.ts` (Node 22). Env: BENCH_SECONDS (measured seconds per
 * target, default 10), BENCH_WARMUP_SECONDS (default 3), BENCH_CPU_PROF=<dir> (V8 CPU
 * profile of the api-role Herald), HERALD_DB_POOL_SIZE (both servers' pool size).
 */
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../src/config.ts';
import { commitInAppWorkflow, fmt, identifyUsers, ownerQuery, startHeraldTarget, triggerBody, type HeraldTarget } from './lib/herald.ts';
import { runLoad, TargetTotals, type LoadPlan } from './lib/load.ts';
import { startBenchPostgres, type BenchPostgres } from './lib/postgres.ts';
import { cleanEnv, cpuSeconds, machineCpuSeconds, startServer, treeCpuSeconds, type ServerProcess } from './lib/processes.ts';
import { isMain, runAsMain, type Scenario, type ScenarioResult } from './lib/scenario.ts';
import { withTeardown } from './lib/teardown.ts';

const TARGET_RATIO = 2;
const TARGET_P99_MS = 20;
const CONNECTIONS = 64;
const USER_IDS = 10_000;
const WORKFLOW = 'bench-trigger';
const MEASURED_SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const WARMUP_SECONDS = Number(process.env.BENCH_WARMUP_SECONDS ?? 3);
const POOL_SIZE = loadConfig({ HERALD_DB_POOL_SIZE: process.env.HERALD_DB_POOL_SIZE }).poolSize;
const LOG_LEVEL = 'warn';
const ID_TOKEN = '__ID__';
const BODY = triggerBody([ID_TOKEN]);
const BASELINE_SCRIPT = fileURLToPath(new URL('./lib/trigger-baseline-server.ts', import.meta.url));

type TargetName = 'herald (api)' | 'herald (all)' | 'baseline';

interface Target {
  name: TargetName;
  server: ServerProcess;
  plan: Omit<LoadPlan, 'durationSeconds'>;
}

function plan(url: string, pathPrefix: string, headers: Record<string, string>): Target['plan'] {
  return { url, method: 'POST', pathPrefix, pathSuffix: '', fixedPath: true, idPrefix: 'user-', idCount: USER_IDS, bodyIdToken: ID_TOKEN, body: BODY, headers: { 'content-type': 'application/json', ...headers }, connections: CONNECTIONS };
}

const heraldPlan = (h: HeraldTarget) => plan(h.url, `/v1/workflows/${WORKFLOW}/trigger`, { authorization: `Bearer ${h.secretKey}` });

async function checkOnce(target: Target): Promise<void> {
  const { url, method, pathPrefix, headers, body } = target.plan;
  const response = await fetch(`${url}${pathPrefix}`, { method, headers, body: body.replaceAll(ID_TOKEN, 'user-0') });
  const text = await response.text();
  if (response.status !== 200 || !text.includes('workflow_run_id')) throw new Error(`${target.name}: ${method} ${pathPrefix} answered ${response.status}: ${text.slice(0, 500)}`);
}

async function measure(target: Target, seconds: number, totals: TargetTotals, postgres: BenchPostgres): Promise<void> {
  const sample = () => ({ server: cpuSeconds(target.server.pid), postgres: treeCpuSeconds(postgres.pid), machine: machineCpuSeconds() });
  const before = sample();
  const round = await runLoad({ ...target.plan, durationSeconds: seconds });
  const after = sample();
  const server = after.server - before.server;
  const db = after.postgres - before.postgres;
  totals.add(round, {
    server,
    postgres: db,
    loadgen: round.loadgenCpuSeconds,
    other: Math.max(0, after.machine.busy - before.machine.busy - server - db - round.loadgenCpuSeconds),
    iowait: after.machine.iowait - before.machine.iowait,
  });
  if (target.server.exit !== undefined) throw new Error(`${target.name} exited (${target.server.exit}) under load:\n${target.server.output.slice(-30).join('\n')}`);
}

export async function run(): Promise<ScenarioResult> {
  return withTeardown(async (teardown) => {
    const postgres = await startBenchPostgres(teardown);
    const apiDb = await postgres.createDatabase('herald_api');
    const allDb = await postgres.createDatabase('herald_all');
    const baselineDb = await postgres.createDatabase('baseline');

    const profileDir = process.env.BENCH_CPU_PROF;
    const heraldApi = await startHeraldTarget(teardown, apiDb, { role: 'api', poolSize: POOL_SIZE, logLevel: LOG_LEVEL, nodeArgs: profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [] });
    const baseline = await startServer('baseline', BASELINE_SCRIPT, cleanEnv({ DATABASE_URL: baselineDb, POOL_SIZE: String(POOL_SIZE), LOG_LEVEL }));
    teardown.add('stop baseline', () => baseline.stop());
    await commitInAppWorkflow(heraldApi, WORKFLOW);

    const targets: Record<'api' | 'baseline', Target> = {
      api: { name: 'herald (api)', server: heraldApi.server, plan: heraldPlan(heraldApi) },
      baseline: { name: 'baseline', server: baseline, plan: plan(baseline.ready.url, `/workflows/${WORKFLOW}/trigger`, {}) },
    };
    await checkOnce(targets.api);
    await checkOnce(targets.baseline);

    let warmupFailures = 0;
    let apiAccepted = 1; // checkOnce
    for (const target of [targets.baseline, targets.api]) {
      const round = await runLoad({ ...target.plan, durationSeconds: WARMUP_SECONDS });
      warmupFailures += round.non2xx + round.errors + round.timeouts;
      if (target === targets.api) apiAccepted += round.responses - round.non2xx;
    }

    // Interleaved A B B A, so a drift in the machine's load hits both alike.
    const totals = { api: new TargetTotals(), all: new TargetTotals(), baseline: new TargetTotals() };
    const roundSeconds = MEASURED_SECONDS / 2;
    for (const name of ['baseline', 'api', 'api', 'baseline'] as const) await measure(targets[name], roundSeconds, totals[name], postgres);
    apiAccepted += totals.api.ok;

    // Durability check: every 2xx is a committed run with its queue job.
    // Durability check: every 2xx is a committed run whose work is queued — expanded into recipient
    // runs already (with their run jobs) or waiting for expansion by a pending trigger job.
    const [apiRows] = await ownerQuery(apiDb, `
      SELECT count(*)::int AS runs,
             count(*) FILTER (WHERE rr.workflow_run_id IS NOT NULL OR tj.run IS NOT NULL)::int AS queued,
             count(*) FILTER (WHERE rr.workflow_run_id IS NOT NULL)::int AS expanded,
             (SELECT count(*) FROM graphile_worker.jobs)::int AS jobs
      FROM workflow_runs w
      LEFT JOIN (SELECT DISTINCT workflow_run_id FROM workflow_recipient_runs) rr ON rr.workflow_run_id = w.id
      LEFT JOIN (SELECT DISTINCT (j.payload->>'run')::uuid AS run FROM graphile_worker._private_jobs j JOIN graphile_worker._private_tasks t ON t.id = j.task_id WHERE t.identifier = 'trigger') tj ON tj.run = w.id`);
    await heraldApi.server.stop();

    // Context: API + workers in one process, the workers executing the accepted runs meanwhile.
    const heraldAll = await startHeraldTarget(teardown, allDb, { role: 'all', poolSize: POOL_SIZE, logLevel: LOG_LEVEL });
    await commitInAppWorkflow(heraldAll, WORKFLOW);
    const identifyStart = performance.now();
    await identifyUsers(heraldAll, 'user-', USER_IDS);
    const identifyMs = performance.now() - identifyStart;
    const all: Target = { name: 'herald (all)', server: heraldAll.server, plan: heraldPlan(heraldAll) };
    await checkOnce(all);
    const allWarm = await runLoad({ ...all.plan, durationSeconds: WARMUP_SECONDS });
    warmupFailures += allWarm.non2xx + allWarm.errors + allWarm.timeouts;
    const messagesBefore = Number((await ownerQuery(allDb, 'SELECT count(*)::int AS n FROM messages'))[0].n);
    await measure(all, roundSeconds, totals.all, postgres);
    const messagesDuring = Number((await ownerQuery(allDb, 'SELECT count(*)::int AS n FROM messages'))[0].n) - messagesBefore;
    const [allRows] = await ownerQuery(allDb, `SELECT (SELECT count(*) FROM workflow_runs)::int AS runs, (SELECT count(*) FROM workflow_runs WHERE status = 'queued')::int AS unexpanded, (SELECT count(*) FROM workflow_recipient_runs WHERE status IN ('queued', 'processing'))::int AS pending`);

    const a = totals.api;
    const b = totals.baseline;
    const c = totals.all;
    const ratio = a.rps / b.rps;
    const p99 = a.latency.percentile(99);
    const failures = [a, b, c].reduce((n, t) => n + t.non2xx + t.errors + t.timeouts, 0) + warmupFailures;
    // autocannon stops with up to CONNECTIONS requests in flight per load round: those may
    // commit without their answer being counted, so runs ≥ 2xx, by at most that much.
    const apiLoadRounds = 5;
    const unanswered = apiRows.runs - apiAccepted;
    const durable = apiRows.queued === apiRows.runs && unanswered >= 0 && unanswered <= CONNECTIONS * apiLoadRounds;
    const passed = ratio >= TARGET_RATIO && p99 < TARGET_P99_MS && failures === 0 && durable;

    const describe = (t: TargetTotals) => `${fmt(t.rps)} req/s (p50 ${fmt(t.latency.percentile(50), 1)}, p97.5 ${fmt(t.latency.percentile(97.5), 1)}, p99 ${fmt(t.latency.percentile(99), 1)} ms)`;
    const statusText = (t: TargetTotals) => Object.entries(t.statusCounts).filter(([s]) => !s.startsWith('2')).map(([s, n]) => `${n}×${s}`).join(', ');
    const row = (name: string, t: TargetTotals) => [
      name,
      fmt(t.rps),
      `${(t.rps / b.rps).toFixed(2)}×`,
      fmt(t.latency.percentile(50), 2),
      fmt(t.latency.percentile(97.5), 2),
      fmt(t.latency.percentile(99), 2),
      fmt(t.ok),
      t.non2xx ? `${fmt(t.non2xx)} (${statusText(t)})` : '0',
      fmt(t.errors + t.timeouts),
      `${fmt(t.cores('server'), 2)} · ${fmt(t.cpuMsPerRequest('server'), 3)}`,
      `${fmt(t.cores('postgres'), 2)} · ${fmt(t.cpuMsPerRequest('postgres'), 3)}`,
      fmt(t.cores('loadgen'), 2),
      fmt(t.cores('other'), 2),
      fmt(t.cores('iowait'), 2),
    ];

    const notes = [
      `Ratio = Herald (api) req/s ÷ baseline req/s = **${ratio.toFixed(2)}** (target ≥ ${TARGET_RATIO}); Herald (api) p99 ${fmt(p99, 1)} ms (target < ${TARGET_P99_MS} ms).`,
      `Load: autocannon in its own process, ${CONNECTIONS} connections, \`POST …/workflows/${WORKFLOW}/trigger\` with one recipient drawn at random from \`user-0…user-${USER_IDS - 1}\`, the same ${Buffer.byteLength(BODY) - ID_TOKEN.length + 'user-1234'.length}-byte JSON body shape for all; warm-up ${WARMUP_SECONDS} s per target, then ${MEASURED_SECONDS} s per target measured in rounds of ${roundSeconds} s interleaved baseline, Herald (api), Herald (api), baseline; Herald (all) afterwards, one round of ${roundSeconds} s, against its own fresh database. Latency percentiles over all 2xx responses of a target.`,
      `Herald (api) = \`HERALD_ROLE=api\`: HTTP API only, no workers, so ingestion alone is measured (accepted runs wait in the queue). Per request: API-key auth, JSON-schema validation of the body, group commit — concurrent triggers of the environment share one transaction (BEGIN + set_config for RLS, one version lookup per batch, multi-row inserts of the runs and, for triggers naming users by id, of their recipient runs, and their queue jobs via graphile_worker.add_jobs; see src/engine/trigger/ingest.ts), each answered after that commit. Rate limits off. pg pool ${POOL_SIZE} for Herald and baseline, LOG_LEVEL=${LOG_LEVEL}.`,
      `Durability check (api): ${fmt(apiAccepted)} triggers answered 2xx; ${fmt(apiRows.runs)} workflow_runs rows committed (${fmt(unanswered)} of them while autocannon stopped with them in flight, ≤ ${CONNECTIONS} per each of ${apiLoadRounds} load rounds), ${fmt(apiRows.queued)} of them with their work queued (${fmt(apiRows.expanded)} expanded into recipient runs at ingestion, the rest with a pending trigger job; ${fmt(apiRows.jobs)} queue jobs in all) — ${durable ? 'consistent: every 2xx is a committed run with its work queued' : '**MISMATCH**'}.`,
      `Herald (all) = default role, API + workers (concurrency ${loadConfig({}).workerConcurrency}) in one process, 10,000 users identified beforehand (bulk identify, ${fmt(identifyMs)} ms): during its ${roundSeconds} s round the workers committed ${fmt(messagesDuring)} in-app messages (${fmt(messagesDuring / c.seconds)}/s) while ${fmt(c.rps)} triggers/s were accepted; at its end ${fmt(allRows.unexpanded)} of ${fmt(allRows.runs)} triggers were not yet expanded and ${fmt(allRows.pending)} recipient runs not yet finished${allRows.pending + allRows.unexpanded > 1000 ? ' (execution lags ingestion at this load; the backlog drains afterwards)' : ''}.`,
      `Baseline: bare Fastify 5, one \`INSERT INTO workflow_runs (…) VALUES (…)\` per request (a table of the same shape, no FK, no RLS, no explicit transaction, no job), answering the generated id.`,
      `CPU columns: cores kept busy on average while that target was measured, of ${os.cpus().length} (server = its Node process; postgres = postmaster and backends; load generator = autocannon; other = everything else on the machine; iowait = cores idle waiting for disk), and CPU ms per 2xx response.`,
    ];
    if (warmupFailures) notes.push(`Warm-up saw ${warmupFailures} non-2xx responses or errors.`);
    for (const s of [heraldApi.server, baseline, heraldAll.server]) {
      if (s.output.length) notes.push(`${s.name} printed ${s.output.length} line(s) at ${LOG_LEVEL} or above, first: \`${s.output[0]!.slice(0, 300)}\``);
    }
    if (profileDir) notes.push('Herald (api) was CPU-profiled (--cpu-prof), which slows it down.');

    return {
      summary: `herald (api) ${describe(a)} · baseline ${describe(b)} · ratio ${ratio.toFixed(2)} (target ≥ ${TARGET_RATIO}, p99 < ${TARGET_P99_MS} ms) · herald (all) ${describe(c)} · non-2xx ${a.non2xx + b.non2xx + c.non2xx}, errors ${a.errors + a.timeouts + b.errors + b.timeouts + c.errors + c.timeouts} · ${passed ? 'PASS' : 'FAIL'}`,
      passed,
      table: {
        columns: ['target', 'req/s', '÷ baseline', 'p50 ms', 'p97.5 ms', 'p99 ms', '2xx', 'non-2xx', 'errors', 'server CPU (cores · ms/req)', 'postgres CPU (cores · ms/req)', 'load generator CPU', 'other CPU', 'iowait'],
        rows: [row('herald (api)', a), row('baseline', b), row('herald (all, context)', c)],
      },
      notes,
      environment: { PostgreSQL: postgres.description },
    };
  });
}

export const scenario: Scenario = { name: 'trigger', run };

if (isMain(import.meta.url)) await runAsMain([scenario], 'node bench/trigger.ts');
