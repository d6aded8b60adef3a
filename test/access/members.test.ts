import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHerald, type TestHerald } from '../support/herald.ts';

let herald: TestHerald;
let owner: string;
let counter = 0;

const call = (token: string, method: string, url: string, body?: unknown) => herald.request(method, url, { token, body });
const sha256 = (s: string) => createHash('sha256').update(s).digest();

/** Signs in from a given client address (the throttle counts per email and per IP). */
const signIn = (body: { email: string; password: string }, ip = `10.0.${Math.floor(counter / 200)}.${counter % 200}`) =>
  herald.app!.inject({ method: 'POST', url: '/mgmt/v1/sessions', payload: body, remoteAddress: ip });

/** Invites, accepts and signs in a member; returns the sign-in response and the member's id. */
async function join(role: string, password = 'correct horse battery') {
  const email = `person-${++counter}@example.com`;
  const invited = await call(owner, 'POST', '/mgmt/v1/members', { email, role });
  expect(invited.statusCode, invited.body).toBe(201);
  const { id, invite_token } = invited.json();
  const accepted = await herald.request('POST', '/mgmt/v1/members/accept', { body: { invite_token, password, name: `Person ${counter}` } });
  expect(accepted.statusCode, accepted.body).toBe(200);
  const signedIn = await signIn({ email, password });
  expect(signedIn.statusCode, signedIn.body).toBe(201);
  return { id, email, invite_token, signedIn, token: signedIn.json().token as string, csrf: signedIn.json().csrf_token as string };
}

function cookiesOf(res: { cookies: Array<{ name: string; value: string; httpOnly?: boolean; sameSite?: string; secure?: boolean }> }) {
  return Object.fromEntries(res.cookies.map((c) => [c.name, c]));
}

beforeAll(async () => {
  herald = await startTestHerald();
  owner = herald.secrets.service_token;
});
afterAll(async () => herald?.close());

describe('members and sign-in', () => {
  it('invite → accept → sign in; the session token works as a bearer on /mgmt', async () => {
    const { id, invite_token, signedIn, token } = await join('member');
    expect(signedIn.json().member).toMatchObject({ id, role: 'member', status: 'active', user: { name: expect.stringMatching(/^Person/) } });
    expect((await call(token, 'GET', '/mgmt/v1/environments')).statusCode).toBe(200);
    const whoami = (await call(token, 'GET', '/mgmt/v1/whoami')).json();
    expect(whoami).toMatchObject({ type: 'oauth_context', user_id: id, service_token_name: null });
    // The invitation is spent.
    const again = await herald.request('POST', '/mgmt/v1/members/accept', { body: { invite_token, password: 'another password', name: 'x' } });
    expect(again.statusCode).toBe(404);
    // Knock's Member shape.
    const member = (await call(owner, 'GET', `/mgmt/v1/members/${id}`)).json();
    expect(Object.keys(member).sort()).toEqual(['created_at', 'id', 'role', 'status', 'updated_at', 'user']);
    expect(member.user).toMatchObject({ id, email: expect.any(String), created_at: expect.any(String), updated_at: expect.any(String) });
    const list = (await call(owner, 'GET', '/mgmt/v1/members?role=member')).json();
    expect(list.entries.map((m: { id: string }) => m.id)).toContain(id);
  });

  it('sets HttpOnly SameSite=Strict session and readable CSRF cookies; cookie writes need x-csrf-token', async () => {
    const { signedIn, csrf } = await join('admin');
    const cookies = cookiesOf(signedIn);
    expect(cookies.herald_session).toMatchObject({ httpOnly: true, sameSite: 'Strict' });
    expect(cookies.herald_session.secure).toBeFalsy(); // plain http in tests
    expect(cookies.herald_csrf.httpOnly).toBeFalsy();
    expect(cookies.herald_csrf.value).toBe(csrf);
    const cookie = `herald_session=${cookies.herald_session.value}; herald_csrf=${csrf}`;
    expect((await herald.request('GET', '/mgmt/v1/environments', { headers: { cookie } })).statusCode).toBe(200);
    const body = { name: 'via cookie', role: 'support' };
    const refused = await herald.request('POST', '/mgmt/v1/service_tokens', { headers: { cookie }, body });
    expect(refused.statusCode).toBe(403);
    expect(refused.json().code).toBe('csrf_token_invalid');
    const wrong = await herald.request('POST', '/mgmt/v1/service_tokens', { headers: { cookie, 'x-csrf-token': 'nope' }, body });
    expect(wrong.statusCode).toBe(403);
    expect((await herald.request('POST', '/mgmt/v1/service_tokens', { headers: { cookie, 'x-csrf-token': csrf }, body })).statusCode).toBe(201);
  });

  it('wrong password and unknown email give the same 401; repeated failures are throttled with 429 + Retry-After', async () => {
    const { email } = await join('member');
    const wrong = await signIn({ email, password: 'wrong password' }, '192.0.2.1');
    const unknown = await signIn({ email: 'ghost@example.com', password: 'wrong password' }, '192.0.2.2');
    expect(wrong.statusCode).toBe(401);
    expect(unknown.statusCode).toBe(401);
    expect(wrong.json()).toEqual(unknown.json());
    // Per email (from changing addresses): the sixth attempt waits, even with the right password.
    for (let i = 0; i < 4; i++) expect((await signIn({ email, password: 'wrong' }, `192.0.2.${10 + i}`)).statusCode).toBe(401);
    const throttled = await signIn({ email, password: 'correct horse battery' }, '192.0.2.20');
    expect(throttled.statusCode).toBe(429);
    expect(Number(throttled.headers['retry-after'])).toBeGreaterThan(0);
    // Per address (with changing emails).
    for (let i = 0; i < 5; i++) expect((await signIn({ email: `spray-${i}@example.com`, password: 'wrong' }, '198.51.100.7')).statusCode).toBe(401);
    const { email: other } = await join('member');
    expect((await signIn({ email: other, password: 'correct horse battery' }, '198.51.100.7')).statusCode).toBe(429);
    expect((await signIn({ email: other, password: 'correct horse battery' }, '198.51.100.8')).statusCode).toBe(201);
  });

  it('sign out revokes the session (bearer and cookie)', async () => {
    const { token, signedIn, csrf } = await join('member');
    expect((await call(token, 'DELETE', '/mgmt/v1/sessions/current')).statusCode).toBe(204);
    expect((await call(token, 'GET', '/mgmt/v1/environments')).statusCode).toBe(401);
    const cookie = `herald_session=${cookiesOf(signedIn).herald_session.value}; herald_csrf=${csrf}`;
    expect((await herald.request('GET', '/mgmt/v1/environments', { headers: { cookie } })).statusCode).toBe(401);
  });

  it('an admin cannot invite or manage owners or billing members, nor grant those roles', async () => {
    const { token: admin } = await join('admin');
    for (const role of ['owner', 'billing']) {
      const res = await call(admin, 'POST', '/mgmt/v1/members', { email: `x-${++counter}@example.com`, role });
      expect(res.statusCode).toBe(403);
      expect(res.json().code).toBe('role_too_broad');
    }
    const ownerMember = (await call(owner, 'GET', '/mgmt/v1/members?role=owner')).json().entries[0].id;
    expect((await call(admin, 'PATCH', `/mgmt/v1/members/${ownerMember}`, { role: 'member' })).statusCode).toBe(403);
    expect((await call(admin, 'DELETE', `/mgmt/v1/members/${ownerMember}`)).statusCode).toBe(403);
    const { id: support } = await join('support');
    expect((await call(admin, 'PATCH', `/mgmt/v1/members/${support}`, { role: 'owner' })).statusCode).toBe(403);
    expect((await call(admin, 'PATCH', `/mgmt/v1/members/${support}`, { role: 'member' })).statusCode).toBe(200);
    // Members cannot manage members at all.
    const { token: member } = await join('member');
    const denied = await call(member, 'GET', '/mgmt/v1/members');
    expect(denied.statusCode).toBe(403);
    expect(denied.json().message).toContain('members.manage');
  });

  it('the last owner can be neither demoted nor removed', async () => {
    const ownerMember = (await call(owner, 'GET', '/mgmt/v1/members?role=owner')).json().entries[0].id;
    const demote = await call(owner, 'PATCH', `/mgmt/v1/members/${ownerMember}`, { role: 'admin' });
    expect(demote.statusCode).toBe(409);
    expect(demote.json().code).toBe('last_owner');
    expect((await call(owner, 'DELETE', `/mgmt/v1/members/${ownerMember}`)).statusCode).toBe(409);
    // With a second (accepted) owner, one may go.
    const { id: second, token } = await join('owner');
    expect((await call(token, 'PATCH', `/mgmt/v1/members/${second}`, { role: 'admin' })).statusCode).toBe(200);
    expect((await call(owner, 'PATCH', `/mgmt/v1/members/${ownerMember}`, { role: 'admin' })).statusCode).toBe(409);
  });

  it('production_only_member can be granted only while production write access is on', async () => {
    const res = await call(owner, 'POST', '/mgmt/v1/members', { email: `p-${++counter}@example.com`, role: 'production_only_member' });
    expect(res.statusCode).toBe(422);
    await call(owner, 'PATCH', '/mgmt/v1/account', { production_write_access: true });
    try {
      expect((await call(owner, 'POST', '/mgmt/v1/members', { email: `p-${++counter}@example.com`, role: 'production_only_member' })).statusCode).toBe(201);
    } finally {
      await call(owner, 'PATCH', '/mgmt/v1/account', { production_write_access: false });
    }
  });

  it("a member's role change applies on their next request; removal ends their sessions", async () => {
    const { id, token } = await join('member');
    expect((await call(token, 'GET', '/mgmt/v1/audit_events')).statusCode).toBe(403);
    expect((await call(owner, 'PATCH', `/mgmt/v1/members/${id}`, { role: 'admin' })).statusCode).toBe(200);
    expect((await call(token, 'GET', '/mgmt/v1/audit_events')).statusCode).toBe(200);
    expect((await call(owner, 'DELETE', `/mgmt/v1/members/${id}`)).statusCode).toBe(204);
    expect((await call(token, 'GET', '/mgmt/v1/environments')).statusCode).toBe(401);
    expect((await call(owner, 'GET', `/mgmt/v1/members/${id}`)).statusCode).toBe(404);
  });

  it('audits invitations, role changes, removals and sign-ins; session changes name the member', async () => {
    const { id, email, token } = await join('support');
    const { token: admin, email: adminEmail } = await join('admin');
    expect((await call(admin, 'PATCH', `/mgmt/v1/members/${id}`, { role: 'member' })).statusCode).toBe(200);
    expect((await call(admin, 'DELETE', `/mgmt/v1/members/${id}`)).statusCode).toBe(204);
    const events = (await call(owner, 'GET', `/mgmt/v1/audit_events?limit=100`)).json().entries as Array<{ action: string; actor: { type: string; email: string }; target: { id: string } }>;
    const about = events.filter((e) => e.target.id === id).map((e) => e.action);
    expect(about.sort()).toEqual(['member.invited', 'member.joined', 'member.removed', 'member.role_changed']);
    const byAdmin = events.find((e) => e.action === 'member.role_changed' && e.target.id === id)!;
    expect(byAdmin.actor).toMatchObject({ type: 'member', email: adminEmail });
    expect(events.some((e) => e.action === 'member.signed_in' && e.actor.email === email)).toBe(true);
    expect(token).toMatch(/^hss_/);
  });

  it('stores passwords as argon2id and invitation and session tokens only as hashes', async () => {
    const { id, invite_token, token, csrf } = await join('member');
    const member = await herald.db.selectFrom('members').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
    expect(member.password_hash).toMatch(/^\$argon2id\$/);
    expect(member.invite_token_hash).toBeNull();
    const sessions = await herald.db.selectFrom('member_sessions').selectAll().where('member_id', '=', id).execute();
    expect(sessions).toHaveLength(1);
    expect(sessions[0].token_hash.equals(sha256(token))).toBe(true);
    expect(sessions[0].csrf_token_hash.equals(sha256(csrf))).toBe(true);
    const dump = JSON.stringify(await herald.db.selectFrom('member_sessions').selectAll().execute()) + JSON.stringify(await herald.db.selectFrom('members').selectAll().execute());
    for (const secret of [invite_token, token, csrf]) expect(dump).not.toContain(secret);
    // Pending invitations store only the hash.
    const invited = (await call(owner, 'POST', '/mgmt/v1/members', { email: `h-${++counter}@example.com`, role: 'member' })).json();
    const row = await herald.db.selectFrom('members').selectAll().where('id', '=', invited.id).executeTakeFirstOrThrow();
    expect(row.invite_token_hash!.equals(sha256(invited.invite_token))).toBe(true);
    expect(row.invite_expires_at!.getTime()).toBeGreaterThan(Date.now() + 6 * 24 * 3600 * 1000);
  });
});
