import { sql, type Kysely } from 'kysely';

/**
 * Custom permission groups (Herald, beyond Knock): per-environment levels (access
 * none/view/manage, release none/commit/manage; an environment without a row is none).
 * Members and service tokens with role `custom` take their permissions from one group.
 * Groups are deleted softly, so removed members and revoked tokens still name theirs.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE permission_groups (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      account_id uuid NOT NULL REFERENCES accounts(id),
      name text NOT NULL,
      description text,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      deleted_at timestamptz
    );
    CREATE UNIQUE INDEX permission_groups_name_unique ON permission_groups (account_id, lower(name)) WHERE deleted_at IS NULL;

    CREATE TABLE permission_group_environments (
      permission_group_id uuid NOT NULL REFERENCES permission_groups(id),
      environment_id uuid NOT NULL REFERENCES environments(id),
      access text NOT NULL CHECK (access IN ('none', 'view', 'manage')),
      release text NOT NULL CHECK (release IN ('none', 'commit', 'manage')),
      PRIMARY KEY (permission_group_id, environment_id)
    );

    ALTER TABLE members
      ADD COLUMN permission_group_id uuid REFERENCES permission_groups(id),
      ADD CONSTRAINT members_custom_role_group CHECK ((role = 'custom') = (permission_group_id IS NOT NULL));
    CREATE INDEX members_permission_group ON members (permission_group_id) WHERE permission_group_id IS NOT NULL;

    ALTER TABLE service_tokens
      ADD COLUMN permission_group_id uuid REFERENCES permission_groups(id),
      ADD CONSTRAINT service_tokens_custom_role_group CHECK ((role = 'custom') = (permission_group_id IS NOT NULL));
    CREATE INDEX service_tokens_permission_group ON service_tokens (permission_group_id) WHERE permission_group_id IS NOT NULL;
  `.execute(db);
}

export async function down(): Promise<void> {
  throw new Error('Herald migrations are forward-only');
}
