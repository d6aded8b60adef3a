/**
 * Conformance: the official `@knocklabs/node` SDK against Herald's routes for objects as
 * recipients — an object's channel data, preference sets and messages. Only the base URL
 * differs from Knock, so a difference in routes, status codes or shapes fails here.
 */
import { randomUUID } from 'node:crypto';
import Knock, { NotFoundError, UnprocessableEntityError } from '@knocklabs/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHerald, type TestHerald } from '../support/herald.ts';
import { knockClients } from '../support/knock-node.ts';
import { commitWorkflow, eventually } from '../support/engine.ts';

let herald: TestHerald;
let knock: Knock;
let prod: Knock;

beforeAll(async () => {
  herald = await startTestHerald();
  ({ knock, prod } = knockClients(herald));
});
afterAll(async () => herald?.close());

const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

function emptyPreferenceSet(id: string) {
  return { __typename: 'PreferenceSet', id, workflows: null, categories: null, channel_types: null, channels: null, commercial_subscribed: null };
}

async function collect<T>(list: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of list) items.push(item);
  return items;
}

describe('objects: channel data', () => {
  it('sets (creating the object), gets and unsets channel data', async () => {
    const channelId = randomUUID();
    const slack = { connections: [{ incoming_webhook: { url: 'https://hooks.slack.com/services/T/B/X' } }] };
    const set = await knock.objects.setChannelData('slack-channels', 'eng', channelId, { data: slack });
    expect(set).toEqual({ __typename: 'ChannelData', channel_id: channelId, data: slack });
    expect((await knock.objects.get('slack-channels', 'eng')).properties).toEqual({});
    expect(await knock.objects.getChannelData('slack-channels', 'eng', channelId)).toEqual(set);

    const push = await knock.objects.setChannelData('slack-channels', 'eng', channelId, { data: { tokens: ['tok'] } });
    expect(push.data).toEqual({ tokens: ['tok'], devices: [] });

    await expect(knock.objects.unsetChannelData('slack-channels', 'eng', channelId)).resolves.toBeNull();
    await expect(knock.objects.getChannelData('slack-channels', 'eng', channelId)).rejects.toBeInstanceOf(NotFoundError);
    await expect(knock.objects.unsetChannelData('slack-channels', 'eng', channelId)).rejects.toBeInstanceOf(NotFoundError);
  });

  it('raises NotFoundError for an unknown object, UnprocessableEntityError for bad data, and keeps environments apart', async () => {
    const channelId = randomUUID();
    await expect(knock.objects.getChannelData('slack-channels', 'nobody', channelId)).rejects.toBeInstanceOf(NotFoundError);
    await expect(knock.objects.setChannelData('slack-channels', 'eng', channelId, { data: { tokens: 'x' } as never })).rejects.toBeInstanceOf(UnprocessableEntityError);
    await expect(knock.objects.setChannelData('$users', 'eng', channelId, { data: { tokens: ['x'] } })).rejects.toBeInstanceOf(UnprocessableEntityError);
    await knock.objects.setChannelData('slack-channels', 'dev-only', channelId, { data: { tokens: ['dev'] } });
    await expect(prod.objects.getChannelData('slack-channels', 'dev-only', channelId)).rejects.toBeInstanceOf(NotFoundError);
  });

  it('stores channel_data and preferences given inline to objects.set', async () => {
    const channelId = randomUUID();
    const object = await knock.objects.set('teams', 'inline-team', {
      name: 'Inline',
      channel_data: { [channelId]: { tokens: ['inline-token'] } },
      preferences: { default: { channel_types: { push: false } } },
    });
    expect(object.properties).toEqual({ name: 'Inline' });
    expect((await knock.objects.getChannelData('teams', 'inline-team', channelId)).data).toMatchObject({ tokens: ['inline-token'] });
    expect((await knock.objects.getPreferences('teams', 'inline-team', 'default')).channel_types).toEqual({ push: false });
  });
});

describe('objects: preferences', () => {
  it('gets an empty default set and lists none for an object without preferences', async () => {
    await knock.objects.set('teams', 'no-prefs', { name: 'None' });
    expect(await knock.objects.getPreferences('teams', 'no-prefs', 'default')).toEqual(emptyPreferenceSet('default'));
    expect(await knock.objects.listPreferences('teams', 'no-prefs')).toEqual([]);
  });

  it('sets sets (replace by default, merge on request), lists and unsets them', async () => {
    const set = await knock.objects.setPreferences('teams', 'prefs-team', 'default', { channel_types: { chat: false }, workflows: { digest: false } });
    expect(set).toEqual({ ...emptyPreferenceSet('default'), channel_types: { chat: false }, workflows: { digest: false } });
    const merged = await knock.objects.setPreferences('teams', 'prefs-team', 'default', { __persistence_strategy__: 'merge', channel_types: { email: true } });
    expect(merged).toMatchObject({ channel_types: { chat: false, email: true }, workflows: { digest: false } });
    await knock.objects.setPreferences('teams', 'prefs-team', 'tenant-1', { categories: { marketing: false } });

    const list = await knock.objects.listPreferences('teams', 'prefs-team');
    expect(list.map((s) => s.id)).toEqual(['default', 'tenant-1']);
    expect(list[0]).toEqual(merged);

    await expect(knock.objects.unsetPreferences('teams', 'prefs-team', 'tenant-1')).resolves.toBeNull();
    expect((await knock.objects.listPreferences('teams', 'prefs-team')).map((s) => s.id)).toEqual(['default']);
    await expect(knock.objects.unsetPreferences('teams', 'prefs-team', 'tenant-1')).rejects.toBeInstanceOf(NotFoundError);
  });

  it('raises NotFoundError for an unknown object and UnprocessableEntityError for an invalid set', async () => {
    await expect(knock.objects.listPreferences('teams', 'nobody')).rejects.toBeInstanceOf(NotFoundError);
    await expect(knock.objects.getPreferences('teams', 'nobody', 'default')).rejects.toBeInstanceOf(NotFoundError);
    await expect(knock.objects.setPreferences('teams', 'prefs-team', 'default', { channel_types: { fax: true } } as never)).rejects.toBeInstanceOf(UnprocessableEntityError);
  });
});

describe('objects: messages', () => {
  it('lists the messages a workflow sent to an object, with auto-pagination', async () => {
    await commitWorkflow(herald, 'object-feed', { steps: [{ ref: 'feed', type: 'channel', channel_key: 'in-app-feed', template: { markdown_body: 'Hello {{ recipient.name }} #{{ data.n }}' } }] });
    await knock.objects.set('rooms', 'room-1', { name: 'Room One' });
    const runIds: string[] = [];
    for (let n = 0; n < 3; n++) {
      const { workflow_run_id } = await knock.workflows.trigger('object-feed', { recipients: [{ id: 'room-1', collection: 'rooms' }], data: { n } });
      runIds.push(workflow_run_id);
    }
    const messages = await eventually(async () => {
      const all = await collect(knock.objects.listMessages('rooms', 'room-1', { page_size: 2 }));
      return all.length === 3 ? all : undefined;
    });
    for (const message of messages) {
      expect(message.__typename).toBe('Message');
      expect(message.recipient).toEqual({ id: 'room-1', collection: 'rooms' });
      expect(message.source.key).toBe('object-feed');
      expect(message.inserted_at).toMatch(ISO_DATE_TIME);
      expect(runIds).toContain(message.source.workflow_run_id);
    }
    const page = await knock.objects.listMessages('rooms', 'room-1', { page_size: 2 });
    expect(page.page_info).toMatchObject({ __typename: 'PageInfo', page_size: 2, after: expect.any(String) });
    expect(page.items).toHaveLength(2);
    expect((await prod.objects.listMessages('rooms', 'room-1')).items).toEqual([]);
  });
});
