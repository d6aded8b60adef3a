import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.ts';
import { startHerald, type Herald } from '../../src/main.ts';
import { KNOCK_TIER_LIMITS, TokenBuckets, tierOf } from '../../src/http/rate-limits.ts';
import type { BootstrapSecrets } from '../../src/bootstrap.ts';
import { createTestDatabase } from '../support/herald.ts';

/** Small limits so a test reaches them in a few requests: tier N allows N requests per second. */
const TIERS = { 1: 1, 2: 2, 3: 3, 4: 4, 5: 5 };

let herald: Herald;
let secrets: BootstrapSecrets;
/** The limiter's clock in milliseconds; tests advance it instead of sleeping. */
let clock = 0;

beforeAll(async () => {
  const config = loadConfig({ DATABASE_URL: await createTestDatabase(), PORT: '0', HERALD_DB_POOL_SIZE: '3' });
  herald = await startHerald(config, { print: () => {}, logLevel: 'silent', rateLimits: { tiers: TIERS, now: () => clock } });
  secrets = herald.secrets!;
});
afterAll(async () => herald?.close());
// Every bucket starts each test full.
beforeEach(() => {
  clock += 60_000;
});

function request(method: string, url: string, token: string, body?: object) {
  return herald.app!.inject({ method: method as 'GET', url, headers: { authorization: `Bearer ${token}` }, ...(body ? { payload: body } : {}) });
}

const devKey = () => secrets.environments.development.secret_key;
const prodKey = () => secrets.environments.production.secret_key;

/** Sends `count` requests one after another and returns their statuses. */
async function statuses(count: number, send: () => ReturnType<typeof request>): Promise<number[]> {
  const result: number[] = [];
  for (let i = 0; i < count; i++) result.push((await send()).statusCode);
  return result;
}

describe('data API rate limits per API key and tier', () => {
  it('a key over its tier limit gets 429 with Retry-After in Knock’s error shape', async () => {
    // GET /v1/users is tier 4: four requests per second here.
    const allowed = [];
    for (let i = 0; i < 4; i++) allowed.push(await request('GET', '/v1/users', devKey()));
    expect(allowed.map((res) => res.statusCode)).toEqual([200, 200, 200, 200]);
    expect(allowed.map((res) => res.headers['x-ratelimit-remaining'])).toEqual(['3', '2', '1', '0']);
    expect(allowed[0].headers['x-ratelimit-limit']).toBe('4');
    expect(allowed[0].headers['retry-after']).toBeUndefined();

    const refused = await request('GET', '/v1/users', devKey());
    expect(refused.statusCode).toBe(429);
    expect(refused.json()).toEqual({ code: 'rate_limit_exceeded', message: expect.stringContaining('tier 4'), status: 429, type: 'rate_limit_error' });
    expect(refused.headers['retry-after']).toBe('1');
    expect(refused.headers['x-ratelimit-limit']).toBe('4');
    expect(refused.headers['x-ratelimit-remaining']).toBe('0');
    expect(refused.headers['x-ratelimit-reset']).toBe('1');
  });

  it('another key, of another environment, keeps its own budget', async () => {
    expect(await statuses(5, () => request('GET', '/v1/users', devKey()))).toEqual([200, 200, 200, 200, 429]);
    expect((await request('GET', '/v1/users', prodKey())).statusCode).toBe(200);
  });

  it('tiers have independent budgets for the same key', async () => {
    expect(await statuses(5, () => request('GET', '/v1/users', devKey()))).toEqual([200, 200, 200, 200, 429]);
    // Identify is tier 3, bulk identify tier 1: both still have their full budget.
    expect(await statuses(4, () => request('PUT', '/v1/users/tiered', devKey(), { name: 'Tiered' }))).toEqual([200, 200, 200, 429]);
    expect(await statuses(2, () => request('POST', '/v1/users/bulk/identify', devKey(), { users: [{ id: 'bulk-1' }] }))).toEqual([200, 429]);
    // Routes of the same tier share one budget: GET /v1/users/:user_id is tier 4 too.
    expect((await request('GET', '/v1/users/tiered', devKey())).statusCode).toBe(429);
  });

  it('the budget refills with time: a quarter second later one tier-4 request is allowed again, a second later all four', async () => {
    expect(await statuses(5, () => request('GET', '/v1/users', devKey()))).toEqual([200, 200, 200, 200, 429]);
    clock += 250;
    expect(await statuses(2, () => request('GET', '/v1/users', devKey()))).toEqual([200, 429]);
    clock += 1000;
    expect(await statuses(5, () => request('GET', '/v1/users', devKey()))).toEqual([200, 200, 200, 200, 429]);
  });

  it('refused requests do not use up budget: retrying early does not push the next allowed request further out', async () => {
    expect(await statuses(2, () => request('POST', '/v1/users/bulk/identify', devKey(), { users: [{ id: 'bulk-2' }] }))).toEqual([200, 429]);
    clock += 500;
    expect(await statuses(3, () => request('POST', '/v1/users/bulk/identify', devKey(), { users: [{ id: 'bulk-2' }] }))).toEqual([429, 429, 429]);
    clock += 500;
    expect((await request('POST', '/v1/users/bulk/identify', devKey(), { users: [{ id: 'bulk-2' }] })).statusCode).toBe(200);
  });

  it('answers that fail after the limit check (404, 422) still carry the rate-limit headers', async () => {
    const missing = await request('GET', '/v1/users/nobody-here', devKey());
    expect(missing.statusCode).toBe(404);
    expect(missing.headers['x-ratelimit-limit']).toBe('4');
    const invalid = await request('PUT', '/v1/users/someone', devKey(), { name: 42 });
    expect(invalid.statusCode).toBe(422);
    expect(invalid.headers['x-ratelimit-remaining']).toBe('2');
  });

  it('the management API and ops routes are not limited', async () => {
    const mgmt = await statuses(10, () => request('GET', '/mgmt/v1/whoami', secrets.service_token));
    expect(mgmt).toEqual(Array(10).fill(200));
    const whoami = await request('GET', '/mgmt/v1/whoami', secrets.service_token);
    expect(whoami.headers['x-ratelimit-limit']).toBeUndefined();
    const health = await herald.app!.inject({ method: 'GET', url: '/healthz' });
    expect(health.statusCode).toBe(200);
    expect(health.headers['x-ratelimit-limit']).toBeUndefined();
  });
});

describe('the tier table', () => {
  it('follows Knock: trigger and cancel are tier 5 (1,000 req/s), bulk endpoints tier 1 (1 req/s)', () => {
    expect(KNOCK_TIER_LIMITS).toEqual({ 1: 1, 2: 5, 3: 60, 4: 200, 5: 1000 });
    expect(tierOf('POST', '/v1/workflows/:key/trigger')).toBe(5);
    expect(tierOf('POST', '/v1/workflows/:key/cancel')).toBe(5);
    expect(tierOf('POST', '/v1/users/bulk/identify')).toBe(1);
    expect(tierOf('PUT', '/v1/users/:user_id')).toBe(3);
    expect(tierOf('HEAD', '/v1/users/:user_id')).toBe(4);
  });

  it('routes missing from the table get Knock’s usual tier: 4 for reads, 3 for writes', () => {
    expect(tierOf('GET', '/v1/not-in-the-table')).toBe(4);
    expect(tierOf('POST', '/v1/not-in-the-table')).toBe(3);
  });

  it('a limit below one per second still lets one request through, then refills at its rate', () => {
    let now = 0;
    const buckets = new TokenBuckets(() => now);
    expect(buckets.take('k', 0.5)).toMatchObject({ allowed: true, remaining: 0 });
    expect(buckets.take('k', 0.5)).toMatchObject({ allowed: false, retryAfterSeconds: 2 });
    now += 2000;
    expect(buckets.take('k', 0.5).allowed).toBe(true);
  });
});

describe('HERALD_RATE_LIMITS', () => {
  const limits = (value?: string) => loadConfig(value === undefined ? {} : { HERALD_RATE_LIMITS: value }).rateLimits?.tiers;

  it('defaults to Knock’s tiers', () => {
    expect(limits()).toEqual(KNOCK_TIER_LIMITS);
    expect(limits('knock')).toEqual(KNOCK_TIER_LIMITS);
  });

  it('`off` turns rate limiting off', () => {
    expect(limits('off')).toBeUndefined();
  });

  it('a number scales every tier', () => {
    expect(limits('2')).toEqual({ 1: 2, 2: 10, 3: 120, 4: 400, 5: 2000 });
    expect(limits('0.5')).toEqual({ 1: 0.5, 2: 2.5, 3: 30, 4: 100, 5: 500 });
  });

  it('JSON overrides single tiers, keeping Knock’s for the rest', () => {
    expect(limits('{"3": 120, "5": 5000}')).toEqual({ 1: 1, 2: 5, 3: 120, 4: 200, 5: 5000 });
  });

  it.each(['0', 'fast', '{"6": 10}', '{"3": -1}', '{"3": "60"}', '[1,2]', 'null'])('refuses %s', (value) => {
    expect(() => limits(value)).toThrow(ConfigError);
  });
});
