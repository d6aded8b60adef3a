/**
 * Row-level security is the second wall between environments (architecture.md, "Choices
 * already made"): even a query that forgets `WHERE environment_id = …` must only ever see
 * and touch the rows of the environment its transaction is scoped to.
 *
 * Rows are written into three environments (development, a created `staging`, production)
 * reusing the same ids — recipient data and objects through the HTTP API, engine rows (runs,
 * messages, batches, …) as the application role scoped to each environment — then read
 * back with deliberately unfiltered queries as the application role.
 */
import { randomUUID } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APP_ROLE, openAppDatabase, type Db } from '../../src/db/database.ts';
import { ENVIRONMENT_SCOPED_TABLES } from '../../src/db/migrations/001_foundation.ts';
import { ENGINE_SCOPED_TABLES } from '../../src/db/migrations/006_engine.ts';
import { OBJECT_RECIPIENT_DATA_TABLES } from '../../src/db/migrations/008_object_recipient_data.ts';
import type { Database } from '../../src/db/schema.ts';
import { inEnvironment } from '../../src/db/scoped.ts';
import { startTestHerald, type TestHerald } from '../support/herald.ts';

/** Every table under row-level security, from every migration that adds some. */
const SCOPED_TABLES = [...ENVIRONMENT_SCOPED_TABLES, ...ENGINE_SCOPED_TABLES, ...OBJECT_RECIPIENT_DATA_TABLES] as const;
type ScopedTable = (typeof SCOPED_TABLES)[number];
type Row = Record<string, unknown> & { environment_id: string };

const SLUGS = ['development', 'staging', 'production'] as const;
type Slug = (typeof SLUGS)[number];

/**
 * Tables that carry an `environment_id` but are deliberately NOT under row-level security.
 *
 * `api_keys`: an API key is how a request finds its environment in the first place
 * (the key alone selects the environment), so the lookup by key hash necessarily runs
 * before any environment is known — under RLS it could never match. Keys are
 * account-level secrets, managed through /mgmt, and never served by the data API.
 *
 * `environment_resources`, `commits`: versioned content (workflows, layouts, …) is
 * account-level configuration, not recipient data; it moves between environments by
 * promotion and rollback, which read one environment and write another in a single
 * transaction, and the management API shows every environment's history.
 *
 * `audit_events`: the audit log is account-level — read across environments by owners
 * and admins through /mgmt, never through the data API; its `environment_id` only says
 * where an action happened (null for account-level actions). The app role may only
 * SELECT and INSERT it.
 */
// `promotion_requests`: pending promotions of versioned content, account-level like commits.
//
// `channel_environment_settings`, `variable_values`, `signing_keys`: configuration, not
// recipient data. Channels and variables are account-level resources (the same key in every
// environment) whose per-environment values are managed through /mgmt, where owners and
// admins see and edit every environment's values side by side; signing keys are secrets of
// the environment's configuration, created and revoked through /mgmt like API keys and only
// ever read to verify a token (their public half). (`worker_processes` has no environment_id.)
// `permission_group_environments`: a custom permission group's level in each environment —
// access control itself, read across environments when a principal authenticates.
const ACCOUNT_LEVEL_TABLES_WITH_ENVIRONMENT_ID = [
  'api_keys',
  'environment_resources',
  'commits',
  'audit_events',
  'promotion_requests',
  'channel_environment_settings',
  'variable_values',
  'signing_keys',
  'permission_group_environments',
];

let herald: TestHerald;
/** Superuser connection: bypasses RLS, so it is the ground truth of what is stored. */
let owner: pg.Client;
/** The application role's pool, as Herald opens it. */
let app: Db;
const envIds = {} as Record<Slug, string>;
const secretKeys = {} as Record<Slug, string>;
/** Per environment: the channel id used for its channel data. */
const CHANNEL = randomUUID();
/** Engine rows that exist, with these ids, in every environment (children of new rows point at them). */
const SHARED_RUN = randomUUID();
const SHARED_MESSAGE = randomUUID();
/** The object every environment has, with subscribers (parent of new subscriptions). */
const SHARED_OBJECT = { collection: 'rls-shared', id: 'shared-object' };
let nextAttempt = 1000;

async function api(slug: Slug, method: string, path: string, body?: unknown) {
  const response = await herald.request(method, path, { token: secretKeys[slug], body });
  expect(response.statusCode, `${method} ${path} in ${slug}: ${response.body}`).toBeLessThan(300);
  return response.statusCode === 204 ? undefined : response.json();
}

/** What is really stored in `table` for one environment (read as superuser, filtered explicitly). */
async function storedRows(table: ScopedTable, environmentId: string): Promise<Row[]> {
  const result = await owner.query(`SELECT * FROM ${table} WHERE environment_id = $1`, [environmentId]);
  return result.rows as Row[];
}

/** A column every row of `table` has that an update can set to itself or move (most have `updated_at`). */
function touchColumn(table: ScopedTable): string {
  switch (table) {
    case 'message_events':
    case 'message_delivery_logs':
    case 'step_batches':
      return 'inserted_at';
    case 'throttle_hits':
      return 'at';
    default:
      return 'updated_at';
  }
}

async function storedCount(table: ScopedTable): Promise<number> {
  const result = await owner.query(`SELECT count(*)::int AS n FROM ${table}`);
  return result.rows[0].n as number;
}

/** A stable, comparable form of a set of rows. */
function canonical(rows: Array<Record<string, unknown>>): string[] {
  return rows.map((row) => JSON.stringify(Object.keys(row).sort().map((k) => [k, row[k]]))).sort();
}

/** A fresh, otherwise valid row of `table` for `environmentId`; reuses ids that exist in every environment. */
function newRow(table: ScopedTable, environmentId: string): Record<string, unknown> {
  switch (table) {
    case 'users':
      return { environment_id: environmentId, id: `rls-new-${randomUUID()}`, properties: '{}' };
    case 'user_preference_sets':
      return { environment_id: environmentId, user_id: 'shared-1', set_id: `set-${randomUUID()}`, settings: '{}' };
    case 'user_channel_data':
      return { environment_id: environmentId, user_id: 'shared-1', channel_id: randomUUID(), data: '{}' };
    case 'tenants':
      return { environment_id: environmentId, id: `rls-new-${randomUUID()}`, properties: '{}' };
    case 'bulk_operations':
      return {
        environment_id: environmentId,
        name: 'users.identify',
        status: 'completed',
        estimated_total_rows: 0,
        processed_rows: 0,
        success_count: 0,
        error_count: 0,
      };
    case 'objects':
      return { environment_id: environmentId, collection: 'rls-new', id: `rls-new-${randomUUID()}`, properties: '{}' };
    case 'object_subscriptions':
      return { environment_id: environmentId, collection: SHARED_OBJECT.collection, object_id: SHARED_OBJECT.id, recipient_id: `rls-new-${randomUUID()}` };
    case 'object_channel_data':
      return { environment_id: environmentId, collection: SHARED_OBJECT.collection, object_id: SHARED_OBJECT.id, channel_id: randomUUID(), data: '{}' };
    case 'object_preference_sets':
      return { environment_id: environmentId, collection: SHARED_OBJECT.collection, object_id: SHARED_OBJECT.id, set_id: `set-${randomUUID()}`, settings: '{}' };
    case 'workflow_runs':
      return { environment_id: environmentId, id: randomUUID(), workflow_key: 'rls', recipients: '[]' };
    case 'workflow_recipient_runs':
      return {
        environment_id: environmentId,
        workflow_run_id: SHARED_RUN,
        workflow_key: 'rls',
        recipient: '"rls-new"',
        recipient_key: `user:rls-new-${randomUUID()}`,
        status: 'queued',
      };
    case 'messages':
      return {
        environment_id: environmentId,
        id: randomUUID(),
        workflow_recipient_run_id: randomUUID(),
        workflow_run_id: SHARED_RUN,
        workflow_key: 'rls',
        step_ref: 'email_1',
        channel_id: CHANNEL,
        channel_type: 'email',
        recipient: '"rls-new"',
        recipient_key: 'user:rls-new',
        status: 'queued',
      };
    case 'message_events':
      return { environment_id: environmentId, message_id: SHARED_MESSAGE, type: 'message.sent' };
    case 'message_delivery_logs':
      return { environment_id: environmentId, message_id: SHARED_MESSAGE, attempt: nextAttempt++, provider: 'rls', status: 'pending' };
    case 'step_batches':
      return { environment_id: environmentId, scope: `rls-new-${randomUUID()}`, owner_run_id: randomUUID(), closes_at: new Date(), status: 'open' };
    case 'throttle_hits':
      return { environment_id: environmentId, scope: 'rls-new', run_id: randomUUID() };
  }
}

/**
 * Engine rows of one environment, written as the application role scoped to it (the engine
 * writes them while running workflows): a run with one recipient run and a message (with an
 * event and a delivery log) under the shared ids, plus a batch and a throttle hit.
 */
async function seedEngineRows(slug: Slug): Promise<void> {
  const environmentId = envIds[slug];
  await inEnvironment(app, environmentId, async (tx) => {
    const db = untyped(tx);
    await db.insertInto('workflow_runs').values({ ...newRow('workflow_runs', environmentId), id: SHARED_RUN, recipients: '["shared-1"]', status: 'processed' }).execute();
    const run = await db
      .insertInto('workflow_recipient_runs')
      .values({ ...newRow('workflow_recipient_runs', environmentId), recipient: '"shared-1"', recipient_key: 'user:shared-1', status: 'completed' })
      .returning('id')
      .executeTakeFirstOrThrow();
    await db
      .insertInto('messages')
      .values({ ...newRow('messages', environmentId), id: SHARED_MESSAGE, workflow_recipient_run_id: run.id, recipient: '"shared-1"', recipient_key: 'user:shared-1', status: 'sent' })
      .execute();
    await db.insertInto('message_events').values(newRow('message_events', environmentId)).execute();
    await db.insertInto('message_delivery_logs').values({ ...newRow('message_delivery_logs', environmentId), attempt: 1, status: 'succeeded' }).execute();
    await db.insertInto('step_batches').values({ ...newRow('step_batches', environmentId), scope: `batch-${slug}`, owner_run_id: run.id, status: 'closed' }).execute();
    await db.insertInto('throttle_hits').values({ ...newRow('throttle_hits', environmentId), scope: 'throttle', run_id: run.id }).execute();
  });
}

/** Dynamic table names defeat Kysely's typing; the queries themselves are what is under test. */
function untyped(db: Kysely<Database>): Kysely<any> {
  return db as unknown as Kysely<any>;
}

class Rollback extends Error {}

/** Expects a PostgreSQL row-level security refusal (SQLSTATE 42501, "violates row-level security policy"). */
async function expectRlsRefusal(promise: Promise<unknown>) {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e as { code?: string; message?: string },
  );
  expect(error, 'expected the statement to be refused by row-level security').toBeDefined();
  expect(error).toMatchObject({ code: '42501' });
  expect(error!.message).toMatch(/row-level security policy/);
}

beforeAll(async () => {
  herald = await startTestHerald();
  const created = await herald.request('POST', '/mgmt/v1/environments', {
    token: herald.secrets.service_token,
    body: { name: 'Staging', slug: 'staging', insert_after: 'development' },
  });
  expect(created.statusCode, created.body).toBe(201);
  const stagingKey = (created.json().api_keys as Array<{ kind: string; key: string }>).find((k) => k.kind === 'secret');
  secretKeys.development = herald.secrets.environments.development.secret_key;
  secretKeys.production = herald.secrets.environments.production.secret_key;
  secretKeys.staging = stagingKey!.key;

  owner = new pg.Client({ connectionString: herald.databaseUrl });
  await owner.connect();
  const envs = await owner.query('SELECT id, slug FROM environments');
  for (const row of envs.rows) envIds[row.slug as Slug] = row.id;
  for (const slug of SLUGS) expect(envIds[slug], slug).toBeDefined();

  app = openAppDatabase(herald.databaseUrl, undefined, 2);

  // The same ids in every environment (the interesting case), plus one id of each environment's own.
  for (const slug of SLUGS) {
    await api(slug, 'PUT', '/v1/users/shared-1', {
      name: `Shared one of ${slug}`,
      channel_data: { [CHANNEL]: { tokens: [`inline-token-${slug}`] } },
      preferences: { inline: { channel_types: { email: slug !== 'production' } } },
    });
    await api(slug, 'PUT', '/v1/users/shared-2', { name: `Shared two of ${slug}` });
    await api(slug, 'PUT', `/v1/users/only-${slug}`, { name: `Only in ${slug}` });
    await api(slug, 'PUT', '/v1/users/shared-2/preferences/default', { workflows: { [`welcome-${slug}`]: true } });
    await api(slug, 'PUT', `/v1/users/only-${slug}/channel_data/${randomUUID()}`, { data: { tokens: [`token-${slug}`] } });
    await api(slug, 'PUT', '/v1/tenants/shared-tenant', { name: `Tenant of ${slug}` });
    await api(slug, 'PUT', `/v1/tenants/tenant-${slug}`, { name: `Own tenant of ${slug}` });
    await api(slug, 'POST', '/v1/users/bulk/identify', { users: [{ id: 'shared-3', name: `Bulk ${slug}` }, { id: `bulk-${slug}` }] });
    await api(slug, 'POST', '/v1/users/bulk/delete', { user_ids: [`bulk-${slug}`, 'never-existed'] });
    await api(slug, 'PUT', `/v1/objects/${SHARED_OBJECT.collection}/${SHARED_OBJECT.id}`, { name: `Object of ${slug}` });
    await api(slug, 'PUT', `/v1/objects/${SHARED_OBJECT.collection}/only-${slug}`, { name: `Own object of ${slug}` });
    await api(slug, 'POST', `/v1/objects/${SHARED_OBJECT.collection}/${SHARED_OBJECT.id}/subscriptions`, {
      recipients: ['shared-1', `only-${slug}`, { id: `only-${slug}`, collection: SHARED_OBJECT.collection }],
      properties: { role: slug },
    });
    await api(slug, 'PUT', `/v1/objects/${SHARED_OBJECT.collection}/${SHARED_OBJECT.id}/channel_data/${CHANNEL}`, {
      data: { connections: [{ incoming_webhook: { url: `https://hooks.example.com/${slug}` } }] },
    });
    await api(slug, 'PUT', `/v1/objects/${SHARED_OBJECT.collection}/${SHARED_OBJECT.id}/preferences/default`, { channel_types: { chat: slug !== 'production' } });
    await api(slug, 'PUT', `/v1/objects/${SHARED_OBJECT.collection}/only-${slug}`, {
      channel_data: { [CHANNEL]: { tokens: [`object-token-${slug}`] } },
      preferences: { [`inline-${slug}`]: { workflows: { welcome: false } } },
    });
    await seedEngineRows(slug);
  }
});

afterAll(async () => {
  await app?.destroy();
  await owner?.end();
  await herald?.close();
});

describe('the application role', () => {
  it('is who Herald and the test pool act as, and it is neither a superuser nor exempt from RLS', async () => {
    const { rows } = await sql<{ current_user: string; session_user: string }>`SELECT current_user, session_user`.execute(app);
    expect(rows[0].current_user).toBe(APP_ROLE);
    const served = await sql<{ current_user: string }>`SELECT current_user`.execute(herald.db);
    expect(served.rows[0].current_user).toBe(APP_ROLE);

    const role = await owner.query('SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = $1', [APP_ROLE]);
    expect(role.rows).toEqual([{ rolsuper: false, rolbypassrls: false }]);
  });

  it('owns none of the environment-scoped tables (owners would skip RLS without FORCE)', async () => {
    const result = await owner.query(
      `SELECT c.relname, pg_get_userbyid(c.relowner) AS owner FROM pg_class c
       JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = 'public' AND c.relname = ANY($1)`,
      [[...SCOPED_TABLES]],
    );
    expect(result.rows).toHaveLength(SCOPED_TABLES.length);
    for (const row of result.rows) expect(row.owner, row.relname).not.toBe(APP_ROLE);
  });
});

describe('environment-scoped tables', () => {
  it('every table with an environment_id column is under row-level security (new tables cannot skip it)', async () => {
    const result = await owner.query(
      `SELECT DISTINCT table_name FROM information_schema.columns
       WHERE table_schema = 'public' AND column_name = 'environment_id'`,
    );
    const withEnvironmentId = result.rows.map((r) => r.table_name as string).sort();
    const unprotected = withEnvironmentId.filter(
      (t) => !(SCOPED_TABLES as readonly string[]).includes(t) && !ACCOUNT_LEVEL_TABLES_WITH_ENVIRONMENT_ID.includes(t),
    );
    expect(unprotected, 'tables with environment_id missing from the scoped tables (ENVIRONMENT_SCOPED_TABLES, ENGINE_SCOPED_TABLES, OBJECT_RECIPIENT_DATA_TABLES)').toEqual([]);
    // And the lists name no table that does not exist (a typo would silently protect nothing).
    for (const table of [...SCOPED_TABLES, ...ACCOUNT_LEVEL_TABLES_WITH_ENVIRONMENT_ID]) expect(withEnvironmentId).toContain(table);
  });

  it('each has row-level security enabled and forced, with a policy', async () => {
    const result = await owner.query(
      `SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity,
              (SELECT count(*)::int FROM pg_policy p WHERE p.polrelid = c.oid) AS policies
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = 'public' AND c.relkind = 'r' AND c.relname = ANY($1)
       ORDER BY c.relname`,
      [[...SCOPED_TABLES]],
    );
    expect(result.rows.map((r) => r.relname)).toEqual([...SCOPED_TABLES].sort());
    for (const row of result.rows) {
      expect({ table: row.relname, relrowsecurity: row.relrowsecurity, relforcerowsecurity: row.relforcerowsecurity })
        .toEqual({ table: row.relname, relrowsecurity: true, relforcerowsecurity: true });
      expect(row.policies, `${row.relname} has no policy`).toBeGreaterThan(0);
    }
  });
});

describe.each([...SCOPED_TABLES])('row-level security on %s', (table) => {
  it('holds rows of every environment (the setup reached the table)', async () => {
    for (const slug of SLUGS) {
      expect((await storedRows(table, envIds[slug])).length, `${table} rows in ${slug}`).toBeGreaterThan(0);
    }
  });

  it.each([...SLUGS])('an unfiltered select scoped to %s returns exactly that environment’s rows', async (slug) => {
    const rows = await inEnvironment(app, envIds[slug], (tx) => untyped(tx).selectFrom(table).selectAll().execute());
    const expected = await storedRows(table, envIds[slug]);
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.length).toBeLessThan(await storedCount(table));
    expect(new Set(rows.map((r) => r.environment_id))).toEqual(new Set([envIds[slug]]));
    expect(canonical(rows)).toEqual(canonical(expected));
  });

  it.each([...SLUGS])('count(*) without a filter, scoped to %s, counts only that environment', async (slug) => {
    const counted = await inEnvironment(app, envIds[slug], (tx) =>
      untyped(tx).selectFrom(table).select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow(),
    );
    expect(Number(counted.n)).toBe((await storedRows(table, envIds[slug])).length);
    expect(Number(counted.n)).toBeLessThan(await storedCount(table));
  });

  it('outside any environment a plain select sees nothing, even on connections that were scoped before', async () => {
    // Scope both pooled connections at once, so the next plain query surely lands on one that had a setting.
    let arrived = 0;
    let release!: () => void;
    const bothIn = new Promise<void>((resolve) => (release = resolve));
    const enter = async () => {
      if (++arrived === 2) release();
      await bothIn;
    };
    const [a, b] = await Promise.all([
      inEnvironment(app, envIds.development, async (tx) => (await enter(), untyped(tx).selectFrom(table).selectAll().execute())),
      inEnvironment(app, envIds.production, async (tx) => (await enter(), untyped(tx).selectFrom(table).selectAll().execute())),
    ]);
    expect(a.length).toBeGreaterThan(0);
    expect(b.length).toBeGreaterThan(0);

    for (let i = 0; i < 2; i++) {
      expect(await untyped(app).selectFrom(table).selectAll().execute()).toEqual([]);
      const counted = await untyped(app).selectFrom(table).select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow();
      expect(Number(counted.n)).toBe(0);
    }
    expect(await storedCount(table)).toBeGreaterThan(0);
  });

  it('outside any environment an insert is refused', async () => {
    await expectRlsRefusal(untyped(app).insertInto(table).values(newRow(table, envIds.development)).execute());
  });

  it.each([
    ['development', 'production'],
    ['staging', 'development'],
    ['production', 'staging'],
  ] as Array<[Slug, Slug]>)('scoped to %s, a row of %s cannot be inserted', async (scope, other) => {
    const before = await storedCount(table);
    await expectRlsRefusal(inEnvironment(app, envIds[scope], (tx) => untyped(tx).insertInto(table).values(newRow(table, envIds[other])).execute()));
    // The very same row for the scoped environment is accepted (so the refusal is RLS, not the row).
    await expect(
      inEnvironment(app, envIds[scope], async (tx) => {
        await untyped(tx).insertInto(table).values(newRow(table, envIds[scope])).execute();
        throw new Rollback();
      }),
    ).rejects.toBeInstanceOf(Rollback);
    expect(await storedCount(table)).toBe(before);
  });

  it.each([
    ['development', 'production'],
    ['staging', 'production'],
    ['production', 'development'],
  ] as Array<[Slug, Slug]>)('scoped to %s, rows of %s can be neither updated, moved in, nor deleted', async (scope, other) => {
    const otherBefore = canonical(await storedRows(table, envIds[other]));
    const scopeBefore = canonical(await storedRows(table, envIds[scope]));

    await inEnvironment(app, envIds[scope], async (tx) => {
      // Aimed at the other environment: its rows are invisible, so nothing is hit.
      const updated = await untyped(tx)
        .updateTable(table)
        .set({ [touchColumn(table)]: sql`now() + interval '1 day'` })
        .where('environment_id', '=', envIds[other])
        .executeTakeFirst();
      expect(updated.numUpdatedRows).toBe(0n);
      const deleted = await untyped(tx).deleteFrom(table).where('environment_id', '=', envIds[other]).executeTakeFirst();
      expect(deleted.numDeletedRows).toBe(0n);
      // Without any filter, only the scoped environment's rows are touched.
      const touched = await untyped(tx).updateTable(table).set({ [touchColumn(table)]: sql.ref(touchColumn(table)) }).executeTakeFirst();
      expect(Number(touched.numUpdatedRows)).toBe(scopeBefore.length);
    });

    // Moving a visible row into the other environment is refused by the policy's WITH CHECK.
    await expectRlsRefusal(
      inEnvironment(app, envIds[scope], (tx) => untyped(tx).updateTable(table).set({ environment_id: envIds[other] }).execute()),
    );

    expect(canonical(await storedRows(table, envIds[other]))).toEqual(otherBefore);
    expect(canonical(await storedRows(table, envIds[scope]))).toEqual(scopeBefore);
  });
});
