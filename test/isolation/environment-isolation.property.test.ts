/**
 * "Data is per environment and never crosses" (environments.md §1), as a model-based
 * property: random short sequences of data API calls across three environments
 * (development, a created `staging`, production) that reuse the SAME user and tenant ids.
 *
 * A reference model per environment predicts every response. After each command the
 * response must match the model of the key's environment; what a write touched is then
 * read back in the other environments (so a write that lands in, or is visible from,
 * another environment fails); and after each sequence the whole database (read as
 * superuser: every row, its environment and content) and one random environment's
 * lists must equal the model exactly.
 *
 * Each write carries a marker unique to the whole test, so anything that crosses
 * environments cannot be mistaken for a legitimate value.
 */
import fc from 'fast-check';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHerald, type TestHerald } from '../support/herald.ts';

const SLUGS = ['development', 'staging', 'production'] as const;
type Slug = (typeof SLUGS)[number];

/** Small pools so that environments keep colliding on the same ids. */
const USER_IDS = ['u1', 'u2', 'ada@example.com'] as const;
const TENANT_IDS = ['t1', 't2'] as const;
const CHANNELS = ['5a4b8d5e-0f52-4b7c-9a84-4d9e7b3c2a10', '9c1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6'] as const;

const NUM_RUNS = 1000;
const MAX_COMMANDS = 8;

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
  name: 'users.identify' | 'users.delete';
  total: number;
  errorIds: string[];
}

interface EnvModel {
  /** Insertion order = list order (an upsert keeps its place; delete + create goes last). */
  users: Map<string, UserState>;
  tenants: Map<string, TenantState>;
}

interface Model {
  envs: Record<Slug, EnvModel>;
  bulkOperations: Map<string, BulkOperationState>;
}

function emptyModel(): Model {
  const envs = {} as Record<Slug, EnvModel>;
  for (const slug of SLUGS) envs[slug] = { users: new Map(), tenants: new Map() };
  return { envs, bulkOperations: new Map() };
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
let owner: pg.Client;
let real: Real;
const secretKeys = {} as Record<Slug, string>;
const slugOfEnvironment = new Map<string, Slug>();
const stats = { runs: 0, commands: 0, requests: 0 };
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
}

/** Between sequences: a clean slate in every environment (as superuser, so nothing is missed). */
async function resetDatabase() {
  await owner.query(`
    DELETE FROM user_channel_data; DELETE FROM user_preference_sets; DELETE FROM users;
    DELETE FROM tenants; DELETE FROM bulk_operations;
  `);
}

// ---------------------------------------------------------------- commands

type HeraldCommand = fc.AsyncCommand<Model, Real>;

/** A command: `apply` performs one call and checks it against the model (which it updates). */
function command(label: string, apply: (model: Model) => Promise<void>, check: (model: Readonly<Model>) => boolean = () => true): HeraldCommand {
  return {
    check,
    async run(model) {
      stats.commands++;
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
    if (model.envs[slug].users.delete(id)) expectOk(response, 204, context);
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
    for (const id of unique) users.delete(id);
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

const commandArb: fc.Arbitrary<HeraldCommand> = fc.oneof(
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

  owner = new pg.Client({ connectionString: herald.databaseUrl });
  await owner.connect();
  for (const row of (await owner.query('SELECT id, slug FROM environments')).rows) slugOfEnvironment.set(row.id, row.slug);
  expect([...slugOfEnvironment.values()].sort()).toEqual([...SLUGS].sort());

  real = {
    async call(slug, method, path, body) {
      stats.requests++;
      const response = await herald.request(method, path, { token: secretKeys[slug], body });
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
    const started = performance.now();
    await fc.assert(
      fc.asyncProperty(fc.array(commandArb, { minLength: 1, maxLength: MAX_COMMANDS }), slugArb, async (commands, finalView) => {
        stats.runs++;
        await resetDatabase();
        const model = emptyModel();
        await fc.asyncModelRun(() => ({ model, real }), commands);
        // The end state: all of it in the database itself, and as one (random) environment's key sees it.
        await Promise.all([checkDatabase(model), checkList(model, finalView, 'users', 50), checkList(model, finalView, 'tenants', 50)]);
      }),
      { numRuns: NUM_RUNS },
    );
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    console.log(`environment isolation: ${stats.runs} sequences, ${stats.commands} commands, ${stats.requests} requests in ${seconds}s`);
    expect(stats.runs).toBeGreaterThanOrEqual(NUM_RUNS);
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
