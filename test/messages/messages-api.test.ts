import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inEnvironment } from '../../src/db/scoped.ts';
import { startTestHerald, type TestHerald } from '../support/herald.ts';
import { createSigningKey, environmentIds, inAppChannel, insertMessage, userToken } from './fixtures.ts';

let herald: TestHerald;
let dev: string;
let prod: string;
let devSk: string;
let prodSk: string;
let devPk: string;
let channel: string;
let signingKey: string;

beforeAll(async () => {
  herald = await startTestHerald();
  const envs = await environmentIds(herald);
  dev = envs.development;
  prod = envs.production;
  devSk = herald.secrets.environments.development.secret_key;
  prodSk = herald.secrets.environments.production.secret_key;
  devPk = herald.secrets.environments.development.public_key;
  channel = await inAppChannel(herald);
  signingKey = (await createSigningKey(herald, 'development')).privateKey;
});
afterAll(async () => herald?.close());

const get = (path: string, token = devSk, headers: Record<string, string> = {}) => herald.request('GET', path, { token, headers });

async function eventTypes(id: string): Promise<string[]> {
  const response = await get(`/v1/messages/${id}/events`);
  expect(response.statusCode).toBe(200);
  return (response.json().items as Array<{ type: string }>).map((e) => e.type).reverse();
}

describe('messages: list, get, content', () => {
  it('lists messages newest first as Knock Message items with cursor pagination (items, page_info)', async () => {
    const user = `pager-${randomUUID()}`;
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push(await insertMessage(herald, { environmentId: dev, channelId: channel, user, insertedAt: new Date(Date.UTC(2024, 0, 1, 0, 0, i)) }));
    const first = await get(`/v1/users/${user}/messages?page_size=2`);
    expect(first.statusCode).toBe(200);
    const page1 = first.json();
    expect(page1.items.map((m: { id: string }) => m.id)).toEqual([ids[4], ids[3]]);
    expect(page1.page_info).toMatchObject({ __typename: 'PageInfo', page_size: 2, before: null });
    const page2 = (await get(`/v1/users/${user}/messages?page_size=2&after=${page1.page_info.after}`)).json();
    expect(page2.items.map((m: { id: string }) => m.id)).toEqual([ids[2], ids[1]]);
    const page3 = (await get(`/v1/users/${user}/messages?page_size=2&after=${page2.page_info.after}`)).json();
    expect(page3.items.map((m: { id: string }) => m.id)).toEqual([ids[0]]);
    expect(page3.page_info.after).toBeNull();
    const back = (await get(`/v1/users/${user}/messages?page_size=2&before=${page3.page_info.before}`)).json();
    expect(back.items.map((m: { id: string }) => m.id)).toEqual([ids[2], ids[1]]);
  });

  it('pages exactly through messages inserted in the same microsecond (one transaction)', async () => {
    const user = `same-time-${randomUUID()}`;
    const at = new Date('2024-02-02T00:00:00.123Z');
    const ids = new Set<string>();
    for (let i = 0; i < 7; i++) ids.add(await insertMessage(herald, { environmentId: dev, channelId: channel, user, insertedAt: at }));
    const seen: string[] = [];
    let after: string | null = null;
    do {
      const page: { items: Array<{ id: string }>; page_info: { after: string | null } } = (await get(`/v1/users/${user}/messages?page_size=3${after ? `&after=${after}` : ''}`)).json();
      seen.push(...page.items.map((m) => m.id));
      after = page.page_info.after;
    } while (after);
    expect(seen).toHaveLength(7);
    expect(new Set(seen)).toEqual(ids);
  });

  it('gets a message in the Knock shape: source, channel, engagement statuses, categories, recipient reference', async () => {
    const id = await insertMessage(herald, { environmentId: dev, channelId: channel, user: 'shape-user', tenant: 'acme', data: { comment_id: 'c1' }, categories: ['collaboration'], actors: ['actor-1'] });
    const response = await get(`/v1/messages/${id}`);
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({
      __typename: 'Message',
      id,
      channel_id: channel,
      channel: { id: channel, key: 'in-app-feed', type: 'in_app_feed', provider: 'herald' },
      recipient: 'shape-user',
      actors: ['actor-1'],
      status: 'delivered',
      engagement_statuses: [],
      seen_at: null,
      read_at: null,
      archived_at: null,
      tenant: 'acme',
      data: { comment_id: 'c1' },
      workflow: 'comment-created',
      source: { __typename: 'NotificationSource', key: 'comment-created', step_ref: 'in_app_feed_1', categories: ['collaboration'] },
    });
  });

  it('answers an object recipient as {id, collection}', async () => {
    const id = await insertMessage(herald, { environmentId: dev, channelId: channel, object: { id: 'proj-1', collection: 'projects' } });
    expect((await get(`/v1/messages/${id}`)).json().recipient).toEqual({ id: 'proj-1', collection: 'projects' });
    const listed = (await get('/v1/messages?page_size=100')).json().items.find((m: { id: string }) => m.id === id);
    expect(listed.recipient).toEqual({ id: 'proj-1', collection: 'projects' });
  });

  it('is 404 for unknown and malformed message ids', async () => {
    expect((await get(`/v1/messages/${randomUUID()}`)).statusCode).toBe(404);
    expect((await get('/v1/messages/not-a-uuid')).statusCode).toBe(404);
    expect((await herald.request('PUT', '/v1/messages/not-a-uuid/read', { token: devSk })).statusCode).toBe(404);
  });

  it('answers content in the MessageContents envelope typed by channel', async () => {
    const email = await insertMessage(herald, { environmentId: dev, channelId: channel, channelType: 'email', body: 'Welcome' });
    const content = (await get(`/v1/messages/${email}/content`)).json();
    expect(content).toMatchObject({ __typename: 'MessageContent', message_id: email, data: { __typename: 'MessageEmailContent', subject_line: 'Hi', text_body: 'Welcome' } });
    const inApp = await insertMessage(herald, { environmentId: dev, channelId: channel, body: 'Ping' });
    expect((await get(`/v1/messages/${inApp}/content`)).json().data).toMatchObject({ __typename: 'MessageInAppFeedContent', blocks: [{ type: 'markdown', name: 'body', content: 'Ping' }] });
    const batch = (await get(`/v1/messages/batch/content?message_ids[]=${email}&message_ids[]=${inApp}&message_ids[]=${randomUUID()}`)).json();
    expect(batch.map((c: { message_id: string }) => c.message_id)).toEqual([email, inApp]);
  });
});

describe('messages: list filters', () => {
  const user = `filters-${randomUUID()}`;
  let a: string, b: string, c: string, d: string;
  const runId = randomUUID();
  beforeAll(async () => {
    a = await insertMessage(herald, { environmentId: dev, channelId: channel, user, tenant: 't1', workflowKey: 'wf-a', categories: ['billing'], data: { project: 'p1', n: 1 }, workflowRunId: runId, insertedAt: new Date('2024-03-01T00:00:00Z') });
    b = await insertMessage(herald, { environmentId: dev, channelId: channel, user, tenant: 't2', workflowKey: 'wf-b', categories: ['social', 'billing'], data: { project: 'p2', n: 2 }, insertedAt: new Date('2024-03-02T00:00:00Z') });
    c = await insertMessage(herald, { environmentId: dev, channelId: channel, user, channelType: 'email', status: 'bounced', workflowKey: 'wf-a', data: { project: 'p1', n: 3 }, insertedAt: new Date('2024-03-03T00:00:00Z') });
    d = await insertMessage(herald, { environmentId: dev, channelId: channel, user, status: 'delivered', workflowKey: 'wf-c', insertedAt: new Date('2024-03-04T00:00:00Z') });
    expect((await herald.request('PUT', `/v1/messages/${d}/read`, { token: devSk })).statusCode).toBe(200);
  });
  const ids = async (query: string) => {
    const response = await get(`/v1/users/${user}/messages?${query}`);
    expect(response.statusCode, response.body).toBe(200);
    return (response.json().items as Array<{ id: string }>).map((m) => m.id);
  };

  it('filters by tenant, source (workflow key) and workflow run', async () => {
    expect(await ids('tenant=t1')).toEqual([a]);
    expect(await ids('source=wf-a')).toEqual([c, a]);
    expect(await ids(`workflow_run_id=${runId}`)).toEqual([a]);
  });

  it('filters by delivery status and engagement status', async () => {
    expect(await ids('status[]=bounced')).toEqual([c]);
    expect(await ids('status[]=bounced&status[]=delivered')).toEqual([d, c, b, a]);
    expect(await ids('engagement_status[]=read')).toEqual([d]);
    expect(await ids('engagement_status[]=unread&engagement_status[]=unarchived')).toEqual([c, b, a]);
  });

  it('filters by workflow categories (any), message ids, trigger data and inserted_at bounds', async () => {
    expect(await ids('workflow_categories[]=billing')).toEqual([b, a]);
    expect(await ids('workflow_categories[]=social')).toEqual([b]);
    expect(await ids(`message_ids[]=${a}&message_ids[]=${c}`)).toEqual([c, a]);
    expect(await ids(`trigger_data=${encodeURIComponent(JSON.stringify({ project: 'p1' }))}`)).toEqual([c, a]);
    expect(await ids('inserted_at.gt=2024-03-02T00:00:00Z')).toEqual([d, c]);
    expect(await ids('inserted_at.gte=2024-03-02T00:00:00Z&inserted_at.lt=2024-03-04T00:00:00Z')).toEqual([c, b]);
    expect(await ids('inserted_at.lte=2024-03-01T00:00:00Z')).toEqual([a]);
  });

  it('filters by channel id (and, as a Herald convenience, channel key)', async () => {
    expect(await ids(`channel_id=${channel}`)).toEqual([d, c, b, a]);
    expect(await ids('channel_id=in-app-feed')).toEqual([d, c, b, a]);
    expect(await ids(`channel_id=${randomUUID()}`)).toEqual([]);
  });

  it('refuses nested or malformed trigger data and bad dates with 422', async () => {
    expect((await get(`/v1/messages?trigger_data=${encodeURIComponent('{"a":{"b":1}}')}`)).statusCode).toBe(422);
    expect((await get('/v1/messages?trigger_data=nope')).statusCode).toBe(422);
    expect((await get('/v1/messages?inserted_at.gt=yesterday')).statusCode).toBe(422);
    expect((await get('/v1/messages?status[]=lost')).statusCode).toBe(422);
    expect((await get('/v1/messages?after=garbage')).statusCode).toBe(422);
  });
});

describe('messages: engagement', () => {
  it('PUT/DELETE seen, read, archived set and clear timestamps, bump updated_at and record one event per change', async () => {
    const id = await insertMessage(herald, { environmentId: dev, channelId: channel, user: 'engaged', insertedAt: new Date('2024-01-01T00:00:00Z') });
    const read = await herald.request('PUT', `/v1/messages/${id}/read`, { token: devSk });
    expect(read.statusCode).toBe(200);
    expect(read.json()).toMatchObject({ id, engagement_statuses: ['read'], read_at: expect.any(String) });
    expect(read.json().updated_at > '2024-01-01T00:00:00.000Z').toBe(true);
    // Marking what is already so changes nothing and records nothing.
    const again = (await herald.request('PUT', `/v1/messages/${id}/read`, { token: devSk })).json();
    expect(again.read_at).toBe(read.json().read_at);
    await herald.request('PUT', `/v1/messages/${id}/seen`, { token: devSk });
    await herald.request('PUT', `/v1/messages/${id}/archived`, { token: devSk });
    expect((await get(`/v1/messages/${id}`)).json().engagement_statuses).toEqual(['seen', 'read', 'archived']);
    const unread = await herald.request('DELETE', `/v1/messages/${id}/read`, { token: devSk });
    expect(unread.json().read_at).toBeNull();
    await herald.request('DELETE', `/v1/messages/${id}/unseen`, { token: devSk });
    await herald.request('DELETE', `/v1/messages/${id}/archived`, { token: devSk });
    expect((await get(`/v1/messages/${id}`)).json().engagement_statuses).toEqual([]);
    expect(await eventTypes(id)).toEqual(['message.delivered', 'message.read', 'message.seen', 'message.archived', 'message.unread', 'message.unseen', 'message.unarchived']);
  });

  it('accepts Knock feed client requests: JSON content type with no body', async () => {
    const id = await insertMessage(herald, { environmentId: dev, channelId: channel, user: 'no-body' });
    const response = await herald.app!.inject({ method: 'PUT', url: `/v1/messages/${id}/seen`, headers: { authorization: `Bearer ${devSk}`, 'content-type': 'application/json' } });
    expect(response.statusCode, response.body).toBe(200);
    expect(response.json().seen_at).not.toBeNull();
  });

  it('PUT interacted records metadata on its event, marks read, and refuses nested or too much metadata', async () => {
    const id = await insertMessage(herald, { environmentId: dev, channelId: channel, user: 'clicker' });
    const response = await herald.request('PUT', `/v1/messages/${id}/interacted`, { token: devSk, body: { metadata: { action: 'open' } } });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({ engagement_statuses: ['read', 'interacted'], interacted_at: expect.any(String) });
    const events = (await get(`/v1/messages/${id}/events`)).json().items;
    expect(events.find((e: { type: string }) => e.type === 'message.interacted')).toMatchObject({ __typename: 'MessageEvent', data: { metadata: { action: 'open' } }, recipient: 'clicker' });
    expect((await herald.request('PUT', `/v1/messages/${id}/interacted`, { token: devSk, body: { metadata: { a: { b: 1 } } } })).statusCode).toBe(422);
    expect((await herald.request('PUT', `/v1/messages/${id}/interacted`, { token: devSk, body: { metadata: { a: 1, b: 2, c: 3, d: 4, e: 5, f: 6 } } })).statusCode).toBe(422);
    expect((await herald.request('PUT', `/v1/messages/${id}/interacted`, { token: devSk })).statusCode).toBe(200);
  });

  it('POST /v1/messages/batch/{action} answers the updated messages (unknown ids left out) and records events', async () => {
    const user = `batch-${randomUUID()}`;
    const one = await insertMessage(herald, { environmentId: dev, channelId: channel, user });
    const two = await insertMessage(herald, { environmentId: dev, channelId: channel, user });
    const response = await herald.request('POST', '/v1/messages/batch/seen', { token: devSk, body: { message_ids: [one, two, randomUUID(), 'junk'] } });
    expect(response.statusCode).toBe(200);
    const body = response.json() as Array<{ id: string; seen_at: string | null }>;
    expect(body.map((m) => m.id)).toEqual([one, two]);
    expect(body.every((m) => m.seen_at !== null)).toBe(true);
    expect(await eventTypes(one)).toEqual(['message.delivered', 'message.seen']);
    const unseen = (await herald.request('POST', '/v1/messages/batch/unseen', { token: devSk, body: { message_ids: [one] } })).json();
    expect(unseen[0].seen_at).toBeNull();
    const interacted = (await herald.request('POST', '/v1/messages/batch/interacted', { token: devSk, body: { message_ids: [two], metadata: { k: 'v' } } })).json();
    expect(interacted[0].interacted_at).not.toBeNull();
    expect((await herald.request('POST', '/v1/messages/batch/teleported', { token: devSk, body: { message_ids: [one] } })).statusCode).toBe(422);
    expect((await herald.request('POST', '/v1/messages/batch/read', { token: devSk, body: {} })).statusCode).toBe(422);
  });
});

describe('messages: events, activities, delivery logs', () => {
  it('lists activities of a batched message with actors resolved to Users', async () => {
    await herald.request('PUT', '/v1/users/actor-ann', { token: devSk, body: { name: 'Ann' } });
    const activities = [1, 2, 3].map((n) => ({ id: randomUUID(), actor: n === 2 ? 'actor-bob' : 'actor-ann', recipient: 'batch-reader', data: { n }, inserted_at: `2024-04-0${n}T00:00:00.000Z` }));
    const id = await insertMessage(herald, { environmentId: dev, channelId: channel, user: 'batch-reader', actors: ['actor-ann', 'actor-bob'], activities });
    const page1 = (await get(`/v1/messages/${id}/activities?page_size=2`)).json();
    expect(page1.items.map((a: { data: { n: number } }) => a.data.n)).toEqual([1, 2]);
    expect(page1.items[0]).toMatchObject({ __typename: 'Activity', actor: { __typename: 'User', id: 'actor-ann', name: 'Ann' }, recipient: { __typename: 'User', id: 'batch-reader' } });
    const page2 = (await get(`/v1/messages/${id}/activities?page_size=2&after=${page1.page_info.after}`)).json();
    expect(page2.items.map((a: { data: { n: number } }) => a.data.n)).toEqual([3]);
    const filtered = (await get(`/v1/messages/${id}/activities?trigger_data=${encodeURIComponent('{"n":2}')}`)).json();
    expect(filtered.items.map((a: { id: string }) => a.id)).toEqual([activities[1].id]);
  });

  it('lists delivery logs in the MessageDeliveryLog shape', async () => {
    const id = await insertMessage(herald, { environmentId: dev, channelId: channel, channelType: 'sms', user: 'texter' });
    await inEnvironment(herald.db, dev, (tx) =>
      tx.insertInto('message_delivery_logs').values({
        environment_id: dev,
        message_id: id,
        attempt: 1,
        provider: 'twilio',
        status: 'succeeded',
        request: JSON.stringify({ method: 'POST', host: 'api.twilio.com', path: '/2010-04-01/Messages.json', query: null, headers: {}, body: { To: '+1555' } }),
        response: JSON.stringify({ status: 201, headers: {}, body: { sid: 'SM1' } }),
        error: null,
        completed_at: new Date(),
      }).execute());
    const logs = (await get(`/v1/messages/${id}/delivery_logs`)).json();
    expect(logs.items).toHaveLength(1);
    expect(logs.items[0]).toMatchObject({
      __typename: 'MessageDeliveryLog',
      environment_id: dev,
      service_name: 'twilio',
      request: { method: 'POST', host: 'api.twilio.com' },
      response: { status: 201, body: { sid: 'SM1' } },
      attempt: 1,
      status: 'succeeded',
    });
  });
});

describe('messages: channel bulk actions', () => {
  it('marks every matching message of a user on the channel, answering a completed BulkOperation', async () => {
    const user = `bulk-${randomUUID()}`;
    const a = await insertMessage(herald, { environmentId: dev, channelId: channel, user, tenant: 'x' });
    const b = await insertMessage(herald, { environmentId: dev, channelId: channel, user });
    const other = await insertMessage(herald, { environmentId: dev, channelId: channel, user: `${user}-other` });
    const response = await herald.request('POST', `/v1/channels/${channel}/messages/bulk/read`, { token: devSk, body: { user_ids: [user], archived: 'exclude' } });
    expect(response.statusCode, response.body).toBe(200);
    expect(response.json()).toMatchObject({ __typename: 'BulkOperation', status: 'completed', processed_rows: 2, success_count: 2 });
    expect((await get(`/v1/messages/${a}`)).json().read_at).not.toBeNull();
    expect((await get(`/v1/messages/${b}`)).json().read_at).not.toBeNull();
    expect((await get(`/v1/messages/${other}`)).json().read_at).toBeNull();
    const archive = await herald.request('POST', `/v1/channels/${channel}/messages/bulk/archive`, { token: devSk, body: { recipient_ids: [user], tenants: ['x'] } });
    expect(archive.json().processed_rows).toBe(1);
    expect((await get(`/v1/messages/${a}`)).json().archived_at).not.toBeNull();
    expect((await get(`/v1/messages/${b}`)).json().archived_at).toBeNull();
    const deleted = await herald.request('POST', `/v1/channels/${channel}/messages/bulk/delete`, { token: devSk, body: { recipient_ids: [user] } });
    expect(deleted.json().processed_rows).toBe(2);
    expect((await get(`/v1/messages/${a}`)).statusCode).toBe(404);
    expect((await herald.request('POST', `/v1/channels/${randomUUID()}/messages/bulk/read`, { token: devSk, body: {} })).statusCode).toBe(404);
  });
});

describe('messages: isolation between environments', () => {
  it('a development message is 404 with the production key, and absent from its lists', async () => {
    const id = await insertMessage(herald, { environmentId: dev, channelId: channel, user: 'isolated' });
    expect((await get(`/v1/messages/${id}`, prodSk)).statusCode).toBe(404);
    expect((await get(`/v1/messages/${id}/content`, prodSk)).statusCode).toBe(404);
    expect((await get(`/v1/messages/${id}/events`, prodSk)).statusCode).toBe(404);
    expect((await herald.request('PUT', `/v1/messages/${id}/read`, { token: prodSk })).statusCode).toBe(404);
    const batch = await herald.request('POST', '/v1/messages/batch/read', { token: prodSk, body: { message_ids: [id] } });
    expect(batch.json()).toEqual([]);
    expect((await get('/v1/users/isolated/messages', prodSk)).json().items).toEqual([]);
    expect((await get('/v1/users/isolated/feeds/in-app-feed', prodSk)).json().entries).toEqual([]);
    expect((await get(`/v1/messages/${id}`)).json().read_at).toBeNull();
  });
});

describe('public keys and user tokens', () => {
  const headers = (token: string) => ({ 'x-knock-user-token': token });

  it('refuses a public key without a user token (401), with a bad or expired token (401), and on secret-only routes (403)', async () => {
    expect((await get('/v1/users/pk-user/feeds/in-app-feed', devPk)).statusCode).toBe(401);
    expect((await get('/v1/users/pk-user/feeds/in-app-feed', devPk, headers('not-a-jwt'))).statusCode).toBe(401);
    const expired = await userToken(signingKey, 'pk-user', -60);
    const expiredResponse = await get('/v1/users/pk-user/feeds/in-app-feed', devPk, headers(expired));
    expect(expiredResponse.statusCode).toBe(401);
    expect(expiredResponse.json().code).toBe('user_token_expired');
    const token = await userToken(signingKey, 'pk-user');
    expect((await get('/v1/messages', devPk, headers(token))).statusCode).toBe(403);
    expect((await get('/v1/users/pk-user', devPk, headers(token))).statusCode).toBe(403);
    expect((await get('/v1/workflow_recipient_runs', devPk, headers(token))).statusCode).toBe(403);
    const id = await insertMessage(herald, { environmentId: dev, channelId: channel, user: 'pk-user' });
    expect((await get(`/v1/messages/${id}/events`, devPk, headers(token))).statusCode).toBe(403);
  });

  it('refuses a token signed by another environment\'s key', async () => {
    const prodKey = (await createSigningKey(herald, 'production')).privateKey;
    const token = await userToken(prodKey, 'pk-user');
    expect((await get('/v1/users/pk-user/feeds/in-app-feed', devPk, headers(token))).statusCode).toBe(401);
  });

  it('lets a user token read and engage with its own user\'s messages only (403 for others)', async () => {
    const mine = await insertMessage(herald, { environmentId: dev, channelId: channel, user: 'alice' });
    const theirs = await insertMessage(herald, { environmentId: dev, channelId: channel, user: 'bob' });
    const token = await userToken(signingKey, 'alice');
    expect((await get('/v1/users/alice/feeds/in-app-feed', devPk, headers(token))).statusCode).toBe(200);
    expect((await get('/v1/users/bob/feeds/in-app-feed', devPk, headers(token))).statusCode).toBe(403);
    expect((await get('/v1/users/alice/messages', devPk, headers(token))).statusCode).toBe(200);
    expect((await get('/v1/users/bob/messages', devPk, headers(token))).statusCode).toBe(403);
    expect((await get(`/v1/messages/${mine}`, devPk, headers(token))).statusCode).toBe(200);
    expect((await get(`/v1/messages/${theirs}`, devPk, headers(token))).statusCode).toBe(403);
    expect((await herald.request('PUT', `/v1/messages/${mine}/read`, { token: devPk, headers: headers(token) })).statusCode).toBe(200);
    expect((await herald.request('PUT', `/v1/messages/${theirs}/read`, { token: devPk, headers: headers(token) })).statusCode).toBe(403);
    expect((await herald.request('POST', '/v1/messages/batch/read', { token: devPk, headers: headers(token), body: { message_ids: [mine, theirs] } })).statusCode).toBe(403);
    expect((await get(`/v1/messages/${theirs}`)).json().read_at).toBeNull();
    const bulkOther = await herald.request('POST', `/v1/channels/${channel}/messages/bulk/read`, { token: devPk, headers: headers(token), body: { user_ids: ['bob'] } });
    expect(bulkOther.statusCode).toBe(403);
    const bulkDelete = await herald.request('POST', `/v1/channels/${channel}/messages/bulk/delete`, { token: devPk, headers: headers(token), body: { user_ids: ['alice'] } });
    expect(bulkDelete.statusCode).toBe(403);
    const bulkMine = await herald.request('POST', `/v1/channels/${channel}/messages/bulk/seen`, { token: devPk, headers: headers(token), body: {} });
    expect(bulkMine.statusCode).toBe(200);
    expect((await get(`/v1/messages/${mine}`)).json().seen_at).not.toBeNull();
    expect((await get(`/v1/messages/${theirs}`)).json().seen_at).toBeNull();
  });

  it('refuses tokens of a revoked signing key', async () => {
    const key = await createSigningKey(herald, 'development');
    const token = await userToken(key.privateKey, 'carol');
    expect((await get('/v1/users/carol/feeds/in-app-feed', devPk, headers(token))).statusCode).toBe(200);
    const revoked = await herald.request('DELETE', `/mgmt/v1/environments/development/signing_keys/${key.id}`, { token: herald.secrets.service_token });
    expect(revoked.statusCode).toBe(200);
    expect((await get('/v1/users/carol/feeds/in-app-feed', devPk, headers(token))).statusCode).toBe(401);
    // The environment's other key still works.
    expect((await get('/v1/users/carol/feeds/in-app-feed', devPk, headers(await userToken(signingKey, 'carol')))).statusCode).toBe(200);
  });
});

describe('workflow recipient runs', () => {
  async function insertRun(status: string, extra: { error?: unknown; refs?: unknown; tenant?: string; workflowKey?: string; recipient?: unknown } = {}): Promise<string> {
    const id = randomUUID();
    const recipient = extra.recipient ?? 'run-user';
    const key = typeof recipient === 'string' ? `user:${recipient}` : `object:${(recipient as { collection: string }).collection}:${(recipient as { id: string }).id}`;
    await inEnvironment(herald.db, prod, (tx) =>
      sql`INSERT INTO workflow_recipient_runs (environment_id, id, workflow_run_id, workflow_key, recipient, recipient_key, tenant, status, refs, error, completed_at)
          VALUES (${prod}, ${id}, ${randomUUID()}, ${extra.workflowKey ?? 'wf-runs'}, ${JSON.stringify(recipient)}::jsonb, ${key}, ${extra.tenant ?? null}, ${status},
                  ${JSON.stringify(extra.refs ?? {})}::jsonb, ${extra.error === undefined ? null : JSON.stringify(extra.error)}::jsonb,
                  ${['completed', 'halted', 'error', 'cancelled', 'batched'].includes(status) ? new Date() : null})`.execute(tx));
    return id;
  }

  it('maps Herald\'s halted, error and batched runs to Knock\'s completed, keeping the detail as additions', async () => {
    const halted = await insertRun('halted', {
      refs: { fetch_1: { status: 'failed', tries: 3, error: 'HTTP 500' }, email_1: { status: 'done', output: { delivery_status: 'sent' } } },
      error: { step_ref: 'fetch_1', step_type: 'http_fetch', message: 'HTTP 500', tries: 3 },
    });
    const errored = await insertRun('error', { error: { message: 'The workflow version of this run no longer exists' } });
    const batched = await insertRun('batched');
    const paused = await insertRun('paused');
    const list = (await get('/v1/workflow_recipient_runs?page_size=50', prodSk)).json();
    const byId = new Map(list.items.map((r: { id: string }) => [r.id, r]));
    expect(byId.get(halted)).toMatchObject({
      __typename: 'WorkflowRecipientRun',
      status: 'completed',
      herald_status: 'halted',
      error_count: 1,
      workflow: 'wf-runs',
      recipient: 'run-user',
      trigger_source: { type: 'api' },
      error: { step_ref: 'fetch_1', message: 'HTTP 500' },
      steps: { fetch_1: { status: 'failed' } },
    });
    expect(byId.get(errored)).toMatchObject({ status: 'completed', herald_status: 'error', error_count: 1 });
    expect(byId.get(batched)).toMatchObject({ status: 'completed', error_count: 0 });
    expect(byId.get(paused)).toMatchObject({ status: 'paused' });

    const completed = (await get('/v1/workflow_recipient_runs?status[]=completed', prodSk)).json().items.map((r: { id: string }) => r.id);
    expect(completed).toEqual(expect.arrayContaining([halted, errored, batched]));
    expect(completed).not.toContain(paused);
    const withErrors = (await get('/v1/workflow_recipient_runs?has_errors=true', prodSk)).json().items.map((r: { id: string }) => r.id);
    expect(new Set(withErrors)).toEqual(new Set([halted, errored]));

    const detail = (await get(`/v1/workflow_recipient_runs/${halted}`, prodSk)).json();
    expect(detail.events).toEqual(expect.arrayContaining([
      expect.objectContaining({ __typename: 'WorkflowRecipientRunEvent', step_ref: 'fetch_1', status: 'error', attempt: 3 }),
      expect.objectContaining({ event: 'run_halted', status: 'error' }),
    ]));
  });

  it('filters by workflow, tenant and recipient (user id or object reference); 404 for unknown or other-environment runs', async () => {
    const one = await insertRun('completed', { workflowKey: 'wf-filter', tenant: 'tt', recipient: 'filter-user' });
    const two = await insertRun('queued', { workflowKey: 'wf-filter', recipient: { id: 'o1', collection: 'teams' } });
    const ids = async (q: string) => (await get(`/v1/workflow_recipient_runs?${q}`, prodSk)).json().items.map((r: { id: string }) => r.id);
    expect(await ids('workflow=wf-filter')).toEqual([two, one]);
    expect(await ids('workflow=wf-filter&tenant=tt')).toEqual([one]);
    expect(await ids('recipient=filter-user')).toEqual([one]);
    expect(await ids('recipient[id]=o1&recipient[collection]=teams')).toEqual([two]);
    expect((await get(`/v1/workflow_recipient_runs/${one}`, devSk)).statusCode).toBe(404);
    expect((await get('/v1/workflow_recipient_runs/nope', prodSk)).statusCode).toBe(404);
  });
});
