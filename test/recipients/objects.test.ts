/**
 * Objects and subscriptions over HTTP: Knock's shapes and status codes, deep-merged
 * properties, reserved collections, pagination, and environment isolation.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHerald, type TestHerald } from '../support/herald.ts';

let herald: TestHerald;
let dev: string;
let prod: string;

beforeAll(async () => {
  herald = await startTestHerald();
  dev = herald.secrets.environments.development.secret_key;
  prod = herald.secrets.environments.production.secret_key;
});
afterAll(async () => herald?.close());

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

async function call(method: string, path: string, body?: unknown, token = dev) {
  const response = await herald.request(method, path, { token, body });
  return { status: response.statusCode, body: response.body ? response.json() : undefined };
}

/** A collection no other test uses. */
const fresh = (name: string) => `${name}-${randomUUID().slice(0, 8)}`;

describe('set, get, delete an object', () => {
  it('sets an object and answers Knock\'s Object shape, custom properties nested', async () => {
    const res = await call('PUT', '/v1/objects/projects/p-1', { name: 'Park', budget: 100, config: { a: 1 } });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      __typename: 'Object',
      id: 'p-1',
      collection: 'projects',
      created_at: null,
      properties: { name: 'Park', budget: 100, config: { a: 1 } },
      updated_at: expect.stringMatching(ISO),
    });
  });

  it('deep-merges properties on a later set (given values win, nested objects merge, null overwrites)', async () => {
    await call('PUT', '/v1/objects/projects/p-merge', { name: 'One', config: { a: 1, b: { c: 2 } }, keep: true });
    const res = await call('PUT', '/v1/objects/projects/p-merge', { name: 'Two', config: { b: { d: 3 } }, keep: null });
    expect(res.status).toBe(200);
    expect(res.body.properties).toEqual({ name: 'Two', config: { a: 1, b: { c: 2, d: 3 } }, keep: null });
    const got = await call('GET', '/v1/objects/projects/p-merge');
    expect(got.status).toBe(200);
    expect(got.body).toEqual(res.body);
  });

  it('shows created_at at the top level, not among the properties', async () => {
    const res = await call('PUT', '/v1/objects/projects/p-created', { created_at: '2024-01-02T03:04:05Z', x: 1 });
    expect(res.body).toMatchObject({ created_at: '2024-01-02T03:04:05Z', properties: { x: 1 } });
    expect(res.body.properties).not.toHaveProperty('created_at');
  });

  it('does not store id, collection or __typename given in the body as properties', async () => {
    const res = await call('PUT', '/v1/objects/projects/p-keys', { id: 'other', collection: 'other', __typename: 'X', y: 2 });
    expect(res.body).toMatchObject({ id: 'p-keys', collection: 'projects', properties: { y: 2 } });
    expect(Object.keys(res.body.properties)).toEqual(['y']);
  });

  it('answers 404 for a missing object, and the same id in another collection is another object', async () => {
    await call('PUT', '/v1/objects/projects/p-same', { n: 1 });
    const missing = await call('GET', '/v1/objects/teams/p-same');
    expect(missing.status).toBe(404);
    expect(missing.body).toMatchObject({ code: 'resource_missing', status: 404, type: 'invalid_request_error' });
  });

  it('deletes an object with 204; then get and delete answer 404', async () => {
    await call('PUT', '/v1/objects/projects/p-gone', { n: 1 });
    const deleted = await herald.request('DELETE', '/v1/objects/projects/p-gone', { token: dev });
    expect(deleted.statusCode).toBe(204);
    expect(deleted.body).toBe('');
    expect((await call('GET', '/v1/objects/projects/p-gone')).status).toBe(404);
    expect((await call('DELETE', '/v1/objects/projects/p-gone')).status).toBe(404);
  });

  it('refuses collections starting with "$" (reserved) with 422 on every route', async () => {
    for (const [method, path, body] of [
      ['PUT', '/v1/objects/$users/u-1', { a: 1 }],
      ['GET', '/v1/objects/$users/u-1', undefined],
      ['DELETE', '/v1/objects/$tenants/t-1', undefined],
      ['GET', '/v1/objects/$users', undefined],
      ['POST', '/v1/objects/$users/u-1/subscriptions', { recipients: ['a'] }],
      ['GET', '/v1/objects/$users/u-1/subscriptions', undefined],
      ['DELETE', '/v1/objects/$users/u-1/subscriptions', { recipients: ['a'] }],
    ] as const) {
      const res = await call(method, path, body);
      expect(res.status, `${method} ${path}`).toBe(422);
      expect(res.body).toMatchObject({ status: 422, type: 'invalid_params_error', errors: [{ field: 'collection' }] });
    }
  });

  it('refuses invalid bodies with 422: wrong types, bad timezone, malformed channel data and preferences', async () => {
    const channel = randomUUID();
    for (const body of [
      { name: 42 },
      { created_at: 'yesterday' },
      { timezone: 'Mars/Olympus_Mons' },
      { channel_data: { 'not-a-uuid': { tokens: ['t'] } } },
      { channel_data: { [channel]: { tokens: 't' } } },
      { preferences: { default: { channel_types: { fax: false } } } },
      [1, 2],
    ]) {
      const res = await call('PUT', '/v1/objects/projects/p-invalid', body);
      expect(res.status, JSON.stringify(body)).toBe(422);
    }
    expect((await call('GET', '/v1/objects/projects/p-invalid')).status).toBe(404);
    // Empty or null channel data / preferences carry nothing and are accepted.
    expect((await call('PUT', '/v1/objects/projects/p-invalid', { channel_data: null, preferences: {} })).status).toBe(200);
  });

  it('refuses properties over 256 kB with 422', async () => {
    const res = await call('PUT', '/v1/objects/projects/p-big', { blob: 'x'.repeat(300 * 1024) });
    expect([413, 422]).toContain(res.status);
  });
});

describe('list a collection', () => {
  it('lists a collection in id order with cursor pagination both ways', async () => {
    const collection = fresh('pages');
    const ids = ['a', 'b', 'c', 'd', 'e'];
    for (const id of [...ids].reverse()) await call('PUT', `/v1/objects/${collection}/${id}`, { n: id });
    await call('PUT', `/v1/objects/${fresh('other')}/z`, {});

    const first = await call('GET', `/v1/objects/${collection}?page_size=2`);
    expect(first.status).toBe(200);
    expect(first.body.entries.map((o: { id: string }) => o.id)).toEqual(['a', 'b']);
    expect(first.body.entries[0]).toMatchObject({ __typename: 'Object', collection, properties: { n: 'a' } });
    expect(first.body.page_info).toEqual({ __typename: 'PageInfo', page_size: 2, before: null, after: expect.any(String) });

    const second = await call('GET', `/v1/objects/${collection}?page_size=2&after=${first.body.page_info.after}`);
    expect(second.body.entries.map((o: { id: string }) => o.id)).toEqual(['c', 'd']);
    const third = await call('GET', `/v1/objects/${collection}?page_size=2&after=${second.body.page_info.after}`);
    expect(third.body.entries.map((o: { id: string }) => o.id)).toEqual(['e']);
    expect(third.body.page_info.after).toBeNull();

    const back = await call('GET', `/v1/objects/${collection}?page_size=2&before=${third.body.page_info.before}`);
    expect(back.body.entries.map((o: { id: string }) => o.id)).toEqual(['c', 'd']);

    const all = await call('GET', `/v1/objects/${collection}`);
    expect(all.body.entries).toHaveLength(5);
    expect(all.body.page_info).toMatchObject({ page_size: 50, after: null, before: null });
  });

  it('answers an empty page for an unknown collection, and 422 for a bad cursor or page size', async () => {
    const empty = await call('GET', `/v1/objects/${fresh('none')}`);
    expect(empty.body).toEqual({ entries: [], page_info: { __typename: 'PageInfo', page_size: 50, after: null, before: null } });
    expect((await call('GET', '/v1/objects/projects?after=nonsense')).status).toBe(422);
    expect((await call('GET', '/v1/objects/projects?page_size=0')).status).toBe(422);
    expect((await call('GET', '/v1/objects/projects?page_size=101')).status).toBe(422);
  });
});

describe('subscriptions', () => {
  it('subscribes user ids, inline users and objects, answering Subscriptions in request order', async () => {
    const collection = fresh('alerts');
    const res = await call('POST', `/v1/objects/${collection}/a-1/subscriptions`, {
      recipients: [
        'sub-user-plain',
        { id: 'sub-user-inline', name: 'Ellie', email: 'ellie@park.test' },
        { id: 'team-1', collection: 'teams', name: 'Team one' },
        { id: 'team-2', collection: 'teams' },
      ],
      properties: { role: 'owner' },
    });
    expect(res.status).toBe(200);
    expect(res.body).toHaveLength(4);
    expect(res.body[0]).toEqual({
      __typename: 'Subscription',
      object: { __typename: 'Object', id: 'a-1', collection, created_at: null, properties: {}, updated_at: expect.stringMatching(ISO) },
      recipient: expect.objectContaining({ __typename: 'User', id: 'sub-user-plain', name: null, email: null }),
      properties: { role: 'owner' },
      inserted_at: expect.stringMatching(ISO),
      updated_at: expect.stringMatching(ISO),
    });
    expect(res.body[1].recipient).toMatchObject({ __typename: 'User', id: 'sub-user-inline', name: 'Ellie', email: 'ellie@park.test' });
    expect(res.body[2].recipient).toMatchObject({ __typename: 'Object', id: 'team-1', collection: 'teams', properties: { name: 'Team one' } });
    expect(res.body[3].recipient).toMatchObject({ __typename: 'Object', id: 'team-2', collection: 'teams', properties: {} });

    // The object subscribed to, the users and the objects were created / identified.
    expect((await call('GET', `/v1/objects/${collection}/a-1`)).status).toBe(200);
    expect((await call('GET', '/v1/users/sub-user-plain')).status).toBe(200);
    expect((await call('GET', '/v1/users/sub-user-inline')).body).toMatchObject({ name: 'Ellie' });
    expect((await call('GET', '/v1/objects/teams/team-2')).status).toBe(200);
  });

  it('updates an existing subscription: properties replaced when given, kept when not; duplicates count once', async () => {
    const collection = fresh('alerts');
    await call('POST', `/v1/objects/${collection}/a-1/subscriptions`, { recipients: ['u-props'], properties: { role: 'viewer', x: 1 } });
    const replaced = await call('POST', `/v1/objects/${collection}/a-1/subscriptions`, { recipients: ['u-props', 'u-props'], properties: { role: 'admin' } });
    expect(replaced.status).toBe(200);
    expect(replaced.body).toHaveLength(1);
    expect(replaced.body[0].properties).toEqual({ role: 'admin' });
    const kept = await call('POST', `/v1/objects/${collection}/a-1/subscriptions`, { recipients: ['u-props'] });
    expect(kept.body[0].properties).toEqual({ role: 'admin' });
    const cleared = await call('POST', `/v1/objects/${collection}/a-1/subscriptions`, { recipients: ['u-props'], properties: null });
    expect(cleared.body[0].properties).toBeNull();
    const list = await call('GET', `/v1/objects/${collection}/a-1/subscriptions`);
    expect(list.body.entries).toHaveLength(1);
  });

  it('refuses bad add requests with 422 and writes nothing', async () => {
    const collection = fresh('alerts');
    const tooMany = Array.from({ length: 101 }, (_, i) => `u-${i}`);
    for (const body of [
      { recipients: [] },
      { recipients: tooMany },
      {},
      { recipients: [42] },
      { recipients: ['ok-user', { id: 'x', collection: '$users' }] },
      { recipients: [{ id: 'a-1', collection }] },
      { recipients: ['ok-user', { id: 'bad-tz', timezone: 'Nowhere/Land' }] },
      { recipients: ['ok-user'], properties: 'nope' },
    ]) {
      const res = await call('POST', `/v1/objects/${collection}/a-1/subscriptions`, body);
      expect(res.status, JSON.stringify(body).slice(0, 80)).toBe(422);
    }
    expect((await call('GET', `/v1/objects/${collection}/a-1`)).status).toBe(404);
    expect((await call('GET', '/v1/users/ok-user')).status).toBe(404);
    // Exactly 100 is allowed.
    const hundred = await call('POST', `/v1/objects/${collection}/a-1/subscriptions`, { recipients: tooMany.slice(0, 100) });
    expect(hundred.status).toBe(200);
    expect(hundred.body).toHaveLength(100);
  });

  it('lists an object\'s subscribers newest first, with pagination and a recipients filter', async () => {
    const collection = fresh('alerts');
    const users = ['l-1', 'l-2', 'l-3', 'l-4', 'l-5'];
    for (const user of users) await call('POST', `/v1/objects/${collection}/a-1/subscriptions`, { recipients: [user] });
    await call('POST', `/v1/objects/${collection}/a-1/subscriptions`, { recipients: [{ id: 'l-team', collection: 'teams' }] });
    const expected = ['l-team', ...[...users].reverse()];

    const all = await call('GET', `/v1/objects/${collection}/a-1/subscriptions`);
    expect(all.status).toBe(200);
    expect(all.body.entries.map((s: { recipient: { id: string } }) => s.recipient.id)).toEqual(expected);
    expect(all.body.page_info).toEqual({ __typename: 'PageInfo', page_size: 50, after: null, before: null });

    const seen: string[] = [];
    let after: string | null = null;
    let pages = 0;
    do {
      const page = await call('GET', `/v1/objects/${collection}/a-1/subscriptions?page_size=4${after ? `&after=${after}` : ''}`);
      seen.push(...page.body.entries.map((s: { recipient: { id: string } }) => s.recipient.id));
      after = page.body.page_info.after;
      if (++pages === 2) {
        const back = await call('GET', `/v1/objects/${collection}/a-1/subscriptions?page_size=4&before=${page.body.page_info.before}`);
        expect(back.body.entries.map((s: { recipient: { id: string } }) => s.recipient.id)).toEqual(expected.slice(0, 4));
      }
    } while (after);
    expect(seen).toEqual(expected);
    expect(pages).toBe(2);

    // User ids come as `recipients[]=…`, object references indexed (`recipients[0][id]=…`), as the SDK sends them.
    const filtered = await call('GET', `/v1/objects/${collection}/a-1/subscriptions?recipients[]=l-2&recipients[]=l-4`);
    expect(filtered.status).toBe(200);
    expect(filtered.body.entries.map((s: { recipient: { id: string } }) => s.recipient.id)).toEqual(['l-4', 'l-2']);
    const indexed = await call('GET', `/v1/objects/${collection}/a-1/subscriptions?recipients[0]=l-2&recipients[1][id]=l-team&recipients[1][collection]=teams`);
    expect(indexed.body.entries.map((s: { recipient: { id: string } }) => s.recipient.id)).toEqual(['l-team', 'l-2']);

    expect((await call('GET', `/v1/objects/${collection}/a-1/subscriptions?after=garbage`)).status).toBe(422);
  });

  it('lists, with mode=recipient, the objects an object is subscribed to', async () => {
    const parent = fresh('orgs');
    await call('POST', `/v1/objects/${parent}/org-1/subscriptions`, { recipients: [{ id: 'child', collection: 'teams' }] });
    await call('POST', `/v1/objects/${parent}/org-2/subscriptions`, { recipients: [{ id: 'child', collection: 'teams' }] });
    const res = await call('GET', '/v1/objects/teams/child/subscriptions?mode=recipient');
    expect(res.status).toBe(200);
    const objects = res.body.entries.filter((s: { object: { collection: string } }) => s.object.collection === parent).map((s: { object: { id: string } }) => s.object.id);
    expect(objects).toEqual(['org-2', 'org-1']);
    for (const entry of res.body.entries) expect(entry.recipient).toMatchObject({ __typename: 'Object', id: 'child', collection: 'teams' });
    const filtered = await call('GET', `/v1/objects/teams/child/subscriptions?mode=recipient&objects[0][id]=org-1&objects[0][collection]=${parent}`);
    expect(filtered.body.entries.map((s: { object: { id: string } }) => s.object.id)).toEqual(['org-1']);
    expect((await call('GET', '/v1/objects/teams/child/subscriptions?mode=sideways')).status).toBe(422);
  });

  it('answers 404 listing or deleting subscriptions of an object that does not exist', async () => {
    expect((await call('GET', `/v1/objects/${fresh('none')}/x/subscriptions`)).status).toBe(404);
    expect((await call('DELETE', `/v1/objects/${fresh('none')}/x/subscriptions`, { recipients: ['a'] })).status).toBe(404);
  });

  it('deletes subscriptions, answering those deleted (recipients not subscribed are skipped)', async () => {
    const collection = fresh('alerts');
    await call('POST', `/v1/objects/${collection}/a-1/subscriptions`, {
      recipients: ['d-1', 'd-2', { id: 'd-team', collection: 'teams' }],
      properties: { p: 1 },
    });
    const res = await call('DELETE', `/v1/objects/${collection}/a-1/subscriptions`, {
      recipients: [{ id: 'd-team', collection: 'teams' }, 'd-1', 'never-subscribed'],
    });
    expect(res.status).toBe(200);
    expect(res.body).toHaveLength(2);
    expect(res.body[0]).toMatchObject({
      __typename: 'Subscription',
      object: { id: 'a-1', collection },
      recipient: { __typename: 'Object', id: 'd-team', collection: 'teams' },
      properties: { p: 1 },
    });
    expect(res.body[1].recipient).toMatchObject({ __typename: 'User', id: 'd-1' });
    const left = await call('GET', `/v1/objects/${collection}/a-1/subscriptions`);
    expect(left.body.entries.map((s: { recipient: { id: string } }) => s.recipient.id)).toEqual(['d-2']);
    // Deleting again answers an empty list; the users themselves are untouched.
    expect((await call('DELETE', `/v1/objects/${collection}/a-1/subscriptions`, { recipients: ['d-1'] })).body).toEqual([]);
    expect((await call('GET', '/v1/users/d-1')).status).toBe(200);
    for (const body of [{ recipients: [] }, {}, { recipients: [{ id: 'x' }] }, { recipients: [{ id: 'x', collection: '$x' }] }]) {
      expect((await call('DELETE', `/v1/objects/${collection}/a-1/subscriptions`, body)).status, JSON.stringify(body)).toBe(422);
    }
  });

  it('lists a user\'s subscriptions newest first with the object expanded, filterable by objects; 404 for an unknown user', async () => {
    const collection = fresh('alerts');
    for (const id of ['o-1', 'o-2', 'o-3']) {
      await call('PUT', `/v1/objects/${collection}/${id}`, { title: id });
      await call('POST', `/v1/objects/${collection}/${id}/subscriptions`, { recipients: ['u-subs'], properties: { on: id } });
    }
    const res = await call('GET', '/v1/users/u-subs/subscriptions');
    expect(res.status).toBe(200);
    expect(res.body.entries.map((s: { object: { id: string } }) => s.object.id)).toEqual(['o-3', 'o-2', 'o-1']);
    expect(res.body.entries[0]).toMatchObject({
      object: { __typename: 'Object', id: 'o-3', collection, properties: { title: 'o-3' } },
      recipient: { __typename: 'User', id: 'u-subs' },
      properties: { on: 'o-3' },
    });
    const page = await call('GET', '/v1/users/u-subs/subscriptions?page_size=2');
    expect(page.body.entries).toHaveLength(2);
    const next = await call('GET', `/v1/users/u-subs/subscriptions?page_size=2&after=${page.body.page_info.after}`);
    expect(next.body.entries.map((s: { object: { id: string } }) => s.object.id)).toEqual(['o-1']);
    const filtered = await call('GET', `/v1/users/u-subs/subscriptions?objects[0][id]=o-2&objects[0][collection]=${collection}`);
    expect(filtered.body.entries.map((s: { object: { id: string } }) => s.object.id)).toEqual(['o-2']);
    expect((await call('GET', '/v1/users/nobody-here/subscriptions')).status).toBe(404);
  });

  it('deleting an object removes its subscribers and its own subscriptions; a deleted user is no longer listed', async () => {
    const collection = fresh('alerts');
    await call('POST', `/v1/objects/${collection}/parent/subscriptions`, { recipients: [{ id: 'mid', collection }, 'gone-user', 'stay-user'] });
    await call('POST', `/v1/objects/${collection}/mid/subscriptions`, { recipients: ['stay-user'] });
    expect((await call('DELETE', `/v1/objects/${collection}/mid`)).status).toBe(204);
    const parent = await call('GET', `/v1/objects/${collection}/parent/subscriptions`);
    expect(parent.body.entries.map((s: { recipient: { id: string } }) => s.recipient.id).sort()).toEqual(['gone-user', 'stay-user']);
    expect((await call('GET', '/v1/users/stay-user/subscriptions')).body.entries.map((s: { object: { id: string } }) => s.object.id)).toEqual(['parent']);
    // Re-creating the object does not bring its old subscriptions back.
    await call('PUT', `/v1/objects/${collection}/mid`, {});
    expect((await call('GET', `/v1/objects/${collection}/mid/subscriptions`)).body.entries).toEqual([]);

    expect((await call('DELETE', '/v1/users/gone-user')).status).toBe(204);
    const after = await call('GET', `/v1/objects/${collection}/parent/subscriptions`);
    expect(after.body.entries.map((s: { recipient: { id: string } }) => s.recipient.id)).toEqual(['stay-user']);
  });
});

describe('edge cases', () => {
  it('refuses over-long and unstorable ids and collections with 422, never 5xx', async () => {
    const long = 'x'.repeat(257);
    expect((await call('PUT', `/v1/objects/projects/${long}`, {})).status).toBe(422);
    expect((await call('PUT', `/v1/objects/${long}/x`, {})).status).toBe(422);
    expect((await call('GET', '/v1/objects/proj%00ects/x')).status).toBe(422);
    expect((await call('POST', '/v1/objects/projects/x/subscriptions', { recipients: ['a\u0000b'] })).status).toBe(422);
    expect((await call('POST', '/v1/objects/projects/x/subscriptions', { recipients: [{ id: long }] })).status).toBe(422);
    expect((await call('GET', '/v1/objects/projects/x/subscriptions?recipients[0][id]=a&recipients[0][collection]=')).status).toBe(422);
  });

  it('concurrent adds naming the same recipients in different orders all succeed', async () => {
    const collection = fresh('race');
    const recipients = ['r-1', 'r-2', 'r-3', { id: 'r-team', collection: 'teams', n: 1 }, { id: 'r-4', name: 'Four' }];
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) => {
        const order = i % 2 === 0 ? recipients : [...recipients].reverse();
        return call('POST', `/v1/objects/${collection}/o/subscriptions`, { recipients: order, properties: { i } });
      }),
    );
    for (const res of results) expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect((await call('GET', `/v1/objects/${collection}/o/subscriptions`)).body.entries).toHaveLength(5);
  });
});

describe('environment isolation', () => {
  it('an object and its subscriptions set in development do not exist in production', async () => {
    const collection = fresh('iso');
    await call('PUT', `/v1/objects/${collection}/o-1`, { secret: 'dev' });
    await call('POST', `/v1/objects/${collection}/o-1/subscriptions`, { recipients: ['iso-user'] });

    expect((await call('GET', `/v1/objects/${collection}/o-1`, undefined, prod)).status).toBe(404);
    expect((await call('DELETE', `/v1/objects/${collection}/o-1`, undefined, prod)).status).toBe(404);
    expect((await call('GET', `/v1/objects/${collection}`, undefined, prod)).body.entries).toEqual([]);
    expect((await call('GET', `/v1/objects/${collection}/o-1/subscriptions`, undefined, prod)).status).toBe(404);
    expect((await call('DELETE', `/v1/objects/${collection}/o-1/subscriptions`, { recipients: ['iso-user'] }, prod)).status).toBe(404);
    expect((await call('GET', '/v1/users/iso-user/subscriptions', undefined, prod)).status).toBe(404);

    // The same ids in production are separate rows: setting them there leaves development's alone.
    await call('PUT', `/v1/objects/${collection}/o-1`, { secret: 'prod' }, prod);
    await call('POST', `/v1/objects/${collection}/o-1/subscriptions`, { recipients: ['iso-user'], properties: { env: 'prod' } }, prod);
    expect((await call('GET', `/v1/objects/${collection}/o-1`)).body.properties).toEqual({ secret: 'dev' });
    const devSubs = await call('GET', `/v1/objects/${collection}/o-1/subscriptions`);
    expect(devSubs.body.entries).toHaveLength(1);
    expect(devSubs.body.entries[0].properties).toBeNull();
    expect(devSubs.body.entries[0].object.properties).toEqual({ secret: 'dev' });
  });

  it('a cursor from one environment finds nothing of another', async () => {
    const collection = fresh('iso');
    for (const id of ['a', 'b', 'c']) await call('PUT', `/v1/objects/${collection}/${id}`, {});
    const page = await call('GET', `/v1/objects/${collection}?page_size=1`);
    const other = await call('GET', `/v1/objects/${collection}?page_size=1&after=${page.body.page_info.after}`, undefined, prod);
    expect(other.body.entries).toEqual([]);
  });
});

describe('authentication and rate-limit tiers', () => {
  it('needs a secret key', async () => {
    expect((await herald.request('GET', '/v1/objects/projects/p-1')).statusCode).toBe(401);
    const pk = herald.secrets.environments.development.public_key;
    expect((await herald.request('GET', '/v1/objects/projects/p-1', { token: pk })).statusCode).toBe(403);
  });
});
