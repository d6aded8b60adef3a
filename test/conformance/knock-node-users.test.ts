import Knock from '@knocklabs/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHerald, type TestHerald } from '../support/herald.ts';

let herald: TestHerald;
let knock: Knock;

beforeAll(async () => {
  herald = await startTestHerald();
  knock = new Knock({ apiKey: herald.secrets.environments.development.secret_key, baseURL: herald.url, maxRetries: 0 });
});
afterAll(async () => herald?.close());

describe('@knocklabs/node against Herald: users', () => {
  it('identifies, reads, merges properties and deletes a user', async () => {
    const user = await knock.users.update('user-1', { name: 'Ian Malcolm', email: 'ian@chaos.theory', favourite: 'chaos' } as never);
    expect(user).toMatchObject({ id: 'user-1', name: 'Ian Malcolm', email: 'ian@chaos.theory', favourite: 'chaos', __typename: 'User' });
    const updated = await knock.users.update('user-1', { phone_number: '+15555550100' });
    expect(updated).toMatchObject({ name: 'Ian Malcolm', phone_number: '+15555550100' });
    expect(await knock.users.get('user-1')).toMatchObject({ id: 'user-1', favourite: 'chaos' });
    await knock.users.delete('user-1');
    await expect(knock.users.get('user-1')).rejects.toMatchObject({ status: 404 });
  });
});
