import { sql, type Kysely } from 'kysely';

/** Optional promotion approval per environment: promotions into it wait for a second member. */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    ALTER TABLE environments ADD COLUMN require_promotion_approval boolean NOT NULL DEFAULT false;

    CREATE TABLE promotion_requests (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      account_id uuid NOT NULL REFERENCES accounts(id),
      environment_id uuid NOT NULL REFERENCES environments(id),
      -- Promote one: the commit; promote all: null, with optional filters.
      commit_id uuid REFERENCES commits(id),
      resource_types text[],
      resource_key text,
      status text NOT NULL CHECK (status IN ('pending', 'applied', 'rejected')),
      requested_by_email text NOT NULL,
      requested_by_name text,
      decided_by_email text,
      decided_by_name text,
      created_at timestamptz NOT NULL DEFAULT now(),
      decided_at timestamptz
    );
    CREATE INDEX promotion_requests_account ON promotion_requests (account_id, status, created_at);
  `.execute(db);
}

export async function down(): Promise<void> {
  throw new Error('Herald migrations are forward-only');
}
