/**
 * Scenario "fanout": one trigger with 1,000 recipients (identified beforehand) on a
 * workflow with one in-app feed step; time from the trigger's answer until all 1,000
 * messages are committed, as heard on a LISTEN `herald_messages` connection in this
 * process (each message is announced by the transaction that writes it). Baseline in the
 * same run: one 1,000-row multi-row INSERT into a table shaped like `messages` (same
 * columns, defaults and indexes; no RLS, no foreign keys) in the same PostgreSQL. Five
 * measured rounds after one warm-up, median. Target (targets.md): all 1,000 visible < 2 s.
 *
 * Run alone: `node bench/fanout.ts` (Node 22). Env: BENCH_FANOUT_ROUNDS (default 5).
 */
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import pg from 'pg';
import { loadConfig } from '../src/config.ts';
import { RUNS_PER_JOB } from '../src/engine/recipient-runs.ts';
import { api, commitInAppWorkflow, fmt, identifyUsers, inAppChannelId, median, ownerQuery, startHeraldTarget, triggerBody, watchMessages } from './lib/herald.ts';
import { startBenchPostgres } from './lib/postgres.ts';
import { cpuSeconds, treeCpuSeconds } from './lib/processes.ts';
import { isMain, runAsMain, type Scenario, type ScenarioResult } from './lib/scenario.ts';
import { withTeardown } from './lib/teardown.ts';

const RECIPIENTS = 1000;
const ROUNDS = Number(process.env.BENCH_FANOUT_ROUNDS ?? 5);
const TARGET_MS = 2000;
const ROUND_TIMEOUT_MS = 60_000;
const WORKFLOW = 'bench-fanout';
const PREFIX = 'fo-';
const LOG_LEVEL = 'warn';

interface Round {
  /** Request sent → 200 answer. */
  answerMs: number;
  /** Answer → first / last message visible (negative: before the answer arrived). */
  firstMs: number;
  lastMs: number;
  visible: number;
  committed: number;
  heraldCpuMs: number;
  postgresCpuMs: number;
}

export async function run(): Promise<ScenarioResult> {
  return withTeardown(async (teardown) => {
    const postgres = await startBenchPostgres(teardown);
    const databaseUrl = await postgres.createDatabase('herald');
    const herald = await startHeraldTarget(teardown, databaseUrl, { role: 'all', logLevel: LOG_LEVEL });
    await commitInAppWorkflow(herald, WORKFLOW);
    const channelId = await inAppChannelId(herald);
    await identifyUsers(herald, PREFIX, RECIPIENTS);
    const recipients = Array.from({ length: RECIPIENTS }, (_, i) => `${PREFIX}${i}`);
    const body = JSON.parse(triggerBody(recipients)) as Record<string, unknown>;

    // Baseline table: the messages table's shape (columns, defaults, CHECKs, indexes), without RLS or FKs.
    const owner = new pg.Client({ connectionString: databaseUrl, application_name: 'bench-baseline' });
    owner.on('error', () => {});
    await owner.connect();
    teardown.add('disconnect baseline client', () => owner.end());
    await owner.query('CREATE TABLE bench_messages (LIKE messages INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES)');
    const [environment] = await ownerQuery(databaseUrl, `SELECT id FROM environments WHERE slug = 'development'`);
    const baselineInsert = async (): Promise<number> => {
      const runId = randomUUID();
      const rows = recipients.map((id) => ({
        environment_id: environment.id,
        id: randomUUID(),
        workflow_recipient_run_id: randomUUID(),
        workflow_run_id: runId,
        workflow_key: WORKFLOW,
        step_ref: 'feed',
        channel_id: channelId,
        channel_type: 'in_app_feed',
        recipient: { id },
        recipient_key: `user:${id}`,
        actors: [],
        status: 'delivered',
        data: body.data,
        content: { blocks: [{ name: 'body', type: 'markdown', content: `**Ada Lovelace** commented on Analytical Engine`, rendered: '<p><strong>Ada Lovelace</strong> commented on Analytical Engine</p>' }] },
        metadata: { categories: [], total_activities: 1, total_actors: 0 },
      }));
      const started = performance.now();
      const columns = Object.keys(rows[0]!).join(', ');
      await owner.query(`INSERT INTO bench_messages (${columns}) SELECT ${columns} FROM json_populate_recordset(null::bench_messages, $1::json)`, [JSON.stringify(rows)]);
      return performance.now() - started;
    };

    const watch = await watchMessages(teardown, databaseUrl);
    const runRound = async (): Promise<Round> => {
      const arrivals: number[] = [];
      const seen = new Set<string>();
      watch.onMessage = (announcement, at) => {
        if (announcement.c !== channelId || !announcement.r.startsWith(`user:${PREFIX}`) || seen.has(announcement.m)) return;
        seen.add(announcement.m);
        arrivals.push(at);
      };
      const cpu0 = { herald: cpuSeconds(herald.server.pid), postgres: treeCpuSeconds(postgres.pid) };
      const sent = performance.now();
      const { workflow_run_id: runId } = (await api(herald, 'POST', `/workflows/${WORKFLOW}/trigger`, body)) as { workflow_run_id: string };
      const answered = performance.now();
      const deadline = answered + ROUND_TIMEOUT_MS;
      while (arrivals.length < RECIPIENTS && performance.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      const cpu1 = { herald: cpuSeconds(herald.server.pid), postgres: treeCpuSeconds(postgres.pid) };
      watch.onMessage = () => {};
      const [{ n }] = await ownerQuery(databaseUrl, 'SELECT count(*)::int AS n FROM messages WHERE workflow_run_id = $1', [runId]);
      return {
        answerMs: answered - sent,
        firstMs: arrivals.length ? Math.min(...arrivals) - answered : NaN,
        lastMs: arrivals.length === RECIPIENTS ? Math.max(...arrivals) - answered : NaN,
        visible: arrivals.length,
        committed: n,
        heraldCpuMs: (cpu1.herald - cpu0.herald) * 1000,
        postgresCpuMs: (cpu1.postgres - cpu0.postgres) * 1000,
      };
    };

    // Warm-up (discarded): first compilations, caches, the queue's first jobs.
    const warm = await runRound();
    await baselineInsert();
    const rounds: Round[] = [];
    const baseline: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      // Alternate the order so drift in the machine's load hits both alike.
      if (i % 2 === 0) {
        rounds.push(await runRound());
        baseline.push(await baselineInsert());
      } else {
        baseline.push(await baselineInsert());
        rounds.push(await runRound());
      }
    }

    const complete = rounds.every((r) => r.visible === RECIPIENTS && r.committed === RECIPIENTS);
    const lasts = rounds.map((r) => (Number.isNaN(r.lastMs) ? Infinity : r.lastMs));
    const med = median(lasts);
    const baselineMed = median(baseline);
    const passed = complete && med < TARGET_MS;
    const ms = (n: number) => (Number.isFinite(n) ? fmt(n, 0) : 'incomplete');
    const meanOf = (f: (r: Round) => number) => rounds.reduce((s, r) => s + f(r), 0) / rounds.length;

    return {
      summary: `1 trigger → ${fmt(RECIPIENTS)} in-app messages: answer → all visible median ${ms(med)} ms [${ms(Math.min(...lasts))}–${ms(Math.max(...lasts))}] (target < ${fmt(TARGET_MS)} ms) · trigger answered in ${fmt(median(rounds.map((r) => r.answerMs)), 1)} ms · baseline 1,000-row multi-insert median ${fmt(baselineMed, 1)} ms (Herald ${ms(med / baselineMed)}× it) · ${complete ? 'all messages arrived' : 'MISSING messages'} · ${passed ? 'PASS' : 'FAIL'}`,
      passed,
      table: {
        columns: ['round', 'trigger answered ms', 'answer → first visible ms', 'answer → all 1,000 visible ms', 'visible', 'committed', 'herald CPU ms', 'postgres CPU ms', 'baseline multi-insert ms'],
        rows: [
          ...rounds.map((r, i) => [String(i + 1), fmt(r.answerMs, 1), fmt(r.firstMs, 0), ms(r.lastMs), fmt(r.visible), fmt(r.committed), fmt(r.heraldCpuMs), fmt(r.postgresCpuMs), fmt(baseline[i]!, 1)]),
          ['median', fmt(median(rounds.map((r) => r.answerMs)), 1), fmt(median(rounds.map((r) => r.firstMs)), 0), ms(med), '', '', fmt(median(rounds.map((r) => r.heraldCpuMs))), fmt(median(rounds.map((r) => r.postgresCpuMs))), fmt(baselineMed, 1)],
        ],
      },
      notes: [
        `Herald: one process, default role (API + workers, worker concurrency ${loadConfig({}).workerConcurrency}, pool ${loadConfig({}).poolSize}), LOG_LEVEL=${LOG_LEVEL}; workflow \`${WORKFLOW}\` = one in-app feed step (Liquid + Markdown template); ${fmt(RECIPIENTS)} users identified beforehand; the trigger names all ${fmt(RECIPIENTS)} by id (${fmt(Buffer.byteLength(JSON.stringify(body)))}-byte body). The engine expands it in one transaction into ${fmt(RECIPIENTS)} recipient runs and ${Math.ceil(RECIPIENTS / RUNS_PER_JOB)} jobs of ${RUNS_PER_JOB} runs, each run then executed (preferences, render, message + event + announcement in one transaction).`,
        `Visible = the message's announcement reached this process's LISTEN connection (sent by the writing transaction, so after its COMMIT); checked afterwards by counting the run's rows in \`messages\`. Clock: this process, from the trigger's 200 answer. ${ROUNDS} measured rounds after one warm-up round (warm-up: answer → all visible ${ms(warm.lastMs)} ms); CPU columns = CPU time used by Herald's process and PostgreSQL (postmaster + backends) from the trigger until the last message, from /proc in 10 ms ticks. Mean Herald CPU per message ${fmt(meanOf((r) => r.heraldCpuMs) / RECIPIENTS, 2)} ms, PostgreSQL ${fmt(meanOf((r) => r.postgresCpuMs) / RECIPIENTS, 2)} ms.`,
        `Baseline: one \`INSERT INTO bench_messages (…) SELECT … FROM json_populate_recordset(…)\` of ${fmt(RECIPIENTS)} rows with the same kind of content, autocommit, from this process over one connection as the owner; bench_messages = \`LIKE messages INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES\` in the same database; alternated with the Herald rounds. Herald ÷ baseline = ${ms(med / baselineMed)}× (the engine does per recipient a run row, a job share, preference lookup, rendering, message + event rows and an announcement, each run in its own transactions).`,
        `Machine: ${os.cpus().length} cores; embedded PostgreSQL ${postgres.description}.`,
        ...(herald.server.output.length ? [`Herald printed ${herald.server.output.length} line(s) at ${LOG_LEVEL} or above, first: \`${herald.server.output[0]!.slice(0, 300)}\``] : []),
      ],
      environment: { PostgreSQL: postgres.description },
    };
  });
}

export const scenario: Scenario = { name: 'fanout', run };

if (isMain(import.meta.url)) await runAsMain([scenario], 'node bench/fanout.ts');
