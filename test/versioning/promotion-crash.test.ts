/**
 * "Promoting is atomic: all of it lands or none" (environments.md §2), under the worst
 * failure: the server process is SIGKILLed while `PUT /commits/promote` of 500 workflows
 * into production is in flight.
 *
 * Herald runs as a real child process (`herald serve`) on a fresh database. 500 workflows
 * are created and committed in development over HTTP. Then, several times: promote all
 * into production, SIGKILL the server either after a delay (random, from 0 to twice the
 * time an uninterrupted promotion took: the delay is the thing under test, so a timer)
 * or at the moment PostgreSQL shows the promotion's transaction open with its writes
 * under way (polled from pg_stat_activity / pg_locks);
 * wait until every backend of the dead server is gone (a COMMIT already sent could
 * otherwise still land); restart on the same database and check that production holds
 * exactly what it held before (NONE) or all 500 new versions (ALL) — by its commits and
 * by environment_resources — never a part. At least one attempt must have killed the
 * promotion mid-way: its transaction was seen open with writes made, no response came,
 * and nothing landed. Finally a promotion completes and a second one finds nothing left.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { freePort } from '../../src/db/embedded.ts';
import { createTestDatabase } from '../support/herald.ts';

const WORKFLOWS = 500;
const CONCURRENCY = 16;
const key = (i: number) => `crash-${String(i).padStart(3, '0')}`;

const workflow = (i: number) => ({
  name: `Crash ${i}`,
  steps: [
    {
      ref: 'email_1',
      type: 'channel',
      channel_key: 'email',
      template: { subject: `Update ${i} for {{ recipient.name }}`, html_body: `<p>${'Lorem ipsum dolor sit amet. '.repeat(20)}{{ data.message }}</p>` },
    },
  ],
});

/** Polls `check` until it returns a value (not undefined), or fails after `timeoutMs`. */
async function waitFor<T>(what: string, check: () => Promise<T | undefined> | T | undefined, timeoutMs = 30_000, everyMs = 20): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

// ---------------------------------------------------------------- the server process

interface Server {
  child: ChildProcess;
  url: string;
  output: string[];
  exited: Promise<void>;
}

let databaseUrl: string;
let dir: string;
let token: string;
let admin: pg.Client;
let server: Server | undefined;
const allOutput: string[] = [];

/** The parent's environment without anything that would point the server elsewhere. */
function serverEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!/^(HERALD_|DATABASE_URL$|PORT$|HOST$|LOG_LEVEL$|NODE_OPTIONS$)/.test(name)) env[name] = value;
  }
  return { ...env, DATABASE_URL: databaseUrl, LOG_LEVEL: 'warn', HERALD_DB_POOL_SIZE: '10' };
}

async function startServer(): Promise<Server> {
  const port = await freePort();
  const child = spawn(process.execPath, ['src/cli/herald.ts', 'serve', '--port', String(port), '--bootstrap-json', path.join(dir, 'bootstrap.json')], {
    cwd: process.cwd(),
    env: serverEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const collect = (chunk: Buffer) => {
    output.push(String(chunk));
    allOutput.push(String(chunk));
  };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  let hasExited = false;
  const exited = new Promise<void>((resolve) => child.once('exit', () => {
    hasExited = true;
    resolve();
  }));
  const url = `http://127.0.0.1:${port}`;
  await waitFor('the server to be ready', async () => {
    if (hasExited) throw new Error(`herald serve exited during startup:\n${output.join('')}`);
    try {
      return (await fetch(`${url}/readyz`)).status === 200 ? true : undefined;
    } catch {
      return undefined;
    }
  });
  return { child, url, output, exited };
}

async function kill(s: Server): Promise<void> {
  s.child.kill('SIGKILL');
  await s.exited;
}

async function api(method: string, pathAndQuery: string, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(`${server!.url}/mgmt/v1${pathAndQuery}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, json: await res.json() };
}

/** A request whose response may never come: settles with it, or with the socket error. */
function inFlight(s: Server, method: string, pathAndQuery: string) {
  let onSent!: () => void;
  const sent = new Promise<void>((resolve) => (onSent = resolve));
  const state = { done: false };
  const settled = new Promise<{ status?: number; error?: string }>((resolve) => {
    const finish = (result: { status?: number; error?: string }) => {
      state.done = true;
      resolve(result);
    };
    const request = http.request(`${s.url}/mgmt/v1${pathAndQuery}`, { method, headers: { authorization: `Bearer ${token}` }, agent: false }, (res) => {
      res.resume();
      res.on('end', () => finish({ status: res.statusCode }));
      res.on('error', (error) => finish({ error: String(error) }));
    });
    request.on('error', (error) => finish({ error: String(error) }));
    request.end(onSent);
  });
  return { sent, settled, isDone: () => state.done };
}

// ---------------------------------------------------------------- the database, read as superuser

async function environmentId(slug: string): Promise<string> {
  const { rows } = await admin.query('SELECT id FROM environments WHERE slug = $1', [slug]);
  return rows[0].id;
}

/** What an environment holds: committed version per workflow, and its number of commits. */
async function holdings(slug: string): Promise<{ versions: Map<string, string>; commits: number; promoteCommits: number }> {
  const id = await environmentId(slug);
  const held = await admin.query(
    `SELECT resource_key, committed_version_id FROM environment_resources WHERE environment_id = $1 AND committed_version_id IS NOT NULL`,
    [id],
  );
  const counts = await admin.query(`SELECT count(*)::int AS commits, count(*) FILTER (WHERE kind = 'promote')::int AS promotes FROM commits WHERE environment_id = $1`, [id]);
  return { versions: new Map(held.rows.map((r) => [r.resource_key, r.committed_version_id])), commits: counts.rows[0].commits, promoteCommits: counts.rows[0].promotes };
}

/** Backends of the running server (application_name herald) on the test database. */
async function serverBackends(): Promise<number[]> {
  const { rows } = await admin.query(`SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'herald'`);
  return rows.map((r) => r.pid);
}

/**
 * True once a server backend holds the versioning advisory lock (the promotion's
 * transaction is open) and its latest statement is one of the promotion's writes after
 * the commits INSERT started, i.e. the transaction has written but not committed.
 */
async function promotionMidWrite(): Promise<boolean> {
  const { rows } = await admin.query(`
    SELECT a.query FROM pg_stat_activity a
    JOIN pg_locks l ON l.pid = a.pid AND l.locktype = 'advisory' AND l.granted
    WHERE a.datname = current_database() AND a.application_name = 'herald' AND a.state <> 'idle'`);
  return rows.some((r) => /^(insert into "commits"|insert into "environment_resources"|update "environments"|insert into "audit_events")/i.test(r.query));
}

// ---------------------------------------------------------------- setup

beforeAll(async () => {
  databaseUrl = await createTestDatabase();
  dir = await mkdtemp(path.join(os.tmpdir(), 'herald-crash-'));
  admin = new pg.Client({ connectionString: databaseUrl, application_name: 'promotion-crash-test' });
  await admin.connect();
  server = await startServer();
  token = JSON.parse(await readFile(path.join(dir, 'bootstrap.json'), 'utf8')).service_token;

  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      for (let i = next++; i < WORKFLOWS; i = next++) {
        const res = await api('PUT', `/workflows/${key(i)}?environment=development`, { workflow: workflow(i) });
        if (res.status !== 200) throw new Error(`upsert ${key(i)}: ${res.status} ${JSON.stringify(res.json)}`);
      }
    }),
  );
  const committed = await api('PUT', '/commits?environment=development&commit_message=500%20workflows');
  expect(committed.status).toBe(200);
  expect(committed.json.commits).toHaveLength(WORKFLOWS);
}, 180_000);

afterAll(async () => {
  if (server) await kill(server);
  await admin?.end();
  if (dir) await rm(dir, { recursive: true, force: true });
});

// ---------------------------------------------------------------- the test

type Trigger = { delayMs: number } | 'mid-write';

it('a promotion of 500 workflows killed in flight lands entirely or not at all, and a later promotion completes', async () => {
  // How long an uninterrupted promotion of 500 takes on a freshly started server (as in
  // every attempt below); it also shows that a promotion completes when nothing kills it.
  await kill(server!);
  server = await startServer();
  const started = performance.now();
  const calibration = await api('PUT', '/commits/promote?to_environment=production');
  const duration = performance.now() - started;
  expect(calibration.status, JSON.stringify(calibration.json)).toBe(200);
  expect(calibration.json.commits).toHaveLength(WORKFLOWS);

  // Kill delays spread over that duration, random within each band (a timer: the delay is
  // what is under test); then kills aimed at the open transaction, until one lands mid-way.
  const band = (from: number, to: number) => Math.round(duration * (from + Math.random() * (to - from)));
  const triggers: Trigger[] = [
    { delayMs: 0 },
    { delayMs: band(0.05, 0.3) },
    { delayMs: band(0.3, 0.7) },
    { delayMs: band(0.7, 1.1) },
    { delayMs: band(1.1, 2) },
    'mid-write',
    'mid-write',
    'mid-write',
  ];
  const outcomes: Array<{ trigger: Trigger; outcome: 'none' | 'all'; responded: boolean; midWrite: boolean }> = [];

  for (let attempt = 0; attempt < triggers.length + 5; attempt++) {
    const trigger: Trigger = attempt < triggers.length ? triggers[attempt] : 'mid-write';
    if (attempt >= triggers.length && outcomes.some((o) => o.midWrite && o.outcome === 'none' && !o.responded)) break;

    // Something to promote: if the last attempt promoted everything, make 500 new versions.
    const dev = await holdings('development');
    let before = await holdings('production');
    if ([...dev.versions].every(([k, v]) => before.versions.get(k) === v)) {
      const res = await api('PUT', '/commits?environment=development&allow_empty=true&commit_message=again');
      expect(res.status).toBe(200);
      expect(res.json.commits).toHaveLength(WORKFLOWS);
    }
    const waiting = (await holdings('development')).versions;
    expect(waiting.size).toBe(WORKFLOWS);
    before = await holdings('production');

    const s = server!;
    const request = inFlight(s, 'PUT', '/commits/promote?to_environment=production');
    await request.sent;
    let midWrite = false;
    if (trigger === 'mid-write') {
      midWrite = await waitFor('the promotion to be mid-write (or over)', async () => {
        if (await promotionMidWrite()) return true;
        // Finished before we saw it: kill anyway (a finished promotion must be ALL).
        return request.isDone() ? false : undefined;
      }, 10_000, 0);
    } else {
      await new Promise((resolve) => setTimeout(resolve, trigger.delayMs));
    }
    await kill(s);
    server = undefined;
    const result = await request.settled;
    const responded = result.status !== undefined;
    if (responded) expect(result.status, s.output.join('')).toBe(200);

    // The dead server's connections end; until they do, a COMMIT already sent could still land.
    await waitFor('the killed server’s backends to end', async () => ((await serverBackends()).length === 0 ? true : undefined));
    server = await startServer();

    const after = await holdings('production');
    const none = after.commits === before.commits && [...after.versions].every(([k, v]) => before.versions.get(k) === v) && after.versions.size === before.versions.size;
    const all = after.commits === before.commits + WORKFLOWS && after.promoteCommits === before.promoteCommits + WORKFLOWS && after.versions.size === WORKFLOWS && [...waiting].every(([k, v]) => after.versions.get(k) === v);
    const description = `attempt ${attempt} (${JSON.stringify(trigger)}): production had ${before.commits} commits, now ${after.commits}; ${[...waiting].filter(([k, v]) => after.versions.get(k) === v).length}/${WORKFLOWS} new versions held; responded=${responded}`;
    expect(none || all, `ALL or NONE, never a part — ${description}`).toBe(true);
    if (responded) expect(all, `a promotion that answered 200 landed — ${description}`).toBe(true);
    outcomes.push({ trigger, outcome: all ? 'all' : 'none', responded, midWrite });

    // The restarted server agrees with the database about what is waiting.
    const unpromoted = await api('GET', '/commits?environment=development&promoted=false&limit=1');
    expect(unpromoted.status).toBe(200);
    expect(unpromoted.json.entries.length, description).toBe(all ? 0 : 1);
  }

  // At least one kill hit the promotion mid-way: transaction open with writes made, no answer, nothing landed.
  expect(outcomes.some((o) => o.midWrite && o.outcome === 'none' && !o.responded), JSON.stringify(outcomes)).toBe(true);

  // A promotion after the crashes completes: production then holds every development version.
  if (outcomes[outcomes.length - 1].outcome === 'all') {
    expect((await api('PUT', '/commits?environment=development&allow_empty=true&commit_message=last')).status).toBe(200);
  }
  const dev = await holdings('development');
  const done = await api('PUT', '/commits/promote?to_environment=production');
  expect(done.status).toBe(200);
  expect(done.json.commits).toHaveLength(WORKFLOWS);
  const production = await holdings('production');
  expect(production.versions).toEqual(dev.versions);
  const again = await api('PUT', '/commits/promote?to_environment=production');
  expect(again.status).toBe(200);
  expect(again.json.commits).toEqual([]);
  const waiting = await api('GET', '/commits?environment=development&promoted=false&limit=1');
  expect(waiting.json.entries).toEqual([]);
}, 240_000);
