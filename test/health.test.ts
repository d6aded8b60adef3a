import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHerald, type TestHerald } from './support/herald.ts';

let herald: TestHerald;
beforeAll(async () => {
  herald = await startTestHerald();
});
afterAll(async () => herald?.close());

describe('ops endpoints', () => {
  it('/healthz and /readyz answer 200 over real HTTP once started', async () => {
    expect((await fetch(`${herald.url}/healthz`)).status).toBe(200);
    const ready = await fetch(`${herald.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready' });
  });

  it('serves both OpenAPI documents without auth, listing the implemented paths', async () => {
    const data = (await (await fetch(`${herald.url}/v1/openapi.json`)).json()) as { paths: object };
    expect(Object.keys(data.paths)).toEqual(expect.arrayContaining(['/v1/users/{user_id}', '/v1/users/bulk/identify', '/v1/tenants/{id}']));
    const mgmt = (await (await fetch(`${herald.url}/mgmt/v1/openapi.json`)).json()) as { paths: object };
    expect(Object.keys(mgmt.paths)).toEqual(expect.arrayContaining(['/mgmt/v1/environments', '/mgmt/v1/environments/{environment_slug}/api_keys']));
  });

  it('unknown routes answer 404 in the Knock error shape', async () => {
    const res = await fetch(`${herald.url}/v1/nope`);
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ status: 404, code: 'route_not_found', type: 'invalid_request_error' });
  });
});
