import { sql, type Kysely } from 'kysely';

/**
 * Versioned content. Content is account-level configuration that moves between
 * environments by promotion, so these tables are not row-level isolated like recipient
 * data: the management API (with its own permissions) reads them across environments.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    -- One row per resource ever created: where it was created (editable only there).
    CREATE TABLE resources (
      account_id uuid NOT NULL REFERENCES accounts(id),
      resource_type text NOT NULL,
      resource_key text COLLATE "C" NOT NULL,
      origin_environment_id uuid NOT NULL REFERENCES environments(id),
      created_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (account_id, resource_type, resource_key)
    );

    -- Immutable snapshots of content; a version moves between environments unchanged.
    CREATE TABLE resource_versions (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      account_id uuid NOT NULL REFERENCES accounts(id),
      resource_type text NOT NULL,
      resource_key text COLLATE "C" NOT NULL,
      content jsonb NOT NULL,
      sha text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX resource_versions_resource ON resource_versions (account_id, resource_type, resource_key);

    -- Per environment: the committed version (what runs use), the working copy (uncommitted
    -- edits) and, for workflows, the active switch (not versioned).
    CREATE TABLE environment_resources (
      environment_id uuid NOT NULL REFERENCES environments(id),
      resource_type text NOT NULL,
      resource_key text COLLATE "C" NOT NULL,
      committed_version_id uuid REFERENCES resource_versions(id),
      working_content jsonb,
      working_sha text,
      active boolean NOT NULL DEFAULT true,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (environment_id, resource_type, resource_key)
    );

    CREATE TABLE commits (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
      environment_id uuid NOT NULL REFERENCES environments(id),
      resource_type text NOT NULL,
      resource_key text COLLATE "C" NOT NULL,
      version_id uuid NOT NULL REFERENCES resource_versions(id),
      parent_version_id uuid REFERENCES resource_versions(id),
      kind text NOT NULL CHECK (kind IN ('commit', 'promote', 'seed', 'revert', 'rollback')),
      -- promote/seed: the commit promoted; revert: the commit reverted; rollback: the target commit.
      source_commit_id uuid REFERENCES commits(id),
      commit_message text NOT NULL DEFAULT '',
      author_kind text NOT NULL CHECK (author_kind IN ('member', 'service_token', 'system')),
      author_id uuid,
      author_email text NOT NULL,
      author_name text,
      created_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX commits_environment_resource ON commits (environment_id, resource_type, resource_key, seq);
    CREATE INDEX commits_environment_seq ON commits (environment_id, seq);
    CREATE INDEX commits_source ON commits (source_commit_id);
  `.execute(db);
}

export async function down(): Promise<void> {
  throw new Error('Herald migrations are forward-only');
}
