import path from 'node:path';

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
  };
}
