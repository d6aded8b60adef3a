/**
 * Herald as a benchmark target: started in its own process on a fresh database of the
 * bench PostgreSQL (bench/servers/herald-server.ts), plus the calls scenarios need to
 * prepare it (a committed workflow, identified users, the in-app channel's id) and a
 * LISTEN on `herald_messages` that timestamps committed in-app messages as they arrive.
 */
import { readFile } from 'node:fs/promises';
import pg from 'pg';
import { MESSAGES_CHANNEL, type MessageAnnouncement } from '../../src/messages/notify.ts';
import { cleanEnv, serverScript, startServer, type ServerProcess } from './processes.ts';
import type { Teardown } from './teardown.ts';

export interface HeraldTarget {
  server: ServerProcess;
  url: string;
  secretKey: string;
  serviceToken: string;
  /** The owner (superuser) URL of Herald's database: row-level security does not apply. */
  databaseUrl: string;
}

/** Starts Herald (`role`: all = API + workers, api = no workers) on an empty database. */
export async function startHeraldTarget(
  teardown: Teardown,
  databaseUrl: string,
  options: { role: 'all' | 'api' | 'worker'; logLevel?: string; poolSize?: number; env?: Record<string, string>; name?: string; nodeArgs?: string[] },
): Promise<HeraldTarget> {
  const env: Record<string, string> = {
    DATABASE_URL: databaseUrl,
    PORT: '0',
    HOST: '127.0.0.1',
    HERALD_ROLE: options.role,
    LOG_LEVEL: options.logLevel ?? 'warn',
    HERALD_RATE_LIMITS: 'off',
    ...(options.poolSize ? { HERALD_DB_POOL_SIZE: String(options.poolSize) } : {}),
    ...options.env,
  };
  const name = options.name ?? `herald (${options.role})`;
  const server = await startServer(name, serverScript('herald-server'), cleanEnv(env), { nodeArgs: options.nodeArgs });
  teardown.add(`stop ${name}`, () => server.stop());
  return { server, url: server.ready.url, secretKey: server.ready.secretKey!, serviceToken: server.ready.serviceToken!, databaseUrl };
}

async function call(target: HeraldTarget, token: string, method: string, path: string, body?: unknown): Promise<any> {
  const response = await fetch(`${target.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (response.status >= 300) throw new Error(`${method} ${path} answered ${response.status}: ${text.slice(0, 500)}`);
  return text ? JSON.parse(text) : undefined;
}

/** A data API call with the development secret key that must succeed. */
export const api = (target: HeraldTarget, method: string, path: string, body?: unknown) => call(target, target.secretKey, method, `/v1${path}`, body);
/** A management API call with the service token that must succeed. */
export const mgmt = (target: HeraldTarget, method: string, path: string, body?: unknown) => call(target, target.serviceToken, method, `/mgmt/v1${path}`, body);

/** A workflow with one in-app feed step, saved and committed in development. */
export async function commitInAppWorkflow(target: HeraldTarget, key: string): Promise<void> {
  await mgmt(target, 'PUT', `/workflows/${key}?environment=development&commit=true`, {
    workflow: {
      name: key,
      steps: [{ ref: 'feed', type: 'channel', channel_key: 'in-app-feed', template: { markdown_body: '**{{ data.author }}** commented on {{ data.project }}: {{ data.excerpt }}' } }],
    },
  });
}

/** The id of the default `in-app-feed` channel. */
export async function inAppChannelId(target: HeraldTarget): Promise<string> {
  const { entries } = (await mgmt(target, 'GET', '/channels?limit=100')) as { entries: Array<{ id: string; key: string }> };
  const channel = entries.find((c) => c.key === 'in-app-feed');
  if (!channel) throw new Error(`no in-app-feed channel among ${entries.map((c) => c.key).join(', ')}`);
  return channel.id;
}

/** Identifies users `${prefix}0 … ${prefix}${count - 1}` through bulk identify (1,000 per call, `parallel` calls at a time). */
export async function identifyUsers(target: HeraldTarget, prefix: string, count: number, parallel = 2): Promise<void> {
  const chunks: number[] = [];
  for (let start = 0; start < count; start += 1000) chunks.push(start);
  const next = async (): Promise<void> => {
    const start = chunks.shift();
    if (start === undefined) return;
    const users = [];
    for (let i = start; i < Math.min(count, start + 1000); i++) users.push({ id: `${prefix}${i}`, name: `User ${i}`, email: `${prefix}${i}@example.com` });
    await api(target, 'POST', '/users/bulk/identify', { users });
    return next();
  };
  await Promise.all(Array.from({ length: parallel }, next));
}

/** A typical trigger payload (about 200 bytes) for one recipient. */
export function triggerBody(recipients: string[]): string {
  return JSON.stringify({
    recipients,
    data: { comment_id: 'c_8f14e45f', project: 'Analytical Engine', author: 'Ada Lovelace', excerpt: 'The engine might compose elaborate pieces of music.', url: 'https://example.com/p/42#c_8f14e45f' },
  });
}

export interface MessageWatch {
  /** Called with each announcement and performance.now() at its arrival. */
  onMessage: (announcement: MessageAnnouncement, at: number) => void;
  count: number;
  stop(): Promise<void>;
}

/**
 * LISTENs on `herald_messages` (as the owner) in this process. Announcements are sent by
 * the transaction that writes the message, so each arrives after its message committed.
 */
export async function watchMessages(teardown: Teardown, databaseUrl: string): Promise<MessageWatch> {
  const client = new pg.Client({ connectionString: databaseUrl, application_name: 'bench-listen' });
  client.on('error', () => {});
  await client.connect();
  const watch: MessageWatch = {
    onMessage: () => {},
    count: 0,
    async stop() {
      await client.end().catch(() => undefined);
    },
  };
  client.on('notification', (n) => {
    const at = performance.now();
    if (n.channel !== MESSAGES_CHANNEL || !n.payload) return;
    watch.count++;
    watch.onMessage(JSON.parse(n.payload) as MessageAnnouncement, at);
  });
  await client.query(`LISTEN ${MESSAGES_CHANNEL}`);
  teardown.add('stop listening', () => watch.stop());
  return watch;
}

/** One query as the database owner. */
export async function ownerQuery<R extends pg.QueryResultRow = any>(databaseUrl: string, text: string, values: unknown[] = []): Promise<R[]> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    return (await client.query<R>(text, values)).rows;
  } finally {
    await client.end();
  }
}

/** Resident set size of a process in bytes (VmRSS), 0 where unavailable. */
export async function rssBytes(pid: number): Promise<number> {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(await readFile(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

export const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
