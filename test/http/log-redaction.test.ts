import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { Writable } from 'node:stream';
import pg from 'pg';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { handleError } from '../../src/http/errors.ts';
import { loggerOptions } from '../../src/http/logging.ts';
import { startHerald } from '../../src/main.ts';
import { createTestDatabase, startTestHerald, type TestHerald } from '../support/herald.ts';

/**
 * targets.md, Security: nothing secret or PII in logs. Requests carry API keys, the
 * service token and recipient details; the logs must contain the access lines of those
 * requests and none of those strings — at the default level and at `trace`.
 */

interface LogLine {
  level: number;
  msg?: string;
  status?: number;
  sqlstate?: string;
  req?: { method: string; route: string };
}

function captureLogs(): { logs: string[]; logStream: Writable } {
  const logs: string[] = [];
  const logStream = new Writable({
    write(chunk, _encoding, done) {
      logs.push(String(chunk));
      done();
    },
  });
  return { logs, logStream };
}

/** Like startTestHerald, at a chosen log level (the test helper uses the default). */
async function startHeraldAtLevel(logLevel: string): Promise<TestHerald> {
  const databaseUrl = await createTestDatabase();
  const { logs, logStream } = captureLogs();
  const config = loadConfig({ DATABASE_URL: databaseUrl, PORT: '0', HERALD_DB_POOL_SIZE: '3' });
  const herald = await startHerald(config, { logStream, logLevel, print: () => {} });
  return {
    ...herald,
    url: herald.url!,
    secrets: herald.secrets!,
    databaseUrl,
    logs,
    request(method, path, options = {}) {
      const headers: Record<string, string> = { ...(options.headers ?? {}) };
      if (options.token) headers.authorization = `Bearer ${options.token}`;
      return herald.app!.inject({ method: method as 'GET', url: path, headers, ...(options.body === undefined ? {} : { payload: options.body as object }) });
    },
  };
}

/** Strings that must never be logged, gathered while exercising the API. */
function exerciseAndCollectSecrets(getHerald: () => TestHerald) {
  const marker = randomBytes(4).toString('hex');
  const pii = {
    name: `Zelda Quackenbush ${marker}`,
    email: `zelda.${marker}@private.example`,
    phone: `+1555${parseInt(marker, 16) % 10_000_000}`.padEnd(12, '7'),
    tenantName: `Secret Tenant ${marker}`,
    pushToken: `push-token-${marker}`,
    custom: `ssn-${marker}-123-45-6789`,
  };
  const secrets: string[] = [];
  const accessLines = { count: 0 };

  return {
    pii,
    secrets,
    accessLines,
    async run() {
      const herald = getHerald();
      const { secrets: boot } = herald;
      const sk = boot.environments.development.secret_key;
      const pk = boot.environments.development.public_key;
      const token = boot.service_token;
      secrets.push(boot.owner.password, boot.owner.email, token);
      for (const keys of Object.values(boot.environments)) secrets.push(keys.public_key, keys.secret_key);
      const wrongKey = `sk_development_wrong${marker}${randomBytes(12).toString('hex')}`;
      const wrongToken = `hst_wrong${marker}${randomBytes(12).toString('hex')}`;
      secrets.push(wrongKey, wrongToken);

      const data = (method: string, path: string, body?: unknown, key = sk) => herald.request(method, path, { token: key, body });
      const mgmt = (method: string, path: string, body?: unknown) => herald.request(method, `/mgmt/v1${path}`, { token, body });
      const channel = '0b9c8e2a-4f1d-4a57-8c3e-6d2f1a0b9c8e';
      const statuses: number[] = [];
      const record = async (response: Promise<{ statusCode: number }>) => statuses.push((await response).statusCode);

      // Successful writes and reads carrying PII as values.
      await record(data('PUT', '/v1/users/redaction-user', { name: pii.name, email: pii.email, phone_number: pii.phone, ssn: pii.custom, channel_data: { [channel]: { tokens: [pii.pushToken] } } }));
      await record(data('GET', '/v1/users/redaction-user'));
      await record(data('GET', '/v1/tenants/absent-tenant'));
      await record(data('GET', '/v1/users?include=preferences'));
      await record(data('POST', '/v1/users/bulk/identify', { users: [{ id: 'redaction-2', name: pii.name, email: pii.email, phone_number: pii.phone }] }));
      await record(data('PUT', `/v1/users/redaction-user/channel_data/${channel}`, { data: { tokens: [pii.pushToken] } }));
      await record(data('GET', `/v1/users/redaction-user/channel_data/${channel}`));
      await record(data('PUT', '/v1/users/redaction-user/preferences/default', { workflows: { [pii.custom]: true } }));
      await record(data('PUT', '/v1/tenants/redaction-tenant', { name: pii.tenantName, owner_email: pii.email }));
      await record(data('POST', '/v1/users/redaction-user/merge', { from_user_id: 'redaction-2' }));
      // PII in query strings.
      await record(data('GET', `/v1/tenants?name=${encodeURIComponent(pii.tenantName)}&tenant_id=${encodeURIComponent(pii.email)}`));
      await record(data('GET', `/v1/users?after=${encodeURIComponent(pii.email)}`));
      // Refused requests carrying PII and keys: validation, bad JSON, too large, bad URL, a value Postgres refuses.
      await record(data('PUT', '/v1/users/redaction-user', { name: pii.name, email: pii.email, timezone: `Mars/${pii.custom}` }));
      await record(data('PUT', '/v1/users/redaction-user', { name: 42, email: pii.email }));
      await record(data('PUT', '/v1/users/redaction-user', { name: `${pii.name}\u0000`, phone_number: pii.phone }));
      await record(herald.app!.inject({ method: 'PUT', url: '/v1/users/redaction-user', headers: { authorization: `Bearer ${sk}`, 'content-type': 'application/json' }, payload: `{"email":"${pii.email}",` }));
      await record(herald.app!.inject({ method: 'PUT', url: '/v1/users/redaction-user', headers: { authorization: `Bearer ${sk}`, 'content-type': 'application/json' }, payload: JSON.stringify({ email: pii.email, blob: 'x'.repeat(11 * 1024 * 1024) }) }));
      await record(data('GET', `/v1/users/%E0%A4%A?email=${encodeURIComponent(pii.email)}`));
      // Wrong, public and misplaced credentials.
      await record(data('GET', '/v1/users', undefined, wrongKey));
      await record(data('PUT', '/v1/users/redaction-user', { email: pii.email }, pk));
      await record(herald.request('GET', '/v1/users', { headers: { authorization: `Basic ${sk}`, cookie: `session=${sk}`, 'x-knock-user-token': sk, 'idempotency-key': pii.email } }));
      await record(herald.request('GET', '/mgmt/v1/whoami', { token: wrongToken }));
      await record(herald.request('GET', '/mgmt/v1/whoami', { token: sk }));
      // The management API, whose responses carry new keys.
      await record(mgmt('GET', '/whoami'));
      const created = await mgmt('POST', '/environments', { name: pii.name.slice(0, 100), slug: `redaction-${marker}` });
      statuses.push(created.statusCode);
      expect(created.statusCode).toBe(201);
      for (const key of (created.json() as { api_keys: Array<{ key: string }> }).api_keys) secrets.push(key.key);
      const keys = await mgmt('POST', '/environments/development/api_keys', { name: pii.email.slice(0, 100) });
      statuses.push(keys.statusCode);
      expect(keys.statusCode).toBe(201);
      for (const key of (keys.json() as { entries: Array<{ key: string }> }).entries) secrets.push(key.key);
      await record(mgmt('PATCH', '/environments/development', { name: pii.tenantName }));
      await record(mgmt('GET', '/environments/development/api_keys'));

      // Malformed HTTP on a real socket, with the key in it (Node keeps the raw bytes on the parse error).
      const { port } = new URL(herald.url);
      await new Promise<void>((resolve, reject) => {
        const socket = net.connect(Number(port), '127.0.0.1', () => {
          socket.write(`GET /v1/users HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${sk}\r\nX-Email: ${pii.email}\r\nBad Header: \x01\r\n\r\n`);
        });
        socket.on('data', () => {});
        socket.on('close', () => resolve());
        socket.on('error', reject);
      });

      accessLines.count = statuses.length;
      // The exercise went through success and failure paths alike.
      for (const status of [200, 201, 400, 401, 403, 404, 413, 422]) expect(statuses, `a ${status} among ${statuses.join(',')}`).toContain(status);
    },
  };
}

function parse(logs: string[]): LogLine[] {
  return logs.flatMap((chunk) => chunk.split('\n').filter(Boolean)).map((line) => JSON.parse(line) as LogLine);
}

function expectNoneLogged(logs: string[], values: string[]): void {
  const text = logs.join('');
  for (const value of values) {
    expect(value.length).toBeGreaterThan(6);
    expect(text.includes(value), `"${value}" appears in the logs`).toBe(false);
    // A truncated or partly masked secret is still a leak: check its tail as well.
    expect(text.includes(value.slice(-12)), `the end of "${value}" appears in the logs`).toBe(false);
  }
}

describe.each([
  ['the default log level', () => startTestHerald()],
  ['log level trace', () => startHeraldAtLevel('trace')],
])('logs at %s', (_level, start) => {
  let herald: TestHerald;
  const scenario = exerciseAndCollectSecrets(() => herald);

  beforeAll(async () => {
    herald = await start();
    await scenario.run();
  }, 60_000);
  afterAll(async () => herald?.close());

  it('contain one access line per request, with method, route pattern and status', () => {
    const access = parse(herald.logs).filter((line) => line.msg === 'request');
    expect(access.length).toBeGreaterThanOrEqual(scenario.accessLines.count);
    expect(access).toContainEqual(expect.objectContaining({ status: 200, req: expect.objectContaining({ method: 'PUT', route: '/v1/users/:user_id' }) }));
    expect(access).toContainEqual(expect.objectContaining({ status: 401, req: expect.objectContaining({ method: 'GET', route: '/v1/users' }) }));
    expect(access).toContainEqual(expect.objectContaining({ status: 422 }));
    expect(access).toContainEqual(expect.objectContaining({ status: 413 }));
    expect(access).toContainEqual(expect.objectContaining({ status: 400 }));
    expect(access).toContainEqual(expect.objectContaining({ status: 201, req: expect.objectContaining({ route: '/mgmt/v1/environments' }) }));
    // Paths and query strings carry recipient ids (often emails): only route patterns are logged.
    expect(herald.logs.join('')).not.toContain('redaction-user');
  });

  it('contain none of the API keys, service tokens or bootstrap secrets sent or returned', () => {
    expect(scenario.secrets.length).toBeGreaterThanOrEqual(11);
    expectNoneLogged(herald.logs, scenario.secrets);
  });

  it('contain none of the recipient details sent as values', () => {
    expectNoneLogged(herald.logs, Object.values(scenario.pii));
  });

  it('contain no errors: nothing in the exercise was a fault of Herald', () => {
    expect(parse(herald.logs).filter((line) => line.level >= 50)).toEqual([]);
  });
});

describe('the logger configuration and error handler', () => {
  it('answer a value Postgres refused with 422 and log its SQLSTATE only, not the message quoting the value', () => {
    const { logs, logStream } = captureLogs();
    const log = pino(loggerOptions('info'), logStream);
    const error = Object.assign(new pg.DatabaseError('invalid input syntax for type uuid: "carol@private.example"', 100, 'error'), {
      code: '22P02',
      detail: 'carol@private.example',
    });
    let status = 0;
    let body: Record<string, unknown> = {};
    const reply = {
      status(code: number) {
        status = code;
        return reply;
      },
      send(payload: Record<string, unknown>) {
        body = payload;
        return reply;
      },
    };
    handleError(error, { log } as never, reply as never);
    expect(status).toBe(422);
    expect(body).toMatchObject({ code: 'invalid_params', status: 422, errors: [expect.objectContaining({ field: expect.any(String) })] });
    expect(JSON.stringify(body)).not.toContain('carol@private.example');
    const lines = parse(logs);
    expect(lines).toContainEqual(expect.objectContaining({ msg: 'value refused by the database', sqlstate: '22P02' }));
    expect(logs.join('')).not.toContain('carol@private.example');
  });


  it('drops the values Postgres errors quote (detail, where) from logged errors', () => {
    const { logs, logStream } = captureLogs();
    const logger = pino(loggerOptions('info'), logStream);
    const error = new pg.DatabaseError('null value in column "x" of relation "users" violates not-null constraint', 100, 'error');
    Object.assign(error, {
      code: '23502',
      detail: 'Failing row contains (alice@private.example, +15550100)',
      where: 'SQL statement "INSERT INTO users VALUES (\'alice@private.example\')"',
    });
    logger.error({ err: error }, 'request failed');
    logger.info({ email: 'bob@private.example', user: { phone_number: '+15550199' }, service_token: 'hst_abcdefgh' }, 'redact');
    const text = logs.join('');
    expect(text).toContain('23502');
    expect(text).toContain('violates not-null constraint');
    for (const value of ['alice@private.example', '+15550100', 'bob@private.example', '+15550199', 'hst_abcdefgh']) expect(text).not.toContain(value);
  });
});
