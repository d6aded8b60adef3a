/**
 * Objects as full recipients over HTTP: their channel data, preference sets and messages
 * (Knock's routes, shapes and status codes), inline channel data and preferences on set,
 * in subscriptions and in triggers, deletion cascading, environment isolation and the
 * rate-limit tiers of the new routes.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tierOf } from '../../src/http/rate-limits.ts';
import { openDatabase, type Db } from '../../src/db/database.ts';
import { startTestHerald, type TestHerald } from '../support/herald.ts';
import { eventually } from '../support/engine.ts';

let herald: TestHerald;
let owner: Db;
let dev: string;
let prod: string;

beforeAll(async () => {
  herald = await startTestHerald();
  owner = openDatabase({ url: herald.databaseUrl, poolSize: 1 });
  dev = herald.secrets.environments.development.secret_key;
  prod = herald.secrets.environments.production.secret_key;
});
afterAll(async () => {
  await owner?.destroy();
  await herald?.close();
});

async function call(method: string, path: string, body?: unknown, token = dev) {
  const response = await herald.request(method, path, { token, body });
  return { status: response.statusCode, body: response.body ? response.json() : undefined };
}

/** A collection no other test uses. */
const fresh = (name: string) => `${name}-${randomUUID().slice(0, 8)}`;

const EMPTY_SET = { workflows: null, categories: null, channel_types: null, channels: null, commercial_subscribed: null };
const slack = (url: string) => ({ connections: [{ incoming_webhook: { url } }] });

describe('object channel data', () => {
  it('sets (creating the object), gets, replaces and unsets it in Knock\'s ChannelData shape', async () => {
    const collection = fresh('channels');
    const channel = randomUUID();
    const path = `/v1/objects/${collection}/eng/channel_data/${channel}`;

    const set = await call('PUT', path, { data: slack('https://hooks.slack.com/services/T/B/1') });
    expect(set).toEqual({ status: 200, body: { __typename: 'ChannelData', channel_id: channel, data: slack('https://hooks.slack.com/services/T/B/1') } });
    // The object was created, without properties: channel data is not a property.
    const object = await call('GET', `/v1/objects/${collection}/eng`);
    expect(object.status).toBe(200);
    expect(object.body.properties).toEqual({});

    expect(await call('GET', path)).toEqual(set);
    const replaced = await call('PUT', path, { data: { tokens: ['t1'] } });
    // Push data always carries both lists, as for users.
    expect(replaced.body.data).toEqual({ tokens: ['t1'], devices: [] });
    expect((await call('GET', path)).body.data).toEqual({ tokens: ['t1'], devices: [] });

    const unset = await herald.request('DELETE', path, { token: dev });
    expect(unset.statusCode).toBe(204);
    expect(unset.body).toBe('');
    expect((await call('GET', path)).status).toBe(404);
    expect((await call('DELETE', path)).status).toBe(404);
  });

  it('answers 404 for a missing object or channel data, 422 for bad input or a reserved collection', async () => {
    const collection = fresh('channels');
    const channel = randomUUID();
    const missingObject = await call('GET', `/v1/objects/${collection}/nobody/channel_data/${channel}`);
    expect(missingObject.status).toBe(404);
    expect(missingObject.body).toMatchObject({ code: 'resource_missing', status: 404, type: 'invalid_request_error' });
    expect((await call('DELETE', `/v1/objects/${collection}/nobody/channel_data/${channel}`)).status).toBe(404);

    await call('PUT', `/v1/objects/${collection}/o-1`, { name: 'One' });
    expect((await call('GET', `/v1/objects/${collection}/o-1/channel_data/${channel}`)).status).toBe(404);

    for (const [path, body] of [
      [`/v1/objects/${collection}/o-1/channel_data/not-a-uuid`, { data: { tokens: ['t'] } }],
      [`/v1/objects/${collection}/o-1/channel_data/${channel}`, { data: { tokens: 'nope' } }],
      [`/v1/objects/${collection}/o-1/channel_data/${channel}`, { tokens: ['t'] }],
      [`/v1/objects/$users/o-1/channel_data/${channel}`, { data: { tokens: ['t'] } }],
    ] as const) {
      const res = await call('PUT', path, body);
      expect(res.status, `${path} ${JSON.stringify(body)}`).toBe(422);
      expect(res.body).toMatchObject({ status: 422, type: 'invalid_params_error' });
    }
    expect((await call('GET', `/v1/objects/$tenants/o-1/channel_data/${channel}`)).status).toBe(422);
  });

  it('is deleted with its object', async () => {
    const collection = fresh('channels');
    const channel = randomUUID();
    await call('PUT', `/v1/objects/${collection}/gone/channel_data/${channel}`, { data: { tokens: ['t'] } });
    await call('PUT', `/v1/objects/${collection}/gone/preferences/default`, { channel_types: { chat: false } });
    expect((await call('DELETE', `/v1/objects/${collection}/gone`)).status).toBe(204);
    await call('PUT', `/v1/objects/${collection}/gone`, { name: 'Back' });
    expect((await call('GET', `/v1/objects/${collection}/gone/channel_data/${channel}`)).status).toBe(404);
    expect((await call('GET', `/v1/objects/${collection}/gone/preferences`)).body).toEqual([]);
  });

  it('keeps environments apart', async () => {
    const collection = fresh('channels');
    const channel = randomUUID();
    await call('PUT', `/v1/objects/${collection}/shared/channel_data/${channel}`, { data: { tokens: ['dev'] } });
    expect((await call('GET', `/v1/objects/${collection}/shared/channel_data/${channel}`, undefined, prod)).status).toBe(404);
    await call('PUT', `/v1/objects/${collection}/shared/channel_data/${channel}`, { data: { tokens: ['prod'] } }, prod);
    expect((await call('GET', `/v1/objects/${collection}/shared/channel_data/${channel}`)).body.data.tokens).toEqual(['dev']);
    expect((await call('GET', `/v1/objects/${collection}/shared/channel_data/${channel}`, undefined, prod)).body.data.tokens).toEqual(['prod']);
  });
});

describe('object preferences', () => {
  it('gets an empty default set and lists no sets for an object without preferences', async () => {
    const collection = fresh('prefs');
    await call('PUT', `/v1/objects/${collection}/o-1`, {});
    expect(await call('GET', `/v1/objects/${collection}/o-1/preferences/default`)).toEqual({
      status: 200,
      body: { __typename: 'PreferenceSet', id: 'default', ...EMPTY_SET },
    });
    expect(await call('GET', `/v1/objects/${collection}/o-1/preferences`)).toEqual({ status: 200, body: [] });
  });

  it('sets a set (creating the object), replacing by default and merging on request, and lists sets', async () => {
    const collection = fresh('prefs');
    const base = `/v1/objects/${collection}/o-2/preferences`;
    const set = await call('PUT', `${base}/default`, { channel_types: { chat: false, email: true }, workflows: { digest: false } });
    expect(set).toEqual({
      status: 200,
      body: { __typename: 'PreferenceSet', id: 'default', ...EMPTY_SET, channel_types: { chat: false, email: true }, workflows: { digest: false } },
    });
    expect((await call('GET', `/v1/objects/${collection}/o-2`)).status).toBe(200);

    const merged = await call('PUT', `${base}/default`, { __persistence_strategy__: 'merge', channel_types: { chat: true }, categories: { marketing: false } });
    expect(merged.body).toMatchObject({ channel_types: { chat: true, email: true }, workflows: { digest: false }, categories: { marketing: false } });

    const replaced = await call('PUT', `${base}/default`, { channel_types: { sms: false } });
    expect(replaced.body).toEqual({ __typename: 'PreferenceSet', id: 'default', ...EMPTY_SET, channel_types: { sms: false } });

    await call('PUT', `${base}/tenant-a`, { commercial_subscribed: false });
    const list = await call('GET', base);
    expect(list.status).toBe(200);
    expect(list.body.map((s: { id: string }) => s.id)).toEqual(['default', 'tenant-a']);
    expect(list.body[1]).toEqual({ __typename: 'PreferenceSet', id: 'tenant-a', ...EMPTY_SET, commercial_subscribed: false });
    expect((await call('GET', `${base}/tenant-a`)).body).toEqual(list.body[1]);
  });

  it('deletes a set with 204; a missing set or object answers 404; bad input 422', async () => {
    const collection = fresh('prefs');
    const base = `/v1/objects/${collection}/o-3/preferences`;
    await call('PUT', `${base}/default`, { channel_types: { chat: false } });
    const deleted = await herald.request('DELETE', `${base}/default`, { token: dev });
    expect(deleted.statusCode).toBe(204);
    expect((await call('DELETE', `${base}/default`)).status).toBe(404);
    expect((await call('GET', `${base}/default`)).body).toMatchObject(EMPTY_SET);

    for (const [method, path] of [
      ['GET', `/v1/objects/${collection}/nobody/preferences`],
      ['GET', `/v1/objects/${collection}/nobody/preferences/default`],
      ['DELETE', `/v1/objects/${collection}/nobody/preferences/default`],
    ] as const) {
      expect((await call(method, path)).status, `${method} ${path}`).toBe(404);
    }
    for (const body of [{ channel_types: { fax: true } }, { workflows: { w: 'yes' } }, { __persistence_strategy__: 'append' }, { unknown: true }]) {
      expect((await call('PUT', `${base}/default`, body)).status, JSON.stringify(body)).toBe(422);
    }
    expect((await call('PUT', `/v1/objects/$users/o-3/preferences/default`, { channel_types: { chat: false } })).status).toBe(422);
  });
});

describe('inline channel data and preferences', () => {
  it('are stored by an object set, not as properties; inline preferences merge into stored sets', async () => {
    const collection = fresh('inline');
    const channel = randomUUID();
    await call('PUT', `/v1/objects/${collection}/o-1/preferences/default`, { workflows: { digest: false } });
    const res = await call('PUT', `/v1/objects/${collection}/o-1`, {
      name: 'Eng',
      channel_data: { [channel]: slack('https://hooks.example.com/eng') },
      preferences: { default: { channel_types: { chat: false } }, 'tenant-b': { categories: { marketing: false } } },
    });
    expect(res.status).toBe(200);
    expect(res.body.properties).toEqual({ name: 'Eng' });
    expect((await call('GET', `/v1/objects/${collection}/o-1/channel_data/${channel}`)).body.data).toEqual(slack('https://hooks.example.com/eng'));
    const sets = (await call('GET', `/v1/objects/${collection}/o-1/preferences`)).body;
    expect(sets).toEqual([
      { __typename: 'PreferenceSet', id: 'default', ...EMPTY_SET, workflows: { digest: false }, channel_types: { chat: false } },
      { __typename: 'PreferenceSet', id: 'tenant-b', ...EMPTY_SET, categories: { marketing: false } },
    ]);
  });

  it('are stored for inline objects added as subscribers', async () => {
    const collection = fresh('inline');
    const channel = randomUUID();
    const res = await call('POST', `/v1/objects/${collection}/parent/subscriptions`, {
      recipients: [
        { id: 'child', collection, channel_data: { [channel]: { tokens: ['child-token'] } }, preferences: { default: { channel_types: { push: false } } } },
        { id: 'bare', collection, channel_data: { [channel]: { tokens: ['bare-token'] } } },
      ],
    });
    expect(res.status).toBe(200);
    expect(res.body[0].recipient).toMatchObject({ __typename: 'Object', id: 'child', properties: {} });
    expect((await call('GET', `/v1/objects/${collection}/child/channel_data/${channel}`)).body.data.tokens).toEqual(['child-token']);
    expect((await call('GET', `/v1/objects/${collection}/bare/channel_data/${channel}`)).body.data.tokens).toEqual(['bare-token']);
    expect((await call('GET', `/v1/objects/${collection}/child/preferences/default`)).body.channel_types).toEqual({ push: false });
  });

  it('are stored for inline objects in a trigger (and refused with 422 when malformed)', async () => {
    const collection = fresh('inline');
    const channel = randomUUID();
    await herald.request('PUT', '/mgmt/v1/workflows/object-inline?environment=development&commit=true&commit_message=set', {
      token: herald.secrets.service_token,
      body: { workflow: { name: 'object-inline', steps: [] } },
    });
    const refused = await call('POST', '/v1/workflows/object-inline/trigger', {
      recipients: [{ id: 'bad', collection, channel_data: { 'not-a-uuid': { tokens: ['t'] } } }],
    });
    expect(refused.status).toBe(422);
    const badTimezone = await call('POST', '/v1/workflows/object-inline/trigger', { recipients: [{ id: 'bad', collection, timezone: 'Nowhere/Land' }] });
    expect(badTimezone.status).toBe(422);

    const triggered = await call('POST', '/v1/workflows/object-inline/trigger', {
      recipients: [{ id: 'room', collection, name: 'Room', channel_data: { [channel]: slack('https://hooks.example.com/room') }, preferences: { default: { channel_types: { chat: true } } } }],
    });
    expect(triggered.status).toBe(200);
    const data = await eventually(async () => {
      const res = await call('GET', `/v1/objects/${collection}/room/channel_data/${channel}`);
      return res.status === 200 ? res.body.data : undefined;
    });
    expect(data).toEqual(slack('https://hooks.example.com/room'));
    expect((await call('GET', `/v1/objects/${collection}/room`)).body.properties).toEqual({ name: 'Room' });
    expect((await call('GET', `/v1/objects/${collection}/room/preferences/default`)).body.channel_types).toEqual({ chat: true });
  });
});

describe('object messages', () => {
  it('lists an object\'s messages (none yet) in Knock\'s paginated shape', async () => {
    const collection = fresh('messages');
    await call('PUT', `/v1/objects/${collection}/o-1`, {});
    const res = await call('GET', `/v1/objects/${collection}/o-1/messages?page_size=10`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ items: [], page_info: expect.objectContaining({ __typename: 'PageInfo', page_size: 10 }) });
    expect((await call('GET', `/v1/objects/$users/o-1/messages`)).status).toBe(422);
  });

  it('lists only the messages addressed to the object', async () => {
    const collection = fresh('messages');
    const channel = randomUUID();
    // Messages are written by the engine; a row written directly stands in for one here.
    const env = await owner.selectFrom('environments').select('id').where('slug', '=', 'development').executeTakeFirstOrThrow();
    const base = {
      environment_id: env.id,
      workflow_run_id: randomUUID(),
      workflow_key: 'wf',
      step_ref: 'chat_1',
      channel_id: channel,
      channel_type: 'chat',
      status: 'sent' as const,
      version_id: null,
      actors: '[]',
      tenant: null,
      data: null,
      content: null,
      metadata: null,
      seen_at: null,
      read_at: null,
      interacted_at: null,
      link_clicked_at: null,
      archived_at: null,
    };
    await owner.insertInto('messages').values([
      { ...base, id: randomUUID(), workflow_recipient_run_id: randomUUID(), recipient: JSON.stringify({ id: 'o-1', collection }), recipient_key: `object:${collection}:o-1` },
      { ...base, id: randomUUID(), workflow_recipient_run_id: randomUUID(), recipient: JSON.stringify({ id: 'o-2', collection }), recipient_key: `object:${collection}:o-2` },
      { ...base, id: randomUUID(), workflow_recipient_run_id: randomUUID(), recipient: JSON.stringify('o-1'), recipient_key: 'user:o-1' },
    ]).execute();
    const res = await call('GET', `/v1/objects/${collection}/o-1/messages`);
    expect(res.status).toBe(200);
    expect(res.body.items).toHaveLength(1);
    expect(res.body.items[0]).toMatchObject({ __typename: 'Message', recipient: { id: 'o-1', collection }, status: 'sent' });
    expect((await call('GET', `/v1/objects/${collection}/o-1/messages`, undefined, prod)).body.items).toEqual([]);
  });
});

describe('rate-limit tiers', () => {
  it('follow Knock: reads tier 4, writes tier 3', () => {
    expect(tierOf('PUT', '/v1/objects/:collection/:object_id/channel_data/:channel_id')).toBe(3);
    expect(tierOf('GET', '/v1/objects/:collection/:object_id/channel_data/:channel_id')).toBe(4);
    expect(tierOf('DELETE', '/v1/objects/:collection/:object_id/channel_data/:channel_id')).toBe(3);
    expect(tierOf('GET', '/v1/objects/:collection/:object_id/preferences')).toBe(4);
    expect(tierOf('GET', '/v1/objects/:collection/:object_id/preferences/:id')).toBe(4);
    expect(tierOf('PUT', '/v1/objects/:collection/:object_id/preferences/:id')).toBe(3);
    expect(tierOf('DELETE', '/v1/objects/:collection/:object_id/preferences/:id')).toBe(3);
    expect(tierOf('GET', '/v1/objects/:collection/:id/messages')).toBe(4);
  });
});
