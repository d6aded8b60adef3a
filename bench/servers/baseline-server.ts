/**
 * The naive baseline for identify: a bare Fastify 5 server whose one route,
 * `PUT /users/:id`, does a single INSERT … ON CONFLICT DO UPDATE of the JSON body into a
 * users table shaped like Herald's, on a plain pg Pool. No authentication, validation,
 * row-level security or transaction. Env: DATABASE_URL, POOL_SIZE, LOG_LEVEL.
 */
import Fastify from 'fastify';
import pg from 'pg';
import { announceReady, closeOnSignal } from './ready-line.ts';

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: Number(process.env.POOL_SIZE ?? 20), application_name: 'baseline' });
pool.on('error', () => {});

// Herald's users table without the foreign key to environments.
await pool.query(`
  CREATE TABLE IF NOT EXISTS users (
    environment_id uuid NOT NULL,
    id text NOT NULL,
    seq bigint GENERATED ALWAYS AS IDENTITY,
    properties jsonb NOT NULL DEFAULT '{}',
    inserted_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (environment_id, id)
  );
  CREATE UNIQUE INDEX IF NOT EXISTS users_environment_seq ON users (environment_id, seq);
`);

const ENVIRONMENT_ID = '00000000-0000-4000-8000-000000000001';
const UPSERT = `
  INSERT INTO users (environment_id, id, properties) VALUES ($1, $2, $3)
  ON CONFLICT (environment_id, id) DO UPDATE SET properties = users.properties || excluded.properties, updated_at = now()
  RETURNING id, properties, updated_at`;

const app = Fastify({ logger: { level: process.env.LOG_LEVEL ?? 'info' } });
app.put<{ Params: { id: string }; Body: Record<string, unknown> }>('/users/:id', async (request) => {
  const { rows } = await pool.query(UPSERT, [ENVIRONMENT_ID, request.params.id, JSON.stringify(request.body)]);
  const row = rows[0] as { id: string; properties: Record<string, unknown>; updated_at: Date };
  return { ...row.properties, id: row.id, updated_at: row.updated_at.toISOString() };
});

const url = await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT ?? 0) });
closeOnSignal(async () => {
  await app.close();
  await pool.end();
});
announceReady({ url });
