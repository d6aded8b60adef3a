import { sql, type Kysely } from 'kysely';

/** Tables holding one environment's data; each gets row-level security. */
export const ENVIRONMENT_SCOPED_TABLES = [
  'users',
  'user_preference_sets',
  'user_channel_data',
  'tenants',
  'bulk_operations',
] as const;

/** Row-level security: a row is visible only while `herald.environment_id` names its environment. */
export function isolateByEnvironment(table: string) {
  return sql.raw(`
    ALTER TABLE ${table} ENABLE ROW LEVEL SECURITY;
    ALTER TABLE ${table} FORCE ROW LEVEL SECURITY;
    CREATE POLICY environment_isolation ON ${table}
      USING (environment_id = herald_current_environment())
      WITH CHECK (environment_id = herald_current_environment());
  `);
}

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    DO $$ BEGIN
      IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'herald_app') THEN
        CREATE ROLE herald_app NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
      END IF;
    END $$;
  `.execute(db);
  // The owner may switch to the application role (needed when it is not a superuser).
  await sql`GRANT herald_app TO CURRENT_USER`.execute(db).catch(() => undefined);

  await sql`
    CREATE FUNCTION herald_current_environment() RETURNS uuid
      LANGUAGE sql STABLE PARALLEL SAFE
      AS $$ SELECT nullif(current_setting('herald.environment_id', true), '')::uuid $$;

    -- Knock merges recipient properties deeply: objects merge key by key, anything else is replaced.
    CREATE FUNCTION herald_jsonb_merge(a jsonb, b jsonb) RETURNS jsonb
      LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
      DECLARE
        result jsonb;
        k text;
      BEGIN
        IF a IS NULL OR jsonb_typeof(a) <> 'object' OR jsonb_typeof(b) <> 'object' THEN
          RETURN b;
        END IF;
        result := a;
        FOR k IN SELECT jsonb_object_keys(b) LOOP
          result := jsonb_set(result, ARRAY[k], herald_jsonb_merge(a -> k, b -> k));
        END LOOP;
        RETURN result;
      END $$;

    CREATE TABLE accounts (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      name text NOT NULL,
      slug text NOT NULL UNIQUE,
      production_write_access boolean NOT NULL DEFAULT false,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now()
    );

    CREATE TABLE environments (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      account_id uuid NOT NULL REFERENCES accounts(id),
      slug text NOT NULL,
      name text NOT NULL,
      position integer NOT NULL,
      owner text NOT NULL CHECK (owner IN ('system', 'user')),
      label_color text,
      hide_pii_data boolean NOT NULL DEFAULT false,
      hide_message_content boolean NOT NULL DEFAULT false,
      last_commit_at timestamptz,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      deleted_at timestamptz,
      UNIQUE (account_id, slug),
      CONSTRAINT environments_position_unique UNIQUE (account_id, position) DEFERRABLE INITIALLY DEFERRED
    );

    CREATE TABLE members (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      account_id uuid NOT NULL REFERENCES accounts(id),
      email text NOT NULL,
      name text,
      role text NOT NULL,
      password_hash text,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE UNIQUE INDEX members_email_unique ON members (account_id, lower(email));

    CREATE TABLE service_tokens (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      account_id uuid NOT NULL REFERENCES accounts(id),
      name text NOT NULL,
      token_hash bytea NOT NULL UNIQUE,
      token_prefix text NOT NULL,
      role text NOT NULL,
      created_by_member_id uuid REFERENCES members(id),
      environment_ids uuid[],
      created_at timestamptz NOT NULL DEFAULT now(),
      last_used_at timestamptz,
      revoked_at timestamptz
    );

    CREATE TABLE api_keys (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      environment_id uuid NOT NULL REFERENCES environments(id),
      kind text NOT NULL CHECK (kind IN ('public', 'secret')),
      name text,
      key_hash bytea NOT NULL UNIQUE,
      key_prefix text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      revoked_at timestamptz
    );
    CREATE INDEX api_keys_environment ON api_keys (environment_id);

    CREATE TABLE users (
      environment_id uuid NOT NULL REFERENCES environments(id),
      id text COLLATE "C" NOT NULL,
      properties jsonb NOT NULL DEFAULT '{}',
      inserted_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (environment_id, id)
    );

    CREATE TABLE user_preference_sets (
      environment_id uuid NOT NULL,
      user_id text COLLATE "C" NOT NULL,
      set_id text NOT NULL,
      settings jsonb NOT NULL,
      inserted_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (environment_id, user_id, set_id),
      FOREIGN KEY (environment_id, user_id) REFERENCES users (environment_id, id) ON DELETE CASCADE
    );

    CREATE TABLE user_channel_data (
      environment_id uuid NOT NULL,
      user_id text COLLATE "C" NOT NULL,
      channel_id uuid NOT NULL,
      data jsonb NOT NULL,
      inserted_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (environment_id, user_id, channel_id),
      FOREIGN KEY (environment_id, user_id) REFERENCES users (environment_id, id) ON DELETE CASCADE
    );

    CREATE TABLE tenants (
      environment_id uuid NOT NULL REFERENCES environments(id),
      id text COLLATE "C" NOT NULL,
      properties jsonb NOT NULL DEFAULT '{}',
      settings jsonb NOT NULL DEFAULT '{}',
      channel_data jsonb NOT NULL DEFAULT '{}',
      inserted_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (environment_id, id)
    );
    CREATE INDEX tenants_environment_name ON tenants (environment_id, (properties->>'name'));

    CREATE TABLE bulk_operations (
      environment_id uuid NOT NULL REFERENCES environments(id),
      id uuid NOT NULL DEFAULT gen_random_uuid(),
      name text NOT NULL,
      status text NOT NULL,
      estimated_total_rows integer NOT NULL,
      processed_rows integer NOT NULL,
      success_count integer NOT NULL,
      error_count integer NOT NULL,
      error_items jsonb NOT NULL DEFAULT '[]',
      inserted_at timestamptz NOT NULL DEFAULT now(),
      started_at timestamptz,
      completed_at timestamptz,
      failed_at timestamptz,
      updated_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (environment_id, id)
    );
  `.execute(db);

  for (const table of ENVIRONMENT_SCOPED_TABLES) {
    await isolateByEnvironment(table).execute(db);
  }

  await sql`
    GRANT USAGE ON SCHEMA public TO herald_app;
    GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO herald_app;
    GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO herald_app;
    ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO herald_app;
    ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO herald_app;
  `.execute(db);
}

export async function down(): Promise<void> {
  throw new Error('Herald migrations are forward-only');
}
