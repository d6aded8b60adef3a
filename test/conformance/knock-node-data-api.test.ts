/**
 * Conformance: the official `@knocklabs/node` SDK against Herald's data API.
 *
 * Every call goes through the real SDK (only the base URL differs from Knock), so these
 * tests fail when Herald's routes, status codes, pagination or response shapes differ
 * from what the SDK and its TypeScript types expect.
 */
import { randomUUID } from 'node:crypto';
import Knock, { AuthenticationError, NotFoundError, PermissionDeniedError, UnprocessableEntityError } from '@knocklabs/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHerald, type TestHerald } from '../support/herald.ts';
import { knockClients } from '../support/knock-node.ts';

let herald: TestHerald;
/** Development environment: the CRUD tests. */
let knock: Knock;
/** Production environment: the list tests, so their counts are exact. */
let prod: Knock;

beforeAll(async () => {
  herald = await startTestHerald();
  ({ knock, prod } = knockClients(herald));
});
afterAll(async () => herald?.close());

const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
const isoDateTime = () => expect.stringMatching(ISO_DATE_TIME);

/** The standard fields of `Knock.User` that are `string | null` (optional in the type; Herald always sends them). */
const USER_NULLABLE_FIELDS = ['avatar', 'created_at', 'email', 'name', 'phone_number', 'timezone'] as const;

/** Checks a value against the SDK's `User` type: required `id`, `__typename`, `updated_at`; nullable standard fields. */
function expectUserShape(user: Knock.User): void {
  expect(user.__typename).toBe('User');
  expect(typeof user.id).toBe('string');
  expect(user.updated_at).toMatch(ISO_DATE_TIME);
  for (const field of USER_NULLABLE_FIELDS) {
    const value = user[field];
    expect(value === null || value === undefined || typeof value === 'string', `${field} is string | null`).toBe(true);
  }
}

/** Checks a value against the SDK's `BulkOperation` type. */
function expectBulkOperationShape(operation: Knock.BulkOperation): void {
  expect(operation).toMatchObject({
    __typename: 'BulkOperation',
    id: expect.stringMatching(/^[0-9a-f-]{36}$/),
    name: expect.any(String),
    status: expect.stringMatching(/^(queued|processing|completed|failed)$/),
    estimated_total_rows: expect.any(Number),
    processed_rows: expect.any(Number),
    success_count: expect.any(Number),
    inserted_at: isoDateTime(),
    updated_at: isoDateTime(),
  });
}

/** An empty `PreferenceSet` with the given id: every setting null. */
function emptyPreferenceSet(id: string) {
  return { id, workflows: null, categories: null, channel_types: null, channels: null, commercial_subscribed: null };
}

/** Collects every item of an SDK auto-paginated list. */
async function collect<T>(list: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of list) items.push(item);
  return items;
}

describe('users: identify, get, delete', () => {
  it('identifies a user, returning the SDK User shape with nulls for unset standard fields', async () => {
    const user = await knock.users.update('user-1', { name: 'Ian Malcolm', email: 'ian@chaos.theory', favourite: 'chaos' });
    expectUserShape(user);
    expect(user).toMatchObject({
      __typename: 'User',
      id: 'user-1',
      name: 'Ian Malcolm',
      email: 'ian@chaos.theory',
      favourite: 'chaos',
      phone_number: null,
      avatar: null,
      timezone: null,
      created_at: null,
    });
    // Never leaked into the user object: inline channel data / preferences are separate resources.
    expect(user).not.toHaveProperty('channel_data');
  });

  it('merges properties on re-identify (given keys win, others are kept) and get returns the merged user', async () => {
    await knock.users.update('user-2', { name: 'Ellie Sattler', email: 'ellie@park.test', plan: 'free', timezone: 'America/New_York' });
    const updated = await knock.users.update('user-2', { phone_number: '+15555550100', plan: 'pro', created_at: '2024-01-02T03:04:05Z' });
    expect(updated).toMatchObject({
      name: 'Ellie Sattler',
      email: 'ellie@park.test',
      phone_number: '+15555550100',
      plan: 'pro',
      timezone: 'America/New_York',
      created_at: '2024-01-02T03:04:05Z',
    });
    const fetched = await knock.users.get('user-2');
    expectUserShape(fetched);
    expect(fetched).toEqual(updated);
  });

  it('deep-merges nested custom properties on re-identify (Knock: "Knock will perform a deep merge")', async () => {
    await knock.users.update('user-deep', { address: { city: 'Austin', street: '1 Main St' } });
    const user = await knock.users.update('user-deep', { address: { zip: '78701' } });
    expect(user.address).toEqual({ city: 'Austin', street: '1 Main St', zip: '78701' });
  });

  it('stores inline channel_data and preferences given to identify', async () => {
    const channelId = randomUUID();
    const user = await knock.users.update('user-inline', {
      name: 'Alan Grant',
      channel_data: { [channelId]: { tokens: ['push-token-1'] } },
      preferences: { default: { workflows: { 'dino-alert': false }, channel_types: { email: true } } },
    });
    expect(user).toMatchObject({ id: 'user-inline', name: 'Alan Grant' });
    expect(user).not.toHaveProperty('channel_data');
    expect(user).not.toHaveProperty('preferences');

    const channelData = await knock.users.getChannelData('user-inline', channelId);
    expect(channelData).toMatchObject({ __typename: 'ChannelData', channel_id: channelId, data: { tokens: ['push-token-1'] } });

    const preferences = await knock.users.getPreferences('user-inline', 'default');
    expect(preferences).toEqual({
      __typename: 'PreferenceSet',
      ...emptyPreferenceSet('default'),
      workflows: { 'dino-alert': false },
      channel_types: { email: true },
    });
  });

  it('deletes a user: get and delete then answer 404 as the SDK NotFoundError', async () => {
    await knock.users.update('user-gone', { name: 'Gennaro' });
    await expect(knock.users.delete('user-gone')).resolves.toBeNull();
    const error = await knock.users.get('user-gone').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NotFoundError);
    expect(error).toMatchObject({ status: 404, error: { status: 404 } });
    await expect(knock.users.delete('user-gone')).rejects.toBeInstanceOf(NotFoundError);
  });

  it('keeps environments apart: a development user is not found with the production key', async () => {
    await knock.users.update('user-dev-only', { name: 'Only in development' });
    await expect(prod.users.get('user-dev-only')).rejects.toMatchObject({ status: 404 });
  });
});

describe('users: list and auto-pagination', () => {
  it('iterates every user across pages with the SDK auto-pagination (default page size 50)', async () => {
    const ids = Array.from({ length: 55 }, (_, i) => `list-user-${String(i).padStart(3, '0')}`);
    const operation = await prod.users.bulk.identify({ users: ids.map((id, i) => ({ id, name: `User ${i}` })) });
    expect(operation).toMatchObject({ status: 'completed', success_count: 55 });

    const firstPage = await prod.users.list();
    expect(firstPage.entries).toHaveLength(50);
    expect(firstPage.page_info).toMatchObject({ __typename: 'PageInfo', page_size: 50, before: null, after: expect.any(String) });
    expect(firstPage.hasNextPage()).toBe(true);

    const all = await collect(prod.users.list());
    expect(all.map((u) => u.id)).toEqual(ids);
    all.forEach(expectUserShape);
    expect(all[7]).toMatchObject({ id: ids[7], name: 'User 7' });
  });

  it('honours page_size and walks every page with iterPages()', async () => {
    const first = await prod.users.list({ page_size: 20 });
    const sizes: number[] = [];
    const seen: string[] = [];
    for await (const page of first.iterPages()) {
      sizes.push(page.entries.length);
      seen.push(...page.entries.map((u) => u.id));
      expect(page.page_info).toMatchObject({ page_size: 20 });
    }
    expect(sizes).toEqual([20, 20, 15]);
    expect(new Set(seen).size).toBe(55);
  });

  it('includes each user\'s default preference set with include: ["preferences"]', async () => {
    await prod.users.setPreferences('list-user-003', 'default', { workflows: { digest: false } });
    const all = await collect(prod.users.list({ include: ['preferences'], page_size: 25 }));
    expect(all).toHaveLength(55);
    const withPrefs = all.find((u) => u.id === 'list-user-003');
    expect(withPrefs?.preferences).toMatchObject({ id: 'default', workflows: { digest: false } });
    const without = all.find((u) => u.id === 'list-user-004');
    expect(without?.preferences).toMatchObject(emptyPreferenceSet('default'));
  });

  it('does not include preferences unless asked', async () => {
    const page = await prod.users.list({ page_size: 5 });
    for (const user of page.entries) expect(user).not.toHaveProperty('preferences');
  });
});

describe('users: bulk identify, bulk delete, bulk operations', () => {
  it('bulk-identifies users (with inline channel data and preferences) and returns a completed BulkOperation', async () => {
    const channelId = randomUUID();
    const operation = await knock.users.bulk.identify({
      users: [
        { id: 'bulk-1', name: 'Bulk One', email: 'one@bulk.test' },
        { id: 'bulk-2', name: 'Bulk Two', tier: 'gold', channel_data: { [channelId]: { tokens: ['bulk-token'] } } },
        { id: 'bulk-3', name: 'Bulk Three', preferences: { default: { categories: { marketing: false } } } },
      ],
    });
    expectBulkOperationShape(operation);
    expect(operation).toMatchObject({
      status: 'completed',
      estimated_total_rows: 3,
      processed_rows: 3,
      success_count: 3,
      error_count: 0,
      error_items: [],
    });

    expect(await knock.users.get('bulk-1')).toMatchObject({ name: 'Bulk One', email: 'one@bulk.test' });
    expect(await knock.users.get('bulk-2')).toMatchObject({ name: 'Bulk Two', tier: 'gold' });
    expect(await knock.users.getChannelData('bulk-2', channelId)).toMatchObject({ data: { tokens: ['bulk-token'] } });
    expect(await knock.users.getPreferences('bulk-3', 'default')).toMatchObject({ categories: { marketing: false } });

    const fetched = await knock.bulkOperations.get(operation.id);
    expectBulkOperationShape(fetched);
    expect(fetched).toEqual(operation);
  });

  it('bulk-deletes users and returns a BulkOperation that bulkOperations.get finds', async () => {
    await knock.users.bulk.identify({ users: [{ id: 'del-1' }, { id: 'del-2' }, { id: 'del-keep' }] });
    const operation = await knock.users.bulk.delete({ user_ids: ['del-1', 'del-2'] });
    expectBulkOperationShape(operation);
    expect(operation).toMatchObject({ status: 'completed', estimated_total_rows: 2, success_count: 2, error_count: 0 });

    await expect(knock.users.get('del-1')).rejects.toBeInstanceOf(NotFoundError);
    await expect(knock.users.get('del-2')).rejects.toBeInstanceOf(NotFoundError);
    expect(await knock.users.get('del-keep')).toMatchObject({ id: 'del-keep' });

    const fetched = await knock.bulkOperations.get(operation.id);
    expect(fetched).toMatchObject({ id: operation.id, status: 'completed', success_count: 2 });
  });

  it('answers 404 for an unknown bulk operation', async () => {
    await expect(knock.bulkOperations.get(randomUUID())).rejects.toMatchObject({ status: 404 });
  });

  it('rejects an empty or invalid bulk identify with 422', async () => {
    await expect(knock.users.bulk.identify({ users: [] })).rejects.toBeInstanceOf(UnprocessableEntityError);
    const missingId = { users: [{ name: 'No id' }] } as unknown as Knock.Users.BulkIdentifyParams;
    await expect(knock.users.bulk.identify(missingId)).rejects.toMatchObject({ status: 422 });
    // Atomic: nothing from a rejected batch is stored.
    const partlyInvalid = { users: [{ id: 'bulk-atomic-ok' }, { id: 'bulk-atomic-bad', email: { not: 'a string' } }] } as unknown as Knock.Users.BulkIdentifyParams;
    await expect(knock.users.bulk.identify(partlyInvalid)).rejects.toMatchObject({ status: 422 });
    await expect(knock.users.get('bulk-atomic-ok')).rejects.toBeInstanceOf(NotFoundError);
  });
});

describe('users: merge', () => {
  it('merges from_user_id into the user: primary wins conflicts, gains missing properties, sets and channel data; source is deleted', async () => {
    const sharedChannel = randomUUID();
    const sourceOnlyChannel = randomUUID();
    await knock.users.update('merge-primary', { name: 'Primary', email: 'primary@merge.test', plan: 'pro' });
    await knock.users.setChannelData('merge-primary', sharedChannel, { data: { tokens: ['primary-token'] } });
    await knock.users.update('merge-secondary', { name: 'Secondary', phone_number: '+15555550111', legacy: true });
    await knock.users.setChannelData('merge-secondary', sharedChannel, { data: { tokens: ['secondary-token'] } });
    await knock.users.setChannelData('merge-secondary', sourceOnlyChannel, { data: { player_ids: ['player-1'] } });
    await knock.users.setPreferences('merge-secondary', 'default', { channel_types: { sms: false } });

    const merged = await knock.users.merge('merge-primary', { from_user_id: 'merge-secondary' });
    expectUserShape(merged);
    expect(merged).toMatchObject({
      id: 'merge-primary',
      name: 'Primary',
      email: 'primary@merge.test',
      plan: 'pro',
      phone_number: '+15555550111',
      legacy: true,
    });
    expect(await knock.users.get('merge-primary')).toMatchObject({ name: 'Primary', legacy: true });
    await expect(knock.users.get('merge-secondary')).rejects.toBeInstanceOf(NotFoundError);

    expect((await knock.users.getChannelData('merge-primary', sharedChannel)).data).toEqual({ tokens: ['primary-token'], devices: [] });
    expect((await knock.users.getChannelData('merge-primary', sourceOnlyChannel)).data).toEqual({ player_ids: ['player-1'] });
    expect(await knock.users.getPreferences('merge-primary', 'default')).toMatchObject({ channel_types: { sms: false } });
  });

  it('deep-merges nested properties, the primary winning conflicts (Knock: "Properties are deep merged")', async () => {
    await knock.users.update('deep-primary', { address: { city: 'Austin' } });
    await knock.users.update('deep-secondary', { address: { city: 'Dallas', zip: '75201' } });
    const merged = await knock.users.merge('deep-primary', { from_user_id: 'deep-secondary' });
    expect(merged.address).toEqual({ city: 'Austin', zip: '75201' });
  });

  it('answers 404 when either user is missing', async () => {
    await knock.users.update('merge-lonely', { name: 'Lonely' });
    await expect(knock.users.merge('merge-lonely', { from_user_id: 'merge-nobody' })).rejects.toBeInstanceOf(NotFoundError);
    await expect(knock.users.merge('merge-nobody', { from_user_id: 'merge-lonely' })).rejects.toBeInstanceOf(NotFoundError);
    expect(await knock.users.get('merge-lonely')).toMatchObject({ name: 'Lonely' });
  });
});

describe('users: preferences', () => {
  it('gets an empty default set for a user without preferences, and lists no sets', async () => {
    await knock.users.update('prefs-empty', { name: 'No prefs' });
    expect(await knock.users.getPreferences('prefs-empty', 'default')).toMatchObject(emptyPreferenceSet('default'));
    expect(await knock.users.listPreferences('prefs-empty')).toEqual([]);
  });

  it('replaces the whole set by default on setPreferences', async () => {
    await knock.users.update('prefs-user', { name: 'Prefs' });
    const first = await knock.users.setPreferences('prefs-user', 'default', {
      workflows: { 'new-comment': false, digest: { channel_types: { email: false } } },
      channel_types: { email: true, sms: false },
      commercial_subscribed: true,
    });
    expect(first).toEqual({
      __typename: 'PreferenceSet',
      ...emptyPreferenceSet('default'),
      workflows: { 'new-comment': false, digest: { channel_types: { email: false } } },
      channel_types: { email: true, sms: false },
      commercial_subscribed: true,
    });

    const replaced = await knock.users.setPreferences('prefs-user', 'default', { categories: { marketing: false } });
    expect(replaced).toMatchObject({ ...emptyPreferenceSet('default'), categories: { marketing: false } });
    expect(await knock.users.getPreferences('prefs-user', 'default')).toEqual(replaced);
  });

  it('merges into the stored set with __persistence_strategy__: "merge"', async () => {
    await knock.users.update('prefs-merge', { name: 'Merge prefs' });
    await knock.users.setPreferences('prefs-merge', 'default', {
      workflows: { 'new-comment': false },
      categories: { marketing: false },
      channel_types: { email: true },
    });
    const merged = await knock.users.setPreferences('prefs-merge', 'default', {
      __persistence_strategy__: 'merge',
      workflows: { digest: true },
      channel_types: { push: false },
    });
    expect(merged).toMatchObject({
      id: 'default',
      workflows: { 'new-comment': false, digest: true },
      categories: { marketing: false },
      channel_types: { email: true, push: false },
    });
    expect(await knock.users.getPreferences('prefs-merge', 'default')).toEqual(merged);
  });

  it('keeps conditions and per-channel settings intact', async () => {
    await knock.users.update('prefs-conditions', { name: 'Conditions' });
    const channelId = randomUUID();
    const set = await knock.users.setPreferences('prefs-conditions', 'default', {
      channel_types: { sms: { conditions: [{ variable: 'recipient.country_code', operator: 'equal_to', argument: 'US' }] } },
      channels: { [channelId]: false },
    });
    expect(set).toMatchObject({
      channel_types: { sms: { conditions: [{ variable: 'recipient.country_code', operator: 'equal_to', argument: 'US' }] } },
      channels: { [channelId]: false },
    });
  });

  it('lists every set (default and per-tenant) and deletes one with unsetPreferences', async () => {
    await knock.users.update('prefs-sets', { name: 'Sets' });
    await knock.users.setPreferences('prefs-sets', 'default', { channel_types: { email: false } });
    await knock.users.setPreferences('prefs-sets', 'tenant-acme', { workflows: { onboarding: false } });

    const sets = await knock.users.listPreferences('prefs-sets');
    expect(sets).toHaveLength(2);
    expect(sets.map((s) => s.id).sort()).toEqual(['default', 'tenant-acme']);
    expect(sets.find((s) => s.id === 'tenant-acme')).toMatchObject({ workflows: { onboarding: false } });

    await expect(knock.users.unsetPreferences('prefs-sets', 'tenant-acme')).resolves.toBeNull();
    expect((await knock.users.listPreferences('prefs-sets')).map((s) => s.id)).toEqual(['default']);
    expect(await knock.users.getPreferences('prefs-sets', 'tenant-acme')).toMatchObject(emptyPreferenceSet('tenant-acme'));
  });

  it('answers 404 for the preferences of an unknown user', async () => {
    await expect(knock.users.listPreferences('prefs-nobody')).rejects.toBeInstanceOf(NotFoundError);
    await expect(knock.users.getPreferences('prefs-nobody', 'default')).rejects.toBeInstanceOf(NotFoundError);
  });

  it('rejects invalid preference sets with 422', async () => {
    await knock.users.update('prefs-invalid', { name: 'Invalid' });
    const badChannelType = { channel_types: { fax: true } } as unknown as Knock.Users.UserSetPreferencesParams;
    await expect(knock.users.setPreferences('prefs-invalid', 'default', badChannelType)).rejects.toBeInstanceOf(UnprocessableEntityError);
    const badSetting = { workflows: { digest: 'yes' } } as unknown as Knock.Users.UserSetPreferencesParams;
    await expect(knock.users.setPreferences('prefs-invalid', 'default', badSetting)).rejects.toMatchObject({ status: 422 });
    const badStrategy = { __persistence_strategy__: 'append' } as unknown as Knock.Users.UserSetPreferencesParams;
    await expect(knock.users.setPreferences('prefs-invalid', 'default', badStrategy)).rejects.toMatchObject({ status: 422 });
    expect(await knock.users.listPreferences('prefs-invalid')).toEqual([]);
  });
});

describe('users: channel data', () => {
  it('sets, gets, replaces and unsets channel data', async () => {
    const channelId = randomUUID();
    await knock.users.update('cd-user', { name: 'Channel data' });

    const set = await knock.users.setChannelData('cd-user', channelId, { data: { tokens: ['token-a', 'token-b'] } });
    expect(set).toMatchObject({ __typename: 'ChannelData', channel_id: channelId, data: { tokens: ['token-a', 'token-b'] } });
    expect(await knock.users.getChannelData('cd-user', channelId)).toMatchObject({ channel_id: channelId, data: { tokens: ['token-a', 'token-b'] } });

    const replaced = await knock.users.setChannelData('cd-user', channelId, {
      data: { connections: [{ incoming_webhook: { url: 'https://hooks.slack.test/abc' } }] },
    });
    expect(replaced.data).toEqual({ connections: [{ incoming_webhook: { url: 'https://hooks.slack.test/abc' } }] });
    expect((await knock.users.getChannelData('cd-user', channelId)).data).toEqual(replaced.data);

    await expect(knock.users.unsetChannelData('cd-user', channelId)).resolves.toBeNull();
    const error = await knock.users.getChannelData('cd-user', channelId).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NotFoundError);
    expect(error).toMatchObject({ status: 404 });
  });

  it('returns push data in the SDK PushChannelDataFull shape (tokens and devices both present)', async () => {
    const channelId = randomUUID();
    await knock.users.update('cd-push', { name: 'Push' });
    const set = await knock.users.setChannelData('cd-push', channelId, { data: { tokens: ['only-token'] } });
    // The spec's ChannelData.data for push is PushChannelDataFull, which requires `tokens` and `devices`.
    expect(set.data).toMatchObject({ tokens: ['only-token'], devices: expect.any(Array) });
    expect((await knock.users.getChannelData('cd-push', channelId)).data).toMatchObject({ tokens: ['only-token'], devices: expect.any(Array) });
  });

  it('creates the user when setting channel data for an unknown user (Knock: "Knock will create the user entry")', async () => {
    const channelId = randomUUID();
    const set = await knock.users.setChannelData('cd-new-user', channelId, { data: { player_ids: ['p-1'] } });
    expect(set).toMatchObject({ channel_id: channelId, data: { player_ids: ['p-1'] } });
    expect(await knock.users.get('cd-new-user')).toMatchObject({ id: 'cd-new-user' });
  });

  it('answers 404 for unset channel data and for unsetting it', async () => {
    await knock.users.update('cd-none', { name: 'None' });
    await expect(knock.users.getChannelData('cd-none', randomUUID())).rejects.toBeInstanceOf(NotFoundError);
    await expect(knock.users.unsetChannelData('cd-none', randomUUID())).rejects.toMatchObject({ status: 404 });
  });

  it('rejects invalid channel data with 422', async () => {
    await knock.users.update('cd-invalid', { name: 'Invalid' });
    const bad = { data: { tokens: [{ not: 'a string' }] } } as unknown as Knock.Users.UserSetChannelDataParams;
    await expect(knock.users.setChannelData('cd-invalid', randomUUID(), bad)).rejects.toBeInstanceOf(UnprocessableEntityError);
    const missing = {} as unknown as Knock.Users.UserSetChannelDataParams;
    await expect(knock.users.setChannelData('cd-invalid', randomUUID(), missing)).rejects.toMatchObject({ status: 422 });
    await expect(knock.users.setChannelData('cd-invalid', 'not-a-uuid', { data: { tokens: ['t'] } })).rejects.toMatchObject({ status: 422 });
  });
});

describe('tenants', () => {
  it('sets a tenant and returns the SDK Tenant shape with settings', async () => {
    const tenant = await knock.tenants.set('tenant-jp', {
      name: 'Jurassic Park',
      region: 'isla-nublar',
      settings: {
        branding: { primary_color: '#DF1A22', logo_url: 'https://example.com/logo.png' },
        preference_set: { workflows: { 'park-alert': { channel_types: { email: true } } } },
      },
    });
    expect(tenant).toMatchObject({
      __typename: 'Tenant',
      id: 'tenant-jp',
      name: 'Jurassic Park',
      region: 'isla-nublar',
      settings: {
        branding: { primary_color: '#DF1A22', logo_url: 'https://example.com/logo.png' },
        preference_set: { id: 'default', workflows: { 'park-alert': { channel_types: { email: true } } } },
      },
    });
    expect(await knock.tenants.get('tenant-jp')).toEqual(tenant);
  });

  it('merges properties on a later set and keeps settings not given', async () => {
    await knock.tenants.set('tenant-merge', { name: 'Before', plan: 'free', settings: { branding: { primary_color: '#000000' } } });
    const updated = await knock.tenants.set('tenant-merge', { plan: 'enterprise', seats: 10 });
    expect(updated).toMatchObject({
      id: 'tenant-merge',
      name: 'Before',
      plan: 'enterprise',
      seats: 10,
      settings: { branding: { primary_color: '#000000' } },
    });
  });

  it('returns null name and null settings parts for a bare tenant', async () => {
    const tenant = await knock.tenants.set('tenant-bare', {});
    expect(tenant).toMatchObject({ __typename: 'Tenant', id: 'tenant-bare', name: null });
    expect(tenant.settings?.branding ?? null).toBeNull();
    expect(tenant.settings?.preference_set ?? null).toBeNull();
  });

  it('gets with resolve_full_preference_settings accepted', async () => {
    await knock.tenants.set('tenant-resolve', { name: 'Resolve' });
    expect(await knock.tenants.get('tenant-resolve', { resolve_full_preference_settings: true })).toMatchObject({ id: 'tenant-resolve', name: 'Resolve' });
  });

  it('deletes a tenant: get and delete then answer 404', async () => {
    await knock.tenants.set('tenant-gone', { name: 'Gone' });
    await expect(knock.tenants.delete('tenant-gone')).resolves.toBeNull();
    await expect(knock.tenants.get('tenant-gone')).rejects.toBeInstanceOf(NotFoundError);
    await expect(knock.tenants.delete('tenant-gone')).rejects.toMatchObject({ status: 404 });
  });

  it('rejects invalid tenants with 422', async () => {
    const badName = { name: { first: 'Not', last: 'A string' } } as unknown as Knock.Tenants.TenantSetParams;
    await expect(knock.tenants.set('tenant-invalid', badName)).rejects.toBeInstanceOf(UnprocessableEntityError);
    const badPrefs = { settings: { preference_set: { channel_types: { fax: true } } } } as unknown as Knock.Tenants.TenantSetParams;
    await expect(knock.tenants.set('tenant-invalid', badPrefs)).rejects.toMatchObject({ status: 422 });
    await expect(knock.tenants.get('tenant-invalid')).rejects.toBeInstanceOf(NotFoundError);
  });

  it('lists tenants with auto-pagination and the tenant_id and name filters', async () => {
    const ids = Array.from({ length: 12 }, (_, i) => `list-tenant-${String(i).padStart(2, '0')}`);
    for (const [i, id] of ids.entries()) await prod.tenants.set(id, { name: i === 5 ? 'Globex Corporation' : `Tenant ${i}` });

    const firstPage = await prod.tenants.list({ page_size: 5 });
    expect(firstPage.entries).toHaveLength(5);
    expect(firstPage.page_info).toMatchObject({ __typename: 'PageInfo', page_size: 5, after: expect.any(String) });

    const all = await collect(prod.tenants.list({ page_size: 5 }));
    expect(all.map((t) => t.id)).toEqual(ids);
    for (const tenant of all) expect(tenant).toMatchObject({ __typename: 'Tenant', id: expect.any(String), name: expect.any(String) });

    const byId = await collect(prod.tenants.list({ tenant_id: 'list-tenant-07' }));
    expect(byId.map((t) => t.id)).toEqual(['list-tenant-07']);

    const byName = await collect(prod.tenants.list({ name: 'Globex Corporation' }));
    expect(byName.map((t) => t.id)).toEqual(['list-tenant-05']);

    expect(await collect(prod.tenants.list({ tenant_id: 'no-such-tenant' }))).toEqual([]);
  });
});

describe('authentication and validation errors', () => {
  it('refuses a public key on secret-key routes with 403 (PermissionDeniedError)', async () => {
    const publicKnock = new Knock({ apiKey: herald.secrets.environments.development.public_key, baseURL: herald.url, maxRetries: 0 });
    await knock.users.update('auth-user', { name: 'Auth' });
    const error = await publicKnock.users.get('auth-user').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PermissionDeniedError);
    expect(error).toMatchObject({ status: 403 });
    await expect(publicKnock.users.update('auth-user', { name: 'Hijacked' })).rejects.toMatchObject({ status: 403 });
    await expect(publicKnock.users.list().then((p) => p.entries)).rejects.toMatchObject({ status: 403 });
    await expect(publicKnock.users.setPreferences('auth-user', 'default', { workflows: { a: false } })).rejects.toMatchObject({ status: 403 });
    await expect(publicKnock.users.setChannelData('auth-user', randomUUID(), { data: { tokens: ['t'] } })).rejects.toMatchObject({ status: 403 });
    await expect(publicKnock.tenants.set('auth-tenant', { name: 'Nope' })).rejects.toMatchObject({ status: 403 });
    await expect(publicKnock.tenants.list().then((p) => p.entries)).rejects.toMatchObject({ status: 403 });
    expect(await knock.users.get('auth-user')).toMatchObject({ name: 'Auth' });
  });

  it('refuses an unknown key with 401 (AuthenticationError)', async () => {
    const badKnock = new Knock({ apiKey: 'sk_test_this_is_not_a_key', baseURL: herald.url, maxRetries: 0 });
    const error = await badKnock.users.get('anyone').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AuthenticationError);
    expect(error).toMatchObject({ status: 401 });
    await expect(badKnock.tenants.list().then((p) => p.entries)).rejects.toMatchObject({ status: 401 });
  });

  it('rejects invalid identify bodies with 422 (UnprocessableEntityError) in Knock\'s error shape', async () => {
    const error = await knock.users.update('invalid-user', { email: ['not', 'a', 'string'] as unknown as string }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnprocessableEntityError);
    expect(error).toMatchObject({ status: 422, error: { status: 422, code: expect.any(String), message: expect.any(String), type: expect.any(String) } });
    await expect(knock.users.update('invalid-user', { timezone: 'Mars/Olympus_Mons' })).rejects.toMatchObject({ status: 422 });
    await expect(knock.users.update('invalid-user', { preferences: { default: { channel_types: { fax: true } } } as never })).rejects.toMatchObject({ status: 422 });
    await expect(knock.users.get('invalid-user')).rejects.toBeInstanceOf(NotFoundError);
    const noFrom = {} as unknown as Knock.Users.UserMergeParams;
    await expect(knock.users.merge('auth-user', noFrom)).rejects.toMatchObject({ status: 422 });
  });
});

describe('JSON body types are taken as sent (no coercion)', () => {
  it('overwrites a user property with null when identify sends null (not the empty string)', async () => {
    await knock.users.update('user-null', { name: 'Dennis', email: 'dennis@nedry.test', phone_number: '+15555550123' });
    const user = await knock.users.update('user-null', { email: null, phone_number: null });
    expect(user).toMatchObject({ name: 'Dennis', email: null, phone_number: null });
    expect(await knock.users.get('user-null')).toMatchObject({ email: null, phone_number: null });
  });

  it('clears a tenant name with null', async () => {
    await knock.tenants.set('tenant-null', { name: 'Named' });
    expect(await knock.tenants.set('tenant-null', { name: null })).toMatchObject({ name: null });
    expect(await knock.tenants.get('tenant-null')).toMatchObject({ name: null });
  });

  it('stores commercial_subscribed: null as null (not false)', async () => {
    await knock.users.update('prefs-null', { name: 'Null prefs' });
    const set = await knock.users.setPreferences('prefs-null', 'default', { commercial_subscribed: null, channel_types: { email: true } });
    expect(set).toMatchObject({ commercial_subscribed: null, channel_types: { email: true } });
  });

  it('rejects scalars of the wrong type with 422 instead of converting them', async () => {
    await expect(knock.users.update('coerce-user', { email: 42 as unknown as string })).rejects.toMatchObject({ status: 422 });
    await expect(knock.users.get('coerce-user')).rejects.toBeInstanceOf(NotFoundError);
    await knock.users.update('coerce-cd', { name: 'Coerce' });
    const stringTokens = { data: { tokens: 'not-an-array' } } as unknown as Knock.Users.UserSetChannelDataParams;
    await expect(knock.users.setChannelData('coerce-cd', randomUUID(), stringTokens)).rejects.toMatchObject({ status: 422 });
    const numericName = { name: 123 } as unknown as Knock.Tenants.TenantSetParams;
    await expect(knock.tenants.set('coerce-tenant', numericName)).rejects.toMatchObject({ status: 422 });
  });
});
