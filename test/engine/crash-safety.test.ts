/**
 * Crash safety (targets.md, Reliability): `kill -9` a worker, and separately the API
 * server, in the middle of a trigger load; after a restart every trigger that was
 * answered 200 produces its messages exactly once — 0 lost, 0 duplicated — checked by
 * counting rows and the emails a local SMTP server received.
 *
 * Herald runs as real child processes (`herald serve --role api` and `--role worker`) on
 * a fresh database; emails go to a real SMTP server in this process. A workflow sends an
 * email, then writes an in-app message, to each of 1–5 users per trigger; 1,000 triggers
 * are fired, 32 in flight, then:
 *
 * 1. Worker killed: once 30% of the expected messages exist — and, if one shows within
 *    5 s, while an SMTP send is under way — the worker is SIGKILLed (its jobs stay locked
 *    by it); once the database has dropped its session (liveness lock free) a new worker
 *    starts, releases those jobs and finishes the work. The one thing that may happen twice is
 *    an email whose SMTP send the kill cut after the server had accepted it: its attempt
 *    is left `pending`, is marked `interrupted` and re-sent with the same Message-ID (the
 *    receiver can deduplicate). Such duplicates are counted and allowed only there.
 * 2. API killed: once 40% of the triggers are answered, the API server is SIGKILLed with
 *    requests in flight (their outcome is unknown: each either fully landed or not at all);
 *    it is restarted and more triggers are fired. The worker, never killed, must deliver
 *    every email exactly once.
 *
 * Kill points are found by polling counts, never by sleeping.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, afterEach, expect, it } from 'vitest';
import type { BootstrapSecrets } from '../../src/bootstrap.ts';
import { createTestDatabase } from '../support/herald.ts';
import { startSmtpSink, type SmtpSink } from '../support/engine.ts';
import {
  killHerald,
  readBootstrap,
  startHeraldProcess,
  stopAllHeralds,
  waitFor,
  waitForLivenessReleased,
  workerRegistration,
  type HeraldProcess,
} from '../support/processes.ts';

const USERS = 200;
const CONCURRENCY = 32;
const WORKFLOW = 'crash-safety';
const STEPS = ['email_1', 'feed'] as const;
/** Generous: the machine has 2 cores shared by Postgres, two Herald processes and this test. */
const RECOVERY_DEADLINE_MS = 120_000;
const WORKER_ENV = { HERALD_WORKER_CONCURRENCY: '8', HERALD_DELIVERY_RETRY_BASE_MS: '100', HERALD_STEP_RETRY_BASE_MS: '100' };

// ---------------------------------------------------------------- a scenario's world

interface World {
  databaseUrl: string;
  dir: string;
  owner: pg.Pool;
  smtp: SmtpSink;
  secrets: BootstrapSecrets;
  api: HeraldProcess;
  worker: HeraldProcess;
}

const worlds: World[] = [];

afterEach(async () => {
  await stopAllHeralds();
  for (const world of worlds.splice(0)) {
    await world.owner.end().catch(() => undefined);
    await world.smtp.close().catch(() => undefined);
    await rm(world.dir, { recursive: true, force: true });
  }
});
afterAll(stopAllHeralds);

async function call(world: World, url: string, method: string, pathAndQuery: string, token: string, body?: unknown): Promise<any> {
  const res = await fetch(`${url}${pathAndQuery}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`${method} ${pathAndQuery}: ${res.status} ${text}\n${world.api.output.join('').slice(-2000)}`);
  return text ? JSON.parse(text) : undefined;
}

/** Runs `task` over `items` with at most `limit` at a time. */
async function pool<T>(items: T[], limit: number, task: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    for (let i = next++; i < items.length; i = next++) await task(items[i]!, i);
  }));
}

/**
 * A fresh database with Herald as two processes (the API first: it bootstraps), an SMTP
 * channel pointing at a local sink, users with email addresses and the committed workflow.
 */
async function createWorld(): Promise<World> {
  const databaseUrl = await createTestDatabase();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'herald-crash-safety-'));
  const owner = new pg.Pool({ connectionString: databaseUrl, max: 3, application_name: 'crash-safety-test' });
  const smtp = await startSmtpSink();
  const partial = { databaseUrl, dir, owner, smtp } as World;
  worlds.push(partial);
  const bootstrapJson = path.join(dir, 'bootstrap.json');
  partial.api = await startHeraldProcess({ databaseUrl, role: 'api', bootstrapJson });
  partial.secrets = await readBootstrap(bootstrapJson);
  partial.worker = await startHeraldProcess({ databaseUrl, role: 'worker', owner, env: WORKER_ENV });
  const world = partial;

  const token = world.secrets.service_token;
  const url = world.api.url!;
  await call(world, url, 'POST', '/mgmt/v1/channels', token, { key: 'email', name: 'Email', type: 'email', provider: 'smtp' });
  await call(world, url, 'PUT', '/mgmt/v1/environments/development/channels/email', token, {
    settings: { host: '127.0.0.1', port: smtp.port, ignore_tls: true, from_address: 'crash@herald.test', from_name: 'Herald Crash' },
  });
  const key = world.secrets.environments.development!.secret_key;
  await pool(Array.from({ length: USERS }, (_, i) => i), 16, async (i) => {
    await call(world, url, 'PUT', `/v1/users/u${i}`, key, { name: `User ${i}`, email: `u${i}@example.com` });
  });
  await call(world, url, 'PUT', `/mgmt/v1/workflows/${WORKFLOW}?environment=development&commit=true&commit_message=crash`, token, {
    workflow: {
      name: 'Crash safety',
      steps: [
        { ref: 'email_1', type: 'channel', channel_key: 'email', template: { subject: 'Notice {{ data.n }} for {{ recipient.name }}', html_body: '<p>Notice {{ data.n }}</p>', text_body: 'Notice {{ data.n }}' } },
        { ref: 'feed', type: 'channel', channel_key: 'in-app-feed', template: { markdown_body: 'Notice **{{ data.n }}**' } },
      ],
    },
  });
  return world;
}

// ---------------------------------------------------------------- the load

/** Deterministic pseudo-random numbers (mulberry32), so every run fires the same load. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Plan {
  n: number;
  recipients: string[];
}

/** `count` triggers numbered from `first`, each to 1–5 distinct users. */
function plans(first: number, count: number, seed: number): Plan[] {
  const next = random(seed);
  return Array.from({ length: count }, (_, i) => {
    const size = 1 + Math.floor(next() * 5);
    const recipients = new Set<string>();
    while (recipients.size < size) recipients.add(`u${Math.floor(next() * USERS)}`);
    return { n: first + i, recipients: [...recipients] };
  });
}

interface Outcome {
  plan: Plan;
  /** The HTTP status, when an answer came. */
  status?: number;
  runId?: string;
  /** No answer: the request failed (connection reset or refused). */
  error?: string;
}

/**
 * Fires the triggers, `CONCURRENCY` in flight. `onAnswer` sees each answer as it comes;
 * once `stopped()` is true no further request is started.
 */
async function fire(world: World, url: string, load: Plan[], options: { onAnswer?: (outcome: Outcome) => void; stopped?: () => boolean } = {}): Promise<Outcome[]> {
  const key = world.secrets.environments.development!.secret_key;
  const outcomes: Outcome[] = [];
  await pool(load, CONCURRENCY, async (plan) => {
    if (options.stopped?.()) return;
    const outcome: Outcome = { plan };
    try {
      const res = await fetch(`${url}/v1/workflows/${WORKFLOW}/trigger`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ recipients: plan.recipients, data: { n: plan.n } }),
      });
      outcome.status = res.status;
      const body = await res.json() as { workflow_run_id?: string };
      if (res.status === 200) outcome.runId = body.workflow_run_id;
    } catch (error) {
      outcome.status = undefined;
      outcome.error = String((error as { cause?: unknown }).cause ?? error);
    }
    outcomes.push(outcome);
    options.onAnswer?.(outcome);
  });
  return outcomes;
}

// ---------------------------------------------------------------- reading the database (as its owner: no row-level security)

async function count(world: World, query: string, params: unknown[] = []): Promise<number> {
  const { rows } = await world.owner.query<{ n: number }>(query, params);
  return rows[0]!.n;
}

/** Polls until every trigger is expanded and every recipient run has finished; returns how long it took. */
async function waitUntilAllFinished(world: World): Promise<number> {
  const started = performance.now();
  await waitFor('every recipient run to finish', async () => {
    const { rows } = await world.owner.query<{ unexpanded: number; unfinished: number }>(`
      SELECT (SELECT count(*)::int FROM workflow_runs WHERE status = 'queued') AS unexpanded,
             (SELECT count(*)::int FROM workflow_recipient_runs WHERE status NOT IN ('completed', 'halted', 'error', 'cancelled', 'batched')) AS unfinished`);
    return rows[0]!.unexpanded === 0 && rows[0]!.unfinished === 0 ? true : undefined;
  }, RECOVERY_DEADLINE_MS, 100);
  return performance.now() - started;
}

interface Verdict {
  runs: number;
  recipientRuns: number;
  messages: number;
  emails: number;
  /** Emails the SMTP sink received (every copy). */
  received: number;
  /** Delivery attempts cut by a kill (left pending, then marked interrupted and re-sent). */
  interrupted: number;
  /** Message-IDs the sink received more than once. */
  duplicatedEmails: number;
  problems: string[];
}

/**
 * Checks exactly-once: every run in the database (each must be `allowed`; each in
 * `required` must be there) has one completed recipient run per recipient with one email
 * (sent) and one in-app message (delivered) each — nothing missing, nothing extra — and the
 * SMTP sink received every email's Message-ID, twice only after an interrupted send.
 */
async function verify(world: World, required: Map<string, Plan>, allowed: (runId: string) => boolean): Promise<Verdict> {
  const problems: string[] = [];
  const runs = (await world.owner.query<{ id: string; recipients: string[]; status: string }>('SELECT id, recipients, status FROM workflow_runs')).rows;
  const recipientRuns = (await world.owner.query<{ workflow_run_id: string; recipient_key: string; status: string }>('SELECT workflow_run_id, recipient_key, status FROM workflow_recipient_runs')).rows;
  const messages = (await world.owner.query<{ id: string; workflow_run_id: string; recipient_key: string; step_ref: string; status: string }>(
    'SELECT id, workflow_run_id, recipient_key, step_ref, status FROM messages')).rows;
  const logs = (await world.owner.query<{ message_id: string; status: string }>('SELECT message_id, status FROM message_delivery_logs')).rows;

  const byId = new Map(runs.map((run) => [run.id, run]));
  for (const [runId, plan] of required) {
    const run = byId.get(runId);
    if (!run) problems.push(`accepted run ${runId} (trigger ${plan.n}) is missing`);
    else if (JSON.stringify(run.recipients) !== JSON.stringify(plan.recipients)) problems.push(`run ${runId} has recipients ${JSON.stringify(run.recipients)}, not ${JSON.stringify(plan.recipients)}`);
  }
  const expected = new Map<string, number>(); // `${run}|${recipient}` → 0
  for (const run of runs) {
    if (!allowed(run.id)) problems.push(`run ${run.id} exists but was never fired`);
    if (run.status !== 'processed') problems.push(`run ${run.id} is ${run.status}`);
    for (const id of run.recipients) expected.set(`${run.id}|user:${id}`, 0);
  }

  const seenRecipientRuns = new Map<string, number>();
  for (const rr of recipientRuns) {
    const key = `${rr.workflow_run_id}|${rr.recipient_key}`;
    seenRecipientRuns.set(key, (seenRecipientRuns.get(key) ?? 0) + 1);
    if (!expected.has(key)) problems.push(`unexpected recipient run ${key}`);
    if (rr.status !== 'completed') problems.push(`recipient run ${key} is ${rr.status}`);
  }
  for (const key of expected.keys()) {
    const n = seenRecipientRuns.get(key) ?? 0;
    if (n !== 1) problems.push(`recipient ${key} has ${n} recipient runs`);
  }

  const perStep = new Map<string, number>();
  const emailIds = new Set<string>();
  for (const m of messages) {
    const key = `${m.workflow_run_id}|${m.recipient_key}`;
    if (!expected.has(key)) problems.push(`message ${m.id} for unexpected recipient ${key}`);
    perStep.set(`${key}|${m.step_ref}`, (perStep.get(`${key}|${m.step_ref}`) ?? 0) + 1);
    if (m.step_ref === 'email_1') {
      emailIds.add(m.id);
      if (m.status !== 'sent') problems.push(`email message ${m.id} is ${m.status}`);
    } else if (m.step_ref === 'feed') {
      if (m.status !== 'delivered') problems.push(`in-app message ${m.id} is ${m.status}`);
    } else {
      problems.push(`message ${m.id} of unknown step ${m.step_ref}`);
    }
  }
  for (const key of expected.keys()) {
    for (const step of STEPS) {
      const n = perStep.get(`${key}|${step}`) ?? 0;
      if (n !== 1) problems.push(`${key} has ${n} ${step} messages`);
    }
  }

  const attempts = new Map<string, Record<string, number>>();
  for (const log of logs) {
    const byStatus = attempts.get(log.message_id) ?? {};
    byStatus[log.status] = (byStatus[log.status] ?? 0) + 1;
    attempts.set(log.message_id, byStatus);
  }
  let interrupted = 0;
  for (const id of emailIds) {
    const byStatus = attempts.get(id) ?? {};
    interrupted += byStatus.interrupted ?? 0;
    if (byStatus.succeeded !== 1) problems.push(`email message ${id} has ${byStatus.succeeded ?? 0} successful attempts`);
    if (byStatus.pending) problems.push(`email message ${id} has an attempt still pending`);
  }

  const received = new Map<string, number>();
  for (const mail of world.smtp.mails) {
    const id = /^<(.+)@herald>$/.exec(mail.messageId ?? '')?.[1] ?? `unparsable ${mail.messageId}`;
    received.set(id, (received.get(id) ?? 0) + 1);
  }
  let duplicatedEmails = 0;
  for (const id of emailIds) {
    const n = received.get(id) ?? 0;
    const cut = attempts.get(id)?.interrupted ?? 0;
    if (n === 0) problems.push(`email message ${id} never reached the SMTP server`);
    if (n > 1) duplicatedEmails++;
    if (n > 1 + cut) problems.push(`email message ${id} reached the SMTP server ${n} times with ${cut} interrupted attempts`);
  }
  for (const id of received.keys()) if (!emailIds.has(id)) problems.push(`the SMTP server received ${id}, which is no email message`);

  return {
    runs: runs.length,
    recipientRuns: recipientRuns.length,
    messages: messages.length,
    emails: emailIds.size,
    received: world.smtp.mails.length,
    interrupted,
    duplicatedEmails,
    problems,
  };
}

function expectNoProblems(verdict: Verdict, context: string) {
  expect(verdict.problems.slice(0, 20), `${verdict.problems.length} problems ${context}`).toEqual([]);
}

// ---------------------------------------------------------------- the tests

it('a worker SIGKILLed mid-batch is replaced and every accepted trigger\'s messages exist exactly once, each email received once', async () => {
  const world = await createWorld();
  const load = plans(0, 1_000, 1);
  const recipients = load.reduce((sum, plan) => sum + plan.recipients.length, 0);
  const expectedMessages = recipients * STEPS.length;

  const started = performance.now();
  let answered = 0;
  const firing = fire(world, world.api.url!, load, { onAnswer: () => answered++ });

  // The kill point: 30% of the expected messages exist (polled); then, preferably, an SMTP
  // send is under way (its attempt logged `pending`) so the kill may cut one — if none shows
  // within a few seconds, the worker is killed anyway.
  const killAt = Math.round(expectedMessages * 0.3);
  await waitFor('30% of the messages to exist', async () => ((await count(world, 'SELECT count(*)::int AS n FROM messages')) >= killAt ? true : undefined), RECOVERY_DEADLINE_MS, 10);
  const reached = performance.now();
  await waitFor('an SMTP send to be under way', async () => {
    const pending = await count(world, `SELECT count(*)::int AS n FROM message_delivery_logs WHERE status = 'pending'`);
    return pending > 0 || performance.now() - reached > 5_000 ? true : undefined;
  }, RECOVERY_DEADLINE_MS, 0);
  const dead = (await workerRegistration(world.owner, world.worker.pid))!;
  await killHerald(world.worker);
  const killedAfter = performance.now() - started;
  const answeredAtKill = answered; // firing goes on: the API is up
  // Jobs the dead worker still held: only a successor releasing them lets them run again
  // (graphile-worker would otherwise wait out its 4-hour lock timeout).
  const lockedByDead = await count(world, 'SELECT count(*)::int AS n FROM graphile_worker._private_jobs WHERE locked_by = ANY($1::text[])', [dead.workerIds]);
  const pendingAtKill = await count(world, `SELECT count(*)::int AS n FROM message_delivery_logs WHERE status = 'pending'`);
  const messagesAtKill = await count(world, 'SELECT count(*)::int AS n FROM messages');

  const outcomes = await firing;
  const accepted = new Map(outcomes.filter((o) => o.status === 200).map((o) => [o.runId!, o.plan]));
  expect(outcomes.filter((o) => o.status !== 200).map((o) => o.status ?? o.error), 'the API was never killed: every trigger is accepted').toEqual([]);
  expect(accepted.size).toBe(load.length);

  const releaseStarted = performance.now();
  await waitForLivenessReleased(world.owner, dead.lockKey);
  const released = performance.now() - releaseStarted;
  const restartedAt = performance.now();
  world.worker = await startHeraldProcess({ databaseUrl: world.databaseUrl, role: 'worker', owner: world.owner, env: WORKER_ENV });
  await waitUntilAllFinished(world);
  const recovery = performance.now() - restartedAt;

  const verdict = await verify(world, accepted, (id) => accepted.has(id));
  console.log(`[crash-safety] worker killed: ${accepted.size}/${load.length} triggers accepted, ${recipients} recipients; killed at ${messagesAtKill}/${expectedMessages} messages `
    + `(${Math.round(killedAfter)} ms in, ${answeredAtKill} triggers answered by then), holding ${lockedByDead} jobs and ${pendingAtKill} pending sends; its liveness lock was free after ${Math.round(released)} ms; `
    + `the new worker registered in ${Math.round(world.worker.startup.ms)} ms and all finished ${Math.round(recovery)} ms after its start; ${verdict.messages} messages, ${verdict.emails} emails, ${verdict.received} received by SMTP, `
    + `${verdict.interrupted} interrupted sends, ${verdict.duplicatedEmails} emails received twice`);
  expectNoProblems(verdict, 'after the worker was killed');
  expect(messagesAtKill, 'the kill came before the work was done').toBeLessThan(expectedMessages);
  expect(lockedByDead, 'the dead worker held jobs that only their release let run again').toBeGreaterThan(0);
  expect(verdict.recipientRuns).toBe(recipients);
  expect(verdict.messages).toBe(expectedMessages);
  expect(verdict.emails).toBe(recipients);
  expect(verdict.duplicatedEmails).toBeLessThanOrEqual(verdict.interrupted);
  // The successor released the dead worker's registration along with its jobs.
  const registered = (await world.owner.query<{ pid: number }>('SELECT pid FROM worker_processes')).rows.map((r) => r.pid);
  expect(registered).toEqual([world.worker.pid]);
}, 240_000);

it('an API server SIGKILLed during a trigger load loses no answered trigger and duplicates nothing after its restart', async () => {
  const world = await createWorld();
  const load = plans(0, 1_000, 2);
  const killAfter = Math.round(load.length * 0.4);

  // The kill point: 40% of the triggers answered 200; the requests then in flight get no answer.
  let answered = 0;
  let killed: Promise<void> | undefined;
  const firstApi = world.api;
  const started = performance.now();
  const outcomes = await fire(world, firstApi.url!, load, {
    onAnswer: (outcome) => {
      if (outcome.status === 200 && ++answered >= killAfter && !killed) killed = killHerald(firstApi);
    },
    stopped: () => killed !== undefined,
  });
  await killed;
  const killedAfter = performance.now() - started;
  const unanswered = outcomes.filter((o) => o.status === undefined);
  expect(outcomes.filter((o) => o.status !== undefined && o.status !== 200).map((o) => o.status), 'every answer is 200').toEqual([]);

  const restartedAt = performance.now();
  world.api = await startHeraldProcess({ databaseUrl: world.databaseUrl, role: 'api' });
  const apiReady = performance.now() - restartedAt;
  // The restarted server takes triggers again.
  const more = await fire(world, world.api.url!, plans(load.length, 200, 3));
  expect(more.filter((o) => o.status !== 200).map((o) => o.status ?? o.error)).toEqual([]);
  await waitUntilAllFinished(world);
  const recovery = performance.now() - restartedAt;

  const accepted = new Map([...outcomes, ...more].filter((o) => o.status === 200).map((o) => [o.runId!, o.plan]));
  // A request that got no answer either landed entirely (committed, answer lost) or not at
  // all; a landed one must run like an accepted one. Nothing else may exist.
  const unansweredByNumber = new Map(unanswered.map((o) => [o.plan.n, o.plan]));
  const landed = new Map<string, Plan>();
  for (const run of (await world.owner.query<{ id: string; data: { n: number } }>('SELECT id, data FROM workflow_runs')).rows) {
    const plan = unansweredByNumber.get(run.data.n);
    if (!accepted.has(run.id) && plan) landed.set(run.id, plan);
  }
  const existing = new Map([...accepted, ...landed]);
  const verdict = await verify(world, existing, (id) => existing.has(id));
  const recipients = [...existing.values()].reduce((sum, plan) => sum + plan.recipients.length, 0);
  console.log(`[crash-safety] API killed: ${answered} triggers answered 200 before the kill (${Math.round(killedAfter)} ms in), ${unanswered.length} unanswered `
    + `(${landed.size} of them landed), ${more.length} more accepted after the restart (API ready in ${Math.round(apiReady)} ms using ${world.api.startup.cpuSeconds} CPU-s, all finished ${Math.round(recovery)} ms after the restart); `
    + `${verdict.runs} runs, ${verdict.messages} messages, ${verdict.emails} emails, ${verdict.received} received by SMTP, ${verdict.interrupted} interrupted sends, ${verdict.duplicatedEmails} emails received twice`);
  expectNoProblems(verdict, 'after the API was killed');
  expect(unanswered.length, 'the kill left requests in flight').toBeGreaterThan(0);
  expect(verdict.runs).toBe(existing.size);
  expect(verdict.recipientRuns).toBe(recipients);
  expect(verdict.messages).toBe(recipients * STEPS.length);
  // The worker was never killed: every email exactly once.
  expect(verdict.interrupted).toBe(0);
  expect(verdict.duplicatedEmails).toBe(0);
  expect(verdict.received).toBe(verdict.emails);
}, 240_000);
