/**
 * The naive baseline for trigger ingestion (bench/trigger.ts): a bare Fastify 5 server
 * whose one route, `POST /workflows/:key/trigger`, does a single INSERT of the JSON body
 * into a table shaped like Herald's workflow_runs, on a plain pg Pool, and answers the
 * new row's id. No authentication, validation, row-level security, transaction, version
 * lookup or queue job. Env: DATABASE_URL, POOL_SIZE, LOG_LEVEL.
 */
import { randomUUID } from 'node:crypto';
import Fastify from 'fastify';
import pg from 'pg';
import { announceReady, closeOnSignal } from '../servers/ready-line.ts';

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: Number(process.env.POOL_SIZE ?? 20), application_name: 'baseline' });
pool.on('error', () => {});

// Herald's workflow_runs table without the foreign key to environments.
await pool.query(`
  CREATE TABLE IF NOT EXISTS workflow_runs (
    environment_id uuid NOT NULL,
    id uuid NOT NULL,
    workflow_key text NOT NULL,
    version_id uuid,
    recipients jsonb NOT NULL,
    actor jsonb,
    tenant jsonb,
    data jsonb,
    settings jsonb,
    cancellation_key text,
    idempotency_key text,
    request_hash text,
    status text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'processed', 'failed', 'cancelled')),
    cancelled_recipient_keys text[] NOT NULL DEFAULT '{}',
    error jsonb,
    inserted_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (environment_id, id)
  );
`);

const ENVIRONMENT_ID = '00000000-0000-4000-8000-000000000001';
const INSERT = `
  INSERT INTO workflow_runs (environment_id, id, workflow_key, recipients, actor, tenant, data)
  VALUES ($1, $2, $3, $4, $5, $6, $7)`;

interface Body {
  recipients?: unknown[];
  actor?: unknown;
  tenant?: unknown;
  data?: unknown;
}

const json = (value: unknown) => (value == null ? null : JSON.stringify(value));

const app = Fastify({ logger: { level: process.env.LOG_LEVEL ?? 'info' } });
app.post<{ Params: { key: string }; Body: Body }>('/workflows/:key/trigger', async (request) => {
  const body = request.body ?? {};
  const id = randomUUID();
  await pool.query(INSERT, [ENVIRONMENT_ID, id, request.params.key, JSON.stringify(body.recipients ?? []), json(body.actor), json(body.tenant), JSON.stringify(body.data ?? {})]);
  return { workflow_run_id: id };
});

const url = await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT ?? 0) });
closeOnSignal(async () => {
  await app.close();
  await pool.end();
});
announceReady({ url });
