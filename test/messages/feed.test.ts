import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHerald, type TestHerald } from '../support/herald.ts';
import { environmentIds, inAppChannel, insertMessage } from './fixtures.ts';

let herald: TestHerald;
let dev: string;
let sk: string;
let channel: string;
let otherChannel: string;

beforeAll(async () => {
  herald = await startTestHerald();
  dev = (await environmentIds(herald)).development;
  sk = herald.secrets.environments.development.secret_key;
  channel = await inAppChannel(herald);
  otherChannel = await inAppChannel(herald, 'second-feed');
});
afterAll(async () => herald?.close());

async function feed(user: string, query = '', channelId = channel) {
  const response = await herald.request('GET', `/v1/users/${user}/feeds/${channelId}${query ? `?${query}` : ''}`, { token: sk });
  expect(response.statusCode, response.body).toBe(200);
  return response.json();
}

const ids = (body: { entries: Array<{ id: string }> }) => body.entries.map((e) => e.id);

describe('feed: what it shows', () => {
  it('shows only this user\'s messages on this channel, newest first, with badge counts and the FeedItem shape', async () => {
    const user = `feed-${randomUUID()}`;
    const older = await insertMessage(herald, { environmentId: dev, channelId: channel, user, insertedAt: new Date('2024-05-01T00:00:00Z'), actors: ['actor-1'], data: { project: { id: 'p' }, note: 'hi' }, categories: ['social'], tenant: 'acme', actionUrl: 'https://example.com/c/1' });
    const newer = await insertMessage(herald, { environmentId: dev, channelId: channel, user, insertedAt: new Date('2024-05-02T00:00:00Z') });
    await insertMessage(herald, { environmentId: dev, channelId: otherChannel, user });
    await insertMessage(herald, { environmentId: dev, channelId: channel, user: `${user}-someone-else` });
    const body = await feed(user);
    expect(ids(body)).toEqual([newer, older]);
    expect(body.meta).toEqual({ __typename: 'FeedMetadata', total_count: 2, unread_count: 2, unseen_count: 2 });
    expect(body.vars).toEqual({});
    expect(body.page_info).toMatchObject({ __typename: 'PageInfo', after: null, before: null, page_size: 50 });
    const item = body.entries[1];
    expect(item).toMatchObject({
      __typename: 'FeedItem',
      __cursor: expect.any(String),
      id: older,
      actors: [{ __typename: 'User', id: 'actor-1' }],
      activities: [{ __typename: 'Activity', recipient: { __typename: 'User', id: user } }],
      blocks: [
        { type: 'markdown', name: 'body', content: `Hello ${user}`, rendered: `<p>Hello ${user}</p>` },
        { type: 'text', name: 'action_url', rendered: 'https://example.com/c/1' },
      ],
      data: { project: { id: 'p' }, note: 'hi' },
      read_at: null,
      seen_at: null,
      archived_at: null,
      interacted_at: null,
      link_clicked_at: null,
      clicked_at: null,
      source: { __typename: 'NotificationSource', key: 'comment-created', version_id: expect.any(String), categories: ['social'] },
      tenant: 'acme',
      total_activities: 1,
      total_actors: 1,
    });
  });

  it('compact mode drops activities and nested data and keeps at most one actor', async () => {
    const user = `compact-${randomUUID()}`;
    await insertMessage(herald, { environmentId: dev, channelId: channel, user, actors: ['a1', 'a2'], data: { nested: { x: 1 }, list: [1], flat: 'yes' } });
    const [item] = (await feed(user, 'mode=compact')).entries;
    expect(item.actors.map((a: { id: string }) => a.id)).toEqual(['a1']);
    expect(item.activities).toBeUndefined();
    expect(item.total_activities).toBeUndefined();
    expect(item.total_actors).toBe(2);
    expect(item.data).toEqual({ flat: 'yes' });
  });

  it('leaves out fields named by `exclude`', async () => {
    const user = `exclude-${randomUUID()}`;
    await insertMessage(herald, { environmentId: dev, channelId: channel, user });
    const body = await feed(user, 'exclude=entries.archived_at,entries.activities,vars,__proto__.x');
    expect(body.entries[0]).not.toHaveProperty('archived_at');
    expect(body.entries[0]).not.toHaveProperty('activities');
    expect(body).not.toHaveProperty('vars');
    expect(body.entries[0]).toHaveProperty('read_at');
  });

  it('returns the environment\'s public variables as `vars` (never secret ones)', async () => {
    const [pub] = await herald.db.insertInto('variables').values({ account_id: herald.accountId, key: 'brand_color', type: 'public', description: null }).returning('id').execute();
    const [secret] = await herald.db.insertInto('variables').values({ account_id: herald.accountId, key: 'api_secret', type: 'secret', description: null }).returning('id').execute();
    await herald.db.insertInto('variable_values').values([{ variable_id: pub.id, environment_id: dev, value: '#f00' }, { variable_id: secret.id, environment_id: dev, value: 'hush' }]).execute();
    expect((await feed('vars-user')).vars).toEqual({ brand_color: '#f00' });
    await herald.db.deleteFrom('variables').where('id', 'in', [pub.id, secret.id]).execute();
  });

  it('accepts the channel key instead of its id, 404 for unknown channels, and an empty feed for unknown users', async () => {
    const user = `bykey-${randomUUID()}`;
    const id = await insertMessage(herald, { environmentId: dev, channelId: channel, user });
    expect(ids(await feed(user, '', 'in-app-feed'))).toEqual([id]);
    expect((await herald.request('GET', `/v1/users/${user}/feeds/${randomUUID()}`, { token: sk })).statusCode).toBe(404);
    expect((await feed(`nobody-${randomUUID()}`)).entries).toEqual([]);
  });
});

describe('feed: filters and counts', () => {
  const user = `feed-filters-${randomUUID()}`;
  let read: string, seen: string, archived: string, fresh: string, tenanted: string;
  beforeAll(async () => {
    read = await insertMessage(herald, { environmentId: dev, channelId: channel, user, workflowKey: 'wf-1', insertedAt: new Date('2024-06-01T00:00:00Z') });
    seen = await insertMessage(herald, { environmentId: dev, channelId: channel, user, workflowKey: 'wf-2', categories: ['cat'], insertedAt: new Date('2024-06-02T00:00:00Z') });
    archived = await insertMessage(herald, { environmentId: dev, channelId: channel, user, insertedAt: new Date('2024-06-03T00:00:00Z') });
    fresh = await insertMessage(herald, { environmentId: dev, channelId: channel, user, data: { kind: 'x' }, insertedAt: new Date('2024-06-04T00:00:00Z') });
    tenanted = await insertMessage(herald, { environmentId: dev, channelId: channel, user, tenant: 'team-a', insertedAt: new Date('2024-06-05T00:00:00Z') });
    await herald.request('PUT', `/v1/messages/${read}/read`, { token: sk });
    await herald.request('PUT', `/v1/messages/${read}/seen`, { token: sk });
    await herald.request('PUT', `/v1/messages/${seen}/seen`, { token: sk });
    await herald.request('PUT', `/v1/messages/${archived}/archived`, { token: sk });
  });

  it('excludes archived messages by default; `archived` include/only', async () => {
    expect(ids(await feed(user))).toEqual([tenanted, fresh, seen, read]);
    expect(ids(await feed(user, 'archived=include'))).toEqual([tenanted, fresh, archived, seen, read]);
    expect(ids(await feed(user, 'archived=only'))).toEqual([archived]);
  });

  it('`status` narrows the entries and total_count; unread and unseen counts stay the badge counts', async () => {
    expect((await feed(user)).meta).toMatchObject({ total_count: 4, unread_count: 3, unseen_count: 2 });
    const unread = await feed(user, 'status=unread');
    expect(ids(unread)).toEqual([tenanted, fresh, seen]);
    expect(unread.meta).toMatchObject({ total_count: 3, unread_count: 3, unseen_count: 2 });
    expect(ids(await feed(user, 'status=read'))).toEqual([read]);
    expect(ids(await feed(user, 'status=unseen'))).toEqual([tenanted, fresh]);
    expect(ids(await feed(user, 'status=seen'))).toEqual([seen, read]);
    expect(ids(await feed(user, 'status=all'))).toEqual([tenanted, fresh, seen, read]);
  });

  it('filters by tenant, has_tenant, source, categories, trigger data and dates', async () => {
    expect(ids(await feed(user, 'tenant=team-a'))).toEqual([tenanted]);
    expect(ids(await feed(user, 'has_tenant=false'))).toEqual([fresh, seen, read]);
    expect(ids(await feed(user, 'has_tenant=true'))).toEqual([tenanted]);
    expect(ids(await feed(user, 'source=wf-2'))).toEqual([seen]);
    expect(ids(await feed(user, 'workflow_categories[]=cat'))).toEqual([seen]);
    expect(ids(await feed(user, `trigger_data=${encodeURIComponent('{"kind":"x"}')}`))).toEqual([fresh]);
    expect(ids(await feed(user, 'inserted_at.gte=2024-06-04T00:00:00Z'))).toEqual([tenanted, fresh]);
    expect((await feed(user, 'tenant=team-a')).meta).toMatchObject({ total_count: 1, unread_count: 1, unseen_count: 1 });
  });

  it('pages with page_size and after; `before` an item\'s __cursor answers the newer items', async () => {
    const page1 = await feed(user, 'page_size=2');
    expect(ids(page1)).toEqual([tenanted, fresh]);
    const page2 = await feed(user, `page_size=2&after=${page1.page_info.after}`);
    expect(ids(page2)).toEqual([seen, read]);
    expect(page2.page_info.after).toBeNull();
    const newer = await feed(user, `before=${page2.entries[0].__cursor}`);
    expect(ids(newer)).toEqual([tenanted, fresh]);
  });
});
