/**
 * Conformance: the official `@knocklabs/node` SDK against Herald's objects and
 * subscriptions routes. Only the base URL differs from Knock, so a difference in routes,
 * status codes, pagination or shapes from what the SDK (and its types) expects fails here.
 */
import Knock, { NotFoundError, UnprocessableEntityError } from '@knocklabs/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHerald, type TestHerald } from '../support/herald.ts';
import { knockClients } from '../support/knock-node.ts';

let herald: TestHerald;
let knock: Knock;
let prod: Knock;

beforeAll(async () => {
  herald = await startTestHerald();
  ({ knock, prod } = knockClients(herald));
});
afterAll(async () => herald?.close());

const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/** Checks a value against the SDK's `Object` type. */
function expectObjectShape(object: Knock.Object): void {
  expect(object.__typename).toBe('Object');
  expect(typeof object.id).toBe('string');
  expect(typeof object.collection).toBe('string');
  expect(object.updated_at).toMatch(ISO_DATE_TIME);
  expect(object.created_at === null || typeof object.created_at === 'string').toBe(true);
  expect(typeof object.properties).toBe('object');
}

/** Checks a value against the SDK's `Subscription` type. */
function expectSubscriptionShape(subscription: Knock.Recipients.Subscription): void {
  expect(subscription.__typename).toBe('Subscription');
  expectObjectShape(subscription.object);
  expect(subscription.inserted_at).toMatch(ISO_DATE_TIME);
  expect(subscription.updated_at).toMatch(ISO_DATE_TIME);
  expect(['User', 'Object']).toContain(subscription.recipient.__typename);
  expect(subscription.properties === null || typeof subscription.properties === 'object').toBe(true);
}

async function collect<T>(list: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of list) items.push(item);
  return items;
}

describe('objects: set, get, delete, list', () => {
  it('sets an object (deep merge on a later set) and gets it back', async () => {
    const first = await knock.objects.set('projects', 'project-1', { name: 'Isla Nublar', config: { fences: 'on', gates: 2 } });
    expectObjectShape(first);
    expect(first).toMatchObject({ id: 'project-1', collection: 'projects', properties: { name: 'Isla Nublar', config: { fences: 'on', gates: 2 } } });

    const second = await knock.objects.set('projects', 'project-1', { config: { fences: 'off' }, locale: 'en-US' });
    expect(second.properties).toEqual({ name: 'Isla Nublar', config: { fences: 'off', gates: 2 }, locale: 'en-US' });
    expect(await knock.objects.get('projects', 'project-1')).toEqual(second);
  });

  it('deletes an object; get then raises NotFoundError', async () => {
    await knock.objects.set('projects', 'project-gone', { name: 'Sorna' });
    await expect(knock.objects.delete('projects', 'project-gone')).resolves.toBeNull();
    await expect(knock.objects.get('projects', 'project-gone')).rejects.toBeInstanceOf(NotFoundError);
    await expect(knock.objects.delete('projects', 'project-gone')).rejects.toBeInstanceOf(NotFoundError);
  });

  it('raises UnprocessableEntityError for a reserved collection', async () => {
    await expect(knock.objects.set('$users', 'u', { name: 'x' })).rejects.toBeInstanceOf(UnprocessableEntityError);
  });

  it('keeps environments apart', async () => {
    await knock.objects.set('projects', 'dev-only', { name: 'dev' });
    await expect(prod.objects.get('projects', 'dev-only')).rejects.toBeInstanceOf(NotFoundError);
  });

  it('lists a collection with auto-pagination and iterPages()', async () => {
    const ids = Array.from({ length: 55 }, (_, i) => `asset-${String(i).padStart(3, '0')}`);
    for (const id of ids) await prod.objects.set('assets', id, { n: id });
    const all = await collect(prod.objects.list('assets'));
    expect(all.map((o) => o.id)).toEqual(ids);
    all.forEach(expectObjectShape);

    const first = await prod.objects.list('assets', { page_size: 20 });
    expect(first.page_info).toMatchObject({ __typename: 'PageInfo', page_size: 20, before: null, after: expect.any(String) });
    const sizes: number[] = [];
    for await (const page of first.iterPages()) sizes.push(page.entries.length);
    expect(sizes).toEqual([20, 20, 15]);
  });
});

describe('subscriptions', () => {
  it('adds subscriptions (user ids, inline users, inline objects) and lists them with auto-pagination', async () => {
    const added = await knock.objects.addSubscriptions('project_alerts', 'project-1', {
      recipients: ['esattler', { id: 'dnedry', name: 'Dennis Nedry', email: 'dnedry@ingen.net' }, { id: 'team-1', collection: 'teams', name: 'Team 1' }],
      properties: { role: 'watcher' },
    });
    expect(added).toHaveLength(3);
    added.forEach(expectSubscriptionShape);
    expect(added.map((s) => s.recipient.id)).toEqual(['esattler', 'dnedry', 'team-1']);
    expect(added[1].recipient).toMatchObject({ __typename: 'User', name: 'Dennis Nedry', email: 'dnedry@ingen.net' });
    expect(added[2].recipient).toMatchObject({ __typename: 'Object', collection: 'teams', properties: { name: 'Team 1' } });
    expect(added[0]).toMatchObject({ object: { id: 'project-1', collection: 'project_alerts' }, properties: { role: 'watcher' } });
    expect(await knock.users.get('dnedry')).toMatchObject({ name: 'Dennis Nedry' });

    for (let i = 0; i < 4; i++) await knock.objects.addSubscriptions('project_alerts', 'project-1', { recipients: [`more-${i}`] });
    const all = await collect(knock.objects.listSubscriptions('project_alerts', 'project-1', { page_size: 3 }));
    expect(all).toHaveLength(7);
    all.forEach(expectSubscriptionShape);
    expect(all.map((s) => s.recipient.id).slice(0, 4)).toEqual(['more-3', 'more-2', 'more-1', 'more-0']);
    expect(new Set(all.map((s) => s.recipient.id)).size).toBe(7);
  });

  it('filters the list by recipients and lists, with mode recipient, what an object is subscribed to', async () => {
    await knock.objects.addSubscriptions('orgs', 'org-1', { recipients: [{ id: 'team-9', collection: 'teams' }, 'filter-user'] });
    const page = await knock.objects.listSubscriptions('orgs', 'org-1', { recipients: [{ id: 'team-9', collection: 'teams' }] });
    expect(page.entries.map((s) => s.recipient.id)).toEqual(['team-9']);
    const byUser = await knock.objects.listSubscriptions('orgs', 'org-1', { recipients: ['filter-user'] });
    expect(byUser.entries.map((s) => s.recipient.id)).toEqual(['filter-user']);

    const parents = await knock.objects.listSubscriptions('teams', 'team-9', { mode: 'recipient' });
    expect(parents.entries.map((s) => `${s.object.collection}/${s.object.id}`)).toEqual(['orgs/org-1']);
    const filtered = await knock.objects.listSubscriptions('teams', 'team-9', { mode: 'recipient', objects: [{ id: 'org-2', collection: 'orgs' }] });
    expect(filtered.entries).toEqual([]);
  });

  it('deletes subscriptions, answering the deleted ones', async () => {
    await knock.objects.addSubscriptions('project_alerts', 'project-del', { recipients: ['del-1', 'del-2'] });
    const deleted = await knock.objects.deleteSubscriptions('project_alerts', 'project-del', { recipients: ['del-1'] });
    expect(deleted).toHaveLength(1);
    deleted.forEach(expectSubscriptionShape);
    expect(deleted[0].recipient.id).toBe('del-1');
    const left = await knock.objects.listSubscriptions('project_alerts', 'project-del');
    expect(left.entries.map((s) => s.recipient.id)).toEqual(['del-2']);
  });

  it('lists a user\'s subscriptions, filterable by objects', async () => {
    await knock.objects.addSubscriptions('project_alerts', 'p-a', { recipients: ['follower'] });
    await knock.objects.addSubscriptions('project_alerts', 'p-b', { recipients: ['follower'] });
    const all = await collect(knock.users.listSubscriptions('follower'));
    expect(all.map((s) => s.object.id)).toEqual(['p-b', 'p-a']);
    all.forEach(expectSubscriptionShape);
    const filtered = await knock.users.listSubscriptions('follower', { objects: [{ id: 'p-a', collection: 'project_alerts' }] });
    expect(filtered.entries.map((s) => s.object.id)).toEqual(['p-a']);
    await expect(knock.users.listSubscriptions('no-such-user').then((p) => p.entries)).rejects.toBeInstanceOf(NotFoundError);
  });

  it('raises UnprocessableEntityError for more than 100 recipients', async () => {
    const recipients = Array.from({ length: 101 }, (_, i) => `bulk-${i}`);
    await expect(knock.objects.addSubscriptions('project_alerts', 'too-many', { recipients })).rejects.toBeInstanceOf(UnprocessableEntityError);
  });
});
