import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROLES } from '../../src/access/permissions.ts';
import { startTestHerald, type TestHerald } from '../support/herald.ts';

/**
 * Obfuscation leak test: unique markers planted in recipient data must never appear in
 * a management read of an environment that hides PII — for any role — and must appear
 * where the environment does not hide it.
 */

let herald: TestHerald;
let owner: string;
const CHANNEL = '7b8c9a10-1111-4222-8333-944455556666';

function markers(env: string) {
  return {
    name: `MARK-${env}-name-7f3a`,
    email: `mark-${env}-7f3a@example.com`,
    phone: `+1555${env.length}7f3a`,
    custom: `MARK-${env}-custom-7f3a`,
    nested: `MARK-${env}-nested-7f3a`,
    token: `MARK-${env}-push-token-7f3a`,
  };
}

async function plant(env: 'development' | 'production') {
  const m = markers(env);
  const key = herald.secrets.environments[env].secret_key;
  const res = await herald.request('PUT', '/v1/users/leaky', {
    token: key,
    body: { name: m.name, email: m.email, phone_number: m.phone, plan: m.custom, address: { street: m.nested }, channel_data: { [CHANNEL]: { tokens: [m.token] } } },
  });
  expect(res.statusCode).toBe(200);
}

async function tokenFor(role: string): Promise<string> {
  const res = await herald.request('POST', '/mgmt/v1/service_tokens', { token: owner, body: { name: role, role } });
  expect(res.statusCode).toBe(201);
  return res.json().token;
}

const READS = (env: string) => [`/mgmt/v1/environments/${env}/users`, `/mgmt/v1/environments/${env}/users/leaky`];

beforeAll(async () => {
  herald = await startTestHerald();
  owner = herald.secrets.service_token;
  await herald.request('PATCH', '/mgmt/v1/account', { token: owner, body: { production_write_access: true } });
  await plant('production');
  await plant('development');
});
afterAll(async () => herald?.close());

describe('obfuscation of recipient data in management reads', () => {
  it('production (hide_pii_data on by default): no role ever sees a planted marker', async () => {
    let reads = 0;
    for (const role of ROLES) {
      const token = await tokenFor(role);
      for (const path of READS('production')) {
        const res = await herald.request('GET', path, { token });
        if (res.statusCode === 403) continue;
        expect(res.statusCode).toBe(200);
        for (const marker of Object.values(markers('production'))) expect(res.body, `${role} ${path}`).not.toContain(marker);
        reads++;
      }
    }
    expect(reads).toBeGreaterThanOrEqual(10);
  });

  it('masked records keep their shape and say so', async () => {
    const user = (await herald.request('GET', '/mgmt/v1/environments/production/users/leaky', { token: owner })).json();
    expect(user).toMatchObject({ id: 'leaky', obfuscated: true, __typename: 'User' });
    expect(typeof user.name).toBe('string');
    expect(typeof user.address.street).toBe('string');
    expect(user.channel_data[0].channel_id).toBe(CHANNEL);
    expect(Array.isArray(user.channel_data[0].data.tokens)).toBe(true);
  });

  it('development (settings off): the markers are visible', async () => {
    const res = await herald.request('GET', '/mgmt/v1/environments/development/users/leaky', { token: owner });
    for (const marker of Object.values(markers('development'))) expect(res.body).toContain(marker);
    expect(res.json().obfuscated).toBe(false);
  });

  it('turning hide_pii_data on in development masks it there too', async () => {
    await herald.request('PATCH', '/mgmt/v1/environments/development', { token: owner, body: { hide_pii_data: true } });
    try {
      const res = await herald.request('GET', '/mgmt/v1/environments/development/users', { token: owner });
      for (const marker of Object.values(markers('development'))) expect(res.body).not.toContain(marker);
    } finally {
      await herald.request('PATCH', '/mgmt/v1/environments/development', { token: owner, body: { hide_pii_data: false } });
    }
  });

  it('the data API (sk_ key) always sees full data', async () => {
    const res = await herald.request('GET', '/v1/users/leaky', { token: herald.secrets.environments.production.secret_key });
    expect(res.body).toContain(markers('production').email);
  });

  it('owner/admin may reveal one record with a reason, which is audited; others may not', async () => {
    const member = await tokenFor('member');
    expect((await herald.request('POST', '/mgmt/v1/environments/production/users/leaky/reveal', { token: member, body: { reason: 'debugging' } })).statusCode).toBe(403);
    const res = await herald.request('POST', '/mgmt/v1/environments/production/users/leaky/reveal', { token: owner, body: { reason: 'ticket 1234' } });
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain(markers('production').email);
    const events = (await herald.request('GET', '/mgmt/v1/audit_events?action=record.revealed', { token: owner })).json().entries;
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ action: 'record.revealed', environment: 'production', target: { type: 'user', id: 'leaky' }, data: { reason: 'ticket 1234' } });
  });
});
