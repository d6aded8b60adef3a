import { sql, type Kysely } from 'kysely';

/**
 * The audit log: an account-level, append-only record of who changed what. Not
 * row-level isolated by environment (owners and admins read it across environments);
 * the application role may only read and append, and a trigger refuses UPDATE, DELETE
 * and TRUNCATE from every role, the table owner included, so history cannot be edited.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE audit_events (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      -- Insertion order, for ordering and cursors (timestamps can tie).
      seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
      account_id uuid NOT NULL REFERENCES accounts(id),
      actor_kind text NOT NULL CHECK (actor_kind IN ('member', 'service_token', 'system')),
      actor_id uuid,
      actor_email text,
      actor_name text,
      action text NOT NULL,
      -- No foreign key: history outlives what it describes (and must never block removing it).
      environment_id uuid,
      target_type text NOT NULL,
      target_id text,
      -- Small details (before/after settings, ids, counts): never secrets or recipient data.
      data jsonb NOT NULL DEFAULT '{}',
      request_id text,
      created_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX audit_events_account_seq ON audit_events (account_id, seq);
    CREATE INDEX audit_events_account_action ON audit_events (account_id, action, seq);
    CREATE INDEX audit_events_account_environment ON audit_events (account_id, environment_id, seq);
    CREATE INDEX audit_events_account_actor ON audit_events (account_id, actor_id, seq);

    -- Migration 001's default privileges gave the app role UPDATE and DELETE: take them back.
    REVOKE ALL ON audit_events FROM herald_app;
    GRANT SELECT, INSERT ON audit_events TO herald_app;

    CREATE FUNCTION herald_audit_events_append_only() RETURNS trigger
      LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION 'audit_events is append-only: % is not allowed', TG_OP;
      END $$;
    -- Statement-level, so it fires even when no row matches.
    CREATE TRIGGER audit_events_append_only
      BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_events
      FOR EACH STATEMENT EXECUTE FUNCTION herald_audit_events_append_only();
  `.execute(db);
}

export async function down(): Promise<void> {
  throw new Error('Herald migrations are forward-only');
}
