import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveCommittedVersion } from '../../src/versioning/resolve.ts';
import { startTestHerald, type TestHerald } from '../support/herald.ts';

/** Promotion approval (Herald): promotions into a guarded environment wait for a second member. */

let herald: TestHerald;
let owner: string;
let otherMember: string;

const call = (token: string, method: string, url: string, body?: unknown) => herald.request(method, url, { token, body });
const workflow = (name: string) => ({ name, steps: [{ ref: 'feed', type: 'channel', channel_key: 'in-app-feed', template: { markdown_body: name } }] });
const productionVersion = async () => {
  const env = await herald.db.selectFrom('environments').select('id').where('slug', '=', 'production').executeTakeFirstOrThrow();
  return (await resolveCommittedVersion(herald.db, env.id, 'guarded'))?.content.name;
};

beforeAll(async () => {
  herald = await startTestHerald();
  owner = herald.secrets.service_token;
  // A second member, signed in: approvals must come from someone else.
  const invite = await call(owner, 'POST', '/mgmt/v1/members', { email: 'reviewer@example.com', role: 'member' });
  expect(invite.statusCode, invite.body).toBe(201);
  expect((await herald.request('POST', '/mgmt/v1/members/accept', { body: { invite_token: invite.json().invite_token, password: 'correct horse battery', name: 'Reviewer' } })).statusCode).toBe(200);
  const session = await herald.request('POST', '/mgmt/v1/sessions', { body: { email: 'reviewer@example.com', password: 'correct horse battery' } });
  expect(session.statusCode, session.body).toBe(201);
  otherMember = session.json().token;
  expect((await call(owner, 'PATCH', '/mgmt/v1/environments/production', { require_promotion_approval: true })).json().require_promotion_approval).toBe(true);
});
afterAll(async () => herald?.close());

describe('promotion approval', () => {
  it('a promotion into a guarded environment becomes a pending request and changes nothing', async () => {
    await call(owner, 'PUT', '/mgmt/v1/workflows/guarded?environment=development&commit=true&commit_message=v1', { workflow: workflow('v1') });
    const res = await call(owner, 'PUT', '/mgmt/v1/commits/promote?to_environment=production');
    expect(res.statusCode).toBe(202);
    expect(res.json()).toMatchObject({ result: 'pending_approval', promotion_request: { status: 'pending', environment: 'production', kind: 'promote_all' } });
    expect(await productionVersion()).toBeUndefined();
    const dryRun = await call(owner, 'PUT', '/mgmt/v1/commits/promote?to_environment=production&dry_run=true');
    expect(dryRun.statusCode).toBe(200);
    expect(dryRun.json().changes).toHaveLength(1);
  });

  it('the requester cannot approve their own promotion', async () => {
    const [pending] = (await call(owner, 'GET', '/mgmt/v1/promotion_requests?status=pending')).json().entries;
    const res = await call(owner, 'POST', `/mgmt/v1/promotion_requests/${pending.id}/approve`);
    expect(res.statusCode).toBe(403);
    expect(res.json().code).toBe('self_approval');
    expect(await productionVersion()).toBeUndefined();
  });

  it('a different member approves, and the promotion applies atomically with the decision', async () => {
    const [pending] = (await call(owner, 'GET', '/mgmt/v1/promotion_requests?status=pending')).json().entries;
    const res = await call(otherMember, 'POST', `/mgmt/v1/promotion_requests/${pending.id}/approve`);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().promotion_request).toMatchObject({ status: 'applied', decided_by: { email: 'reviewer@example.com' } });
    expect(res.json().commits).toHaveLength(1);
    expect(await productionVersion()).toBe('v1');
    expect((await call(otherMember, 'POST', `/mgmt/v1/promotion_requests/${pending.id}/approve`)).statusCode).toBe(409);
  });

  it('promote-one requests can be rejected, leaving production as it was', async () => {
    await call(owner, 'PUT', '/mgmt/v1/workflows/guarded?environment=development&commit=true&commit_message=v2', { workflow: workflow('v2') });
    const [v2] = (await call(owner, 'GET', '/mgmt/v1/commits?environment=development&resource_id=guarded&limit=1')).json().entries;
    const res = await call(owner, 'PUT', `/mgmt/v1/commits/${v2.id}/promote`);
    expect(res.statusCode).toBe(202);
    const id = res.json().promotion_request.id;
    const rejected = await call(otherMember, 'POST', `/mgmt/v1/promotion_requests/${id}/reject`);
    expect(rejected.statusCode).toBe(200);
    expect(rejected.json().promotion_request.status).toBe('rejected');
    expect(await productionVersion()).toBe('v1');
    // Requests and decisions are audited, with the target environment.
    const events = (await call(owner, 'GET', '/mgmt/v1/audit_events?action=promotion.requested,promotion.approved,promotion.rejected&limit=100')).json().entries as Array<{
      action: string;
      environment: string;
      target: { id: string };
      actor: { email: string };
      data: Record<string, unknown>;
    }>;
    const mine = events.filter((e) => e.target.id === id).reverse();
    expect(mine.map((e) => [e.action, e.environment])).toEqual([['promotion.requested', 'production'], ['promotion.rejected', 'production']]);
    expect(mine[0].data).toMatchObject({ kind: 'promote_one', commit_id: v2.id });
    expect(mine[1].actor.email).toBe('reviewer@example.com');
    expect(events.filter((e) => e.action === 'promotion.approved')).toHaveLength(1);
  });

  it('environments without the setting promote at once', async () => {
    await call(owner, 'PATCH', '/mgmt/v1/environments/production', { require_promotion_approval: false });
    const res = await call(owner, 'PUT', '/mgmt/v1/commits/promote?to_environment=production');
    expect(res.statusCode).toBe(200);
    expect(await productionVersion()).toBe('v2');
  });
});
