import { sql, type Kysely } from 'kysely';

/**
 * Members and sign-in: invitations (a one-time token, stored only as its SHA-256 hash,
 * with an expiry), removal (kept as a row, so history and tokens' creators still
 * resolve), and browser/CLI sessions (tokens stored only as hashes).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    ALTER TABLE members
      ADD COLUMN invite_token_hash bytea UNIQUE,
      ADD COLUMN invite_expires_at timestamptz,
      ADD COLUMN invited_by_member_id uuid REFERENCES members(id),
      ADD COLUMN removed_at timestamptz;
    -- A removed member's email may be invited again.
    DROP INDEX members_email_unique;
    CREATE UNIQUE INDEX members_email_unique ON members (account_id, lower(email)) WHERE removed_at IS NULL;

    CREATE TABLE member_sessions (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      account_id uuid NOT NULL REFERENCES accounts(id),
      member_id uuid NOT NULL REFERENCES members(id),
      token_hash bytea NOT NULL UNIQUE,
      -- The session's CSRF token (double-submit, bound to the session): its hash only.
      csrf_token_hash bytea NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      expires_at timestamptz NOT NULL,
      last_used_at timestamptz,
      revoked_at timestamptz
    );
    CREATE INDEX member_sessions_member ON member_sessions (member_id);
  `.execute(db);
}

export async function down(): Promise<void> {
  throw new Error('Herald migrations are forward-only');
}
