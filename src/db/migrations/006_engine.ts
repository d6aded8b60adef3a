import { sql, type Kysely } from 'kysely';
import { isolateByEnvironment } from './001_foundation.ts';

/** Tables of one environment's engine data (runs, messages, objects); each gets row-level security. */
export const ENGINE_SCOPED_TABLES = [
  'objects',
  'object_subscriptions',
  'workflow_runs',
  'workflow_recipient_runs',
  'messages',
  'message_events',
  'message_delivery_logs',
  'step_batches',
  'throttle_hits',
] as const;

/**
 * The notification engine: objects and subscriptions, triggers (workflow runs), one run
 * per recipient, messages with their events and delivery logs, batch and throttle state;
 * channels, variables and signing keys (configuration, account level, per-environment values).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE objects (
      environment_id uuid NOT NULL REFERENCES environments(id),
      collection text COLLATE "C" NOT NULL,
      id text COLLATE "C" NOT NULL,
      properties jsonb NOT NULL DEFAULT '{}',
      inserted_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (environment_id, collection, id)
    );

    -- A recipient (a user, or another object when recipient_collection is set) subscribed to an object.
    CREATE TABLE object_subscriptions (
      environment_id uuid NOT NULL,
      collection text COLLATE "C" NOT NULL,
      object_id text COLLATE "C" NOT NULL,
      recipient_collection text COLLATE "C" NOT NULL DEFAULT '$users',
      recipient_id text COLLATE "C" NOT NULL,
      properties jsonb,
      inserted_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (environment_id, collection, object_id, recipient_collection, recipient_id),
      FOREIGN KEY (environment_id, collection, object_id) REFERENCES objects (environment_id, collection, id) ON DELETE CASCADE
    );
    CREATE INDEX object_subscriptions_recipient ON object_subscriptions (environment_id, recipient_collection, recipient_id);

    -- One trigger call. Ingestion writes this row and its job in one transaction.
    CREATE TABLE workflow_runs (
      environment_id uuid NOT NULL REFERENCES environments(id),
      id uuid NOT NULL,
      workflow_key text NOT NULL,
      version_id uuid,
      recipients jsonb NOT NULL,
      actor jsonb,
      tenant jsonb,
      data jsonb,
      -- Trigger settings: sandbox_mode, skip_delay.
      settings jsonb,
      cancellation_key text,
      idempotency_key text,
      request_hash text,
      status text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'processed', 'failed', 'cancelled')),
      -- Recipients cancelled before the trigger was expanded: their runs start cancelled.
      cancelled_recipient_keys text[] NOT NULL DEFAULT '{}',
      error jsonb,
      inserted_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (environment_id, id)
    );
    CREATE INDEX workflow_runs_cancel ON workflow_runs (environment_id, workflow_key, cancellation_key) WHERE cancellation_key IS NOT NULL AND status = 'queued';
    CREATE UNIQUE INDEX workflow_runs_idempotency ON workflow_runs (environment_id, idempotency_key) WHERE idempotency_key IS NOT NULL;

    CREATE TABLE workflow_recipient_runs (
      environment_id uuid NOT NULL REFERENCES environments(id),
      id uuid NOT NULL DEFAULT gen_random_uuid(),
      workflow_run_id uuid NOT NULL,
      workflow_key text NOT NULL,
      version_id uuid,
      recipient jsonb NOT NULL,
      -- "user:<id>" or "object:<collection>:<id>": cancellation, batching and throttling match on it.
      recipient_key text COLLATE "C" NOT NULL,
      actor jsonb,
      tenant text,
      -- Trigger data; a fetch step merges its response in.
      data jsonb,
      settings jsonb,
      cancellation_key text,
      status text NOT NULL CHECK (status IN ('queued', 'processing', 'paused', 'completed', 'cancelled', 'halted', 'error', 'batched')),
      -- Per step ref: what the step did ({status, output, resume_at, ...}); completed steps are skipped on retry.
      refs jsonb NOT NULL DEFAULT '{}',
      error jsonb,
      inserted_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      completed_at timestamptz,
      PRIMARY KEY (environment_id, id),
      UNIQUE (environment_id, workflow_run_id, recipient_key)
    );
    CREATE INDEX workflow_recipient_runs_cancel ON workflow_recipient_runs (environment_id, workflow_key, cancellation_key, recipient_key) WHERE cancellation_key IS NOT NULL;
    CREATE INDEX workflow_recipient_runs_list ON workflow_recipient_runs (environment_id, inserted_at DESC, id);

    CREATE TABLE messages (
      environment_id uuid NOT NULL REFERENCES environments(id),
      id uuid NOT NULL,
      workflow_recipient_run_id uuid NOT NULL,
      workflow_run_id uuid NOT NULL,
      workflow_key text NOT NULL,
      version_id uuid,
      step_ref text NOT NULL,
      channel_id uuid NOT NULL,
      channel_type text NOT NULL,
      recipient jsonb NOT NULL,
      recipient_key text COLLATE "C" NOT NULL,
      actors jsonb NOT NULL DEFAULT '[]',
      tenant text,
      status text NOT NULL CHECK (status IN ('queued', 'sent', 'delivered', 'delivery_attempted', 'undelivered', 'not_sent', 'bounced')),
      data jsonb,
      content jsonb,
      metadata jsonb,
      delivery_attempts integer NOT NULL DEFAULT 0,
      seen_at timestamptz,
      read_at timestamptz,
      interacted_at timestamptz,
      link_clicked_at timestamptz,
      archived_at timestamptz,
      inserted_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (environment_id, id),
      -- A step makes at most one message per recipient run: retries and restarts never duplicate it.
      UNIQUE (environment_id, workflow_recipient_run_id, step_ref)
    );
    CREATE INDEX messages_feed ON messages (environment_id, channel_id, recipient_key, inserted_at DESC, id);
    CREATE INDEX messages_list ON messages (environment_id, inserted_at DESC, id);

    CREATE TABLE message_events (
      environment_id uuid NOT NULL,
      id uuid NOT NULL DEFAULT gen_random_uuid(),
      message_id uuid NOT NULL,
      type text NOT NULL,
      data jsonb,
      inserted_at timestamptz NOT NULL DEFAULT clock_timestamp(),
      PRIMARY KEY (environment_id, id),
      FOREIGN KEY (environment_id, message_id) REFERENCES messages (environment_id, id) ON DELETE CASCADE
    );
    CREATE INDEX message_events_message ON message_events (environment_id, message_id, inserted_at);

    -- One provider call. Written before the call ('pending'), completed after it.
    CREATE TABLE message_delivery_logs (
      environment_id uuid NOT NULL,
      id uuid NOT NULL DEFAULT gen_random_uuid(),
      message_id uuid NOT NULL,
      attempt integer NOT NULL,
      provider text NOT NULL,
      status text NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed', 'interrupted')),
      request jsonb,
      response jsonb,
      error text,
      inserted_at timestamptz NOT NULL DEFAULT clock_timestamp(),
      completed_at timestamptz,
      PRIMARY KEY (environment_id, id),
      UNIQUE (environment_id, message_id, attempt),
      FOREIGN KEY (environment_id, message_id) REFERENCES messages (environment_id, id) ON DELETE CASCADE
    );

    -- An open batch: the first run that reached the step owns it and resumes when the window closes.
    CREATE TABLE step_batches (
      environment_id uuid NOT NULL,
      id uuid NOT NULL DEFAULT gen_random_uuid(),
      scope text COLLATE "C" NOT NULL,
      owner_run_id uuid NOT NULL,
      closes_at timestamptz NOT NULL,
      activities jsonb NOT NULL DEFAULT '[]',
      status text NOT NULL CHECK (status IN ('open', 'closed')),
      inserted_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (environment_id, id)
    );
    CREATE UNIQUE INDEX step_batches_open ON step_batches (environment_id, scope) WHERE status = 'open';

    CREATE TABLE throttle_hits (
      environment_id uuid NOT NULL,
      scope text COLLATE "C" NOT NULL,
      run_id uuid NOT NULL,
      at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (environment_id, scope, run_id)
    );
    CREATE INDEX throttle_hits_window ON throttle_hits (environment_id, scope, at);

    -- Channels exist in every environment with the same key; each environment configures its own.
    CREATE TABLE channels (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      account_id uuid NOT NULL REFERENCES accounts(id),
      key text NOT NULL,
      name text NOT NULL,
      type text NOT NULL,
      provider text NOT NULL,
      description text,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      archived_at timestamptz,
      UNIQUE (account_id, key)
    );

    CREATE TABLE channel_environment_settings (
      channel_id uuid NOT NULL REFERENCES channels(id),
      environment_id uuid NOT NULL REFERENCES environments(id),
      settings jsonb NOT NULL DEFAULT '{}',
      sandbox boolean NOT NULL DEFAULT false,
      updated_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (channel_id, environment_id)
    );

    CREATE TABLE variables (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      account_id uuid NOT NULL REFERENCES accounts(id),
      key text NOT NULL,
      type text NOT NULL CHECK (type IN ('public', 'secret')),
      description text,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      UNIQUE (account_id, key)
    );

    CREATE TABLE variable_values (
      variable_id uuid NOT NULL REFERENCES variables(id) ON DELETE CASCADE,
      environment_id uuid NOT NULL REFERENCES environments(id),
      value text NOT NULL,
      updated_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (variable_id, environment_id)
    );

    -- Public keys that verify signed user tokens (X-Knock-User-Token); the private key is shown once.
    CREATE TABLE signing_keys (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      environment_id uuid NOT NULL REFERENCES environments(id),
      public_key_pem text NOT NULL,
      key_prefix text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      revoked_at timestamptz
    );
    CREATE INDEX signing_keys_environment ON signing_keys (environment_id) WHERE revoked_at IS NULL;

    -- Worker processes; each holds a session advisory lock on its id while alive, so a
    -- restarted worker can tell which queue locks belong to dead processes and release them.
    CREATE TABLE worker_processes (
      id uuid PRIMARY KEY,
      lock_key integer NOT NULL,
      worker_ids text[] NOT NULL DEFAULT '{}',
      hostname text,
      pid integer,
      started_at timestamptz NOT NULL DEFAULT now()
    );
  `.execute(db);

  for (const table of ENGINE_SCOPED_TABLES) {
    await isolateByEnvironment(table).execute(db);
  }
}

export async function down(): Promise<void> {
  throw new Error('Herald migrations are forward-only');
}
