/**
 * "Data is per environment and never crosses" (environments.md §1; targets.md: ≥ 1,000
 * random operation sequences across 3 environments), as a model-based property: random
 * short sequences of data API calls across three environments (development, a created
 * `staging`, production) that reuse the SAME user, tenant and object ids.
 *
 * A reference model per environment predicts every response. After each command the
 * response must match the model of the key's environment; what a write touched is then
 * read back in the other environments (so a write that lands in, or is visible from,
 * another environment fails); and after each sequence the whole database (read as
 * superuser: every row, its environment and content) and one random environment's
 * lists must equal the model exactly.
 *
 * Each write carries a marker unique to the whole test and prefixed with its environment's
 * slug, so anything that crosses environments cannot be mistaken for a legitimate value;
 * no answer to one environment's key may contain another environment's prefix at all.
 *
 * Two properties:
 *  - Recipient data: 1,000 sequences of up to 8 calls — users, preferences, channel data,
 *    tenants, bulk identify/delete, bulk operations, objects, subscriptions
 *    (≈ 4,250 commands, ≈ 14,000 requests).
 *  - The notification engine: 150 sequences, each 1–4 writes done with the same ids in
 *    all three environments (users, objects, subscriptions) and then up to 12 calls,
 *    adding triggers of an in-app workflow (the same key committed in development and
 *    promoted to staging and production; a second one in development only) for users
 *    and objects (fan-out to subscribers), with and without an actor, in one environment
 *    or all three at once; opting users out of the workflow; listing messages (all, a
 *    user's, by trigger — another environment's run id must select nothing), reading a
 *    user's feed with its badge counts (every status/archived filter), getting a message
 *    and its content by id, marking messages read/seen/archived singly, in batches and in
 *    bulk per channel, listing recipient runs and getting one by id — ids picked from
 *    every environment, so another environment's message or run must be a 404 and never
 *    change (≈ 2,500 commands, ≈ 260 triggers, ≈ 380 messages, ≈ 6,500 requests).
 *    Triggers run asynchronously: every command but a trigger first waits (polling the
 *    database, with a deadline) until the pending triggers have finished, then checks
 *    each run and message landed in its trigger's environment and was rendered from that
 *    environment's data (recipient, actor and subscription properties), so the model
 *    predicts every count exactly. Consecutive triggers are not waited for, so triggers
 *    of different environments run at the same time.
 *
 * The file takes about a minute on a quiet 2-core machine (recipient data ≈ 35 s,
 * engine ≈ 15–25 s, setup and the cursor test the rest).
 */
import fc from 'fast-check';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commitWorkflow, mgmt } from '../support/engine.ts';
import { startTestHerald, type TestHerald } from '../support/herald.ts';

const SLUGS = ['development', 'staging', 'production'] as const;
type Slug = (typeof SLUGS)[number];

/** Small pools so that environments keep colliding on the same ids. */
const USER_IDS = ['u1', 'u2', 'ada@example.com'] as const;
const TENANT_IDS = ['t1', 't2'] as const;
const CHANNELS = ['5a4b8d5e-0f52-4b7c-9a84-4d9e7b3c2a10', '9c1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6'] as const;

const OBJECT_COLLECTION = 'projects';
const OBJECT_IDS = ['p1', 'p2'] as const;
/** Committed in development and promoted to staging and production: the same key everywhere. */
const WORKFLOW_KEY = 'iso-feed';
/** Committed in development only: a trigger of it anywhere else is a 404. */
const DEV_ONLY_WORKFLOW_KEY = 'iso-dev-only';
/**
 * What every in-app message says: the trigger's marker, the recipient's and the actor's
 * marker properties and the subscription's marker property (each read in the run's
 * environment), so a message built from another environment's data cannot go unnoticed.
 */
const FEED_TEMPLATE = 'data={{ data.marker }}; who={{ recipient.marker }}; via={{ recipient.subscription.marker }}; by={{ actor.marker }};';
const STEP_REF = 'feed';

/** The recipient data API only (users, tenants, bulk operations, objects, subscriptions). */
const NUM_RUNS = 1000;
const MAX_COMMANDS = 8;
/** The notification engine too (triggers, messages, feeds, recipient runs): asynchronous, so fewer sequences. */
const NUM_ENGINE_RUNS = 150;
const MAX_ENGINE_COMMANDS = 12;

// ---------------------------------------------------------------- reference model

interface Preferences {
  workflows: Record<string, boolean>;
  channel_types: Record<string, boolean> | null;
  commercial_subscribed: boolean | null;
}

interface UserState {
  properties: Record<string, unknown>;
  preferences?: Preferences;
  channelData: Map<string, { tokens: string[] }>;
}

interface TenantState {
  properties: Record<string, unknown>;
  /** undefined: never set (stored settings have no branding key). */
  branding?: Record<string, string> | null;
}

interface BulkOperationState {
  slug: Slug;
  /** `users.identify`, `users.delete`, `messages.bulk_<action>`. */
  name: string;
  total: number;
  errorIds: string[];
}

interface ObjectState {
  properties: Record<string, unknown>;
}

interface SubscriptionState {
  properties: Record<string, unknown> | null;
  /** When it was first made (listing order and fan-out order follow `inserted_at`; an update keeps it). */
  seq: number;
}

/** A user id, or an object reference. */
type RecipientArg = string | { id: string; collection: string };

interface RunState {
  /** Known once the trigger has been settled (read from the database). */
  id: string | null;
  workflowRunId: string;
  workflowKey: string;
  recipient: RecipientArg;
  recipientKey: string;
  actor: string | null;
  /** Herald's status: halted when the recipient does not exist in the run's environment. */
  status: 'completed' | 'halted';
}

interface MessageState {
  /** Known once the trigger has been settled. */
  id: string | null;
  recipientRunId: string | null;
  workflowRunId: string;
  workflowKey: string;
  recipient: RecipientArg;
  recipientKey: string;
  data: Record<string, unknown>;
  /** The rendered body as text. */
  text: string;
  actor: string | null;
  read: boolean;
  seen: boolean;
  archived: boolean;
}

interface EnvModel {
  /** Insertion order = list order (an upsert keeps its place; delete + create goes last). */
  users: Map<string, UserState>;
  tenants: Map<string, TenantState>;
  objects: Map<string, ObjectState>;
  /** Object id → subscribed user id → subscription. */
  subscriptions: Map<string, Map<string, SubscriptionState>>;
  /** Accepted triggers (workflow run ids). */
  triggers: string[];
  /** Triggers whose runs may not have finished yet. */
  pending: string[];
  runs: RunState[];
  messages: MessageState[];
}

interface Model {
  envs: Record<Slug, EnvModel>;
  bulkOperations: Map<string, BulkOperationState>;
}

function emptyModel(): Model {
  const envs = {} as Record<Slug, EnvModel>;
  for (const slug of SLUGS) {
    envs[slug] = { users: new Map(), tenants: new Map(), objects: new Map(), subscriptions: new Map(), triggers: [], pending: [], runs: [], messages: [] };
  }
  return { envs, bulkOperations: new Map() };
}

/** Subscriptions are ordered by when they were made; a counter stands for the clock. */
let subscriptionSeq = 0;

/** A user is gone with their subscriptions (as Herald deletes them). */
function deleteUserInModel(env: EnvModel, id: string): boolean {
  for (const subscribers of env.subscriptions.values()) subscribers.delete(id);
  return env.users.delete(id);
}

function identifyInModel(env: EnvModel, id: string, properties: Record<string, unknown>, channelData?: Record<string, { tokens: string[] }>) {
  const user = env.users.get(id) ?? { properties: {}, channelData: new Map() };
  user.properties = { ...user.properties, ...properties };
  for (const [channel, data] of Object.entries(channelData ?? {})) user.channelData.set(channel, data);
  env.users.set(id, user);
}

function expectedUser(id: string, user: UserState): Record<string, unknown> {
  return {
    __typename: 'User',
    id,
    name: null,
    email: null,
    phone_number: null,
    avatar: null,
    timezone: null,
    ...user.properties,
    created_at: (user.properties.created_at as string | undefined) ?? null,
  };
}

function expectedPreferenceSettings(preferences: Preferences | undefined) {
  return {
    workflows: preferences?.workflows ?? null,
    categories: null,
    channel_types: preferences?.channel_types ?? null,
    channels: null,
    commercial_subscribed: preferences?.commercial_subscribed ?? null,
  };
}

function expectedPreferenceSet(preferences: Preferences | undefined) {
  return { __typename: 'PreferenceSet', id: 'default', ...expectedPreferenceSettings(preferences) };
}

/** Push channel data is answered in Knock's full shape: `tokens` and `devices` both present. */
function expectedChannelData(channel: string, data: { tokens: string[] }) {
  return { __typename: 'ChannelData', channel_id: channel, data: { devices: [], ...data } };
}

function expectedTenant(id: string, tenant: TenantState): Record<string, unknown> {
  return {
    ...tenant.properties,
    name: (tenant.properties.name as string | null | undefined) ?? null,
    __typename: 'Tenant',
    id,
    settings: { branding: tenant.branding ?? null, preference_set: null },
  };
}

// ---------------------------------------------------------------- the real system

interface Real {
  call(slug: Slug, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }>;
}

let herald: TestHerald;
/** The database owner (row-level security does not apply): what is really stored. */
let owner: pg.Pool;
let real: Real;
const secretKeys = {} as Record<Slug, string>;
const slugOfEnvironment = new Map<string, Slug>();
/** The in-app feed channel's id (the same in every environment: channels are account-level). */
let feedChannelId: string;
interface Stats { runs: number; commands: number; requests: number; triggers: number; messages: number }
const newStats = (): Stats => ({ runs: 0, commands: 0, requests: 0, triggers: 0, messages: 0 });
/** What the property running now has done. */
let stats = newStats();
let markerCounter = 0;

/** A value no other write of this test file carries. */
function marker(slug: Slug, what: string): string {
  return `${slug}/${what}/${++markerCounter}`;
}

const enc = encodeURIComponent;

function expectOk(response: { status: number; body: any }, status: number, context: string) {
  expect(response.status, `${context} → ${JSON.stringify(response.body)}`).toBe(status);
}

function expectNotFound(response: { status: number; body: any }, context: string) {
  expect(response.status, `${context} → ${JSON.stringify(response.body)}`).toBe(404);
  expect(response.body).toMatchObject({ code: 'resource_missing', status: 404 });
}

function withoutUpdatedAt(view: Record<string, unknown>, context: string) {
  const { updated_at, ...rest } = view;
  expect(typeof updated_at, `${context}: updated_at`).toBe('string');
  return rest;
}

// ---------------------------------------------------------------- read-backs (model vs API)

async function checkUser(model: Model, slug: Slug, id: string) {
  const context = `[${slug}] GET user ${id}`;
  const response = await real.call(slug, 'GET', `/v1/users/${enc(id)}`);
  const user = model.envs[slug].users.get(id);
  if (!user) return expectNotFound(response, context);
  expectOk(response, 200, context);
  expect(withoutUpdatedAt(response.body, context), context).toEqual(expectedUser(id, user));
}

async function checkPreferences(model: Model, slug: Slug, id: string) {
  const context = `[${slug}] GET preferences of ${id}`;
  const response = await real.call(slug, 'GET', `/v1/users/${enc(id)}/preferences/default`);
  const user = model.envs[slug].users.get(id);
  if (!user) return expectNotFound(response, context);
  expectOk(response, 200, context);
  expect(response.body, context).toEqual(expectedPreferenceSet(user.preferences));
}

async function checkChannelData(model: Model, slug: Slug, id: string, channel: string) {
  const context = `[${slug}] GET channel data ${channel} of ${id}`;
  const response = await real.call(slug, 'GET', `/v1/users/${enc(id)}/channel_data/${channel}`);
  const data = model.envs[slug].users.get(id)?.channelData.get(channel);
  if (!data) return expectNotFound(response, context);
  expectOk(response, 200, context);
  expect(response.body, context).toEqual(expectedChannelData(channel, data));
}

async function checkTenant(model: Model, slug: Slug, id: string) {
  const context = `[${slug}] GET tenant ${id}`;
  const response = await real.call(slug, 'GET', `/v1/tenants/${enc(id)}`);
  const tenant = model.envs[slug].tenants.get(id);
  if (!tenant) return expectNotFound(response, context);
  expectOk(response, 200, context);
  expect(response.body, context).toEqual(expectedTenant(id, tenant));
}

const everywhere = (check: (slug: Slug) => Promise<void>) => Promise.all(SLUGS.map(check));
/** The environments other than `slug`: where a write must have changed nothing. */
const elsewhere = (slug: Slug, check: (other: Slug) => Promise<void>) => Promise.all(SLUGS.filter((s) => s !== slug).map(check));

/**
 * Walks a list forward page by page (and one page back with `before`), checking the
 * entries, their order and the page sizes against the model.
 */
async function checkList(model: Model, slug: Slug, kind: 'users' | 'tenants', pageSize: number, withPreferences = false) {
  const context = `[${slug}] list ${kind} page_size=${pageSize}${withPreferences ? ' include=preferences' : ''}`;
  const base = `/v1/${kind}?page_size=${pageSize}${withPreferences ? '&include[]=preferences' : ''}`;
  const pages: Array<{ entries: any[]; page_info: any }> = [];
  let after: string | null = null;
  do {
    const response = await real.call(slug, 'GET', after ? `${base}&after=${enc(after)}` : base);
    expectOk(response, 200, context);
    const page = response.body as { entries: any[]; page_info: any };
    expect(page.entries.length, context).toBeLessThanOrEqual(pageSize);
    expect(page.page_info, context).toMatchObject({ __typename: 'PageInfo', page_size: pageSize });
    pages.push(page);
    after = page.page_info.after;
    expect(pages.length, `${context}: more pages than entries`).toBeLessThanOrEqual(USER_IDS.length + TENANT_IDS.length + 2);
  } while (after);

  const entries = pages.flatMap((p) => p.entries);
  if (kind === 'users') {
    const expected = inIdOrder(model.envs[slug].users).map(([id, user]) => ({
      ...expectedUser(id, user),
      ...(withPreferences ? { preferences: expectedPreferenceSet(user.preferences) } : {}),
    }));
    expect(entries.map((e) => withoutUpdatedAt(e, context)), context).toEqual(expected);
  } else {
    expect(entries, context).toEqual(inIdOrder(model.envs[slug].tenants).map(([id, tenant]) => expectedTenant(id, tenant)));
  }

  if (pages.length >= 2) {
    const last = pages[pages.length - 1];
    const previous = pages[pages.length - 2];
    const response = await real.call(slug, 'GET', `${base}&before=${enc(last.page_info.before)}`);
    expectOk(response, 200, `${context} before`);
    expect(response.body.entries.map((e: { id: string }) => e.id), `${context} before`).toEqual(previous.entries.map((e) => e.id));
  }
}

/** Map entries in id order: lists page in id order (ids compare bytewise, COLLATE "C"). */
function inIdOrder<T>(map: Map<string, T>): Array<[string, T]> {
  return [...map].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** JSON with object keys sorted (jsonb does not keep key order). */
function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${stableJson((value as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * The whole database, read as superuser (no RLS), must equal the model: every row in the
 * environment the model says, with exactly the content the model says.
 */
async function checkDatabase(model: Model) {
  const results = (await owner.query(`
    SELECT environment_id, id, properties FROM users ORDER BY id;
    SELECT environment_id, user_id, set_id, settings FROM user_preference_sets;
    SELECT environment_id, user_id, channel_id, data FROM user_channel_data;
    SELECT environment_id, id, properties, settings, channel_data FROM tenants ORDER BY id;
    SELECT environment_id, id, name, success_count, error_items FROM bulk_operations;
  `)) as unknown as pg.QueryResult[];
  const slug = (environmentId: string) => slugOfEnvironment.get(environmentId) ?? `unknown:${environmentId}`;
  const sorted = <T>(rows: T[]) => rows.map(stableJson).sort();
  /** Rows in id order, grouped by environment in the model's order (a stable sort). */
  const byEnvironment = <T extends { env: string }>(rows: T[]) => [...rows].sort((a, b) => SLUGS.indexOf(a.env as Slug) - SLUGS.indexOf(b.env as Slug));

  const users: unknown[] = [];
  const preferences: unknown[] = [];
  const channelData: unknown[] = [];
  const tenants: unknown[] = [];
  for (const s of SLUGS) {
    for (const [id, user] of inIdOrder(model.envs[s].users)) {
      users.push({ env: s, id, properties: user.properties });
      if (user.preferences) preferences.push({ env: s, user: id, set: 'default', settings: expectedPreferenceSettings(user.preferences) });
      for (const [channel, data] of user.channelData) channelData.push({ env: s, user: id, channel, data });
    }
    for (const [id, tenant] of inIdOrder(model.envs[s].tenants)) {
      tenants.push({ env: s, id, properties: tenant.properties, branding: tenant.branding === undefined ? 'unset' : tenant.branding, channel_data: {} });
    }
  }
  const bulk = [...model.bulkOperations].map(([id, op]) => ({
    env: op.slug,
    id,
    name: op.name,
    success_count: op.total - op.errorIds.length,
    error_ids: op.errorIds,
  }));

  expect(byEnvironment(results[0].rows.map((r) => ({ env: slug(r.environment_id), id: r.id, properties: r.properties }))), 'users table').toEqual(users);
  expect(sorted(results[1].rows.map((r) => ({ env: slug(r.environment_id), user: r.user_id, set: r.set_id, settings: r.settings }))), 'user_preference_sets table')
    .toEqual(sorted(preferences));
  expect(sorted(results[2].rows.map((r) => ({ env: slug(r.environment_id), user: r.user_id, channel: r.channel_id, data: r.data }))), 'user_channel_data table')
    .toEqual(sorted(channelData));
  expect(
    byEnvironment(results[3].rows.map((r) => ({
      env: slug(r.environment_id),
      id: r.id,
      properties: r.properties,
      branding: 'branding' in r.settings ? r.settings.branding : 'unset',
      channel_data: r.channel_data,
    }))),
    'tenants table',
  ).toEqual(tenants);
  expect(
    sorted(results[4].rows.map((r) => ({
      env: slug(r.environment_id),
      id: r.id,
      name: r.name,
      success_count: r.success_count,
      error_ids: (r.error_items as Array<{ id: string }>).map((i) => i.id),
    }))),
    'bulk_operations table',
  ).toEqual(sorted(bulk));

  await checkEngineTables(model);
}

/** Objects, subscriptions, triggers, recipient runs and messages, as stored, against the model. */
async function checkEngineTables(model: Model) {
  const results = (await owner.query(`
    SELECT environment_id, collection, id, properties FROM objects;
    SELECT environment_id, collection, object_id, recipient_collection, recipient_id, properties FROM object_subscriptions;
    SELECT environment_id, id, status FROM workflow_runs;
    SELECT environment_id, id, workflow_run_id, recipient_key, status FROM workflow_recipient_runs;
    SELECT environment_id, id, workflow_run_id, workflow_recipient_run_id, recipient_key,
           read_at IS NOT NULL AS read, seen_at IS NOT NULL AS seen, archived_at IS NOT NULL AS archived FROM messages;
  `)) as unknown as pg.QueryResult[];
  const slug = (environmentId: string) => slugOfEnvironment.get(environmentId) ?? `unknown:${environmentId}`;
  const sorted = <T>(rows: T[]) => rows.map(stableJson).sort();
  const expected = { objects: [] as unknown[], subscriptions: [] as unknown[], triggers: [] as unknown[], runs: [] as unknown[], messages: [] as unknown[] };
  for (const s of SLUGS) {
    const env = model.envs[s];
    for (const [id, object] of env.objects) expected.objects.push({ env: s, collection: OBJECT_COLLECTION, id, properties: object.properties });
    for (const [objectId, subscribers] of env.subscriptions) {
      for (const [userId, subscription] of subscribers) {
        expected.subscriptions.push({ env: s, collection: OBJECT_COLLECTION, object: objectId, recipient: `$users:${userId}`, properties: subscription.properties });
      }
    }
    for (const id of env.triggers) expected.triggers.push({ env: s, id, status: 'processed' });
    for (const run of env.runs) expected.runs.push({ env: s, id: run.id, trigger: run.workflowRunId, recipient: run.recipientKey, status: run.status });
    for (const m of env.messages) {
      expected.messages.push({ env: s, id: m.id, trigger: m.workflowRunId, run: m.recipientRunId, recipient: m.recipientKey, read: m.read, seen: m.seen, archived: m.archived });
    }
  }
  expect(sorted(results[0].rows.map((r) => ({ env: slug(r.environment_id), collection: r.collection, id: r.id, properties: r.properties }))), 'objects table')
    .toEqual(sorted(expected.objects));
  expect(
    sorted(results[1].rows.map((r) => ({
      env: slug(r.environment_id),
      collection: r.collection,
      object: r.object_id,
      recipient: `${r.recipient_collection}:${r.recipient_id}`,
      properties: r.properties,
    }))),
    'object_subscriptions table',
  ).toEqual(sorted(expected.subscriptions));
  expect(sorted(results[2].rows.map((r) => ({ env: slug(r.environment_id), id: r.id, status: r.status }))), 'workflow_runs table').toEqual(sorted(expected.triggers));
  expect(
    sorted(results[3].rows.map((r) => ({ env: slug(r.environment_id), id: r.id, trigger: r.workflow_run_id, recipient: r.recipient_key, status: r.status }))),
    'workflow_recipient_runs table',
  ).toEqual(sorted(expected.runs));
  expect(
    sorted(results[4].rows.map((r) => ({
      env: slug(r.environment_id),
      id: r.id,
      trigger: r.workflow_run_id,
      run: r.workflow_recipient_run_id,
      recipient: r.recipient_key,
      read: r.read,
      seen: r.seen,
      archived: r.archived,
    }))),
    'messages table',
  ).toEqual(sorted(expected.messages));
}

/**
 * Between sequences: a clean slate in every environment (as superuser, so nothing is missed).
 * Work a failed sequence left running is waited for first, so it cannot land in the next one.
 */
async function resetDatabase() {
  await pollUntil(async () => {
    const { rows } = await owner.query(`
      SELECT (SELECT count(*) FROM workflow_runs WHERE status = 'queued')
           + (SELECT count(*) FROM workflow_recipient_runs WHERE status IN ('queued', 'processing', 'paused')) AS busy`);
    return Number(rows[0].busy) === 0;
  }, 'the engine to go idle between sequences');
  await owner.query(`
    DELETE FROM user_channel_data; DELETE FROM user_preference_sets; DELETE FROM users;
    DELETE FROM tenants; DELETE FROM bulk_operations;
    DELETE FROM messages; DELETE FROM workflow_recipient_runs; DELETE FROM workflow_runs;
    DELETE FROM step_batches; DELETE FROM throttle_hits;
    DELETE FROM object_subscriptions; DELETE FROM objects;
  `);
}

// ---------------------------------------------------------------- objects and subscriptions: read-backs

const objectRef = (id: string) => ({ id, collection: OBJECT_COLLECTION });

function expectedObject(id: string, object: ObjectState): Record<string, unknown> {
  return { __typename: 'Object', id, collection: OBJECT_COLLECTION, created_at: null, properties: object.properties };
}

/** Bytewise order (ids compare COLLATE "C"), descending. */
const descending = (a: string, b: string) => (a < b ? 1 : a > b ? -1 : 0);

/** A subscription as listed: its object, its recipient (the user) and its properties (timestamps dropped). */
function subscriptionView(entry: any, context: string) {
  expect(entry.__typename, context).toBe('Subscription');
  expect(typeof entry.inserted_at, `${context}: inserted_at`).toBe('string');
  return { object: withoutUpdatedAt(entry.object, context), recipient: withoutUpdatedAt(entry.recipient, context), properties: entry.properties };
}

function expectedSubscription(env: EnvModel, objectId: string, userId: string, subscription: SubscriptionState) {
  return { object: expectedObject(objectId, env.objects.get(objectId)!), recipient: expectedUser(userId, env.users.get(userId)!), properties: subscription.properties };
}

async function checkObject(model: Model, slug: Slug, id: string) {
  const context = `[${slug}] GET object ${id}`;
  const response = await real.call(slug, 'GET', `/v1/objects/${OBJECT_COLLECTION}/${enc(id)}`);
  const object = model.envs[slug].objects.get(id);
  if (!object) return expectNotFound(response, context);
  expectOk(response, 200, context);
  expect(withoutUpdatedAt(response.body, context), context).toEqual(expectedObject(id, object));
}

async function checkObjectList(model: Model, slug: Slug, pageSize: number) {
  const context = `[${slug}] list objects page_size=${pageSize}`;
  const entries = await walkPages(slug, `/v1/objects/${OBJECT_COLLECTION}?page_size=${pageSize}`, 'entries', pageSize, context);
  expect(entries.map((e) => withoutUpdatedAt(e, context)), context).toEqual(inIdOrder(model.envs[slug].objects).map(([id, o]) => expectedObject(id, o)));
}

/** An object's subscribers, newest subscription first (ties: recipient id descending). */
async function checkObjectSubscriptions(model: Model, slug: Slug, objectId: string) {
  const context = `[${slug}] list subscriptions of object ${objectId}`;
  const env = model.envs[slug];
  const response = await real.call(slug, 'GET', `/v1/objects/${OBJECT_COLLECTION}/${enc(objectId)}/subscriptions?page_size=50`);
  if (!env.objects.has(objectId)) return expectNotFound(response, context);
  expectOk(response, 200, context);
  const expected = [...(env.subscriptions.get(objectId) ?? [])]
    .sort(([a, x], [b, y]) => y.seq - x.seq || descending(a, b))
    .map(([userId, subscription]) => expectedSubscription(env, objectId, userId, subscription));
  expect(response.body.entries.map((e: unknown) => subscriptionView(e, context)), context).toEqual(expected);
}

/** The objects a user is subscribed to, newest first. */
async function checkUserSubscriptions(model: Model, slug: Slug, userId: string) {
  const context = `[${slug}] list subscriptions of user ${userId}`;
  const env = model.envs[slug];
  const response = await real.call(slug, 'GET', `/v1/users/${enc(userId)}/subscriptions?page_size=50`);
  if (!env.users.has(userId)) return expectNotFound(response, context);
  expectOk(response, 200, context);
  const expected = [...env.subscriptions]
    .flatMap(([objectId, subscribers]) => (subscribers.has(userId) ? [{ objectId, subscription: subscribers.get(userId)! }] : []))
    .sort((a, b) => b.subscription.seq - a.subscription.seq || descending(a.objectId, b.objectId))
    .map(({ objectId, subscription }) => expectedSubscription(env, objectId, userId, subscription));
  expect(response.body.entries.map((e: unknown) => subscriptionView(e, context)), context).toEqual(expected);
}

/** Walks a list forward page by page; every page within its size; answers all entries. */
async function walkPages(slug: Slug, base: string, field: 'entries' | 'items', pageSize: number, context: string, onPage?: (page: any) => void): Promise<any[]> {
  const all: any[] = [];
  let after: string | null = null;
  let pages = 0;
  do {
    const response = await real.call(slug, 'GET', after ? `${base}&after=${enc(after)}` : base);
    expectOk(response, 200, context);
    const page = response.body;
    expect(page[field].length, context).toBeLessThanOrEqual(pageSize);
    expect(page.page_info, context).toMatchObject({ __typename: 'PageInfo', page_size: pageSize });
    onPage?.(page);
    all.push(...page[field]);
    after = page.page_info.after;
    expect(++pages, `${context}: more pages than could be`).toBeLessThanOrEqual(200);
  } while (after);
  expect(new Set(all.map((e) => e.id)).size, `${context}: an entry listed twice`).toBe(all.length);
  return all;
}

// ---------------------------------------------------------------- the engine: prediction and settling

const recipientKeyOf = (r: RecipientArg) => (typeof r === 'string' ? `user:${r}` : `object:${r.collection}:${r.id}`);

/**
 * What a trigger does in one environment, as the engine runs it: one run per unique
 * recipient (named recipients first, then the subscribers of the named objects, oldest
 * subscription first); a run whose recipient does not exist in the environment halts;
 * a user who opted out of the workflow gets no message; everyone else gets one in-app
 * message rendered from the environment's own data.
 */
function predictTrigger(env: EnvModel, workflowKey: string, workflowRunId: string, recipients: RecipientArg[], actor: string | null, data: { marker: string }) {
  const chosen = new Map<string, { ref: RecipientArg; subscription?: Record<string, unknown> }>();
  for (const ref of recipients) if (!chosen.has(recipientKeyOf(ref))) chosen.set(recipientKeyOf(ref), { ref });
  const named = [...chosen.values()].flatMap((c) => (typeof c.ref === 'string' ? [] : [c.ref.id]));
  const subscriptions = named
    .flatMap((objectId) => [...(env.subscriptions.get(objectId) ?? [])].map(([userId, subscription]) => ({ userId, subscription })))
    .sort((a, b) => a.subscription.seq - b.subscription.seq);
  for (const { userId, subscription } of subscriptions) {
    if (!chosen.has(`user:${userId}`)) chosen.set(`user:${userId}`, { ref: userId, subscription: subscription.properties ?? {} });
  }
  const markerOf = (properties: Record<string, unknown> | undefined) => (properties?.marker === undefined ? '' : String(properties.marker));
  const by = actor ? markerOf(env.users.get(actor)?.properties) : '';
  const runs: RunState[] = [];
  const messages: MessageState[] = [];
  for (const [recipientKey, { ref, subscription }] of chosen) {
    const user = typeof ref === 'string' ? env.users.get(ref) : undefined;
    const properties = typeof ref === 'string' ? user?.properties : env.objects.get(ref.id)?.properties;
    runs.push({ id: null, workflowRunId, workflowKey, recipient: ref, recipientKey, actor, status: properties ? 'completed' : 'halted' });
    if (!properties || user?.preferences?.workflows[workflowKey] === false) continue;
    messages.push({
      id: null,
      recipientRunId: null,
      workflowRunId,
      workflowKey,
      recipient: ref,
      recipientKey,
      data,
      text: `data=${data.marker}; who=${markerOf(properties)}; via=${markerOf(subscription)}; by=${by};`,
      actor,
      read: false,
      seen: false,
      archived: false,
    });
  }
  return { runs, messages };
}

/** Polls (no fixed sleep) until `probe` holds, or fails after `timeoutMs`. */
async function pollUntil(probe: () => Promise<boolean>, what: string, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** The text of a rendered in-app body (markdown → HTML; linkify may wrap an email address in a link). */
function textOf(blocks: Array<{ name?: string; rendered?: string }> | undefined): string {
  const body = blocks?.find((b) => b.name === 'body')?.rendered ?? '';
  return body.replace(/<[^>]*>/g, '').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&').trim();
}

/**
 * Waits until every pending trigger (of any environment) has been expanded and all its
 * recipient runs have finished, polling the database as its owner; then checks what the
 * engine wrote for them — each row in the trigger's own environment, exactly the runs
 * and messages the model predicted, each message rendered from its own environment's
 * data — and learns the ids of those runs and messages.
 */
async function settle(model: Model) {
  const pending = SLUGS.flatMap((slug) => model.envs[slug].pending.map((id) => ({ slug, id })));
  if (pending.length === 0) return;
  const ids = pending.map((p) => p.id);
  await pollUntil(async () => {
    const { rows } = await owner.query(
      `SELECT (SELECT count(*) FROM workflow_runs WHERE id = ANY($1::uuid[]) AND status = 'queued')
            + (SELECT count(*) FROM workflow_recipient_runs WHERE workflow_run_id = ANY($1::uuid[]) AND status IN ('queued', 'processing', 'paused')) AS busy`,
      [ids],
    );
    return Number(rows[0].busy) === 0;
  }, `triggers ${ids.join(', ')} to finish`);

  const [triggers, runs, messages] = await Promise.all([
    owner.query('SELECT environment_id, id, status, error FROM workflow_runs WHERE id = ANY($1::uuid[])', [ids]),
    owner.query('SELECT environment_id, id, workflow_run_id, recipient_key, status FROM workflow_recipient_runs WHERE workflow_run_id = ANY($1::uuid[])', [ids]),
    owner.query('SELECT environment_id, id, workflow_run_id, workflow_recipient_run_id, recipient_key, content FROM messages WHERE workflow_run_id = ANY($1::uuid[])', [ids]),
  ]);
  const slug = (environmentId: string) => slugOfEnvironment.get(environmentId) ?? `unknown:${environmentId}`;
  const sorted = <T>(rows: T[]) => rows.map(stableJson).sort();
  const pendingOf = (s: Slug) => new Set(model.envs[s].pending);
  const expectedRuns = SLUGS.flatMap((s) => model.envs[s].runs.filter((r) => pendingOf(s).has(r.workflowRunId)).map((r) => ({ s, r })));
  const expectedMessages = SLUGS.flatMap((s) => model.envs[s].messages.filter((m) => pendingOf(s).has(m.workflowRunId)).map((m) => ({ s, m })));

  expect(sorted(triggers.rows.map((r) => ({ env: slug(r.environment_id), id: r.id, status: r.status, error: r.error }))), 'settled triggers')
    .toEqual(sorted(pending.map((p) => ({ env: p.slug, id: p.id, status: 'processed', error: null }))));
  expect(sorted(runs.rows.map((r) => ({ env: slug(r.environment_id), trigger: r.workflow_run_id, recipient: r.recipient_key, status: r.status }))), 'settled recipient runs')
    .toEqual(sorted(expectedRuns.map(({ s, r }) => ({ env: s, trigger: r.workflowRunId, recipient: r.recipientKey, status: r.status }))));
  expect(
    sorted(messages.rows.map((r) => ({ env: slug(r.environment_id), trigger: r.workflow_run_id, recipient: r.recipient_key, text: textOf(r.content?.blocks) }))),
    'settled messages (where each landed, for whom, and what it says)',
  ).toEqual(sorted(expectedMessages.map(({ s, m }) => ({ env: s, trigger: m.workflowRunId, recipient: m.recipientKey, text: m.text }))));

  const runIds = new Map(runs.rows.map((r) => [`${r.workflow_run_id} ${r.recipient_key}`, r.id as string]));
  for (const { r } of expectedRuns) r.id = runIds.get(`${r.workflowRunId} ${r.recipientKey}`)!;
  for (const row of messages.rows) {
    const { m } = expectedMessages.find(({ m }) => m.workflowRunId === row.workflow_run_id && m.recipientKey === row.recipient_key)!;
    expect(row.workflow_recipient_run_id, 'a message belongs to its own recipient run').toBe(runIds.get(`${m.workflowRunId} ${m.recipientKey}`));
    m.id = row.id;
    m.recipientRunId = row.workflow_recipient_run_id;
  }
  stats.messages += messages.rows.length;
  for (const s of SLUGS) model.envs[s].pending = [];
}

/** Every message of the model, with its environment (for picking ids across environments). */
function allMessages(model: Model): Array<{ slug: Slug; message: MessageState }> {
  return SLUGS.flatMap((slug) => model.envs[slug].messages.map((message) => ({ slug, message })));
}

function allRuns(model: Model): Array<{ slug: Slug; run: RunState }> {
  return SLUGS.flatMap((slug) => model.envs[slug].runs.map((run) => ({ slug, run })));
}

/** A well-formed id no environment has (the pick when there is nothing to pick from). */
const NO_SUCH_ID = '00000000-0000-4000-8000-000000000000';

// ---------------------------------------------------------------- the engine: read-backs

function engagementStatuses(m: MessageState) {
  return [...(m.seen ? ['seen'] : []), ...(m.read ? ['read'] : []), ...(m.archived ? ['archived'] : [])];
}

/** A Message as the data API answers it, reduced to what the model predicts. */
function messageView(item: any) {
  return {
    id: item.id,
    recipient: item.recipient,
    workflow: item.workflow,
    source: { key: item.source?.key, step_ref: item.source?.step_ref, workflow_run_id: item.source?.workflow_run_id, workflow_recipient_run_id: item.source?.workflow_recipient_run_id },
    channel_id: item.channel_id,
    status: item.status,
    data: item.data,
    actors: item.actors,
    tenant: item.tenant,
    engagement_statuses: item.engagement_statuses,
    read: item.read_at !== null,
    seen: item.seen_at !== null,
    archived: item.archived_at !== null,
  };
}

function expectedMessage(m: MessageState) {
  return {
    id: m.id,
    recipient: m.recipient,
    workflow: m.workflowKey,
    source: { key: m.workflowKey, step_ref: STEP_REF, workflow_run_id: m.workflowRunId, workflow_recipient_run_id: m.recipientRunId },
    channel_id: feedChannelId,
    status: 'delivered',
    data: m.data,
    actors: m.actor ? [m.actor] : [],
    tenant: null,
    engagement_statuses: engagementStatuses(m),
    read: m.read,
    seen: m.seen,
    archived: m.archived,
  };
}

const byId = <T extends { id: string | null }>(rows: T[]) => [...rows].sort((a, b) => (a.id! < b.id! ? -1 : a.id! > b.id! ? 1 : 0));

/** Newest first: `inserted_at` never increases down a list. */
function expectNewestFirst(items: Array<{ inserted_at: string }>, context: string) {
  for (let i = 1; i < items.length; i++) expect(items[i].inserted_at <= items[i - 1].inserted_at, `${context}: newest first`).toBe(true);
}

/** GET /v1/messages (or a user's messages), every page: exactly the environment's messages the filters select. */
async function checkMessages(model: Model, slug: Slug, pageSize: number, filter: { user?: string; workflowRunId?: string }) {
  const context = `[${slug}] list messages page_size=${pageSize} ${JSON.stringify(filter)}`;
  const path = filter.user ? `/v1/users/${enc(filter.user)}/messages` : '/v1/messages';
  const query = `page_size=${pageSize}${filter.workflowRunId ? `&workflow_run_id=${filter.workflowRunId}` : ''}`;
  const items = await walkPages(slug, `${path}?${query}`, 'items', pageSize, context);
  expectNewestFirst(items, context);
  const expected = model.envs[slug].messages.filter(
    (m) => (!filter.user || m.recipientKey === `user:${filter.user}`) && (!filter.workflowRunId || m.workflowRunId === filter.workflowRunId),
  );
  expect(byId(items.map(messageView)), context).toEqual(byId(expected).map(expectedMessage));
}

type FeedStatus = 'all' | 'unread' | 'read' | 'unseen' | 'seen';
type FeedArchived = 'exclude' | 'include' | 'only';

/** A user (resolved now, in the reading environment) as a feed shows it: id and marker. */
function feedRecipient(env: EnvModel, id: string) {
  return { id, marker: env.users.get(id)?.properties.marker ?? null };
}

/**
 * A user's in-app feed, every page: the entries (rendered body, data, actors and activity
 * recipients resolved in the environment) and the badge counts, all from this environment.
 */
async function checkFeed(model: Model, slug: Slug, userId: string, pageSize: number, status: FeedStatus, archived: FeedArchived) {
  const context = `[${slug}] feed of ${userId} page_size=${pageSize} status=${status} archived=${archived}`;
  const env = model.envs[slug];
  const metas: unknown[] = [];
  const entries = await walkPages(
    slug,
    `/v1/users/${enc(userId)}/feeds/${feedChannelId}?page_size=${pageSize}&status=${status}&archived=${archived}`,
    'entries',
    pageSize,
    context,
    (page) => metas.push(page.meta),
  );
  expectNewestFirst(entries, context);
  const base = env.messages.filter((m) => m.recipientKey === `user:${userId}` && (archived === 'include' || m.archived === (archived === 'only')));
  const shown = base.filter((m) => status === 'all' || (status === 'unread' ? !m.read : status === 'read' ? m.read : status === 'unseen' ? !m.seen : m.seen));
  const meta = { __typename: 'FeedMetadata', total_count: shown.length, unread_count: base.filter((m) => !m.read).length, unseen_count: base.filter((m) => !m.seen).length };
  for (const m of metas) expect(m, `${context}: meta`).toEqual(meta);
  expect(
    byId(entries.map((e) => ({
      id: e.id,
      text: textOf(e.blocks),
      data: e.data,
      source: e.source?.key,
      actors: e.actors.map((a: any) => ({ id: a.id, marker: a.marker ?? null })),
      recipients: e.activities.map((a: any) => ({ id: a.recipient?.id, marker: a.recipient?.marker ?? null })),
      read: e.read_at !== null,
      seen: e.seen_at !== null,
      archived: e.archived_at !== null,
    }))),
    context,
  ).toEqual(
    byId(shown).map((m) => ({
      id: m.id,
      text: m.text,
      data: m.data,
      source: m.workflowKey,
      actors: m.actor ? [feedRecipient(env, m.actor)] : [],
      recipients: [feedRecipient(env, userId)],
      read: m.read,
      seen: m.seen,
      archived: m.archived,
    })),
  );
}

function runView(item: any) {
  return {
    id: item.id,
    workflow_run_id: item.workflow_run_id,
    workflow: item.workflow,
    status: item.status,
    herald_status: item.herald_status,
    recipient: item.recipient,
    actor: item.actor,
    tenant: item.tenant,
    error_code: item.error?.code ?? null,
  };
}

function expectedRun(run: RunState) {
  return {
    id: run.id,
    workflow_run_id: run.workflowRunId,
    workflow: run.workflowKey,
    status: 'completed',
    herald_status: run.status,
    recipient: run.recipient,
    actor: run.actor,
    tenant: null,
    error_code: run.status === 'halted' ? 'recipient_not_found' : null,
  };
}

/** GET /v1/workflow_recipient_runs, every page (optionally one recipient's). */
async function checkRuns(model: Model, slug: Slug, pageSize: number, recipient: string | null) {
  const context = `[${slug}] list recipient runs page_size=${pageSize} recipient=${recipient}`;
  const items = await walkPages(slug, `/v1/workflow_recipient_runs?page_size=${pageSize}${recipient ? `&recipient=${enc(recipient)}` : ''}`, 'items', pageSize, context);
  expectNewestFirst(items, context);
  const expected = model.envs[slug].runs.filter((r) => !recipient || r.recipientKey === `user:${recipient}`);
  expect(byId(items.map(runView)), context).toEqual(byId(expected).map(expectedRun));
}

/** One message by id, and its content: found in its own environment only. */
async function checkMessage(slug: Slug, home: Slug | null, message: MessageState | null) {
  const id = message?.id ?? NO_SUCH_ID;
  const context = `[${slug}] GET message of ${home ?? 'nobody'}`;
  const [found, content] = await Promise.all([real.call(slug, 'GET', `/v1/messages/${id}`), real.call(slug, 'GET', `/v1/messages/${id}/content`)]);
  if (home !== slug || !message) {
    expectNotFound(found, context);
    expectNotFound(content, `${context} content`);
    return;
  }
  expectOk(found, 200, context);
  expect(messageView(found.body), context).toEqual(expectedMessage(message));
  expectOk(content, 200, `${context} content`);
  expect(content.body.message_id, `${context} content`).toBe(id);
  expect(textOf(content.body.data?.blocks), `${context} content`).toBe(message.text);
}

/** All that one environment shows of the engine's work (the end of an engine sequence). */
async function checkEngineViews(model: Model, slug: Slug) {
  await Promise.all([
    checkMessages(model, slug, 50, {}),
    checkRuns(model, slug, 50, null),
    ...USER_IDS.map((id) => checkFeed(model, slug, id, 50, 'all', 'include')),
    ...OBJECT_IDS.map((id) => checkObjectSubscriptions(model, slug, id)),
    checkObjectList(model, slug, 50),
  ]);
}

// ---------------------------------------------------------------- commands

type HeraldCommand = fc.AsyncCommand<Model, Real>;

/**
 * A command: `apply` performs one call and checks it against the model (which it updates).
 * Every command but a trigger first waits for the triggers still running to finish (see
 * `settle`), so what they read and what it reads or writes happen in a known order.
 */
function command(
  label: string,
  apply: (model: Model) => Promise<void>,
  check: (model: Readonly<Model>) => boolean = () => true,
  options: { settles: boolean } = { settles: true },
): HeraldCommand {
  return {
    check,
    async run(model) {
      stats.commands++;
      if (options.settles) await settle(model);
      await apply(model);
    },
    toString: () => label,
  };
}

type UserFields = Partial<{ name: string | null; email: string | null; timezone: string | null; plan: string | null; score: number }>;
type TenantFields = Partial<{ name: string | null; tier: string | null }>;

function identifyUser(slug: Slug, id: string, fields: UserFields, inlineChannel: string | null): HeraldCommand {
  return command(`identify(${slug}, ${id}, ${JSON.stringify(fields)}, inline=${inlineChannel})`, async (model) => {
    const properties = { ...fields, marker: marker(slug, `user ${id}`) };
    const channelData = inlineChannel ? { [inlineChannel]: { tokens: [marker(slug, 'inline token')] } } : undefined;
    const context = `[${slug}] PUT user ${id}`;
    const response = await real.call(slug, 'PUT', `/v1/users/${enc(id)}`, { ...properties, ...(channelData ? { channel_data: channelData } : {}) });
    identifyInModel(model.envs[slug], id, properties, channelData);
    expectOk(response, 200, context);
    expect(withoutUpdatedAt(response.body, context), context).toEqual(expectedUser(id, model.envs[slug].users.get(id)!));
    await elsewhere(slug, (s) => checkUser(model, s, id));
  });
}

function getUser(slug: Slug, id: string): HeraldCommand {
  return command(`getUser(${slug}, ${id})`, (model) => checkUser(model, slug, id));
}

function deleteUser(slug: Slug, id: string): HeraldCommand {
  return command(`deleteUser(${slug}, ${id})`, async (model) => {
    const context = `[${slug}] DELETE user ${id}`;
    const response = await real.call(slug, 'DELETE', `/v1/users/${enc(id)}`);
    if (deleteUserInModel(model.envs[slug], id)) expectOk(response, 204, context);
    else expectNotFound(response, context);
    // Gone here, and other environments' user of the same id is untouched (so are their
    // preferences and channel data: the database check after the sequence compares every row).
    await everywhere((s) => checkUser(model, s, id));
  });
}

function setPreferences(
  slug: Slug,
  id: string,
  workflowOn: boolean,
  channelTypes: Record<string, boolean> | undefined,
  commercial: boolean | undefined,
): HeraldCommand {
  return command(`setPreferences(${slug}, ${id}, ${workflowOn}, ${JSON.stringify(channelTypes)}, ${commercial})`, async (model) => {
    const context = `[${slug}] PUT preferences of ${id}`;
    const preferences: Preferences = {
      workflows: { [marker(slug, 'workflow')]: workflowOn },
      channel_types: channelTypes ?? null,
      commercial_subscribed: commercial ?? null,
    };
    const body: Record<string, unknown> = { workflows: preferences.workflows };
    if (channelTypes) body.channel_types = channelTypes;
    if (commercial !== undefined) body.commercial_subscribed = commercial;
    const response = await real.call(slug, 'PUT', `/v1/users/${enc(id)}/preferences/default`, body);
    const user = model.envs[slug].users.get(id);
    if (!user) {
      expectNotFound(response, context);
    } else {
      user.preferences = preferences;
      expectOk(response, 200, context);
      expect(response.body, context).toEqual(expectedPreferenceSet(preferences));
    }
    await elsewhere(slug, (s) => checkPreferences(model, s, id));
  });
}

function getPreferences(slug: Slug, id: string): HeraldCommand {
  return command(`getPreferences(${slug}, ${id})`, (model) => checkPreferences(model, slug, id));
}

function setChannelData(slug: Slug, id: string, channel: string, extraTokens: number): HeraldCommand {
  return command(`setChannelData(${slug}, ${id}, ${channel}, +${extraTokens})`, async (model) => {
    const context = `[${slug}] PUT channel data ${channel} of ${id}`;
    const data = { tokens: [marker(slug, 'token'), ...Array.from({ length: extraTokens }, (_, i) => `extra-${i}`)] };
    const response = await real.call(slug, 'PUT', `/v1/users/${enc(id)}/channel_data/${channel}`, { data });
    // Setting channel data creates the user (empty) when this environment has none.
    const users = model.envs[slug].users;
    if (!users.has(id)) users.set(id, { properties: {}, channelData: new Map() });
    users.get(id)!.channelData.set(channel, data);
    expectOk(response, 200, context);
    expect(response.body, context).toEqual(expectedChannelData(channel, data));
    await elsewhere(slug, (s) => checkChannelData(model, s, id, channel));
  });
}

function getChannelData(slug: Slug, id: string, channel: string): HeraldCommand {
  return command(`getChannelData(${slug}, ${id}, ${channel})`, (model) => checkChannelData(model, slug, id, channel));
}

function setTenant(slug: Slug, id: string, fields: TenantFields, branding: Record<string, string> | null | undefined): HeraldCommand {
  return command(`setTenant(${slug}, ${id}, ${JSON.stringify(fields)}, branding=${JSON.stringify(branding)})`, async (model) => {
    const context = `[${slug}] PUT tenant ${id}`;
    const properties = { ...fields, marker: marker(slug, `tenant ${id}`) };
    const body = branding === undefined ? properties : { ...properties, settings: { branding } };
    const response = await real.call(slug, 'PUT', `/v1/tenants/${enc(id)}`, body);
    const tenants = model.envs[slug].tenants;
    const tenant = tenants.get(id) ?? { properties: {} };
    tenant.properties = { ...tenant.properties, ...properties };
    if (branding !== undefined) tenant.branding = branding;
    tenants.set(id, tenant);
    expectOk(response, 200, context);
    expect(response.body, context).toEqual(expectedTenant(id, tenant));
    await elsewhere(slug, (s) => checkTenant(model, s, id));
  });
}

function getTenant(slug: Slug, id: string): HeraldCommand {
  return command(`getTenant(${slug}, ${id})`, (model) => checkTenant(model, slug, id));
}

function deleteTenant(slug: Slug, id: string): HeraldCommand {
  return command(`deleteTenant(${slug}, ${id})`, async (model) => {
    const context = `[${slug}] DELETE tenant ${id}`;
    const response = await real.call(slug, 'DELETE', `/v1/tenants/${enc(id)}`);
    if (model.envs[slug].tenants.delete(id)) expectOk(response, 204, context);
    else expectNotFound(response, context);
    await everywhere((s) => checkTenant(model, s, id));
  });
}

function bulkIdentify(slug: Slug, entries: Array<{ id: string; fields: UserFields }>): HeraldCommand {
  return command(`bulkIdentify(${slug}, ${JSON.stringify(entries)})`, async (model) => {
    const context = `[${slug}] bulk identify ${entries.map((u) => u.id).join(',')}`;
    const users = entries.map((u) => ({ id: u.id, ...u.fields, marker: marker(slug, `bulk user ${u.id}`) }));
    const response = await real.call(slug, 'POST', '/v1/users/bulk/identify', { users });
    for (const { id, ...properties } of users) identifyInModel(model.envs[slug], id, properties);
    expectOk(response, 200, context);
    expect(response.body, context).toMatchObject({
      __typename: 'BulkOperation',
      name: 'users.identify',
      status: 'completed',
      estimated_total_rows: users.length,
      processed_rows: users.length,
      success_count: users.length,
      error_count: 0,
      error_items: [],
      progress_path: `/v1/bulk_operations/${response.body.id}`,
    });
    model.bulkOperations.set(response.body.id, { slug, name: 'users.identify', total: users.length, errorIds: [] });
    await elsewhere(slug, (s) => checkList(model, s, 'users', 50));
  });
}

function bulkDelete(slug: Slug, ids: string[]): HeraldCommand {
  return command(`bulkDelete(${slug}, ${JSON.stringify(ids)})`, async (model) => {
    const context = `[${slug}] bulk delete ${ids.join(',')}`;
    const response = await real.call(slug, 'POST', '/v1/users/bulk/delete', { user_ids: ids });
    const unique = [...new Set(ids)];
    const users = model.envs[slug].users;
    // Ids that exist only in other environments are "missing" here: they must not be counted or deleted.
    const missing = unique.filter((id) => !users.has(id));
    for (const id of unique) deleteUserInModel(model.envs[slug], id);
    expectOk(response, 200, context);
    expect(response.body, context).toMatchObject({
      __typename: 'BulkOperation',
      name: 'users.delete',
      status: 'completed',
      estimated_total_rows: unique.length,
      success_count: unique.length - missing.length,
      error_count: missing.length,
      error_items: missing.map((id) => ({ id, collection: null })),
    });
    model.bulkOperations.set(response.body.id, { slug, name: 'users.delete', total: unique.length, errorIds: missing });
    await elsewhere(slug, (s) => checkList(model, s, 'users', 50));
  });
}

/** Reads a bulk operation (of any environment) with one environment's key: only its own is found. */
function getBulkOperation(slug: Slug, pick: number): HeraldCommand {
  return command(
    `getBulkOperation(${slug}, #${pick})`,
    async (model) => {
      const ids = [...model.bulkOperations.keys()];
      const id = ids[pick % ids.length];
      const op = model.bulkOperations.get(id)!;
      const context = `[${slug}] GET bulk operation of ${op.slug}`;
      const response = await real.call(slug, 'GET', `/v1/bulk_operations/${id}`);
      if (op.slug !== slug) return expectNotFound(response, context);
      expectOk(response, 200, context);
      expect(response.body, context).toMatchObject({
        id,
        name: op.name,
        success_count: op.total - op.errorIds.length,
        error_items: op.errorIds.map((e) => ({ id: e, collection: null })),
      });
    },
    (model) => model.bulkOperations.size > 0,
  );
}

function listUsers(slug: Slug, pageSize: number, withPreferences: boolean): HeraldCommand {
  return command(`listUsers(${slug}, page_size=${pageSize}, preferences=${withPreferences})`, (model) =>
    checkList(model, slug, 'users', pageSize, withPreferences),
  );
}

function listTenants(slug: Slug, pageSize: number): HeraldCommand {
  return command(`listTenants(${slug}, page_size=${pageSize})`, (model) => checkList(model, slug, 'tenants', pageSize));
}

// ---------------------------------------------------------------- commands: objects and subscriptions

function setObject(slug: Slug, id: string, name: string | null | undefined): HeraldCommand {
  return command(`setObject(${slug}, ${id}, name=${JSON.stringify(name)})`, async (model) => {
    const context = `[${slug}] PUT object ${id}`;
    const properties = { ...(name === undefined ? {} : { name }), marker: marker(slug, `object ${id}`) };
    const response = await real.call(slug, 'PUT', `/v1/objects/${OBJECT_COLLECTION}/${enc(id)}`, properties);
    const objects = model.envs[slug].objects;
    const object = objects.get(id) ?? { properties: {} };
    object.properties = { ...object.properties, ...properties };
    objects.set(id, object);
    expectOk(response, 200, context);
    expect(withoutUpdatedAt(response.body, context), context).toEqual(expectedObject(id, object));
    await elsewhere(slug, (s) => checkObject(model, s, id));
  });
}

function getObject(slug: Slug, id: string): HeraldCommand {
  return command(`getObject(${slug}, ${id})`, (model) => checkObject(model, slug, id));
}

function deleteObject(slug: Slug, id: string): HeraldCommand {
  return command(`deleteObject(${slug}, ${id})`, async (model) => {
    const context = `[${slug}] DELETE object ${id}`;
    const response = await real.call(slug, 'DELETE', `/v1/objects/${OBJECT_COLLECTION}/${enc(id)}`);
    const env = model.envs[slug];
    // Its subscriptions go with it.
    env.subscriptions.delete(id);
    if (env.objects.delete(id)) expectOk(response, 204, context);
    else expectNotFound(response, context);
    await everywhere((s) => checkObjectSubscriptions(model, s, id));
  });
}

function listObjects(slug: Slug, pageSize: number): HeraldCommand {
  return command(`listObjects(${slug}, page_size=${pageSize})`, (model) => checkObjectList(model, slug, pageSize));
}

function subscribe(slug: Slug, objectId: string, userIds: string[], withProperties: boolean): HeraldCommand {
  return command(`subscribe(${slug}, ${objectId}, ${JSON.stringify(userIds)}, properties=${withProperties})`, async (model) => {
    const context = `[${slug}] POST subscriptions of ${objectId}`;
    const properties = withProperties ? { marker: marker(slug, 'subscription') } : undefined;
    const response = await real.call(slug, 'POST', `/v1/objects/${OBJECT_COLLECTION}/${enc(objectId)}/subscriptions`, {
      recipients: userIds,
      ...(properties ? { properties } : {}),
    });
    // The object and unknown users are created empty; new subscriptions of one request share its time.
    const env = model.envs[slug];
    if (!env.objects.has(objectId)) env.objects.set(objectId, { properties: {} });
    const subscribers = env.subscriptions.get(objectId) ?? new Map<string, SubscriptionState>();
    env.subscriptions.set(objectId, subscribers);
    const seq = ++subscriptionSeq;
    const unique = [...new Set(userIds)];
    for (const userId of unique) {
      if (!env.users.has(userId)) env.users.set(userId, { properties: {}, channelData: new Map() });
      const existing = subscribers.get(userId);
      if (existing) {
        if (properties) existing.properties = properties;
      } else {
        subscribers.set(userId, { properties: properties ?? null, seq });
      }
    }
    expectOk(response, 200, context);
    expect(response.body.map((e: unknown) => subscriptionView(e, context)), context)
      .toEqual(unique.map((userId) => expectedSubscription(env, objectId, userId, subscribers.get(userId)!)));
    await elsewhere(slug, (s) => checkObjectSubscriptions(model, s, objectId));
  });
}

function unsubscribe(slug: Slug, objectId: string, userIds: string[]): HeraldCommand {
  return command(`unsubscribe(${slug}, ${objectId}, ${JSON.stringify(userIds)})`, async (model) => {
    const context = `[${slug}] DELETE subscriptions of ${objectId}`;
    const response = await real.call(slug, 'DELETE', `/v1/objects/${OBJECT_COLLECTION}/${enc(objectId)}/subscriptions`, { recipients: userIds });
    const env = model.envs[slug];
    if (!env.objects.has(objectId)) {
      expectNotFound(response, context);
    } else {
      const subscribers = env.subscriptions.get(objectId) ?? new Map<string, SubscriptionState>();
      const deleted = [...new Set(userIds)].filter((userId) => subscribers.has(userId));
      const expected = deleted.map((userId) => expectedSubscription(env, objectId, userId, subscribers.get(userId)!));
      for (const userId of deleted) subscribers.delete(userId);
      expectOk(response, 200, context);
      expect(response.body.map((e: unknown) => subscriptionView(e, context)), context).toEqual(expected);
    }
    await everywhere((s) => checkObjectSubscriptions(model, s, objectId));
  });
}

function listObjectSubscriptions(slug: Slug, objectId: string): HeraldCommand {
  return command(`listObjectSubscriptions(${slug}, ${objectId})`, (model) => checkObjectSubscriptions(model, slug, objectId));
}

function listUserSubscriptions(slug: Slug, userId: string): HeraldCommand {
  return command(`listUserSubscriptions(${slug}, ${userId})`, (model) => checkUserSubscriptions(model, slug, userId));
}

// ---------------------------------------------------------------- commands: the engine

/**
 * One write done in each environment in turn, with the same ids (and each environment's
 * own markers): what makes a leak between environments detectable is that they collide.
 */
function inEveryEnvironment(label: string, make: (slug: Slug) => HeraldCommand): HeraldCommand {
  const commands = SLUGS.map(make);
  return command(`inEveryEnvironment(${label}: ${commands.join('; ')})`, async (model) => {
    for (const c of commands) await c.run(model, real);
  });
}

/** Triggers a workflow in one environment and adds what it will do to the model (it runs asynchronously). */
async function triggerIn(model: Model, slug: Slug, workflowKey: string, recipients: RecipientArg[], actor: string | null) {
  const context = `[${slug}] trigger ${workflowKey}`;
  const data = { marker: marker(slug, 'trigger') };
  const response = await real.call(slug, 'POST', `/v1/workflows/${workflowKey}/trigger`, { recipients, data, ...(actor ? { actor } : {}) });
  // Committed in development only: unknown to the other environments.
  if (workflowKey === DEV_ONLY_WORKFLOW_KEY && slug !== 'development') return expectNotFound(response, context);
  expectOk(response, 200, context);
  const id = response.body.workflow_run_id as string;
  expect(id, context).toMatch(/^[0-9a-f-]{36}$/);
  stats.triggers++;
  const env = model.envs[slug];
  const { runs, messages } = predictTrigger(env, workflowKey, id, recipients, actor, data);
  env.triggers.push(id);
  env.pending.push(id);
  env.runs.push(...runs);
  env.messages.push(...messages);
}

/** Not settled before: triggers in a row (of one or several environments) run at the same time. */
function trigger(slug: Slug, devOnly: boolean, recipients: RecipientArg[], actor: string | null): HeraldCommand {
  const workflowKey = devOnly ? DEV_ONLY_WORKFLOW_KEY : WORKFLOW_KEY;
  return command(
    `trigger(${slug}, ${workflowKey}, ${JSON.stringify(recipients)}, actor=${actor})`,
    (model) => triggerIn(model, slug, workflowKey, recipients, actor),
    () => true,
    { settles: false },
  );
}

/** The same workflow, recipients and actor triggered in all three environments at once. */
function triggerEverywhere(recipients: RecipientArg[], actor: string | null): HeraldCommand {
  return command(
    `triggerEverywhere(${JSON.stringify(recipients)}, actor=${actor})`,
    async (model) => {
      await Promise.all(SLUGS.map((slug) => triggerIn(model, slug, WORKFLOW_KEY, recipients, actor)));
    },
    () => true,
    { settles: false },
  );
}

/** Opts a user in or out of the workflow (in this environment only). */
function setWorkflowPreference(slug: Slug, id: string, enabled: boolean): HeraldCommand {
  return command(`setWorkflowPreference(${slug}, ${id}, ${enabled})`, async (model) => {
    const context = `[${slug}] PUT preferences of ${id} (${WORKFLOW_KEY}: ${enabled})`;
    const preferences: Preferences = { workflows: { [WORKFLOW_KEY]: enabled }, channel_types: null, commercial_subscribed: null };
    const response = await real.call(slug, 'PUT', `/v1/users/${enc(id)}/preferences/default`, { workflows: preferences.workflows });
    const user = model.envs[slug].users.get(id);
    if (!user) {
      expectNotFound(response, context);
    } else {
      user.preferences = preferences;
      expectOk(response, 200, context);
      expect(response.body, context).toEqual(expectedPreferenceSet(preferences));
    }
    await elsewhere(slug, (s) => checkPreferences(model, s, id));
  });
}

function listMessages(slug: Slug, pageSize: number, triggerPick: number | null): HeraldCommand {
  return command(`listMessages(${slug}, page_size=${pageSize}, trigger=#${triggerPick})`, async (model) => {
    // A trigger of any environment: another environment's run id must filter down to nothing.
    const triggers = SLUGS.flatMap((s) => model.envs[s].triggers);
    const workflowRunId = triggerPick === null ? undefined : (triggers[triggerPick % Math.max(1, triggers.length)] ?? NO_SUCH_ID);
    await checkMessages(model, slug, pageSize, { workflowRunId });
  });
}

function listUserMessages(slug: Slug, userId: string, pageSize: number): HeraldCommand {
  return command(`listUserMessages(${slug}, ${userId}, page_size=${pageSize})`, (model) => checkMessages(model, slug, pageSize, { user: userId }));
}

function getFeed(slug: Slug, userId: string, pageSize: number, status: FeedStatus, archived: FeedArchived): HeraldCommand {
  return command(`getFeed(${slug}, ${userId}, page_size=${pageSize}, status=${status}, archived=${archived})`, (model) =>
    checkFeed(model, slug, userId, pageSize, status, archived),
  );
}

/** A message of any environment (or none), read with one environment's key. */
function pickMessage(model: Model, pick: number): { home: Slug | null; message: MessageState | null } {
  const all = allMessages(model);
  if (all.length === 0) return { home: null, message: null };
  const { slug, message } = all[pick % all.length];
  return { home: slug, message };
}

function getMessage(slug: Slug, pick: number): HeraldCommand {
  return command(`getMessage(${slug}, #${pick})`, async (model) => {
    const { home, message } = pickMessage(model, pick);
    await checkMessage(slug, home, message);
  });
}

type EngagementAction = 'read' | 'seen' | 'archived' | 'unread' | 'unseen' | 'unarchived';

function applyEngagement(m: MessageState, action: EngagementAction) {
  if (action === 'read' || action === 'unread') m.read = action === 'read';
  else if (action === 'seen' || action === 'unseen') m.seen = action === 'seen';
  else m.archived = action === 'archived';
}

/** PUT /v1/messages/{id}/read (seen, archived) or DELETE (unread, unseen, unarchived). */
function markMessage(slug: Slug, pick: number, action: EngagementAction): HeraldCommand {
  return command(`markMessage(${slug}, #${pick}, ${action})`, async (model) => {
    const { home, message } = pickMessage(model, pick);
    const context = `[${slug}] mark message of ${home ?? 'nobody'} ${action}`;
    const [method, status] = action.startsWith('un') ? ['DELETE', action.slice(2)] : ['PUT', action];
    const response = await real.call(slug, method, `/v1/messages/${message?.id ?? NO_SUCH_ID}/${status}`);
    if (!message || home !== slug) {
      expectNotFound(response, context);
      // …and its own environment's message is as it was.
      if (message && home) await checkMessage(home, home, message);
      return;
    }
    applyEngagement(message, action);
    expectOk(response, 200, context);
    expect(messageView(response.body), context).toEqual(expectedMessage(message));
    await elsewhere(slug, (s) => checkMessage(s, slug, message));
  });
}

/** POST /v1/messages/batch/{action} with ids of any environment: only this environment's are changed and answered. */
function batchMark(slug: Slug, picks: number[], action: EngagementAction): HeraldCommand {
  return command(`batchMark(${slug}, ${JSON.stringify(picks)}, ${action})`, async (model) => {
    const context = `[${slug}] batch ${action}`;
    const picked = picks.map((pick) => pickMessage(model, pick));
    const ids = picked.map((p) => p.message?.id ?? NO_SUCH_ID);
    const response = await real.call(slug, 'POST', `/v1/messages/batch/${action}`, { message_ids: ids });
    const own = [...new Map(picked.filter((p) => p.home === slug).map((p) => [p.message!.id, p.message!])).values()];
    for (const m of own) applyEngagement(m, action);
    expectOk(response, 200, context);
    expect(response.body.map(messageView), context).toEqual(own.map(expectedMessage));
  });
}

/** POST /v1/channels/{feed}/messages/bulk/{action} for some users: counts and changes this environment's messages only. */
function bulkChannel(slug: Slug, userIds: string[], action: EngagementAction): HeraldCommand {
  return command(`bulkChannel(${slug}, ${JSON.stringify(userIds)}, ${action})`, async (model) => {
    const context = `[${slug}] channel bulk ${action} for ${userIds.join(',')}`;
    const response = await real.call(slug, 'POST', `/v1/channels/${feedChannelId}/messages/bulk/${action}`, { user_ids: userIds });
    const keys = new Set(userIds.map((id) => `user:${id}`));
    const matched = model.envs[slug].messages.filter((m) => keys.has(m.recipientKey));
    for (const m of matched) applyEngagement(m, action);
    expectOk(response, 200, context);
    expect(response.body, context).toMatchObject({
      __typename: 'BulkOperation',
      name: `messages.bulk_${action}`,
      status: 'completed',
      estimated_total_rows: matched.length,
      success_count: matched.length,
      error_count: 0,
      error_items: [],
    });
    model.bulkOperations.set(response.body.id, { slug, name: `messages.bulk_${action}`, total: matched.length, errorIds: [] });
    await elsewhere(slug, (s) => checkFeed(model, s, userIds[0], 50, 'all', 'include'));
  });
}

function listRuns(slug: Slug, pageSize: number, recipient: string | null): HeraldCommand {
  return command(`listRuns(${slug}, page_size=${pageSize}, recipient=${recipient})`, (model) => checkRuns(model, slug, pageSize, recipient));
}

/** GET /v1/workflow_recipient_runs/{id} of a run of any environment. */
function getRun(slug: Slug, pick: number): HeraldCommand {
  return command(`getRun(${slug}, #${pick})`, async (model) => {
    const all = allRuns(model);
    const picked = all.length > 0 ? all[pick % all.length] : null;
    const context = `[${slug}] GET recipient run of ${picked?.slug ?? 'nobody'}`;
    const response = await real.call(slug, 'GET', `/v1/workflow_recipient_runs/${picked?.run.id ?? NO_SUCH_ID}`);
    if (!picked || picked.slug !== slug) return expectNotFound(response, context);
    expectOk(response, 200, context);
    expect(runView(response.body), context).toEqual(expectedRun(picked.run));
    const messageIds = model.envs[slug].messages.filter((m) => m.recipientRunId === picked.run.id).map((m) => m.id);
    const enqueued = response.body.events.filter((e: any) => e.event === 'message_enqueued').map((e: any) => e.data?.message_id);
    expect(enqueued, `${context}: its messages`).toEqual(messageIds);
  });
}

// ---------------------------------------------------------------- arbitraries

const slugArb = fc.constantFrom(...SLUGS);
const userIdArb = fc.constantFrom(...USER_IDS);
const tenantIdArb = fc.constantFrom(...TENANT_IDS);
const channelArb = fc.constantFrom(...CHANNELS);
const shortString = fc.string({ maxLength: 8 });

const userFieldsArb: fc.Arbitrary<UserFields> = fc.record(
  {
    name: fc.option(shortString, { nil: null }),
    email: fc.option(fc.constantFrom('a@example.com', 'b@example.com'), { nil: null }),
    timezone: fc.option(fc.constantFrom('UTC', 'Europe/Paris', 'America/New_York'), { nil: null }),
    plan: fc.option(fc.constantFrom('free', 'pro', 'enterprise'), { nil: null }),
    score: fc.integer({ min: -1000, max: 1000 }),
  },
  { requiredKeys: [] },
);

const tenantFieldsArb: fc.Arbitrary<TenantFields> = fc.record(
  { name: fc.option(shortString, { nil: null }), tier: fc.option(fc.constantFrom('gold', 'silver'), { nil: null }) },
  { requiredKeys: [] },
);

const objectIdArb = fc.constantFrom(...OBJECT_IDS);
const userIdsArb = fc.array(userIdArb, { minLength: 1, maxLength: 3 });
const pageSizeArb = fc.integer({ min: 1, max: 3 });

const setObjectArb = fc
  .tuple(slugArb, objectIdArb, fc.option(fc.option(shortString, { nil: null }), { nil: undefined }))
  .map((a) => setObject(...a));
const subscribeArb = fc.tuple(slugArb, objectIdArb, userIdsArb, fc.boolean()).map((a) => subscribe(...a));

/** The recipient data API: users, preferences, channel data, tenants, bulk operations, objects, subscriptions. */
const commandArb: fc.Arbitrary<HeraldCommand> = fc.oneof(
  { weight: 3, arbitrary: setObjectArb },
  { weight: 1, arbitrary: fc.tuple(slugArb, objectIdArb).map((a) => getObject(...a)) },
  { weight: 1, arbitrary: fc.tuple(slugArb, objectIdArb).map((a) => deleteObject(...a)) },
  { weight: 1, arbitrary: fc.tuple(slugArb, pageSizeArb).map((a) => listObjects(...a)) },
  { weight: 3, arbitrary: subscribeArb },
  { weight: 1, arbitrary: fc.tuple(slugArb, objectIdArb, userIdsArb).map((a) => unsubscribe(...a)) },
  { weight: 1, arbitrary: fc.tuple(slugArb, objectIdArb).map((a) => listObjectSubscriptions(...a)) },
  { weight: 1, arbitrary: fc.tuple(slugArb, userIdArb).map((a) => listUserSubscriptions(...a)) },
  { weight: 5, arbitrary: fc.tuple(slugArb, userIdArb, userFieldsArb, fc.option(channelArb, { nil: null, freq: 4 })).map((a) => identifyUser(...a)) },
  { weight: 2, arbitrary: fc.tuple(slugArb, userIdArb).map((a) => getUser(...a)) },
  { weight: 3, arbitrary: fc.tuple(slugArb, userIdArb).map((a) => deleteUser(...a)) },
  {
    weight: 3,
    arbitrary: fc
      .tuple(
        slugArb,
        userIdArb,
        fc.boolean(),
        fc.option(fc.record({ email: fc.boolean(), sms: fc.boolean() }, { requiredKeys: [] }), { nil: undefined }),
        fc.option(fc.boolean(), { nil: undefined }),
      )
      .map((a) => setPreferences(...a)),
  },
  { weight: 1, arbitrary: fc.tuple(slugArb, userIdArb).map((a) => getPreferences(...a)) },
  { weight: 3, arbitrary: fc.tuple(slugArb, userIdArb, channelArb, fc.nat(2)).map((a) => setChannelData(...a)) },
  { weight: 1, arbitrary: fc.tuple(slugArb, userIdArb, channelArb).map((a) => getChannelData(...a)) },
  {
    weight: 4,
    arbitrary: fc
      .tuple(slugArb, tenantIdArb, tenantFieldsArb, fc.option(fc.option(fc.record({ primary_color: fc.constantFrom('#112233', '#ffeedd') }), { nil: null }), { nil: undefined }))
      .map((a) => setTenant(...a)),
  },
  { weight: 1, arbitrary: fc.tuple(slugArb, tenantIdArb).map((a) => getTenant(...a)) },
  { weight: 2, arbitrary: fc.tuple(slugArb, tenantIdArb).map((a) => deleteTenant(...a)) },
  { weight: 2, arbitrary: fc.tuple(slugArb, fc.array(fc.record({ id: userIdArb, fields: userFieldsArb }), { minLength: 1, maxLength: 4 })).map((a) => bulkIdentify(...a)) },
  { weight: 2, arbitrary: fc.tuple(slugArb, fc.array(userIdArb, { minLength: 1, maxLength: 4 })).map((a) => bulkDelete(...a)) },
  { weight: 1, arbitrary: fc.tuple(slugArb, fc.nat()).map((a) => getBulkOperation(...a)) },
  { weight: 2, arbitrary: fc.tuple(slugArb, fc.integer({ min: 1, max: 3 }), fc.boolean()).map((a) => listUsers(...a)) },
  { weight: 2, arbitrary: fc.tuple(slugArb, fc.integer({ min: 1, max: 3 })).map((a) => listTenants(...a)) },
);

const recipientArb: fc.Arbitrary<RecipientArg> = fc.oneof({ weight: 3, arbitrary: userIdArb }, { weight: 2, arbitrary: objectIdArb.map(objectRef) });
const recipientsArb = fc.array(recipientArb, { minLength: 1, maxLength: 3 });
const actorArb = fc.option(userIdArb, { nil: null, freq: 2 });
const engagementArb = fc.constantFrom<EngagementAction>('read', 'seen', 'archived', 'unread', 'unseen', 'unarchived');

/** Users, objects and subscriptions with the same ids in all three environments. */
const everywhereArb: fc.Arbitrary<HeraldCommand> = fc.oneof(
  { weight: 3, arbitrary: fc.tuple(userIdArb, userFieldsArb).map(([id, fields]) => inEveryEnvironment(`identify ${id}`, (s) => identifyUser(s, id, fields, null))) },
  { weight: 1, arbitrary: objectIdArb.map((id) => inEveryEnvironment(`set object ${id}`, (s) => setObject(s, id, undefined))) },
  {
    weight: 2,
    arbitrary: fc
      .tuple(objectIdArb, userIdsArb, fc.boolean())
      .map(([id, users, withProperties]) => inEveryEnvironment(`subscribe to ${id}`, (s) => subscribe(s, id, users, withProperties))),
  },
);

/** Everything above, plus triggers and the reads and writes of what they produce. */
const engineCommandArb: fc.Arbitrary<HeraldCommand> = fc.oneof(
  { weight: 2, arbitrary: everywhereArb },
  { weight: 10, arbitrary: commandArb },
  { weight: 2, arbitrary: subscribeArb },
  { weight: 2, arbitrary: setObjectArb },
  { weight: 2, arbitrary: fc.tuple(slugArb, userIdArb, fc.boolean()).map((a) => setWorkflowPreference(...a)) },
  { weight: 8, arbitrary: fc.tuple(slugArb, fc.constantFrom(false, false, false, true), recipientsArb, actorArb).map((a) => trigger(...a)) },
  { weight: 2, arbitrary: fc.tuple(recipientsArb, actorArb).map((a) => triggerEverywhere(...a)) },
  { weight: 2, arbitrary: fc.tuple(slugArb, pageSizeArb, fc.option(fc.nat(), { nil: null })).map((a) => listMessages(...a)) },
  { weight: 2, arbitrary: fc.tuple(slugArb, userIdArb, pageSizeArb).map((a) => listUserMessages(...a)) },
  {
    weight: 3,
    arbitrary: fc
      .tuple(slugArb, userIdArb, pageSizeArb, fc.constantFrom<FeedStatus>('all', 'unread', 'read', 'unseen', 'seen'), fc.constantFrom<FeedArchived>('exclude', 'include', 'only'))
      .map((a) => getFeed(...a)),
  },
  { weight: 2, arbitrary: fc.tuple(slugArb, fc.nat()).map((a) => getMessage(...a)) },
  { weight: 3, arbitrary: fc.tuple(slugArb, fc.nat(), engagementArb).map((a) => markMessage(...a)) },
  { weight: 1, arbitrary: fc.tuple(slugArb, fc.array(fc.nat(), { minLength: 1, maxLength: 4 }), engagementArb).map((a) => batchMark(...a)) },
  { weight: 1, arbitrary: fc.tuple(slugArb, userIdsArb, engagementArb).map((a) => bulkChannel(...a)) },
  { weight: 2, arbitrary: fc.tuple(slugArb, pageSizeArb, fc.option(userIdArb, { nil: null })).map((a) => listRuns(...a)) },
  { weight: 1, arbitrary: fc.tuple(slugArb, fc.nat()).map((a) => getRun(...a)) },
);

// ---------------------------------------------------------------- the test

beforeAll(async () => {
  // Room for the parallel read-backs (three environments at once).
  herald = await startTestHerald({ HERALD_DB_POOL_SIZE: '8' });
  const created = await herald.request('POST', '/mgmt/v1/environments', {
    token: herald.secrets.service_token,
    body: { name: 'Staging', slug: 'staging', insert_after: 'development' },
  });
  expect(created.statusCode, created.body).toBe(201);
  secretKeys.development = herald.secrets.environments.development.secret_key;
  secretKeys.production = herald.secrets.environments.production.secret_key;
  secretKeys.staging = (created.json().api_keys as Array<{ kind: string; key: string }>).find((k) => k.kind === 'secret')!.key;

  // One in-app workflow, committed in development and promoted up to production; one in development only.
  const steps = [{ ref: STEP_REF, type: 'channel', channel_key: 'in-app-feed', template: { markdown_body: FEED_TEMPLATE } }];
  await commitWorkflow(herald, WORKFLOW_KEY, { steps }, 'staging');
  await mgmt(herald, 'PUT', '/commits/promote?to_environment=production');
  await commitWorkflow(herald, DEV_ONLY_WORKFLOW_KEY, { steps });
  const channels = await mgmt(herald, 'GET', '/channels');
  feedChannelId = (channels.entries as Array<{ key: string; id: string }>).find((c) => c.key === 'in-app-feed')!.id;

  owner = new pg.Pool({ connectionString: herald.databaseUrl, max: 4 });
  for (const row of (await owner.query('SELECT id, slug FROM environments')).rows) slugOfEnvironment.set(row.id, row.slug);
  expect([...slugOfEnvironment.values()].sort()).toEqual([...SLUGS].sort());

  real = {
    async call(slug, method, path, body) {
      stats.requests++;
      const response = await herald.request(method, path, { token: secretKeys[slug], body });
      // Every marker names the environment it was written in: no answer may carry another's.
      for (const other of SLUGS) {
        if (other !== slug) expect(response.body.includes(`${other}/`), `[${slug}] ${method} ${path} answered another environment's data: ${response.body}`).toBe(false);
      }
      return { status: response.statusCode, body: response.body ? response.json() : undefined };
    },
  };
});

afterAll(async () => {
  await owner?.end();
  await herald?.close();
});

describe('environment isolation of recipient data (model-based)', () => {
  it(`holds for ${NUM_RUNS} random sequences of up to ${MAX_COMMANDS} data API calls across three environments`, async () => {
    stats = newStats();
    const started = performance.now();
    await fc.assert(
      fc.asyncProperty(fc.array(commandArb, { minLength: 1, maxLength: MAX_COMMANDS }), slugArb, async (commands, finalView) => {
        stats.runs++;
        await resetDatabase();
        const model = emptyModel();
        await fc.asyncModelRun(() => ({ model, real }), commands);
        // The end state: all of it in the database itself, and as one (random) environment's key sees it.
        await Promise.all([
          checkDatabase(model),
          checkList(model, finalView, 'users', 50),
          checkList(model, finalView, 'tenants', 50),
          checkObjectList(model, finalView, 50),
        ]);
      }),
      { numRuns: NUM_RUNS },
    );
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    console.log(`environment isolation: ${stats.runs} sequences, ${stats.commands} commands, ${stats.requests} requests in ${seconds}s`);
    expect(stats.runs).toBeGreaterThanOrEqual(NUM_RUNS);
  }, 120_000);
});

describe('environment isolation of the notification engine (model-based)', () => {
  it(`holds for ${NUM_ENGINE_RUNS} random sequences of up to ${MAX_ENGINE_COMMANDS} calls with triggers, messages, feeds and runs`, async () => {
    stats = newStats();
    const started = performance.now();
    await fc.assert(
      fc.asyncProperty(
        fc.array(everywhereArb, { minLength: 1, maxLength: 4 }),
        fc.array(engineCommandArb, { minLength: 1, maxLength: MAX_ENGINE_COMMANDS }),
        slugArb,
        async (seed, engineCommands, finalView) => {
          stats.runs++;
          await resetDatabase();
          const model = emptyModel();
          await fc.asyncModelRun(() => ({ model, real }), [...seed, ...engineCommands]);
          // The end state: every row in the database, and all one (random) environment's key sees of the engine's work.
          await settle(model);
          await Promise.all([checkDatabase(model), checkEngineViews(model, finalView)]);
        },
      ),
      { numRuns: NUM_ENGINE_RUNS },
    );
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    console.log(
      `engine isolation: ${stats.runs} sequences, ${stats.commands} commands, ${stats.triggers} triggers, ${stats.messages} messages, ${stats.requests} requests in ${seconds}s`,
    );
    expect(stats.runs).toBeGreaterThanOrEqual(NUM_ENGINE_RUNS);
    expect(stats.messages).toBeGreaterThan(0);
  }, 120_000);
});

describe('what one environment can infer about another', () => {
  /**
   * Non-interference: everything development's key observes while listing (entries,
   * order, cursors) must be the same whether or not production was busy meanwhile.
   * Two fresh Heralds run the same development calls; only one also writes to production.
   * (Cursors are compared as strings, so this assumes they are a deterministic function of
   * the environment's own history — true of any per-environment position encoding.)
   */
  it('list cursors are the same whether or not another environment was busy', async () => {
    const [quiet, busy] = await Promise.all([startTestHerald(), startTestHerald()]);
    try {
      const observe = async (instance: TestHerald, otherBusy: boolean) => {
        const dev = instance.secrets.environments.development.secret_key;
        const prod = instance.secrets.environments.production.secret_key;
        const send = async (token: string, method: string, path: string, body?: unknown) => {
          const response = await instance.request(method, path, { token, body });
          expect(response.statusCode, `${method} ${path}: ${response.body}`).toBeLessThan(300);
          return response.statusCode === 204 ? undefined : response.json();
        };
        for (const id of ['p1', 'p2', 'p3']) {
          if (otherBusy) {
            for (let i = 0; i < 5; i++) {
              await send(prod, 'PUT', `/v1/users/${id}-other-${i}`, { name: 'busy' });
              await send(prod, 'PUT', `/v1/tenants/${id}-other-${i}`, { name: 'busy' });
            }
          }
          await send(dev, 'PUT', `/v1/users/${id}`, { name: id });
          await send(dev, 'PUT', `/v1/tenants/${id}`, { name: id });
        }
        const seen: unknown[] = [];
        for (const kind of ['users', 'tenants']) {
          let after: string | null = null;
          do {
            const page: { entries: Array<{ id: string }>; page_info: { after: string | null; before: string | null } } =
              await send(dev, 'GET', `/v1/${kind}?page_size=1${after ? `&after=${enc(after)}` : ''}`);
            seen.push({ kind, ids: page.entries.map((e) => e.id), after: page.page_info.after, before: page.page_info.before });
            after = page.page_info.after;
          } while (after);
        }
        return seen;
      };
      const [whenQuiet, whenBusy] = await Promise.all([observe(quiet, false), observe(busy, true)]);
      expect(whenQuiet.length).toBe(6);
      expect(whenBusy).toEqual(whenQuiet);
    } finally {
      await Promise.all([quiet.close(), busy.close()]);
    }
  });
});
