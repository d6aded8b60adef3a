import path from 'node:path';
import { KNOCK_TIER_LIMITS, type RateLimitOptions, type Tier } from './http/rate-limits.ts';

/** Which parts of Herald a process runs. */
export type Role = 'all' | 'api' | 'worker';

export interface HeraldConfig {
  host: string;
  port: number;
  role: Role;
  /** Owner connection (runs migrations). Unset: start the embedded PostgreSQL. */
  databaseUrl?: string;
  /** Optional separate login for the application role; default: the owner URL with `role=herald_app`. */
  appDatabaseUrl?: string;
  dataDir: string;
  /** Port for the embedded PostgreSQL; 0 picks a free one. */
  embeddedPgPort: number;
  ownerEmail: string;
  bootstrapJsonPath?: string;
  logLevel: string;
  /** Connections in the application pool. */
  poolSize: number;
  /** Data-API rate limits per API key and tier; undefined: off. */
  rateLimits?: RateLimitOptions;
  /** Jobs a worker process runs at once. */
  workerConcurrency: number;
  engine: EngineConfig;
}

/** How the engine retries: provider sends (Knock: up to 8 tries over ~30 minutes) and failing steps (3 tries). */
export interface EngineConfig {
  deliveryMaxAttempts: number;
  /** First retry delay; each next one doubles, with ±25% jitter. */
  deliveryRetryBaseMs: number;
  stepMaxAttempts: number;
  stepRetryBaseMs: number;
}

function parsePositiveInt(value: string, name: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new ConfigError(`${name} must be a positive integer, got "${value}"`);
  return n;
}

export class ConfigError extends Error {}

function parsePort(value: string, name: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new ConfigError(`${name} must be an integer between 0 and 65535, got "${value}"`);
  }
  return port;
}

function parseRole(value: string): Role {
  if (value === 'all' || value === 'api' || value === 'worker') return value;
  throw new ConfigError(`role must be one of all, api, worker; got "${value}"`);
}

/**
 * `HERALD_RATE_LIMITS`: unset or `knock` for Knock's tiers (1, 5, 60, 200, 1,000 req/s),
 * `off`, a factor for all of them (`2`, `0.5`), or JSON overriding tiers' req/s (`{"3": 120}`).
 */
function parseRateLimits(value: string): RateLimitOptions | undefined {
  const setting = value.trim();
  if (setting === '' || setting === 'knock') return { tiers: KNOCK_TIER_LIMITS };
  if (setting === 'off') return undefined;
  const invalid = () => new ConfigError(`HERALD_RATE_LIMITS must be knock, off, a positive factor or JSON like {"3": 120}; got "${value}"`);
  const positive = (n: unknown): n is number => typeof n === 'number' && Number.isFinite(n) && n > 0;
  if (/^[0-9.]+$/.test(setting)) {
    const factor = Number(setting);
    if (!positive(factor)) throw invalid();
    const scaled = Object.entries(KNOCK_TIER_LIMITS).map(([tier, limit]) => [tier, limit * factor]);
    return { tiers: Object.fromEntries(scaled) as Record<Tier, number> };
  }
  let overrides: unknown;
  try {
    overrides = JSON.parse(setting);
  } catch {
    throw invalid();
  }
  if (overrides === null || typeof overrides !== 'object' || Array.isArray(overrides)) throw invalid();
  for (const [tier, limit] of Object.entries(overrides)) {
    if (!(tier in KNOCK_TIER_LIMITS) || !positive(limit)) throw invalid();
  }
  return { tiers: { ...KNOCK_TIER_LIMITS, ...(overrides as Partial<Record<Tier, number>>) } };
}

/** Command-line flags that override the environment. */
export interface ConfigFlags {
  port?: string;
  host?: string;
  role?: string;
  bootstrapJson?: string;
}

/** Reads configuration from environment variables and CLI flags (flags win), with defaults. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, flags: ConfigFlags = {}): HeraldConfig {
  const dataDir = path.resolve(env.HERALD_DATA_DIR ?? '.herald');
  return {
    host: flags.host ?? env.HOST ?? '127.0.0.1',
    port: parsePort(flags.port ?? env.PORT ?? '3000', 'port'),
    role: parseRole(flags.role ?? env.HERALD_ROLE ?? 'all'),
    databaseUrl: env.DATABASE_URL || undefined,
    appDatabaseUrl: env.HERALD_APP_DATABASE_URL || undefined,
    dataDir,
    embeddedPgPort: parsePort(env.HERALD_PG_PORT ?? '0', 'HERALD_PG_PORT'),
    ownerEmail: env.HERALD_OWNER_EMAIL ?? 'owner@herald.local',
    bootstrapJsonPath: flags.bootstrapJson ?? (env.HERALD_BOOTSTRAP_JSON || undefined),
    logLevel: env.LOG_LEVEL ?? 'info',
    poolSize: Number(env.HERALD_DB_POOL_SIZE ?? 20),
    rateLimits: parseRateLimits(env.HERALD_RATE_LIMITS ?? ''),
    workerConcurrency: parsePositiveInt(env.HERALD_WORKER_CONCURRENCY ?? '8', 'HERALD_WORKER_CONCURRENCY'),
    engine: {
      deliveryMaxAttempts: parsePositiveInt(env.HERALD_DELIVERY_MAX_ATTEMPTS ?? '8', 'HERALD_DELIVERY_MAX_ATTEMPTS'),
      deliveryRetryBaseMs: parsePositiveInt(env.HERALD_DELIVERY_RETRY_BASE_MS ?? '15000', 'HERALD_DELIVERY_RETRY_BASE_MS'),
      stepMaxAttempts: parsePositiveInt(env.HERALD_STEP_MAX_ATTEMPTS ?? '3', 'HERALD_STEP_MAX_ATTEMPTS'),
      stepRetryBaseMs: parsePositiveInt(env.HERALD_STEP_RETRY_BASE_MS ?? '5000', 'HERALD_STEP_RETRY_BASE_MS'),
    },
  };
}
