import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import { expect } from 'vitest';
import type { TestHerald } from './herald.ts';

/** Polls `probe` until it returns a value other than undefined/false, or fails after `timeoutMs`. */
export async function eventually<T>(probe: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 30_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value as T;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** A management API call with the owner's service token that must succeed. */
export async function mgmt(herald: TestHerald, method: string, path: string, body?: unknown) {
  const response = await herald.request(method, `/mgmt/v1${path}`, { token: herald.secrets.service_token, body });
  expect(response.statusCode, `${method} ${path}: ${response.body}`).toBeLessThan(300);
  return response.statusCode === 204 ? undefined : response.json();
}

/** Saves and commits a workflow in development (and promotes it up to `promoteTo`). */
export async function commitWorkflow(herald: TestHerald, key: string, workflow: Record<string, unknown>, promoteTo?: string) {
  await mgmt(herald, 'PUT', `/workflows/${key}?environment=development&commit=true&commit_message=${encodeURIComponent(`set ${key}`)}`, { workflow: { name: key, ...workflow } });
  if (promoteTo) await mgmt(herald, 'PUT', `/commits/promote?to_environment=${promoteTo}`);
}

/** A data API call with an environment's secret key. */
export function api(herald: TestHerald, env: string, method: string, path: string, body?: unknown, headers?: Record<string, string>) {
  return herald.request(method, `/v1${path}`, { token: herald.secrets.environments[env]!.secret_key, body, headers });
}

/** Triggers a workflow and returns its run id (the request must be accepted). */
export async function trigger(herald: TestHerald, env: string, key: string, body: Record<string, unknown>): Promise<string> {
  const response = await api(herald, env, 'POST', `/workflows/${key}/trigger`, body);
  if (response.statusCode >= 500) console.error(herald.logs.filter((l) => l.includes('"level":50')).slice(-2).join('\n'));
  expect(response.statusCode, response.body).toBe(200);
  return response.json().workflow_run_id;
}

export interface SmtpSink {
  port: number;
  mails: ParsedMail[];
  /** Makes the next `n` deliveries fail with `code` (e.g. 451 transient, 550 permanent). */
  failNext(n: number, code: number): void;
  close(): Promise<void>;
}

/** A real SMTP server on loopback that keeps every message it accepts, parsed. */
export async function startSmtpSink(): Promise<SmtpSink> {
  const mails: ParsedMail[] = [];
  let failures = 0;
  let failureCode = 451;
  const server = new SMTPServer({
    // No reverse DNS of the client: a slow resolver would delay the greeting.
    disableReverseLookup: true,
    // Herald pools SMTP connections; closing must not wait for them to go idle.
    closeTimeout: 100,
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, _session, callback) {
      simpleParser(stream).then((mail) => {
        if (failures > 0) {
          failures--;
          const error = new Error('try later') as Error & { responseCode: number };
          error.responseCode = failureCode;
          callback(error);
          return;
        }
        mails.push(mail);
        callback();
      }, callback);
    },
  });
  // A sender killed mid-message resets its connection (the crash tests do that on purpose):
  // the message is simply not accepted, which is what the tests check, not a test failure.
  server.on('error', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.server.address() as AddressInfo).port;
  return {
    port,
    mails,
    failNext(n, code) {
      failures = n;
      failureCode = code;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export interface HttpSink {
  url: string;
  requests: Array<{ method: string; url: string; headers: IncomingMessage['headers']; body: string }>;
  /** Answers the next requests with these statuses (then 200). */
  respond: { statuses: number[]; body: unknown };
  close(): Promise<void>;
}

/** A local HTTP server recording every request; answers JSON. */
export async function startHttpSink(): Promise<HttpSink> {
  const sink = { requests: [] as HttpSink['requests'], respond: { statuses: [] as number[], body: { ok: true } as unknown } };
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      sink.requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      const status = sink.respond.statuses.shift() ?? 200;
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(sink.respond.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    ...sink,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
