import { sql, type Kysely } from 'kysely';
import { isolateByEnvironment } from './001_foundation.ts';

/** Tables of objects' own recipient data; each gets row-level security. */
export const OBJECT_RECIPIENT_DATA_TABLES = ['object_channel_data', 'object_preference_sets'] as const;

/**
 * Objects as full recipients: their per-channel data (a Slack channel's connection, push
 * tokens) and their preference sets, like users'. Deleting an object deletes both.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE object_channel_data (
      environment_id uuid NOT NULL,
      collection text COLLATE "C" NOT NULL,
      object_id text COLLATE "C" NOT NULL,
      channel_id uuid NOT NULL,
      data jsonb NOT NULL,
      inserted_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (environment_id, collection, object_id, channel_id),
      FOREIGN KEY (environment_id, collection, object_id) REFERENCES objects (environment_id, collection, id) ON DELETE CASCADE
    );

    CREATE TABLE object_preference_sets (
      environment_id uuid NOT NULL,
      collection text COLLATE "C" NOT NULL,
      object_id text COLLATE "C" NOT NULL,
      set_id text NOT NULL,
      settings jsonb NOT NULL,
      inserted_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (environment_id, collection, object_id, set_id),
      FOREIGN KEY (environment_id, collection, object_id) REFERENCES objects (environment_id, collection, id) ON DELETE CASCADE
    );
  `.execute(db);

  for (const table of OBJECT_RECIPIENT_DATA_TABLES) {
    await isolateByEnvironment(table).execute(db);
  }
}

export async function down(): Promise<void> {
  throw new Error('Herald migrations are forward-only');
}
