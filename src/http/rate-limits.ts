import type { FastifyReply, FastifyRequest } from 'fastify';
import { HeraldError } from '../errors.ts';

/**
 * Knock's rate-limit tiers: every data-API endpoint belongs to one, and each tier
 * allows this many requests per second (docs.knock.app/api-reference/overview/rate-limits).
 */
export type Tier = 1 | 2 | 3 | 4 | 5;
export type TierLimits = Readonly<Record<Tier, number>>;

/** Requests per second per tier, as Knock publishes them. */
export const KNOCK_TIER_LIMITS: TierLimits = { 1: 1, 2: 5, 3: 60, 4: 200, 5: 1000 };

/**
 * The tier of each data-API route, keyed `METHOD /route/url` as Fastify declares it.
 * Values are Knock's own (`x-ratelimit-tier` of each operation in Knock's OpenAPI
 * document, shown as "Rate limit: Tier N" in its API reference), except where noted.
 */
export const ROUTE_TIERS: Readonly<Record<string, Tier>> = {
  'POST /v1/workflows/:key/trigger': 5,
  'POST /v1/workflows/:key/cancel': 5,

  'PUT /v1/users/:user_id': 3,
  'GET /v1/users/:user_id': 4,
  'DELETE /v1/users/:user_id': 2,
  'GET /v1/users': 4,
  'POST /v1/users/:user_id/merge': 2,
  'POST /v1/users/bulk/identify': 1,
  'POST /v1/users/bulk/delete': 1,
  'GET /v1/bulk_operations/:id': 4,

  // Knock documents no tier for listing a user's preference sets; its object equivalent is tier 4.
  'GET /v1/users/:user_id/preferences': 4,
  'GET /v1/users/:user_id/preferences/:id': 4,
  'PUT /v1/users/:user_id/preferences/:id': 3,
  // A Herald addition (Knock has no such endpoint): a write, like setting the set.
  'DELETE /v1/users/:user_id/preferences/:id': 3,

  'GET /v1/users/:user_id/channel_data/:channel_id': 4,
  'PUT /v1/users/:user_id/channel_data/:channel_id': 3,
  'DELETE /v1/users/:user_id/channel_data/:channel_id': 3,

  'PUT /v1/tenants/:id': 3,
  'GET /v1/tenants/:id': 4,
  'DELETE /v1/tenants/:id': 2,
  'GET /v1/tenants': 4,

  'PUT /v1/objects/:collection/:id': 3,
  'GET /v1/objects/:collection/:id': 4,
  'DELETE /v1/objects/:collection/:id': 3,
  'GET /v1/objects/:collection': 4,
  'GET /v1/objects/:collection/:object_id/subscriptions': 4,
  'POST /v1/objects/:collection/:object_id/subscriptions': 3,
  'DELETE /v1/objects/:collection/:object_id/subscriptions': 3,
  'PUT /v1/objects/:collection/:object_id/channel_data/:channel_id': 3,
  'GET /v1/objects/:collection/:object_id/channel_data/:channel_id': 4,
  'DELETE /v1/objects/:collection/:object_id/channel_data/:channel_id': 3,
  'GET /v1/objects/:collection/:object_id/preferences': 4,
  'GET /v1/objects/:collection/:object_id/preferences/:id': 4,
  'PUT /v1/objects/:collection/:object_id/preferences/:id': 3,
  'DELETE /v1/objects/:collection/:object_id/preferences/:id': 3,
  'GET /v1/objects/:collection/:id/messages': 4,
  'GET /v1/users/:user_id/subscriptions': 4,
};

/** The tier of a route: from the table; otherwise Knock's usual tier for reads (4) and writes (3). */
export function tierOf(method: string, url: string | undefined): Tier {
  const read = method === 'GET' || method === 'HEAD';
  return ROUTE_TIERS[`${read ? 'GET' : method} ${url}`] ?? (read ? 4 : 3);
}

export interface RateLimitOptions {
  /** Requests per second allowed per API key in each tier. */
  tiers: TierLimits;
  /** Milliseconds on a monotonic clock; tests pass their own. */
  now?: () => number;
}

/** 429 in Knock's shape. */
export class RateLimitExceeded extends HeraldError {
  constructor(message: string) {
    super(429, 'rate_limit_exceeded', 'rate_limit_error', message);
  }
}

interface Bucket {
  tokens: number;
  refilledAt: number;
}

interface Take {
  allowed: boolean;
  /** Whole requests left right now. */
  remaining: number;
  /** Seconds until the bucket is full again. */
  resetSeconds: number;
  /** Seconds until the next request would be allowed (0 if it is now). */
  retryAfterSeconds: number;
}

/**
 * Token buckets in this process's memory: each holds up to one second's worth of
 * requests (at least one) and refills continuously at the limit's rate, so a client
 * may burst a second's budget, then proceeds at the limit. With N API processes the
 * effective limit is N× the configured one; a shared store (Postgres) would cost a
 * round trip per request, which is why there is none.
 */
export class TokenBuckets {
  private readonly buckets = new Map<string, Bucket>();
  private readonly now: () => number;

  constructor(now: () => number = () => performance.now()) {
    this.now = now;
  }

  /** Takes one token from `key`'s bucket if it has one. */
  take(key: string, perSecond: number): Take {
    const now = this.now();
    const capacity = Math.max(1, perSecond);
    const bucket = this.buckets.get(key) ?? { tokens: capacity, refilledAt: now };
    bucket.tokens = Math.min(capacity, bucket.tokens + (Math.max(0, now - bucket.refilledAt) / 1000) * perSecond);
    bucket.refilledAt = now;
    const allowed = bucket.tokens >= 1;
    if (allowed) bucket.tokens -= 1;
    this.buckets.set(key, bucket);
    return {
      allowed,
      remaining: Math.floor(bucket.tokens),
      resetSeconds: Math.ceil((capacity - bucket.tokens) / perSecond),
      retryAfterSeconds: allowed ? 0 : Math.max(1, Math.ceil((1 - bucket.tokens) / perSecond)),
    };
  }
}

/**
 * onRequest hook for the data API, after authentication: limits each API key (each
 * user of a public key) per tier and reports the budget in `x-ratelimit-*` headers; over it, 429 with `Retry-After`.
 */
export function rateLimitHook(options: RateLimitOptions) {
  const buckets = new TokenBuckets(options.now);
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const tier = tierOf(request.method, request.routeOptions.url);
    const limit = options.tiers[tier];
    // A public key is shared by every browser: its budget is per user (the signed token's).
    const scope = request.tokenUserId === undefined ? request.apiKey.keyId : `${request.apiKey.keyId}:user:${request.tokenUserId}`;
    const take = buckets.take(`${scope}:${tier}`, limit);
    reply.header('x-ratelimit-limit', limit);
    reply.header('x-ratelimit-remaining', take.remaining);
    reply.header('x-ratelimit-reset', take.resetSeconds);
    if (!take.allowed) {
      reply.header('retry-after', take.retryAfterSeconds);
      throw new RateLimitExceeded(`Rate limit exceeded: ${limit} requests per second per API key for tier ${tier} endpoints; retry after ${take.retryAfterSeconds} s`);
    }
  };
}
