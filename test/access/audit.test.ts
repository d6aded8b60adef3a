/**
 * The audit log (environments.md §5): every change is recorded once, with actor,
 * environment, target, time and request id, in the same transaction as the change, and
 * the log can be read (filtered, paged) but never edited — not even by the table owner.
 */
import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHerald, type TestHerald } from '../support/herald.ts';

interface AuditEvent {
  id: string;
  action: string;
  actor: { type: string; id: string | null; email: string | null; name: string | null };
  environment: string | null;
  target: { type: string; id: string | null };
  data: Record<string, any>;
  request_id: string | null;
  created_at: string;
}

let herald: TestHerald;
let token: string;
/** Superuser connection (owner of the schema). */
let owner: pg.Client;
let tokenActor: AuditEvent['actor'];

const mgmt = (method: string, path: string, body?: unknown) => herald.request(method, `/mgmt/v1${path}`, { token, body });

function workflow(name: string) {
  return { name, steps: [{ ref: 'email_1', type: 'channel', channel_key: 'email', template: { subject: `Hi from ${name}`, html_body: '<p>{{ data.message }}</p>' } }] };
}

async function ok(method: string, path: string, body?: unknown) {
  const res = await mgmt(method, path, body);
  expect(res.statusCode, `${method} ${path}: ${res.body}`).toBeLessThan(300);
  return res.statusCode === 204 ? undefined : res.json();
}

/** One page of the audit log. */
async function page(query = ''): Promise<{ entries: AuditEvent[]; page_info: { after: string | null; before: string | null; page_size: number } }> {
  const res = await mgmt('GET', `/audit_events${query ? `?${query}` : ''}`);
  expect(res.statusCode, res.body).toBe(200);
  return res.json();
}

/** Every event matching `query`, newest first, following `after` cursors. */
async function allEvents(query = ''): Promise<AuditEvent[]> {
  const entries: AuditEvent[] = [];
  let after: string | null = null;
  do {
    const result = await page(`limit=100${query ? `&${query}` : ''}${after ? `&after=${encodeURIComponent(after)}` : ''}`);
    entries.push(...result.entries);
    after = result.page_info.after;
  } while (after);
  return entries;
}

/** The newest event's id: events after it are what the next action recorded. */
async function mark(): Promise<string | undefined> {
  return (await page('limit=1')).entries[0]?.id;
}

/** Events recorded since `markId`, oldest first. */
async function since(markId: string | undefined): Promise<AuditEvent[]> {
  const all = await allEvents();
  const index = markId === undefined ? all.length : all.findIndex((e) => e.id === markId);
  return all.slice(0, index).reverse();
}

/** Runs `action` and returns the events it recorded, oldest first. */
async function recorded(action: () => Promise<unknown>): Promise<AuditEvent[]> {
  const before = await mark();
  await action();
  return since(before);
}

async function storedCount(): Promise<number> {
  return (await owner.query('SELECT count(*)::int AS n FROM audit_events')).rows[0].n;
}

beforeAll(async () => {
  herald = await startTestHerald();
  token = herald.secrets.service_token;
  owner = new pg.Client({ connectionString: herald.databaseUrl });
  await owner.connect();
  const row = await herald.db.selectFrom('service_tokens').select(['id', 'name']).executeTakeFirstOrThrow();
  tokenActor = { type: 'service_token', id: row.id, email: 'owner@herald.local', name: row.name };
});
afterAll(async () => {
  await owner?.end();
  await herald?.close();
});

describe('bootstrap', () => {
  it('records the initial environments, API keys and service token as system events', async () => {
    const events = (await allEvents()).reverse();
    expect(events.map((e) => [e.action, e.environment])).toEqual([
      ['environment.created', 'development'],
      ['environment.created', 'production'],
      ['service_token.created', null],
      ['api_key.created', 'development'],
      ['api_key.created', 'development'],
      ['api_key.created', 'production'],
      ['api_key.created', 'production'],
    ]);
    for (const event of events) {
      expect(event.actor).toEqual({ type: 'system', id: null, email: 'system@herald.local', name: 'Herald' });
      expect(event.request_id).toBeNull();
    }
    expect(events[2].target).toEqual({ type: 'service_token', id: tokenActor.id });
    // Keys and tokens appear by id and prefix, never as secrets.
    const text = JSON.stringify(events);
    expect(text).not.toContain(herald.secrets.service_token);
    for (const keys of Object.values(herald.secrets.environments)) {
      expect(text).not.toContain(keys.secret_key);
      expect(text).not.toContain(keys.public_key);
    }
  });
});

describe('each change is recorded once, with actor, environment and target', () => {
  it('environment.created (with api_key.created for its fresh key pair), in one request', async () => {
    let created: any;
    const events = await recorded(async () => {
      created = await ok('POST', '/environments', { name: 'Staging', slug: 'staging', insert_after: 'development' });
    });
    expect(events.map((e) => e.action)).toEqual(['environment.created', 'api_key.created', 'api_key.created']);
    expect(events[0]).toMatchObject({ actor: tokenActor, environment: 'staging', target: { type: 'environment', id: 'staging' }, data: { name: 'Staging', order: 1, insert_after: 'development' } });
    expect(events.slice(1).map((e) => e.target)).toEqual(created.api_keys.map((k: { id: string }) => ({ type: 'api_key', id: k.id })));
    expect(events.every((e) => e.environment === 'staging' && e.request_id === events[0].request_id)).toBe(true);
    // The request id is the one of the request's access log line.
    expect(herald.logs.some((line) => line.includes(`"id":"${events[0].request_id}"`) && line.includes('"route":"/mgmt/v1/environments"'))).toBe(true);
    expect(JSON.stringify(events)).not.toContain(created.api_keys[0].key);
  });

  it('a refused environment creation (409, 422) records nothing', async () => {
    const before = await storedCount();
    expect((await mgmt('POST', '/environments', { name: 'Again', slug: 'staging' })).statusCode).toBe(409);
    expect((await mgmt('POST', '/environments', { name: 'Late', slug: 'late', insert_after: 'production' })).statusCode).toBe(422);
    expect(await storedCount()).toBe(before);
  });

  it('environment.settings_changed records only what changed, before and after', async () => {
    const events = await recorded(() => ok('PATCH', '/environments/staging', { name: 'Staging EU', label_color: null }));
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      action: 'environment.settings_changed',
      actor: tokenActor,
      environment: 'staging',
      target: { type: 'environment', id: 'staging' },
      data: { before: { name: 'Staging' }, after: { name: 'Staging EU' } },
    });
  });

  it('environment.data_controls_changed: obfuscation changes are their own action; a PATCH changing both records both', async () => {
    const controls = await recorded(() => ok('PATCH', '/environments/production', { hide_pii_data: false }));
    expect(controls.map((e) => [e.action, e.environment, e.data])).toEqual([
      ['environment.data_controls_changed', 'production', { before: { hide_pii_data: true }, after: { hide_pii_data: false } }],
    ]);
    const both = await recorded(() => ok('PATCH', '/environments/production', { name: 'Prod', hide_pii_data: true, hide_message_content: true }));
    expect(both.map((e) => [e.action, e.data])).toEqual([
      ['environment.settings_changed', { before: { name: 'Production' }, after: { name: 'Prod' } }],
      ['environment.data_controls_changed', { before: { hide_pii_data: false }, after: { hide_pii_data: true } }],
    ]);
  });

  it('a PATCH that changes nothing, or is refused, records nothing', async () => {
    expect(await recorded(() => ok('PATCH', '/environments/production', { name: 'Prod', hide_message_content: true }))).toEqual([]);
    const before = await storedCount();
    expect((await mgmt('PATCH', '/environments/production', { owner: 'user' })).statusCode).toBe(422);
    expect((await mgmt('PATCH', '/environments/nowhere', { name: 'X' })).statusCode).toBe(404);
    expect(await storedCount()).toBe(before);
  });

  it('api_key.created and api_key.revoked, once each; revoking again records nothing', async () => {
    let key: any;
    const created = await recorded(async () => {
      key = (await ok('POST', '/environments/staging/api_keys', { kind: 'secret', name: 'CI' })).entries[0];
    });
    expect(created).toHaveLength(1);
    expect(created[0]).toMatchObject({ action: 'api_key.created', actor: tokenActor, environment: 'staging', target: { type: 'api_key', id: key.id }, data: { kind: 'secret', name: 'CI', prefix: key.prefix } });
    expect(JSON.stringify(created)).not.toContain(key.key);

    const revoked = await recorded(() => ok('DELETE', `/environments/staging/api_keys/${key.id}`));
    expect(revoked.map((e) => [e.action, e.environment, e.target])).toEqual([['api_key.revoked', 'staging', { type: 'api_key', id: key.id }]]);
    expect(await recorded(() => ok('DELETE', `/environments/staging/api_keys/${key.id}`))).toEqual([]);
  });

  it('commit.created for each commit, via PUT /commits and via upsert with commit=true; saving a working copy records nothing', async () => {
    expect(await recorded(() => ok('PUT', '/workflows/welcome?environment=development', { workflow: workflow('Welcome') }))).toEqual([]);
    let commit: any;
    const viaCommits = await recorded(async () => {
      [commit] = (await ok('PUT', '/commits?environment=development&commit_message=First')).commits;
    });
    expect(viaCommits).toHaveLength(1);
    expect(viaCommits[0]).toMatchObject({
      action: 'commit.created',
      actor: tokenActor,
      environment: 'development',
      target: { type: 'commit', id: commit.id },
      data: { resource: { type: 'workflow', identifier: 'welcome' } },
    });

    const viaUpsert = await recorded(() => ok('PUT', '/workflows/digest?environment=development&commit=true', { workflow: workflow('Digest') }));
    const [digest] = (await ok('GET', '/commits?environment=development&resource_id=digest')).entries;
    expect(viaUpsert.map((e) => [e.action, e.environment, e.target])).toEqual([['commit.created', 'development', { type: 'commit', id: digest.id }]]);
  });

  it('a refused commit (nothing to commit: 422; not in development: 403) records nothing', async () => {
    const before = await storedCount();
    expect((await mgmt('PUT', '/commits?environment=development')).statusCode).toBe(422);
    expect((await mgmt('PUT', '/commits?environment=production&allow_empty=true')).statusCode).toBe(403);
    expect((await mgmt('PUT', '/workflows/welcome?environment=production&commit=true', { workflow: workflow('Hot fix') })).statusCode).toBe(403);
    expect(await storedCount()).toBe(before);
  });

  it('commit.promoted, for promote-one and for each commit of a promote-all; dry runs and refusals record nothing', async () => {
    const [welcome] = (await ok('GET', '/commits?environment=development&resource_id=welcome')).entries;
    const [digest] = (await ok('GET', '/commits?environment=development&resource_id=digest')).entries;
    const before = await storedCount();
    await ok('PUT', `/commits/${welcome.id}/promote?dry_run=true`);
    await ok('PUT', '/commits/promote?to_environment=staging&dry_run=true');
    expect(await storedCount()).toBe(before);

    let promoted: any;
    const one = await recorded(async () => {
      promoted = (await ok('PUT', `/commits/${welcome.id}/promote`)).commit;
    });
    expect(one).toHaveLength(1);
    expect(one[0]).toMatchObject({
      action: 'commit.promoted',
      actor: tokenActor,
      environment: 'staging',
      target: { type: 'commit', id: welcome.id },
      data: { commit_id: promoted.id, from_environment: 'development', resource: { type: 'workflow', identifier: 'welcome' } },
    });
    expect((await mgmt('PUT', `/commits/${welcome.id}/promote`)).statusCode).toBe(409);
    expect(await since(one[0].id)).toEqual([]);

    const all = await recorded(() => ok('PUT', '/commits/promote?to_environment=staging'));
    expect(all.map((e) => [e.action, e.environment, e.target.id])).toEqual([['commit.promoted', 'staging', digest.id]]);
    const toProduction = await recorded(() => ok('PUT', '/commits/promote?to_environment=production'));
    expect(toProduction.map((e) => [e.action, e.environment, e.data.resource.identifier]).sort()).toEqual([
      ['commit.promoted', 'production', 'digest'],
      ['commit.promoted', 'production', 'welcome'],
    ]);
    expect(new Set(toProduction.map((e) => e.request_id)).size).toBe(1);
  });

  it('commit.reverted; a dry run records nothing', async () => {
    await ok('PUT', '/workflows/welcome?environment=development&commit=true&commit_message=Second', { workflow: workflow('Welcome v2') });
    const [second] = (await ok('GET', '/commits?environment=development&resource_id=welcome')).entries;
    const before = await storedCount();
    await ok('PUT', `/commits/${second.id}/revert?dry_run=true`);
    expect(await storedCount()).toBe(before);

    let revert: any;
    const events = await recorded(async () => {
      revert = (await ok('PUT', `/commits/${second.id}/revert`)).commit;
    });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      action: 'commit.reverted',
      actor: tokenActor,
      environment: 'development',
      target: { type: 'commit', id: second.id },
      data: { commit_id: revert.id, resource: { type: 'workflow', identifier: 'welcome' } },
    });
  });

  it('environment.rolled_back, once per rollback; a dry run records nothing', async () => {
    const history = (await ok('GET', '/commits?environment=staging')).entries;
    const firstInStaging = history[history.length - 1];
    await ok('PUT', '/workflows/welcome?environment=development&commit=true&commit_message=Third', { workflow: workflow('Welcome v3') });
    await ok('PUT', '/commits/promote?to_environment=staging');
    const before = await storedCount();
    await ok('PUT', `/environments/staging/rollback?to_commit=${firstInStaging.id}&dry_run=true`);
    expect(await storedCount()).toBe(before);

    let result: any;
    const events = await recorded(async () => {
      result = await ok('PUT', `/environments/staging/rollback?to_commit=${firstInStaging.id}`);
    });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      action: 'environment.rolled_back',
      actor: tokenActor,
      environment: 'staging',
      target: { type: 'environment', id: 'staging' },
      data: { to_commit: firstInStaging.id, restored: result.commits.length, commit_ids: result.commits.map((c: { id: string }) => c.id) },
    });
  });

  it('workflow.activation_changed when a workflow is switched off or on; setting the same state records nothing', async () => {
    const off = await recorded(() => ok('PUT', '/workflows/digest/activate?environment=production', { status: false }));
    expect(off).toHaveLength(1);
    expect(off[0]).toMatchObject({
      action: 'workflow.activation_changed',
      actor: tokenActor,
      environment: 'production',
      target: { type: 'workflow', id: 'digest' },
      data: { before: { active: true }, after: { active: false } },
    });
    expect(await recorded(() => ok('PUT', '/workflows/digest/activate?environment=production', { status: false }))).toEqual([]);
    const on = await recorded(() => ok('PUT', '/workflows/digest/activate?environment=production', { status: true }));
    expect(on.map((e) => [e.action, e.data])).toEqual([['workflow.activation_changed', { before: { active: false }, after: { active: true } }]]);
    const before = await storedCount();
    expect((await mgmt('PUT', '/workflows/nope/activate?environment=production', { status: false })).statusCode).toBe(404);
    expect(await storedCount()).toBe(before);
  });
});

describe('reading the log', () => {
  it('filters by actor (id or email, case-insensitive), action (one or several) and environment', async () => {
    const all = await allEvents();
    const byToken = await allEvents(`actor=${tokenActor.id}`);
    expect(byToken.length).toBeGreaterThan(0);
    expect(byToken).toEqual(all.filter((e) => e.actor.id === tokenActor.id));
    expect(await allEvents('actor=OWNER%40herald.local')).toEqual(byToken);
    expect((await allEvents('actor=system%40herald.local')).map((e) => e.actor.type)).toEqual(Array(7).fill('system'));
    expect(await allEvents('actor=nobody%40example.com')).toEqual([]);

    const promoted = await allEvents('action=commit.promoted');
    expect(promoted).toEqual(all.filter((e) => e.action === 'commit.promoted'));
    const two = await allEvents('action=commit.created,commit.reverted');
    expect(two).toEqual(all.filter((e) => e.action === 'commit.created' || e.action === 'commit.reverted'));

    const staging = await allEvents('environment=staging');
    expect(staging.length).toBeGreaterThan(0);
    expect(staging).toEqual(all.filter((e) => e.environment === 'staging'));
    expect(await allEvents('environment=staging&action=api_key.revoked')).toHaveLength(1);
  });

  it('filters by time range: from is inclusive, to exclusive', async () => {
    const all = await allEvents();
    const pivot = all[Math.floor(all.length / 2)];
    const from = await allEvents(`from=${encodeURIComponent(pivot.created_at)}`);
    const to = await allEvents(`to=${encodeURIComponent(pivot.created_at)}`);
    expect(from.map((e) => e.id)).toContain(pivot.id);
    expect(to.map((e) => e.id)).not.toContain(pivot.id);
    expect(from.every((e) => e.created_at >= pivot.created_at)).toBe(true);
    expect(to.every((e) => e.created_at < pivot.created_at)).toBe(true);
    expect(from.length + to.length).toBe(all.length);
    expect((await mgmt('GET', '/audit_events?from=yesterday')).statusCode).toBe(422);
  });

  it('pages newest first with after/before cursors, covering every event exactly once', async () => {
    const all = await allEvents();
    const pages: AuditEvent[][] = [];
    let result = await page('limit=4');
    expect(result.page_info.before).toBeNull();
    pages.push(result.entries);
    while (result.page_info.after) {
      result = await page(`limit=4&after=${encodeURIComponent(result.page_info.after)}`);
      pages.push(result.entries);
    }
    expect(pages.flat()).toEqual(all);
    expect(pages.length).toBe(Math.ceil(all.length / 4));
    // Walking back from the third page with `before` gives the second page again.
    const third = await page(`limit=4&after=${encodeURIComponent((await page(`limit=4&after=${encodeURIComponent((await page('limit=4')).page_info.after!)}`)).page_info.after!)}`);
    const back = await page(`limit=4&before=${encodeURIComponent(third.page_info.before!)}`);
    expect(back.entries).toEqual(pages[1]);
    expect((await mgmt('GET', '/audit_events?after=not-a-cursor')).statusCode).toBe(422);
  });

  it('is documented in the served OpenAPI', async () => {
    const spec = (await herald.request('GET', '/mgmt/v1/openapi.json', { token })).json();
    const operation = spec.paths['/mgmt/v1/audit_events'].get;
    expect(operation.parameters.map((p: { name: string }) => p.name).sort()).toEqual(['action', 'actor', 'after', 'before', 'environment', 'from', 'limit', 'to']);
    expect(Object.keys(operation.responses['200'].content['application/json'].schema.properties)).toEqual(['entries', 'page_info']);
  });
});

describe('atomic with the change it records', () => {
  /** Makes every transaction that wrote an audit event fail at COMMIT, after the change and the event. */
  async function failingAtCommit(run: () => Promise<void>): Promise<void> {
    await owner.query(`
      CREATE FUNCTION test_fail_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'injected failure at commit'; END $$;
      CREATE CONSTRAINT TRIGGER test_fail_at_commit AFTER INSERT ON audit_events
        DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION test_fail_at_commit();`);
    try {
      await run();
    } finally {
      await owner.query('DROP TRIGGER test_fail_at_commit ON audit_events; DROP FUNCTION test_fail_at_commit();');
    }
  }

  it('a failure after the change and its event, before commit, rolls back both', async () => {
    const key = (await ok('POST', '/environments/staging/api_keys', { kind: 'secret' })).entries[0];
    const [welcome] = (await ok('GET', '/commits?environment=development&resource_id=welcome')).entries;
    const productionCommits = (await ok('GET', '/commits?environment=production')).entries.length;
    const before = await storedCount();

    await failingAtCommit(async () => {
      expect((await mgmt('PATCH', '/environments/staging', { name: 'Never', hide_pii_data: true })).statusCode).toBe(500);
      expect((await mgmt('POST', '/environments', { name: 'Never', slug: 'never' })).statusCode).toBe(500);
      expect((await mgmt('DELETE', `/environments/staging/api_keys/${key.id}`)).statusCode).toBe(500);
      expect((await mgmt('PUT', '/commits/promote?to_environment=production')).statusCode).toBe(500);
      expect((await mgmt('PUT', `/commits/${welcome.id}/revert`)).statusCode).toBe(500);
      expect((await mgmt('PUT', '/workflows/welcome/activate?environment=development', { status: false })).statusCode).toBe(500);
    });

    expect(await storedCount()).toBe(before);
    expect(await ok('GET', '/environments/staging')).toMatchObject({ name: 'Staging EU', hide_pii_data: false });
    expect((await mgmt('GET', '/environments/never')).statusCode).toBe(404);
    expect((await herald.request('GET', '/v1/users/nobody', { token: key.key })).statusCode).toBe(404); // the key still works
    expect((await ok('GET', '/commits?environment=production')).entries).toHaveLength(productionCommits);
    expect((await ok('GET', '/commits?environment=development&resource_id=welcome')).entries[0].id).toBe(welcome.id);
    expect((await ok('GET', '/workflows/welcome?environment=development')).active).toBe(true);
  });
});

describe('append-only', () => {
  it('the application role may not UPDATE, DELETE or TRUNCATE audit events (permission denied)', async () => {
    for (const statement of ['UPDATE audit_events SET action = action', 'DELETE FROM audit_events', 'TRUNCATE audit_events']) {
      await expect(sql.raw(statement).execute(herald.db), statement).rejects.toMatchObject({ code: '42501', message: expect.stringContaining('permission denied') });
    }
  });

  it('not even the owner role can edit history: a trigger refuses it', async () => {
    const count = await storedCount();
    for (const statement of ['UPDATE audit_events SET action = action', 'DELETE FROM audit_events WHERE false', 'TRUNCATE audit_events']) {
      await expect(owner.query(statement), statement).rejects.toThrow(/append-only/);
    }
    expect(await storedCount()).toBe(count);
  });
});
