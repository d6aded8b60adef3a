import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import type { Database } from './schema.ts';

export type Db = Kysely<Database>;

/** The non-superuser role the application acts as, so row-level security applies to it. */
export const APP_ROLE = 'herald_app';

export interface DatabaseOptions {
  url: string;
  poolSize?: number;
  /** Act as this role on every connection (a startup option, so it costs no round trip). */
  role?: string;
  applicationName?: string;
}

/** Opens a Kysely handle on a pg pool. */
export function openDatabase(options: DatabaseOptions): Db {
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.poolSize ?? 10,
    application_name: options.applicationName ?? 'herald',
    options: options.role ? `-c role=${options.role}` : undefined,
  });
  // An idle client losing its server connection must not crash the process.
  pool.on('error', () => {});
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
}

/** Opens the application's pool: the owner URL acting as `herald_app`, or a dedicated app URL. */
export function openAppDatabase(ownerUrl: string, appUrl: string | undefined, poolSize: number): Db {
  return appUrl
    ? openDatabase({ url: appUrl, poolSize })
    : openDatabase({ url: ownerUrl, poolSize, role: APP_ROLE });
}

/** True when the database answers a trivial query. */
export async function isReachable(db: Db): Promise<boolean> {
  try {
    await sql`select 1`.execute(db);
    return true;
  } catch {
    return false;
  }
}
