/**
 * Versioned content (environments.md §2) as a model-based property: random sequences of
 * edits (upserts, some with commit=true / allow_empty), commits (all / one resource /
 * allow_empty; and attempts outside development, which must be refused), promotions (all
 * / one), reverts and rollbacks (all or one resource; some dry runs, some invalid) across
 * development → staging → production, checked against a small reference model after
 * every command.
 *
 * The model keeps, per environment, the committed version of each workflow (and each
 * version's content), development's working copies, every commit in order, and — per
 * (target, source, resource) — the newest source commit already promoted. It predicts
 * every response exactly (which resources a command touches, the kind, version, parent
 * and source of each new commit) and adopts only the ids the server makes up (commit ids,
 * ids of brand-new versions, which must never have been seen before).
 *
 * After every command the server must equal the model: the whole commit history (order,
 * lineage, `promoted`), `GET /commits?environment=E&promoted=false` per environment,
 * committed content per environment (list with hide_uncommitted_changes and
 * resolveCommittedVersion), development's working copies. Independently of the model, a
 * lineage invariant is checked on what the server reports: staging and production only
 * hold versions that arrived by promotion (or seeding) from below, and revert/rollback
 * there only re-use versions that environment already held. A refused command (4xx) and a
 * dry run must leave the versioning tables and environments unchanged, row for row (read
 * as superuser).
 *
 * Each run starts from an empty versioning state with only development and production; a
 * few edits/commits/promotions may happen first, then staging is created with
 * insert_after=development (and seeded), then the random commands run.
 */
import fc from 'fast-check';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { resolveCommittedVersion } from '../../src/versioning/resolve.ts';
import { startTestHerald, type TestHerald } from '../support/herald.ts';

const NUM_RUNS = 200;
const MAX_SETUP = 5;
const MAX_COMMANDS = 15;
const KEYS = ['wf-a', 'wf-b', 'wf-c', 'wf-d'] as const;
/** Few contents, so edits often equal what is committed (which clears the working copy). */
const CONTENTS = 3;

type Slug = 'development' | 'staging' | 'production';
type Kind = 'commit' | 'promote' | 'seed' | 'revert' | 'rollback';

const workflow = (v: number) => ({
  name: `Content ${v}`,
  steps: [{ ref: 'email_1', type: 'channel', channel_key: 'email', template: { subject: `Subject ${v}`, html_body: `<p>${v}</p>` } }],
});
const contentOfName = (name: string) => Number(/^Content (\d+)$/.exec(name)![1]);

// ---------------------------------------------------------------- reference model

interface MCommit {
  id: string;
  env: Slug;
  key: string;
  kind: Kind;
  versionId: string;
  parent: string | null;
  source: string | null;
  /** Position in the global history (= seq order). */
  order: number;
}

interface Model {
  envs: Slug[];
  committed: Record<Slug, Map<string, string>>;
  /** Content (0..CONTENTS-1) of every version id ever made. */
  contentOf: Map<string, number>;
  /** Working copies in development. */
  working: Map<string, number>;
  commits: MCommit[];
  /** `${target}|${source}|${key}` → order of the newest source commit already in target. */
  upTo: Map<string, number>;
}

function emptyModel(): Model {
  return {
    envs: ['development', 'production'],
    committed: { development: new Map(), staging: new Map(), production: new Map() },
    contentOf: new Map(),
    working: new Map(),
    commits: [],
    upTo: new Map(),
  };
}

const nextEnv = (m: Model, env: Slug): Slug | undefined => m.envs[m.envs.indexOf(env) + 1];
const upToKey = (target: Slug, source: Slug, key: string) => `${target}|${source}|${key}`;

function isPromoted(m: Model, c: MCommit): boolean {
  const next = nextEnv(m, c.env);
  if (!next) return true;
  const upTo = m.upTo.get(upToKey(next, c.env, c.key));
  return upTo !== undefined && c.order <= upTo;
}

function latestCommit(m: Model, env: Slug, key: string, maxOrder = Infinity): MCommit | undefined {
  let found: MCommit | undefined;
  for (const c of m.commits) if (c.env === env && c.key === key && c.order <= maxOrder) found = c;
  return found;
}

/** A commit the model expects a command to make. */
interface Expected {
  env: Slug;
  key: string;
  kind: Kind;
  /** An existing version, or new content (a fresh version id). */
  version: { id: string } | { v: number };
  parent: string | null;
  source: string | null;
}

type Prediction =
  | { refused: number; code?: string }
  | { ok: Expected[]; dryRun: boolean; unchangedNewer?: string[]; single?: boolean };

// ---------------------------------------------------------------- commands

type Command =
  | { t: 'edit'; key: number; v: number; commit: boolean; allowEmpty: boolean }
  | { t: 'commit'; scope: 'all' | 'one'; key: number; allowEmpty: boolean }
  | { t: 'commitElsewhere'; env: 'staging' | 'production'; allowEmpty: boolean }
  | { t: 'promoteAll'; to: Slug; dryRun: boolean }
  | { t: 'promoteOne'; pick: number; dryRun: boolean }
  | { t: 'revert'; pick: number; any: boolean; dryRun: boolean }
  | { t: 'rollback'; env: number; pick: number; key: number | null; any: boolean; foreign: boolean; dryRun: boolean };

const keyArb = fc.integer({ min: 0, max: KEYS.length - 1 });
/** true one time in five: picks among all candidates instead of the ones likely to change something. */
const rarely = fc.oneof({ weight: 4, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) });
const dryRunArb = fc.oneof({ weight: 5, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) });
const editArb = fc.record({
  t: fc.constant('edit' as const),
  key: keyArb,
  v: fc.integer({ min: 0, max: CONTENTS - 1 }),
  commit: fc.boolean(),
  allowEmpty: fc.oneof({ weight: 3, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
});
const commitArb = fc.record({ t: fc.constant('commit' as const), scope: fc.constantFrom('all' as const, 'one' as const), key: keyArb, allowEmpty: fc.boolean() });

const setupArb: fc.Arbitrary<Command[]> = fc.array(
  fc.oneof(
    { weight: 3, arbitrary: editArb },
    { weight: 2, arbitrary: commitArb },
    { weight: 1, arbitrary: fc.record({ t: fc.constant('promoteAll' as const), to: fc.constant<Slug>('production'), dryRun: fc.constant(false) }) },
  ),
  { minLength: 1, maxLength: MAX_SETUP, size: 'max' },
);

const commandArb: fc.Arbitrary<Command> = fc.oneof(
  { weight: 5, arbitrary: editArb },
  { weight: 2, arbitrary: commitArb },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('commitElsewhere' as const), env: fc.constantFrom('staging' as const, 'production' as const), allowEmpty: fc.boolean() }) },
  { weight: 4, arbitrary: fc.record({ t: fc.constant('promoteAll' as const), to: fc.constantFrom<Slug>('staging', 'production', 'staging', 'production', 'development'), dryRun: dryRunArb }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('promoteOne' as const), pick: fc.nat(), dryRun: dryRunArb }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('revert' as const), pick: fc.nat(), any: rarely, dryRun: dryRunArb }) },
  {
    weight: 3,
    arbitrary: fc.record({
      t: fc.constant('rollback' as const),
      env: fc.nat({ max: 2 }),
      pick: fc.nat(),
      key: fc.option(keyArb, { freq: 3 }),
      any: rarely,
      foreign: fc.oneof({ weight: 9, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
      dryRun: dryRunArb,
    }),
  },
);

// ---------------------------------------------------------------- server access

let herald: TestHerald;
let token: string;
let admin: pg.Client;

type Json = Record<string, any>;
const mgmt = async (method: string, path: string, body?: unknown) => {
  const res = await herald.request(method, `/mgmt/v1${path}`, { token, body });
  return { status: res.statusCode, json: res.body ? (res.json() as Json) : {} };
};

/** Every entry of a paginated commits list, newest first. */
async function allCommits(query: string): Promise<Json[]> {
  const entries: Json[] = [];
  let after: string | null = null;
  do {
    const { status, json } = await mgmt('GET', `/commits?limit=100${query}${after ? `&after=${encodeURIComponent(after)}` : ''}`);
    expect(status).toBe(200);
    entries.push(...json.entries);
    after = json.page_info.after;
  } while (after);
  return entries;
}

async function environmentIds(): Promise<Map<Slug, string>> {
  const rows = await herald.db.selectFrom('environments').select(['id', 'slug']).where('deleted_at', 'is', null).execute();
  return new Map(rows.map((r) => [r.slug as Slug, r.id]));
}

/** Everything versioning stores, read as superuser: must not move on a refusal or a dry run. */
async function snapshot(): Promise<string> {
  const { rows } = await admin.query(`
    SELECT (SELECT coalesce(string_agg(t::text, '|' ORDER BY t.seq), '') FROM commits t) AS commits,
           (SELECT coalesce(string_agg(t::text, '|' ORDER BY t.id), '') FROM resource_versions t) AS versions,
           (SELECT coalesce(string_agg(t::text, '|' ORDER BY t.environment_id, t.resource_key), '') FROM environment_resources t) AS held,
           (SELECT coalesce(string_agg(t::text, '|' ORDER BY t.resource_key), '') FROM resources t) AS origins,
           (SELECT string_agg(t::text, '|' ORDER BY t.id) FROM environments t) AS environments`);
  return JSON.stringify(rows[0]);
}

/** Back to development + production and no content (between runs). */
async function resetState(): Promise<void> {
  await admin.query(`
    BEGIN;
    TRUNCATE promotion_requests, commits, environment_resources, resource_versions, resources;
    DELETE FROM api_keys WHERE environment_id IN (SELECT id FROM environments WHERE slug = 'staging');
    DELETE FROM environments WHERE slug = 'staging';
    UPDATE environments SET position = CASE slug WHEN 'development' THEN 0 ELSE 1 END, last_commit_at = NULL;
    COMMIT;`);
}

// ---------------------------------------------------------------- predictions

const sortedKeys = (keys: Iterable<string>) => [...keys].sort();

function predict(m: Model, cmd: Command): { path: string; method: string; body?: unknown; prediction: Prediction; describe: string } {
  switch (cmd.t) {
    case 'edit': {
      const key = KEYS[cmd.key];
      const commitQuery = cmd.commit ? `&commit=true${cmd.allowEmpty ? '&allow_empty=true' : ''}` : '';
      const path = `/workflows/${key}?environment=development${commitQuery}`;
      const describe = `edit ${key}=${cmd.v}${commitQuery}`;
      const current = m.committed.development.get(key) ?? null;
      const unchanged = current !== null && m.contentOf.get(current) === cmd.v;
      // Pushing content equal to what is committed with commit=true commits nothing (unless allow_empty).
      const ok: Expected[] = cmd.commit && (!unchanged || cmd.allowEmpty)
        ? [{ env: 'development', key, kind: 'commit', version: { v: cmd.v }, parent: current, source: null }]
        : [];
      return { method: 'PUT', path, body: { workflow: workflow(cmd.v) }, prediction: { ok, dryRun: false }, describe };
    }
    case 'commit': {
      const key = cmd.scope === 'one' ? KEYS[cmd.key] : undefined;
      const candidates = sortedKeys(new Set([...m.working.keys(), ...(cmd.allowEmpty ? m.committed.development.keys() : [])])).filter((k) => !key || k === key);
      const query = `environment=development${key ? `&resource_id=${key}` : ''}${cmd.allowEmpty ? '&allow_empty=true' : ''}`;
      const prediction: Prediction = candidates.length === 0
        ? { refused: 422, code: 'nothing_to_commit' }
        : {
            dryRun: false,
            ok: candidates.map((k) => {
              const current = m.committed.development.get(k) ?? null;
              return { env: 'development', key: k, kind: 'commit', version: { v: m.working.get(k) ?? m.contentOf.get(current!)! }, parent: current, source: null };
            }),
          };
      return { method: 'PUT', path: `/commits?${query}`, prediction, describe: `commit ${query}` };
    }
    case 'commitElsewhere': {
      // Commits make versions: outside development (production write access off) that is an edit, refused.
      const query = `environment=${cmd.env}${cmd.allowEmpty ? '&allow_empty=true' : ''}`;
      return { method: 'PUT', path: `/commits?${query}`, prediction: { refused: 403, code: 'edits_only_in_development' }, describe: `commit ${query}` };
    }
    case 'promoteAll': {
      const path = `/commits/promote?to_environment=${cmd.to}${cmd.dryRun ? '&dry_run=true' : ''}`;
      const index = m.envs.indexOf(cmd.to);
      if (index === 0) return { method: 'PUT', path, prediction: { refused: 422 }, describe: `promote all → ${cmd.to}` };
      const source = m.envs[index - 1];
      const ok: Expected[] = [];
      for (const key of sortedKeys(new Set(m.commits.filter((c) => c.env === source).map((c) => c.key)))) {
        const latest = latestCommit(m, source, key)!;
        const upTo = m.upTo.get(upToKey(cmd.to, source, key));
        if (upTo !== undefined && latest.order <= upTo) continue;
        ok.push({ env: cmd.to, key, kind: 'promote', version: { id: latest.versionId }, parent: m.committed[cmd.to].get(key) ?? null, source: latest.id });
      }
      return { method: 'PUT', path, prediction: { ok, dryRun: cmd.dryRun }, describe: `promote all → ${cmd.to}${cmd.dryRun ? ' (dry run)' : ''}` };
    }
    case 'promoteOne': {
      if (m.commits.length === 0) {
        return { method: 'PUT', path: `/commits/00000000-0000-4000-8000-000000000000/promote`, prediction: { refused: 404 }, describe: 'promote missing commit' };
      }
      const c = m.commits[cmd.pick % m.commits.length];
      const path = `/commits/${c.id}/promote${cmd.dryRun ? '?dry_run=true' : ''}`;
      const describe = `promote one #${c.order} (${c.env} ${c.key} ${c.kind})${cmd.dryRun ? ' (dry run)' : ''}`;
      const target = nextEnv(m, c.env);
      if (!target) return { method: 'PUT', path, prediction: { refused: 409, code: 'nothing_above' }, describe };
      const upTo = m.upTo.get(upToKey(target, c.env, c.key));
      if (upTo !== undefined && upTo >= c.order) return { method: 'PUT', path, prediction: { refused: 409, code: 'already_promoted' }, describe };
      const ok: Expected[] = [{ env: target, key: c.key, kind: 'promote', version: { id: c.versionId }, parent: m.committed[target].get(c.key) ?? null, source: c.id }];
      return { method: 'PUT', path, prediction: { ok, dryRun: cmd.dryRun, single: true }, describe };
    }
    case 'revert': {
      if (m.commits.length === 0) {
        return { method: 'PUT', path: `/commits/00000000-0000-4000-8000-000000000000/revert`, prediction: { refused: 404 }, describe: 'revert missing commit' };
      }
      // Mostly commits that have something to revert to; sometimes any (a resource's first commit: refused).
      const withParent = m.commits.filter((c) => c.parent !== null);
      const pool = cmd.any || withParent.length === 0 ? m.commits : withParent;
      const c = pool[cmd.pick % pool.length];
      const path = `/commits/${c.id}/revert${cmd.dryRun ? '?dry_run=true' : ''}`;
      const describe = `revert #${c.order} (${c.env} ${c.key} ${c.kind})${cmd.dryRun ? ' (dry run)' : ''}`;
      if (!c.parent) return { method: 'PUT', path, prediction: { refused: 422, code: 'nothing_to_revert' }, describe };
      const ok: Expected[] = [{ env: c.env, key: c.key, kind: 'revert', version: { id: c.parent }, parent: m.committed[c.env].get(c.key) ?? null, source: c.id }];
      return { method: 'PUT', path, prediction: { ok, dryRun: cmd.dryRun, single: true }, describe };
    }
    case 'rollback': {
      // Mostly a target that restores something (the model knows which); sometimes any.
      const filterKey = cmd.key === null ? undefined : KEYS[cmd.key];
      const restoresSomething = (env: Slug, t: MCommit) =>
        [...m.committed[env]].some(([key, current]) => (!filterKey || key === filterKey) && (latestCommit(m, env, key, t.order)?.versionId ?? current) !== current);
      const useful = m.commits.filter((t) => restoresSomething(t.env, t));
      const pool = cmd.any || useful.length === 0 ? m.commits : useful;
      const env = cmd.any || useful.length === 0 ? m.envs[cmd.env % m.envs.length] : pool[cmd.pick % pool.length].env;
      const own = pool.filter((c) => c.env === env);
      const others = m.commits.filter((c) => c.env !== env);
      const suffix = `${filterKey ? `&resource_id=${filterKey}` : ''}${cmd.dryRun ? '&dry_run=true' : ''}`;
      if (cmd.foreign || own.length === 0) {
        const target = others.length ? others[cmd.pick % others.length].id : '00000000-0000-4000-8000-000000000000';
        return { method: 'PUT', path: `/environments/${env}/rollback?to_commit=${target}${suffix}`, prediction: { refused: 422 }, describe: `rollback ${env} to a commit not of its history` };
      }
      const target = own[cmd.pick % own.length];
      const ok: Expected[] = [];
      const unchangedNewer: string[] = [];
      for (const key of sortedKeys(m.committed[env].keys())) {
        if (filterKey && key !== filterKey) continue;
        const current = m.committed[env].get(key)!;
        const wanted = latestCommit(m, env, key, target.order);
        if (!wanted) unchangedNewer.push(key);
        else if (wanted.versionId !== current) ok.push({ env, key, kind: 'rollback', version: { id: wanted.versionId }, parent: current, source: target.id });
      }
      return {
        method: 'PUT',
        path: `/environments/${env}/rollback?to_commit=${target.id}${suffix}`,
        prediction: { ok, dryRun: cmd.dryRun, unchangedNewer },
        describe: `rollback ${env} to #${target.order} (${target.key})${filterKey ? ` only ${filterKey}` : ''}${cmd.dryRun ? ' (dry run)' : ''}`,
      };
    }
  }
}

/** Checks the commits a command made against the expected ones and adopts them into the model. */
function adoptCommits(m: Model, expected: Expected[], made: Json[]): void {
  expect(made.map((c) => `${c.environment}:${c.resource.identifier}`)).toEqual(expected.map((e) => `${e.env}:${e.key}`));
  made.forEach((c, i) => {
    const e = expected[i];
    const source = c.promoted_from ?? c.reverts ?? c.rollback_of ?? null;
    expect({ kind: c.kind, parent: c.parent_version_id, source }).toEqual({ kind: e.kind, parent: e.parent, source: e.source });
    if ('id' in e.version) {
      expect(c.version_id).toBe(e.version.id);
    } else {
      expect(m.contentOf.has(c.version_id), 'a new version has a fresh id').toBe(false);
      m.contentOf.set(c.version_id, e.version.v);
    }
  });
  for (const c of made) {
    const e = expected.find((x) => x.env === c.environment && x.key === c.resource.identifier)!;
    m.commits.push({ id: c.id, env: e.env, key: e.key, kind: e.kind, versionId: c.version_id, parent: e.parent, source: e.source, order: m.commits.length });
    m.committed[e.env].set(e.key, c.version_id);
    if (e.env === 'development') m.working.delete(e.key);
    if (e.kind === 'promote' || e.kind === 'seed') {
      const source = m.commits.find((s) => s.id === e.source)!;
      const k = upToKey(e.env, source.env, e.key);
      m.upTo.set(k, Math.max(m.upTo.get(k) ?? -1, source.order));
    }
  }
}

const stats: Record<string, number> = {};
/** Runs one command; false when it must not have changed anything (refusal, dry run: checked by snapshot). */
async function run(m: Model, cmd: Command, log: string[]): Promise<boolean> {
  const { method, path, body, prediction, describe } = predict(m, cmd);
  log.push(describe);
  const outcome = 'refused' in prediction ? 'refused' : prediction.dryRun ? 'dry_run' : prediction.ok.length > 0 ? 'changed' : 'no_change';
  stats[`${cmd.t}:${outcome}`] = (stats[`${cmd.t}:${outcome}`] ?? 0) + 1;
  const before = 'refused' in prediction || prediction.dryRun ? await snapshot() : undefined;
  const res = await mgmt(method, path, body);

  if ('refused' in prediction) {
    expect(res.status, `${describe}: refused`).toBe(prediction.refused);
    if (prediction.code) expect(res.json.code).toBe(prediction.code);
    expect(await snapshot(), `${describe}: a refusal changes nothing`).toBe(before);
    return false;
  }
  expect(res.status, `${describe}: ${JSON.stringify(res.json)}`).toBe(200);

  if (cmd.t === 'edit') {
    expect(res.json.workflow.name).toBe(workflow(cmd.v).name);
    if (prediction.ok.length > 0) {
      // The response is the resource, not the commit: read the commit it made from the history.
      const newest = await mgmt('GET', `/commits?environment=development&resource_id=${KEYS[cmd.key]}&limit=1`);
      adoptCommits(m, prediction.ok, newest.json.entries);
      return true;
    }
    const current = m.committed.development.get(KEYS[cmd.key]);
    if (current !== undefined && m.contentOf.get(current) === cmd.v) m.working.delete(KEYS[cmd.key]);
    else m.working.set(KEYS[cmd.key], cmd.v);
    return true;
  }

  if (prediction.dryRun) {
    const changes: Json[] = res.json.changes ?? res.json.restored;
    expect(res.json.dry_run).toBe(true);
    expect(changes.map((c) => ({ env: c.environment, key: c.resource.identifier, from: c.from_version, to: c.to_version }))).toEqual(
      prediction.ok.map((e) => ({ env: e.env, key: e.key, from: e.parent, to: 'id' in e.version ? e.version.id : '(new)' })),
    );
    if (prediction.unchangedNewer) expect(res.json.unchanged_newer.map((r: Json) => r.identifier)).toEqual(prediction.unchangedNewer);
    expect(await snapshot(), `${describe}: a dry run changes nothing`).toBe(before);
    return false;
  }

  const made: Json[] = prediction.single ? [res.json.commit] : res.json.commits;
  if (prediction.unchangedNewer) {
    expect(res.json.unchanged_newer.map((r: Json) => r.identifier)).toEqual(prediction.unchangedNewer);
    expect(res.json.restored.map((r: Json) => r.resource.identifier)).toEqual(prediction.ok.map((e) => e.key));
  }
  adoptCommits(m, prediction.ok, made);
  return true;
}

/** Creates staging between development and production (seeded from development). */
async function createStaging(m: Model): Promise<void> {
  const res = await mgmt('POST', '/environments', { name: 'Staging', slug: 'staging', insert_after: 'development' });
  expect(res.status).toBe(201);
  m.envs = ['development', 'staging', 'production'];
  const expected: Expected[] = sortedKeys(m.committed.development.keys()).map((key) => ({
    env: 'staging',
    key,
    kind: 'seed',
    version: { id: m.committed.development.get(key)! },
    parent: null,
    source: latestCommit(m, 'development', key)!.id,
  }));
  adoptCommits(m, expected, (await allCommits('&environment=staging')).reverse());
}

// ---------------------------------------------------------------- checks

/**
 * Lineage, from what the server reports only: development makes versions by commit;
 * staging and production receive them by promotion/seeding from an environment below
 * (the promoted commit's own version), and revert/rollback anywhere re-use only versions
 * that environment already held. Never a plain commit above development.
 */
function checkLineage(history: Json[], committed: Map<Slug, Map<string, string>>, order: Slug[]): void {
  const held = new Map<string, Set<string>>(order.map((e) => [e, new Set()]));
  const byId = new Map(history.map((c) => [c.id, c]));
  for (const c of history) {
    const where = `${c.kind} commit ${c.id} in ${c.environment}`;
    const mine = held.get(c.environment)!;
    if (c.kind === 'commit') {
      expect(c.environment, `${where}: plain commits happen in development only`).toBe('development');
    } else if (c.kind === 'promote' || c.kind === 'seed') {
      const source = byId.get(c.promoted_from);
      expect(source, `${where}: promoted from a known commit`).toBeDefined();
      expect(order.indexOf(source!.environment), `${where}: from an environment below`).toBeLessThan(order.indexOf(c.environment));
      expect(c.version_id, `${where}: carries the promoted commit's version`).toBe(source!.version_id);
      expect(held.get(source!.environment)!.has(c.version_id), `${where}: a version the source environment held`).toBe(true);
    } else {
      expect(mine.has(c.version_id), `${where}: re-uses a version this environment held`).toBe(true);
    }
    mine.add(c.version_id);
  }
  for (const [env, versions] of committed) {
    for (const [key, versionId] of versions) expect(held.get(env)!.has(versionId), `${env} ${key} holds a version it received`).toBe(true);
  }
}

async function checkAgainstModel(m: Model, envIds: Map<Slug, string>): Promise<void> {
  const [history, unpromoted, lists, devWorking, resolved] = await Promise.all([
    allCommits(''),
    Promise.all(m.envs.map((env) => allCommits(`&environment=${env}&promoted=false`))),
    Promise.all(m.envs.map((env) => mgmt('GET', `/workflows?environment=${env}&hide_uncommitted_changes=true&limit=100`))),
    mgmt('GET', '/workflows?environment=development&limit=100'),
    Promise.all(m.envs.flatMap((env) => KEYS.map(async (key) => ({ env, key, got: await resolveCommittedVersion(herald.db, envIds.get(env)!, key) })))),
  ]);

  // The whole history, oldest first, with lineage and `promoted`.
  const ascending = [...history].reverse();
  expect(ascending.map((c) => c.id), 'commit history (order)').toEqual(m.commits.map((c) => c.id));
  expect(
    ascending.map((c) => ({ env: c.environment, key: c.resource.identifier, kind: c.kind, version: c.version_id, parent: c.parent_version_id, source: c.promoted_from ?? c.reverts ?? c.rollback_of, promoted: c.promoted })),
    'commit history (content)',
  ).toEqual(m.commits.map((c) => ({ env: c.env, key: c.key, kind: c.kind, version: c.versionId, parent: c.parent, source: c.source, promoted: isPromoted(m, c) })));

  m.envs.forEach((env, i) => {
    const expected = m.commits.filter((c) => c.env === env && !isPromoted(m, c)).map((c) => c.id).reverse();
    expect(unpromoted[i].map((c) => c.id), `unpromoted in ${env}`).toEqual(expected);
  });

  m.envs.forEach((env, i) => {
    expect(lists[i].status).toBe(200);
    const got = Object.fromEntries(lists[i].json.entries.map((w: Json) => [w.key, contentOfName(w.name)]));
    const want = Object.fromEntries(sortedKeys(m.committed[env].keys()).map((k) => [k, m.contentOf.get(m.committed[env].get(k)!)]));
    expect(got, `committed content in ${env}`).toEqual(want);
  });

  const visible = Object.fromEntries(devWorking.json.entries.map((w: Json) => [w.key, contentOfName(w.name)]));
  const wantVisible = Object.fromEntries(
    sortedKeys(new Set([...m.working.keys(), ...m.committed.development.keys()])).map((k) => [k, m.working.get(k) ?? m.contentOf.get(m.committed.development.get(k)!)]),
  );
  expect(visible, 'development with working copies').toEqual(wantVisible);

  for (const { env, key, got } of resolved) {
    const versionId = m.committed[env].get(key);
    expect(got?.versionId, `resolveCommittedVersion ${env} ${key}`).toBe(versionId);
    if (versionId) expect(contentOfName(String(got!.content.name))).toBe(m.contentOf.get(versionId));
  }

  const committedByServer = new Map<Slug, Map<string, string>>();
  for (const { env, key, got } of resolved) {
    if (!committedByServer.has(env)) committedByServer.set(env, new Map());
    if (got) committedByServer.get(env)!.set(key, got.versionId);
  }
  checkLineage(ascending, committedByServer, m.envs);
}

// ---------------------------------------------------------------- the property

beforeAll(async () => {
  herald = await startTestHerald({ HERALD_DB_POOL_SIZE: '10' });
  token = herald.secrets.service_token;
  admin = new pg.Client({ connectionString: herald.databaseUrl });
  await admin.connect();
});

afterAll(async () => {
  await admin?.end();
  await herald?.close();
});

it(`random edit/commit/promote/revert/rollback sequences match the model (${NUM_RUNS} runs)`, async () => {
  let runs = 0;
  let commandsRun = 0;
  await fc.assert(
    fc.asyncProperty(setupArb, fc.array(commandArb, { minLength: 3, maxLength: MAX_COMMANDS, size: '+1' }), async (setup, commands) => {
      runs++;
      await resetState();
      const m = emptyModel();
      const log: string[] = [];
      try {
        let envIds = await environmentIds();
        await checkAgainstModel(m, envIds);
        for (const cmd of setup) {
          if (await run(m, cmd, log)) await checkAgainstModel(m, envIds);
        }
        log.push('create staging');
        await createStaging(m);
        envIds = await environmentIds();
        await checkAgainstModel(m, envIds);
        for (const cmd of commands) {
          const changed = await run(m, cmd, log);
          commandsRun++;
          if (changed) await checkAgainstModel(m, envIds);
        }
      } catch (error) {
        (error as Error).message += `\nafter: ${log.join(' ; ')}`;
        throw error;
      }
    }),
    { numRuns: NUM_RUNS },
  );
  expect(runs).toBeGreaterThanOrEqual(NUM_RUNS);
  expect(commandsRun).toBeGreaterThan(NUM_RUNS * 5);
  // The sequences reached the interesting cases (guards against a generator that drifted
  // into only refusals or no-ops). Typical counts per 200 runs are 3-5x these minimums.
  const atLeast: Record<string, number> = {
    'edit:changed': 100,
    'commit:changed': 40,
    'promoteAll:changed': 50,
    'promoteOne:changed': 20,
    'revert:changed': 10,
    'rollback:changed': 8,
    'promoteOne:refused': 20,
    'revert:refused': 20,
    'rollback:refused': 20,
    'commitElsewhere:refused': 30,
    'promoteAll:dry_run': 10,
    'rollback:dry_run': 10,
  };
  for (const [outcome, minimum] of Object.entries(atLeast)) expect(stats[outcome] ?? 0, `${outcome} in ${JSON.stringify(stats)}`).toBeGreaterThanOrEqual(minimum);
}, 300_000);
