/**
 * Scenario "promote": how long promote-all of 500 changed workflows into production
 * takes (target < 1 s, atomic), and how long a rollback of production to an earlier
 * commit restoring 500 resources takes (target < 300 ms, atomic), through Herald's
 * management API, timed end to end from this process (request sent → whole response
 * body received).
 *
 * Setup (not timed): 500 realistic workflows (an email step with ~2 kB of HTML, an
 * in-app feed step, a delay step) are upserted in development, committed and promoted.
 * Then, per measured promotion: all 500 are changed, committed in development, and
 * `PUT /mgmt/v1/commits/promote?to_environment=production` is timed. Rollbacks alternate
 * between the commit that ended the second-to-last promotion (back) and the one that
 * ended the last (forward), each restoring all 500. After every timed operation the
 * scenario checks that every production workflow holds exactly the expected version
 * (in the database and as the API serves it) and that production gained exactly 500
 * commits of the right kind.
 *
 * The targets have no baseline, so the verdict compares with the target (on the
 * median); for context, the same run measures the floor of the same amount of writing
 * in the same PostgreSQL: one transaction updating all 500 rows of a 500-row table with
 * new jsonb values (pg directly, interleaved with Herald's operations).
 *
 * Run alone: `node bench/promote.ts` (Node 22). Env: BENCH_PROMOTE_RUNS (default 5),
 * BENCH_ROLLBACK_RUNS (default 6), BENCH_CPU_PROF=<dir> (write a V8 CPU profile of the
 * Herald process there).
 */
import pg from 'pg';
import { startBenchPostgres } from './lib/postgres.ts';
import { cleanEnv, cpuSeconds, serverScript, startServer, treeCpuSeconds, type ServerProcess } from './lib/processes.ts';
import { isMain, runAsMain, type Scenario, type ScenarioResult } from './lib/scenario.ts';
import { withTeardown } from './lib/teardown.ts';

const WORKFLOWS = 500;
const PROMOTE_RUNS = Number(process.env.BENCH_PROMOTE_RUNS ?? 5);
const ROLLBACK_RUNS = Number(process.env.BENCH_ROLLBACK_RUNS ?? 6);
const PROMOTE_TARGET_MS = 1000;
const ROLLBACK_TARGET_MS = 300;
/** Parallel upserts while setting up (they serialise on Herald's versioning lock anyway). */
const SETUP_CONCURRENCY = 8;
const LOG_LEVEL = 'warn';

const server = serverScript;


const key = (i: number) => `order-update-${String(i).padStart(3, '0')}`;

/** A transactional email of about 2 kB of HTML, different per workflow and per round. */
function emailHtml(i: number, round: number): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Order update ${i}</title>
<style>body{margin:0;padding:0;background:#f4f5f7;font-family:Helvetica,Arial,sans-serif;color:#1f2933}.card{max-width:600px;margin:24px auto;background:#ffffff;border-radius:8px;padding:32px}.btn{display:inline-block;padding:12px 20px;background:#3b5bdb;color:#ffffff;border-radius:6px;text-decoration:none}.muted{color:#7b8794;font-size:12px}</style>
</head><body>
<table role="presentation" width="100%" cellpadding="0" cellspacing="0"><tr><td>
<div class="card">
  <h1 style="font-size:22px;margin:0 0 16px">Hi {{ recipient.name | default: "there" }},</h1>
  <p>Your order <strong>#{{ data.order_id }}</strong> has a new status: <strong>{{ data.status | upcase }}</strong>.</p>
  <p>We received it on {{ data.placed_at | date: "%B %-d, %Y" }} and it ships from our {{ data.warehouse | default: "central" }} warehouse.</p>
  <table role="presentation" width="100%" cellpadding="6" cellspacing="0" style="border-top:1px solid #e4e7eb;margin:16px 0">
    {% for item in data.items %}<tr><td>{{ item.name }}</td><td align="right">{{ item.quantity }} × {{ item.price }}</td></tr>{% endfor %}
    <tr><td><strong>Total</strong></td><td align="right"><strong>{{ data.total }}</strong></td></tr>
  </table>
  {% if data.tracking_url %}<p><a class="btn" href="{{ data.tracking_url }}">Track your package</a></p>{% endif %}
  <p>Questions? Reply to this email or visit <a href="{{ vars.app_url }}/help">our help centre</a>; we answer within one business day.</p>
  <p class="muted">Template ${i}, revision ${round}. You receive this because you placed an order with {{ vars.company_name }}. Manage your notification preferences at {{ vars.app_url }}/settings/notifications.</p>
</div>
</td></tr></table>
</body></html>`;
}

function workflow(i: number, round: number) {
  return {
    name: `Order update ${i} (rev ${round})`,
    description: `Tells a customer about a change to their order (template ${i}).`,
    categories: ['orders', 'transactional'],
    steps: [
      {
        ref: 'email_1',
        type: 'channel',
        channel_key: 'email',
        template: {
          subject: `Order #{{ data.order_id }}: {{ data.status }} (rev ${round})`,
          html_body: emailHtml(i, round),
          text_body: `Hi {{ recipient.name }}, your order #{{ data.order_id }} is now {{ data.status }}. Track it at {{ data.tracking_url }}. (rev ${round})`,
        },
      },
      {
        ref: 'in_app_feed_1',
        type: 'channel',
        channel_key: 'in-app-feed',
        template: { markdown_body: `Order **#{{ data.order_id }}** is now *{{ data.status }}* (rev ${round}).`, action_url: '{{ vars.app_url }}/orders/{{ data.order_id }}' },
      },
      { ref: 'delay_1', type: 'delay', settings: { delay_for: { unit: 'minutes', value: 5 + (round % 10) } } },
    ],
  };
}

interface Stats {
  min: number;
  median: number;
  max: number;
}

function stats(values: number[]): Stats {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { min: sorted[0]!, median, max: sorted.at(-1)! };
}

const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

interface Mgmt {
  /** Sends a request; returns status, parsed body and the end-to-end milliseconds (until the whole body arrived). */
  (method: string, path: string, body?: unknown): Promise<{ status: number; json: any; ms: number }>;
}

function mgmtClient(herald: ServerProcess): Mgmt {
  const authorization = `Bearer ${herald.ready.serviceToken}`;
  return async (method, path, body) => {
    const started = performance.now();
    const response = await fetch(`${herald.ready.url}/mgmt/v1${path}`, {
      method,
      headers: body === undefined ? { authorization } : { authorization, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    const ms = performance.now() - started;
    let json: any;
    try {
      json = JSON.parse(text);
    } catch {
      json = text;
    }
    return { status: response.status, json, ms };
  };
}

function expectOk(what: string, res: { status: number; json: any }): void {
  if (res.status !== 200) throw new Error(`${what} answered ${res.status}: ${JSON.stringify(res.json).slice(0, 800)}`);
}

export async function run(): Promise<ScenarioResult> {
  return withTeardown(async (teardown) => {
    const postgres = await startBenchPostgres(teardown);
    const heraldDb = await postgres.createDatabase('herald');
    const baselineDb = await postgres.createDatabase('baseline');

    const profileDir = process.env.BENCH_CPU_PROF;
    const herald = await startServer('herald', server('herald-server'), cleanEnv({ DATABASE_URL: heraldDb, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL }), {
      nodeArgs: profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [],
    });
    teardown.add('stop herald', () => herald.stop());
    if (!herald.ready.serviceToken) throw new Error('herald-server announced no service token');
    const mgmt = mgmtClient(herald);
    const assertAlive = () => {
      if (herald.exit !== undefined) throw new Error(`herald exited (${herald.exit}); last output:\n${herald.output.slice(-30).join('\n') || '(none)'}`);
    };

    // Direct connections: one to check Herald's tables, one for the raw baseline.
    const heraldPg = new pg.Client({ connectionString: heraldDb });
    await heraldPg.connect();
    teardown.add('disconnect herald check client', () => heraldPg.end());
    const basePg = new pg.Client({ connectionString: baselineDb });
    await basePg.connect();
    teardown.add('disconnect baseline client', () => basePg.end());

    const environmentId = async (slug: string) => (await heraldPg.query<{ id: string }>('SELECT id FROM environments WHERE slug = $1', [slug])).rows[0]!.id;
    const productionId = await environmentId('production');

    // ── helpers ──────────────────────────────────────────────────────────────────
    /** Upserts all workflows with round `round`'s content, then commits development; returns key → new version id. */
    async function changeAndCommit(round: number): Promise<Map<string, string>> {
      let next = 0;
      await Promise.all(
        Array.from({ length: SETUP_CONCURRENCY }, async () => {
          while (next < WORKFLOWS) {
            const i = next++;
            const res = await mgmt('PUT', `/workflows/${key(i)}?environment=development`, { workflow: workflow(i, round) });
            expectOk(`upsert ${key(i)}`, res);
          }
        }),
      );
      const res = await mgmt('PUT', `/commits?environment=development&commit_message=${encodeURIComponent(`Round ${round}`)}`);
      expectOk('commit', res);
      const commits = res.json.commits as Array<{ resource: { identifier: string }; version_id: string }>;
      if (commits.length !== WORKFLOWS) throw new Error(`commit made ${commits.length} commits, expected ${WORKFLOWS}`);
      return new Map(commits.map((c) => [c.resource.identifier, c.version_id]));
    }

    const productionCommitCount = async () => Number((await heraldPg.query('SELECT count(*) AS n FROM commits WHERE environment_id = $1', [productionId])).rows[0].n);

    /** Every production workflow holds exactly the expected version, in the table and as the API serves it. */
    async function verifyProduction(what: string, expected: Map<string, string>, round: number): Promise<void> {
      const { rows } = await heraldPg.query<{ resource_key: string; committed_version_id: string }>(
        `SELECT resource_key, committed_version_id FROM environment_resources WHERE environment_id = $1 AND resource_type = 'workflow'`,
        [productionId],
      );
      if (rows.length !== WORKFLOWS) throw new Error(`${what}: production holds ${rows.length} workflows, expected ${WORKFLOWS}`);
      const wrong = rows.filter((r) => expected.get(r.resource_key) !== r.committed_version_id);
      if (wrong.length) throw new Error(`${what}: ${wrong.length} production workflows hold an unexpected version, e.g. ${wrong[0]!.resource_key}`);
      // As served: all pages of GET /workflows?environment=production.
      let served = 0;
      let after: string | null = null;
      do {
        const res = await mgmt('GET', `/workflows?environment=production&limit=100${after ? `&after=${encodeURIComponent(after)}` : ''}`);
        expectOk('list production workflows', res);
        for (const w of res.json.entries as Array<{ key: string; name: string }>) {
          served++;
          const i = Number(w.key.slice('order-update-'.length));
          if (w.name !== workflow(i, round).name) throw new Error(`${what}: production serves "${w.name}" for ${w.key}, expected revision ${round}`);
        }
        after = res.json.page_info.after;
      } while (after);
      if (served !== WORKFLOWS) throw new Error(`${what}: production lists ${served} workflows, expected ${WORKFLOWS}`);
    }

    /** Production commits, newest first, through the API (pages of 100), until `count` are fetched. */
    async function listProductionCommits(count: number): Promise<Array<{ id: string; kind: string }>> {
      const entries: Array<{ id: string; kind: string }> = [];
      let after: string | null = null;
      while (entries.length < count) {
        const res = await mgmt('GET', `/commits?environment=production&limit=100${after ? `&after=${encodeURIComponent(after)}` : ''}`);
        expectOk('list production commits', res);
        entries.push(...res.json.entries);
        after = res.json.page_info.after;
        if (!after) break;
      }
      return entries.slice(0, count);
    }

    // CPU used by Herald's process and by PostgreSQL (postmaster + backends) per operation.
    const cpu = () => ({ herald: cpuSeconds(herald.pid), postgres: treeCpuSeconds(postgres.pid) });
    type Sample = { ms: number; heraldCpuMs: number; postgresCpuMs: number };
    async function timed(op: () => Promise<{ ms: number }>): Promise<Sample & { ms: number }> {
      const before = cpu();
      const { ms } = await op();
      const after = cpu();
      return { ms, heraldCpuMs: (after.herald - before.herald) * 1000, postgresCpuMs: (after.postgres - before.postgres) * 1000 };
    }

    // ── raw baseline table: 500 rows of the same jsonb content ───────────────────
    await basePg.query('CREATE TABLE workflows (id int PRIMARY KEY, content jsonb NOT NULL, updated_at timestamptz NOT NULL DEFAULT now())');
    await basePg.query('INSERT INTO workflows (id, content) SELECT i, $1::jsonb FROM generate_series(0, $2::int - 1) AS i', [JSON.stringify(workflow(0, 0)), WORKFLOWS]);
    let baselineRound = 0;
    const baseline: Sample[] = [];
    async function measureBaseline(): Promise<void> {
      baselineRound++;
      const ids = Array.from({ length: WORKFLOWS }, (_, i) => i);
      const contents = ids.map((i) => JSON.stringify(workflow(i, 1000 + baselineRound)));
      baseline.push(
        await timed(async () => {
          const started = performance.now();
          await basePg.query('BEGIN');
          const res = await basePg.query(
            'UPDATE workflows AS w SET content = v.content, updated_at = now() FROM unnest($1::int[], $2::jsonb[]) AS v(id, content) WHERE w.id = v.id',
            [ids, contents],
          );
          await basePg.query('COMMIT');
          const ms = performance.now() - started;
          if (res.rowCount !== WORKFLOWS) throw new Error(`baseline updated ${res.rowCount} rows`);
          return { ms };
        }),
      );
    }

    // ── setup: round 1 in development, committed, promoted (not timed) ───────────
    const setupStarted = performance.now();
    const versions = new Map<number, Map<string, string>>();
    versions.set(1, await changeAndCommit(1));
    const first = await mgmt('PUT', '/commits/promote?to_environment=production');
    expectOk('first promote', first);
    await verifyProduction('first promotion', versions.get(1)!, 1);
    let expectedCommits = WORKFLOWS;
    const setupSeconds = (performance.now() - setupStarted) / 1000;
    const firstPromoteMs = first.ms;
    /** Per promoted round, the id of its last (highest seq) production commit. */
    const lastCommitOfRound = new Map<number, string>([[1, first.json.commits.at(-1).id]]);
    await measureBaseline(); // warm-up, discarded
    baseline.length = 0;

    // ── promote all: 500 changed workflows, timed ────────────────────────────────
    const promote: Sample[] = [];
    let round = 1;
    let changeSeconds = 0;
    for (let r = 0; r < PROMOTE_RUNS; r++) {
      round++;
      const changeStarted = performance.now();
      versions.set(round, await changeAndCommit(round));
      changeSeconds += (performance.now() - changeStarted) / 1000;
      let response: Awaited<ReturnType<Mgmt>> | undefined;
      promote.push(
        await timed(async () => {
          response = await mgmt('PUT', '/commits/promote?to_environment=production');
          return response;
        }),
      );
      assertAlive();
      expectOk(`promote round ${round}`, response!);
      const commits = response!.json.commits as Array<{ id: string; kind: string; environment: string; version_id: string; resource: { identifier: string } }>;
      if (commits.length !== WORKFLOWS || commits.some((c) => c.kind !== 'promote' || c.environment !== 'production' || c.version_id !== versions.get(round)!.get(c.resource.identifier))) {
        throw new Error(`promote round ${round}: the response lists ${commits.length} commits, not ${WORKFLOWS} promote commits of the new versions`);
      }
      lastCommitOfRound.set(round, commits.at(-1)!.id);
      await verifyProduction(`promote round ${round}`, versions.get(round)!, round);
      expectedCommits += WORKFLOWS;
      const count = await productionCommitCount();
      if (count !== expectedCommits) throw new Error(`promote round ${round}: production has ${count} commits, expected ${expectedCommits}`);
      const waiting = await mgmt('GET', '/commits?environment=development&promoted=false&limit=1');
      expectOk('list unpromoted', waiting);
      if (waiting.json.entries.length) throw new Error(`promote round ${round}: development still has unpromoted commits`);
      await measureBaseline();
    }

    // ── rollback: alternate back (to before the last promotion) and forward ──────
    // Rollback targets come from the commit list, as a user would pick them: the newest
    // production commit (end of the last promotion) and the 501st newest (end of the one before).
    const listed = await listProductionCommits(WORKFLOWS + 1);
    const forwardTarget = listed[0]!.id;
    const backTarget = listed[WORKFLOWS]!.id;
    if (forwardTarget !== lastCommitOfRound.get(round) || backTarget !== lastCommitOfRound.get(round - 1)) {
      throw new Error('the commit list disagrees with the promote responses about which commit ended each promotion');
    }
    const rollbackBack: Sample[] = [];
    const rollbackForward: Sample[] = [];
    for (let r = 0; r < ROLLBACK_RUNS; r++) {
      const back = r % 2 === 0;
      const toCommit = back ? backTarget : forwardTarget;
      const expectedRound = back ? round - 1 : round;
      let response: Awaited<ReturnType<Mgmt>> | undefined;
      (back ? rollbackBack : rollbackForward).push(
        await timed(async () => {
          response = await mgmt('PUT', `/environments/production/rollback?to_commit=${toCommit}`);
          return response;
        }),
      );
      assertAlive();
      expectOk(`rollback ${r + 1}`, response!);
      const { restored, commits } = response!.json as { restored: unknown[]; commits: Array<{ kind: string; rollback_of: string }> };
      if (restored.length !== WORKFLOWS || commits.length !== WORKFLOWS || commits.some((c) => c.kind !== 'rollback' || c.rollback_of !== toCommit)) {
        throw new Error(`rollback ${r + 1}: restored ${restored.length} / ${commits.length} commits, expected ${WORKFLOWS} rollback commits`);
      }
      await verifyProduction(`rollback ${r + 1} (${back ? 'back' : 'forward'})`, versions.get(expectedRound)!, expectedRound);
      expectedCommits += WORKFLOWS;
      const count = await productionCommitCount();
      if (count !== expectedCommits) throw new Error(`rollback ${r + 1}: production has ${count} commits, expected ${expectedCommits}`);
      await measureBaseline();
    }
    assertAlive();

    // ── report ───────────────────────────────────────────────────────────────────
    const rollback = [...rollbackBack, ...rollbackForward];
    const p = stats(promote.map((s) => s.ms));
    const rb = stats(rollback.map((s) => s.ms));
    const base = stats(baseline.map((s) => s.ms));
    const promotePassed = p.median < PROMOTE_TARGET_MS;
    const rollbackPassed = rb.median < ROLLBACK_TARGET_MS;
    const passed = promotePassed && rollbackPassed;
    const verdict = (ok: boolean) => (ok ? 'PASS' : 'FAIL');
    const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
    const cpuCell = (samples: Sample[]) => `${fmt(mean(samples.map((s) => s.heraldCpuMs)))} · ${fmt(mean(samples.map((s) => s.postgresCpuMs)))}`;
    const row = (name: string, samples: Sample[], target: string, ok: string) => {
      const s = stats(samples.map((x) => x.ms));
      return [name, String(samples.length), fmt(s.min, 1), fmt(s.median, 1), fmt(s.max, 1), target, ok, `${(s.median / base.median).toFixed(1)}×`, cpuCell(samples)];
    };
    const bytes = Buffer.byteLength(JSON.stringify(workflow(0, 1)));

    return {
      summary:
        `promote all (500 changed) median ${fmt(p.median)} ms [${fmt(p.min)}–${fmt(p.max)}] (target < ${fmt(PROMOTE_TARGET_MS)} ms) ${verdict(promotePassed)} · ` +
        `rollback (500 restored) median ${fmt(rb.median)} ms [${fmt(rb.min)}–${fmt(rb.max)}] (target < ${ROLLBACK_TARGET_MS} ms) ${verdict(rollbackPassed)} · ` +
        `raw floor (1 tx UPDATE 500 jsonb rows) median ${fmt(base.median, 1)} ms · ${verdict(passed)}`,
      passed,
      table: {
        columns: ['operation', 'runs', 'min ms', 'median ms', 'max ms', 'target (baseline)', 'verdict (median)', 'median ÷ raw floor', 'CPU ms per op, mean (herald · postgres)'],
        rows: [
          row('herald: promote all, 500 changed workflows → production', promote, `< ${fmt(PROMOTE_TARGET_MS)} ms`, verdict(promotePassed)),
          row('herald: rollback production, 500 restored (all)', rollback, `< ${ROLLBACK_TARGET_MS} ms`, verdict(rollbackPassed)),
          row('… of which back (to before the last promotion)', rollbackBack, `< ${ROLLBACK_TARGET_MS} ms`, verdict(stats(rollbackBack.map((s) => s.ms)).median < ROLLBACK_TARGET_MS)),
          row('… of which forward (to the end of the last promotion)', rollbackForward, `< ${ROLLBACK_TARGET_MS} ms`, verdict(stats(rollbackForward.map((s) => s.ms)).median < ROLLBACK_TARGET_MS)),
          row('raw floor: 1 transaction UPDATE of 500 jsonb rows (pg directly)', baseline, '—', '—'),
        ],
      },
      notes: [
        `Times are wall clock from this process: HTTP request sent → whole response body received (Herald, loopback, keep-alive), or BEGIN → COMMIT acknowledged (raw floor). Verdict on the median; max ${fmt(p.max)} ms for promote ${p.max < PROMOTE_TARGET_MS ? 'also meets' : 'misses'} its target, max ${fmt(rb.max)} ms for rollback ${rb.max < ROLLBACK_TARGET_MS ? 'also meets' : 'misses'} its target.`,
        `Content: ${WORKFLOWS} workflows, each an email step (${fmt(Buffer.byteLength(emailHtml(0, 1)))}-byte Liquid HTML body, subject, text body), an in-app feed step and a delay step (${fmt(bytes)} bytes of JSON per workflow); every round changes every workflow (name, subject, HTML, text, feed body, delay).`,
        `Promote: ${PROMOTE_RUNS} runs, each after all ${WORKFLOWS} were changed and committed in development (a promote writes 500 promote commits and moves 500 production pointers; versions are shared, not copied). Rollback: ${ROLLBACK_RUNS} runs alternating back to the commit ending the second-to-last promotion and forward to the commit ending the last (both picked from GET /commits?environment=production), each restoring all ${WORKFLOWS} as 500 rollback commits. Production history grows by 500 commits per operation (${fmt(expectedCommits)} at the end).`,
        `Verified after every timed operation: status 200; the response lists 500 commits of the right kind (and versions); every production workflow's committed version is the expected one in the database, and GET /workflows?environment=production serves the expected revision for all 500; production has exactly the expected number of commits; after each promotion nothing in development is unpromoted. All checks passed.`,
        `Raw floor: one transaction (BEGIN; UPDATE … FROM unnest($ids, $jsonb[]); COMMIT) rewriting all 500 rows of a 500-row table with new jsonb values of the same workflows, from this process over one pg connection to the same PostgreSQL, run once after each Herald operation (${baseline.length} runs, after one discarded warm-up). It ships and writes the full content; Herald's promote/rollback write only pointers and commit rows but do more statements and bookkeeping.`,
        `CPU column: CPU milliseconds per operation (mean over its runs) of Herald's Node process and of PostgreSQL (postmaster + backends), from /proc in 10 ms ticks, so coarse; for the raw floor the first figure is Herald idling.`,
        `Setup (not timed): ${fmt(setupSeconds, 1)} s for the first 500 upserts + commit + first promotion (into an empty production: ${fmt(firstPromoteMs)} ms); ${fmt(changeSeconds, 1)} s for changing and committing all 500, ${PROMOTE_RUNS} times.`,
        ...(herald.output.length ? [`herald printed ${herald.output.length} line(s) at ${LOG_LEVEL} or above, first: \`${herald.output[0]!.slice(0, 300)}\``] : []),
        ...(profileDir ? ['Herald was CPU-profiled (--cpu-prof), which slows it down.'] : []),
      ],
      environment: { PostgreSQL: postgres.description },
    };
  });
}

export const scenario: Scenario = { name: 'promote', run };

if (isMain(import.meta.url)) await runAsMain([scenario], 'node bench/promote.ts');
