/**
 * Scenario "feed-latency": end-to-end in-app delivery under a steady load. Herald (default
 * role: API + workers in one process) is triggered at a fixed rate (500/s for 60 s), one
 * distinct pre-identified user per trigger, on a workflow with one in-app feed step. This
 * process LISTENs on `herald_messages` — each new in-app message is announced by the
 * transaction that writes it, so an announcement arrives only after its message committed
 * (and is readable through the feed API) — and timestamps every arrival on the same clock
 * as the trigger's send time. Targets (targets.md): every message arrives; trigger→visible
 * p50 < 100 ms, p99 < 500 ms.
 *
 * Run alone: `node bench/feed-latency.ts` (Node 22). Env: BENCH_FEED_RATE (triggers/s,
 * default 500), BENCH_FEED_SECONDS (default 60), BENCH_FEED_DRAIN_SECONDS (how long to wait
 * for late messages after the last trigger, default 30).
 */
import http from 'node:http';
import os from 'node:os';
import { loadConfig } from '../src/config.ts';
import { api, commitInAppWorkflow, fmt, identifyUsers, inAppChannelId, ownerQuery, startHeraldTarget, triggerBody, watchMessages } from './lib/herald.ts';
import { LatencyHistogram } from './lib/latency-histogram.ts';
import { startBenchPostgres } from './lib/postgres.ts';
import { cpuSeconds, treeCpuSeconds } from './lib/processes.ts';
import { isMain, runAsMain, type Scenario, type ScenarioResult } from './lib/scenario.ts';
import { withTeardown } from './lib/teardown.ts';

const RATE = Number(process.env.BENCH_FEED_RATE ?? 500);
const SECONDS = Number(process.env.BENCH_FEED_SECONDS ?? 60);
const DRAIN_SECONDS = Number(process.env.BENCH_FEED_DRAIN_SECONDS ?? 30);
const TARGET_P50_MS = 100;
const TARGET_P99_MS = 500;
const WORKFLOW = 'bench-feed';
const PREFIX = 'fl-';
const LOG_LEVEL = 'warn';
/** Sockets the paced sender may open (requests wait for a free one; the send time is taken before). */
const MAX_SOCKETS = 64;

interface Sent {
  sentAt: number;
  answeredAt?: number;
  status?: number;
  visibleAt?: number;
}

export async function run(): Promise<ScenarioResult> {
  return withTeardown(async (teardown) => {
    const total = Math.round(RATE * SECONDS);
    const postgres = await startBenchPostgres(teardown);
    const databaseUrl = await postgres.createDatabase('herald');
    const herald = await startHeraldTarget(teardown, databaseUrl, { role: 'all', logLevel: LOG_LEVEL });
    await commitInAppWorkflow(herald, WORKFLOW);
    const channelId = await inAppChannelId(herald);
    const setupStart = performance.now();
    await identifyUsers(herald, PREFIX, total);
    const identifyMs = performance.now() - setupStart;

    const sent: Sent[] = new Array(total);
    const byRecipient = new Map<string, number>();
    for (let i = 0; i < total; i++) byRecipient.set(`user:${PREFIX}${i}`, i);
    const watch = await watchMessages(teardown, databaseUrl);
    let duplicates = 0;
    let strangers = 0;
    let lastArrival = 0;
    watch.onMessage = (announcement, at) => {
      const i = announcement.c === channelId ? byRecipient.get(announcement.r) : undefined;
      const s = i === undefined ? undefined : sent[i];
      if (!s) {
        strangers++;
        return;
      }
      if (s.visibleAt !== undefined) duplicates++;
      else s.visibleAt = at;
      lastArrival = at;
    };

    const agent = new http.Agent({ keepAlive: true, maxSockets: MAX_SOCKETS });
    teardown.add('close agent', async () => agent.destroy());
    const url = new URL(`/v1/workflows/${WORKFLOW}/trigger`, herald.url);
    let transportErrors = 0;
    const send = (i: number) => {
      const body = triggerBody([`${PREFIX}${i}`]);
      const entry: Sent = { sentAt: performance.now() };
      sent[i] = entry;
      const request = http.request(url, {
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), authorization: `Bearer ${herald.secretKey}` },
      }, (response) => {
        response.resume();
        response.on('end', () => {
          entry.answeredAt = performance.now();
          entry.status = response.statusCode;
        });
      });
      request.on('error', () => transportErrors++);
      request.end(body);
    };

    // Paced: every tick sends what the schedule says is due by now (i / RATE seconds after the start).
    const cpuBefore = { herald: cpuSeconds(herald.server.pid), postgres: treeCpuSeconds(postgres.pid), self: process.cpuUsage() };
    const start = performance.now();
    let next = 0;
    let maxBehind = 0;
    await new Promise<void>((resolve) => {
      const tick = () => {
        const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * RATE) + 1);
        maxBehind = Math.max(maxBehind, due - next);
        while (next < due) send(next++);
        if (next >= total) resolve();
        else setTimeout(tick, 1);
      };
      tick();
    });
    const sendSeconds = (performance.now() - start) / 1000;

    // Drain: wait for answers and messages, bounded.
    const deadline = performance.now() + DRAIN_SECONDS * 1000;
    const visibleCount = () => sent.reduce((n, s) => n + (s.visibleAt !== undefined ? 1 : 0), 0);
    while (performance.now() < deadline && visibleCount() < total) await new Promise((r) => setTimeout(r, 100));
    const endAt = performance.now();
    const cpu = { herald: cpuSeconds(herald.server.pid) - cpuBefore.herald, postgres: treeCpuSeconds(postgres.pid) - cpuBefore.postgres, self: process.cpuUsage(cpuBefore.self) };
    await new Promise((r) => setTimeout(r, 300));

    const visible = new LatencyHistogram();
    const answer = new LatencyHistogram();
    let answered = 0;
    let ok = 0;
    const statuses: Record<string, number> = {};
    let beforeAnswer = 0;
    for (const s of sent) {
      if (s.answeredAt !== undefined) {
        answered++;
        statuses[String(s.status)] = (statuses[String(s.status)] ?? 0) + 1;
        if (s.status === 200) {
          ok++;
          answer.record(s.answeredAt - s.sentAt);
        }
      }
      if (s.visibleAt !== undefined) {
        visible.record(s.visibleAt - s.sentAt);
        if (s.answeredAt === undefined || s.visibleAt < s.answeredAt) beforeAnswer++;
      }
    }
    const arrived = visible.count;
    const [db] = await ownerQuery(databaseUrl, `SELECT (SELECT count(*) FROM messages WHERE workflow_key = $1)::int AS messages, (SELECT count(DISTINCT recipient_key) FROM messages WHERE workflow_key = $1)::int AS recipients, (SELECT count(*) FROM workflow_recipient_runs WHERE workflow_key = $1 AND status <> 'completed')::int AS unfinished`, [WORKFLOW]);

    // Spot-check through the feed API: a few recipients' feeds hold their one message.
    const sample = [0, Math.floor(total / 3), Math.floor(total / 2), total - 1];
    let feedOk = 0;
    for (const i of sample) {
      const feed = (await api(herald, 'GET', `/users/${PREFIX}${i}/feeds/${channelId}`)) as { entries?: unknown[] };
      if (feed.entries?.length === 1) feedOk++;
    }

    // Percentiles over all sent triggers: a message that never arrived counts as slower than any that did.
    const overAll = (p: number) => (Math.ceil((p / 100) * total) <= arrived ? visible.percentile((Math.ceil((p / 100) * total) / arrived) * 100) : Infinity);
    const p50 = overAll(50);
    const p99 = overAll(99);
    const allArrived = arrived === total && db.messages === total && duplicates === 0;
    const passed = allArrived && ok === total && p50 < TARGET_P50_MS && p99 < TARGET_P99_MS && transportErrors === 0;
    const achievedRate = total / sendSeconds;
    const drainSeconds = lastArrival ? Math.max(0, (lastArrival - start) / 1000 - sendSeconds) : NaN;
    const throughput = arrived / ((Math.max(lastArrival, start + 1) - start) / 1000);
    const elapsed = (endAt - start) / 1000;

    const pct = (h: LatencyHistogram, p: number) => (h.count ? fmt(h.percentile(p), 1) : '—');
    const pctAll = (p: number) => (Number.isFinite(overAll(p)) ? fmt(overAll(p), 1) : `not arrived (> ${fmt(elapsed * 1000 - (sent[total - 1]!.sentAt - start))})`);
    const statusText = Object.entries(statuses).map(([s, n]) => `${fmt(n)}×${s}`).join(', ');
    return {
      summary: `${fmt(RATE)} triggers/s for ${SECONDS} s (achieved ${fmt(achievedRate)}/s): ${fmt(arrived)}/${fmt(total)} messages visible; trigger→visible p50 ${pctAll(50)} ms, p99 ${pctAll(99)} ms (targets < ${TARGET_P50_MS} / < ${TARGET_P99_MS} ms); trigger answer p50 ${pct(answer, 50)} ms, p99 ${pct(answer, 99)} ms; delivered ${fmt(throughput)} msg/s · ${passed ? 'PASS' : 'FAIL'}`,
      passed,
      table: {
        columns: ['measure', 'count', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'target'],
        rows: [
          ['trigger sent → message visible (LISTEN), over all sent', `${fmt(arrived)} of ${fmt(total)}`, pctAll(50), pctAll(90), pctAll(99), arrived === total ? pct(visible, 100) : pctAll(100), `all ${fmt(total)}; p50 < ${TARGET_P50_MS}, p99 < ${TARGET_P99_MS}`],
          ...(arrived < total && arrived > 0 ? [['… over the arrived ones only', fmt(arrived), pct(visible, 50), pct(visible, 90), pct(visible, 99), pct(visible, 100), '—']] : []),
          ['trigger sent → 200 answer', fmt(ok), pct(answer, 50), pct(answer, 90), pct(answer, 99), pct(answer, 100), '—'],
        ],
      },
      notes: [
        `Load: ${fmt(total)} triggers of \`${WORKFLOW}\` (one in-app feed step, a Liquid + Markdown template), each to its own user \`${PREFIX}0…${PREFIX}${total - 1}\` (identified beforehand through bulk identify: ${fmt(identifyMs / 1000, 1)} s, not timed), sent from this process on a fixed schedule (${fmt(RATE)}/s: every millisecond the requests due by then go out, over ≤ ${MAX_SOCKETS} keep-alive sockets; the send time is taken when the request is issued; the schedule fell behind by at most ${fmt(maxBehind)} request(s)). Sending took ${fmt(sendSeconds, 1)} s, then up to ${DRAIN_SECONDS} s for stragglers.`,
        `Visible = the message's \`herald_messages\` announcement reached this process's LISTEN connection (sent by the writing transaction, so delivered only after COMMIT: the message is then readable through \`GET /v1/users/{id}/feeds/{channel_id}\`). Same process, same monotonic clock for send and arrival. ${fmt(beforeAnswer)} message(s) became visible before their trigger's HTTP answer arrived.`,
        `Checks: HTTP answers ${statusText || 'none'}; transport errors ${transportErrors}; ${fmt(arrived)} of ${fmt(total)} announced (duplicates ${duplicates}, others ${strangers}); messages table: ${fmt(db.messages)} rows for ${fmt(db.recipients)} distinct recipients, ${fmt(db.unfinished)} recipient runs not completed at the end; feed API spot-check: ${feedOk}/${sample.length} sampled users' feeds hold exactly their one message. Last message ${Number.isFinite(drainSeconds) ? `${fmt(drainSeconds, 1)} s after the last trigger was sent` : '—'}; delivery throughput ${fmt(throughput)} messages/s over the run.`,
        `Herald: one process, default role (API + workers, worker concurrency ${loadConfig({}).workerConcurrency}, pool ${loadConfig({}).poolSize}), LOG_LEVEL=${LOG_LEVEL}, rate limits off; embedded PostgreSQL ${postgres.description}. CPU over the ${fmt(elapsed, 1)} s of sending and draining: Herald ${fmt(cpu.herald / elapsed, 2)} cores, PostgreSQL ${fmt(cpu.postgres / elapsed, 2)} cores, this load generator ${fmt((cpu.self.user + cpu.self.system) / 1e6 / elapsed, 2)} cores, of ${os.cpus().length}.`,
        ...(herald.server.output.length ? [`Herald printed ${herald.server.output.length} line(s) at ${LOG_LEVEL} or above, first: \`${herald.server.output[0]!.slice(0, 300)}\``] : []),
      ],
      environment: { PostgreSQL: postgres.description },
    };
  });
}

export const scenario: Scenario = { name: 'feed-latency', run };

if (isMain(import.meta.url)) await runAsMain([scenario], 'node bench/feed-latency.ts');
