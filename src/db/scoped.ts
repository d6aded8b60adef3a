import { sql, type Kysely } from 'kysely';
import type { Database } from './schema.ts';
import type { Db } from './database.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A connection inside a transaction whose row-level security is set to one environment. */
export type EnvTx = Kysely<Database>;

/**
 * Runs `work` in one transaction that row-level security confines to `environmentId`.
 * BEGIN and the setting go in one round trip (simple protocol, the id is a checked UUID).
 */
export async function inEnvironment<T>(db: Db, environmentId: string, work: (tx: EnvTx) => Promise<T>): Promise<T> {
  if (!UUID.test(environmentId)) throw new Error(`not an environment id: ${environmentId}`);
  return db.connection().execute(async (conn) => {
    await sql.raw(`BEGIN; SELECT set_config('herald.environment_id', '${environmentId}', true)`).execute(conn);
    try {
      const result = await work(conn);
      await sql.raw('COMMIT').execute(conn);
      return result;
    } catch (error) {
      await sql.raw('ROLLBACK').execute(conn).catch(() => undefined);
      throw error;
    }
  });
}
