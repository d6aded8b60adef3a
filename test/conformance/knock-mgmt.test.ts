/**
 * Conformance: the official `@knocklabs/mgmt` SDK against Herald's management API
 * (mounted under /mgmt, so the SDK's `/v1/...` paths land on `/mgmt/v1/...`).
 */
import KnockMgmt, { AuthenticationError, NotFoundError } from '@knocklabs/mgmt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHerald, type TestHerald } from '../support/herald.ts';

let herald: TestHerald;
let mgmt: KnockMgmt;

beforeAll(async () => {
  herald = await startTestHerald();
  mgmt = new KnockMgmt({ serviceToken: herald.secrets.service_token, baseURL: `${herald.url}/mgmt`, maxRetries: 0 });
});
afterAll(async () => herald?.close());

const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/** Checks a value against the mgmt spec's `Environment` (required: name, slug, order, created_at, updated_at, owner). */
function expectEnvironmentShape(environment: KnockMgmt.Environment): void {
  expect(typeof environment.slug).toBe('string');
  expect(typeof environment.name).toBe('string');
  expect(Number.isInteger(environment.order)).toBe(true);
  expect(['system', 'user']).toContain(environment.owner);
  expect(environment.created_at).toMatch(ISO_DATE_TIME);
  expect(environment.updated_at).toMatch(ISO_DATE_TIME);
  // Optional, nullable fields: absent, null or of the documented type.
  for (const field of ['deleted_at', 'last_commit_at'] as const) {
    const value = environment[field];
    if (value !== undefined && value !== null) expect(value).toMatch(ISO_DATE_TIME);
  }
  if (environment.label_color !== undefined && environment.label_color !== null) expect(typeof environment.label_color).toBe('string');
  if (environment.hide_pii_data !== undefined) expect(typeof environment.hide_pii_data).toBe('boolean');
}

/** Every environment, through the SDK's auto-pagination. */
async function listAll(params?: KnockMgmt.EnvironmentListParams, client: KnockMgmt = mgmt): Promise<KnockMgmt.Environment[]> {
  const all: KnockMgmt.Environment[] = [];
  for await (const environment of client.environments.list(params)) all.push(environment);
  return all;
}

describe('@knocklabs/mgmt against Herald', () => {
  it('auth.verify() returns the whoami of the service token', async () => {
    const whoami = await mgmt.auth.verify();
    expect(whoami).toMatchObject({
      account_name: expect.any(String),
      account_slug: expect.any(String),
      type: 'service_token',
      service_token_name: expect.any(String),
      account_features: expect.any(Object),
    });
    expect(whoami.account_name.length).toBeGreaterThan(0);
    for (const [feature, value] of Object.entries(whoami.account_features)) {
      expect(value === null || typeof value === 'boolean' || typeof value === 'number', `account_features.${feature}`).toBe(true);
    }
  });

  it('refuses a bad service token with 401 (AuthenticationError)', async () => {
    const bad = new KnockMgmt({ serviceToken: 'not-a-real-token', baseURL: `${herald.url}/mgmt`, maxRetries: 0 });
    const error = await bad.auth.verify().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AuthenticationError);
    expect(error).toMatchObject({ status: 401 });
    await expect(listAll(undefined, bad)).rejects.toMatchObject({ status: 401 });
  });

  it('refuses a data-API secret key as a service token with 401', async () => {
    const withApiKey = new KnockMgmt({ serviceToken: herald.secrets.environments.development.secret_key, baseURL: `${herald.url}/mgmt`, maxRetries: 0 });
    await expect(withApiKey.auth.verify()).rejects.toMatchObject({ status: 401 });
  });

  it('lists the environments in order with auto-pagination: development first, production last', async () => {
    const environments = await listAll();
    expect(environments.map((e) => e.slug)).toEqual(['development', 'production']);
    environments.forEach(expectEnvironmentShape);
    expect(environments[0]).toMatchObject({ slug: 'development', name: 'Development', owner: 'system', order: 0 });
    expect(environments[1]).toMatchObject({ slug: 'production', name: 'Production', owner: 'system' });
    expect(environments[1].order).toBeGreaterThan(environments[0].order);

    const page = await mgmt.environments.list();
    expect(page.page_info).toMatchObject({ page_size: expect.any(Number) });
  });

  it('retrieves one environment by slug, and answers 404 for an unknown slug', async () => {
    const development = await mgmt.environments.retrieve('development');
    expectEnvironmentShape(development);
    expect(development).toMatchObject({ slug: 'development', name: 'Development', owner: 'system', order: 0 });
    const listed = (await listAll()).find((e) => e.slug === 'development');
    expect(development).toEqual(listed);

    const error = await mgmt.environments.retrieve('no-such-environment').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NotFoundError);
    expect(error).toMatchObject({ status: 404 });
  });

  it('shows a created environment between development and production', async () => {
    // The mgmt SDK has no method to create environments: plain HTTP for this one call.
    const created = await fetch(`${herald.url}/mgmt/v1/environments`, {
      method: 'POST',
      headers: { authorization: `Bearer ${herald.secrets.service_token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Staging', slug: 'staging', insert_after: 'development' }),
    });
    expect(created.status).toBe(201);

    const environments = await listAll();
    expect(environments.map((e) => e.slug)).toEqual(['development', 'staging', 'production']);
    environments.forEach(expectEnvironmentShape);
    const orders = environments.map((e) => e.order);
    expect([...orders].sort((a, b) => a - b)).toEqual(orders);
    expect(new Set(orders).size).toBe(3);

    const staging = await mgmt.environments.retrieve('staging');
    expectEnvironmentShape(staging);
    expect(staging).toMatchObject({ slug: 'staging', name: 'Staging', owner: 'user' });
  });

  it('honours limit: auto-pagination walks pages of one environment each', async () => {
    const slugs = (await listAll()).map((e) => e.slug);
    expect(slugs.length).toBeGreaterThan(1);
    const first = await mgmt.environments.list({ limit: 1 });
    expect(first.entries).toHaveLength(1);
    expect(first.entries[0].slug).toBe('development');
    expect(first.page_info).toMatchObject({ page_size: 1, after: expect.any(String) });

    const pageSizes: number[] = [];
    for await (const page of first.iterPages()) pageSizes.push(page.entries.length);
    expect(pageSizes).toEqual(slugs.map(() => 1));
    expect((await listAll({ limit: 1 })).map((e) => e.slug)).toEqual(slugs);
  });
});

