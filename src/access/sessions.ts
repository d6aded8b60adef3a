import { timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { verify } from '@node-rs/argon2';
import { sql } from 'kysely';
import type { Db } from '../db/database.ts';
import { hashPassword } from '../bootstrap.ts';
import { Forbidden, HeraldError, Unauthorized } from '../errors.ts';
import { recordAuditEvent } from './audit.ts';
import { presentMember, type MemberView } from './members.ts';
import { loadPermissionGroupGrant } from './permission-groups.ts';
import { generateSecret, hashSecret } from './secrets.ts';
import type { Principal } from './service-tokens.ts';

/** Session tokens start with this, so a bearer token is told apart from a service token (`hst_`). */
export const SESSION_PREFIX = 'hss_';
export const SESSION_COOKIE = 'herald_session';
export const CSRF_COOKIE = 'herald_csrf';
export const CSRF_HEADER = 'x-csrf-token';
/** Sessions last 7 days from sign-in. */
export const SESSION_TTL_MS = 7 * 24 * 60 * 60 * 1000;

const UNSAFE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

class TooManyAttempts extends HeraldError {
  constructor(message: string) {
    super(429, 'rate_limit_exceeded', 'rate_limit_error', message);
  }
}

/**
 * Sign-in throttle: at most `limit` failed attempts per email and per client IP within
 * `windowMs`. Kept in memory, per process: a restart forgets it, and several Herald
 * processes each count on their own.
 */
export class SignInThrottle {
  private readonly failures = new Map<string, number[]>();
  private readonly limit: number;
  private readonly windowMs: number;
  private readonly now: () => number;

  constructor(limit = 5, windowMs = 15 * 60 * 1000, now: () => number = Date.now) {
    this.limit = limit;
    this.windowMs = windowMs;
    this.now = now;
  }

  private recent(key: string): number[] {
    const since = this.now() - this.windowMs;
    const times = (this.failures.get(key) ?? []).filter((t) => t > since);
    if (times.length) this.failures.set(key, times);
    else this.failures.delete(key);
    return times;
  }

  /** Seconds until another attempt is allowed for these keys, or 0. */
  retryAfter(keys: string[]): number {
    let wait = 0;
    for (const key of keys) {
      const times = this.recent(key);
      if (times.length >= this.limit) wait = Math.max(wait, Math.ceil((times[times.length - this.limit] + this.windowMs - this.now()) / 1000));
    }
    return wait;
  }

  fail(keys: string[]): void {
    // Bounded memory: drop stale entries when the map grows large.
    if (this.failures.size > 10_000) for (const key of [...this.failures.keys()]) this.recent(key);
    for (const key of keys) this.failures.set(key, [...this.recent(key), this.now()]);
  }

  succeed(key: string): void {
    this.failures.delete(key);
  }
}

/** A hash to verify against when the email is unknown, so both cases take the same time. */
let dummyHash: Promise<string> | undefined;

/**
 * Checks an email and password; throttled per email and IP. Unknown emails, pending
 * invitations and wrong passwords all give the same 401.
 */
export async function signIn(
  db: Db,
  accountId: string,
  throttle: SignInThrottle,
  input: { email: string; password: string; ip: string; requestId: string },
  reply: FastifyReply,
): Promise<{ token: string; csrfToken: string; expiresAt: Date; member: MemberView }> {
  const emailKey = `email:${input.email.toLowerCase()}`;
  const keys = [emailKey, `ip:${input.ip}`];
  const wait = throttle.retryAfter(keys);
  if (wait > 0) {
    reply.header('retry-after', wait);
    throw new TooManyAttempts(`Too many failed sign-in attempts; retry after ${wait} s`);
  }
  const member = await db
    .selectFrom('members')
    .selectAll()
    .where('account_id', '=', accountId)
    .where('removed_at', 'is', null)
    .where(sql`lower(email)`, '=', input.email.toLowerCase())
    .executeTakeFirst();
  dummyHash ??= hashPassword('herald-dummy-password');
  const stored = member?.password_hash ?? (await dummyHash);
  const ok = await verify(stored, input.password).catch(() => false);
  if (!member?.password_hash || !ok) {
    throttle.fail(keys);
    throw new Unauthorized('The email or password is incorrect', 'invalid_credentials');
  }
  throttle.succeed(emailKey);
  const token = generateSecret(SESSION_PREFIX);
  const csrfToken = generateSecret('');
  const expiresAt = new Date(Date.now() + SESSION_TTL_MS);
  await db.transaction().execute(async (tx) => {
    const session = await tx
      .insertInto('member_sessions')
      .values({ account_id: accountId, member_id: member.id, token_hash: hashSecret(token), csrf_token_hash: hashSecret(csrfToken), expires_at: expiresAt, last_used_at: null, revoked_at: null })
      .returning('id')
      .executeTakeFirstOrThrow();
    await recordAuditEvent(tx, {
      actor: { kind: 'member', id: member.id, email: member.email, name: member.name },
      requestId: input.requestId,
      accountId,
      action: 'member.signed_in',
      environmentId: null,
      target: { type: 'session', id: session.id },
      data: { ip: input.ip },
    });
  });
  return { token, csrfToken, expiresAt, member: presentMember(member) };
}

/** Sets the session cookie (HttpOnly) and the CSRF cookie (readable by the page, for double-submit). */
export function setSessionCookies(request: FastifyRequest, reply: FastifyReply, session: { token: string; csrfToken: string; expiresAt: Date }): void {
  const common = { sameSite: 'strict' as const, secure: request.protocol === 'https', expires: session.expiresAt, path: '/' };
  reply.setCookie(SESSION_COOKIE, session.token, { ...common, httpOnly: true });
  reply.setCookie(CSRF_COOKIE, session.csrfToken, { ...common, httpOnly: false });
}

export function clearSessionCookies(request: FastifyRequest, reply: FastifyReply): void {
  const common = { sameSite: 'strict' as const, secure: request.protocol === 'https', path: '/' };
  reply.clearCookie(SESSION_COOKIE, { ...common, httpOnly: true });
  reply.clearCookie(CSRF_COOKIE, common);
}

/**
 * The principal behind a session token: the member with their current role (a role
 * change applies from their next request), or undefined if unknown, expired or revoked.
 * With `csrf`, the request's CSRF token must be the session's.
 */
export async function authenticateSession(db: Db, token: string, csrf?: { header: string | undefined }): Promise<Principal | undefined> {
  const row = await db
    .selectFrom('member_sessions as s')
    .innerJoin('members as m', 'm.id', 's.member_id')
    .select(['s.id', 's.account_id', 's.csrf_token_hash', 's.last_used_at', 'm.id as member_id', 'm.email', 'm.name', 'm.role', 'm.permission_group_id'])
    .where('s.token_hash', '=', hashSecret(token))
    .where('s.revoked_at', 'is', null)
    .where('s.expires_at', '>', sql<Date>`now()`)
    .where('m.removed_at', 'is', null)
    .executeTakeFirst();
  if (!row) return undefined;
  if (csrf) {
    const sent = csrf.header ? hashSecret(csrf.header) : undefined;
    if (!sent || !timingSafeEqual(sent, row.csrf_token_hash)) {
      throw new Forbidden(`Cookie-authenticated writes need the "${CSRF_HEADER}" header (the value of the "${CSRF_COOKIE}" cookie)`, 'csrf_token_invalid');
    }
  }
  if (!row.last_used_at || Date.now() - row.last_used_at.getTime() > 60_000) {
    await db.updateTable('member_sessions').set({ last_used_at: sql`now()` }).where('id', '=', row.id).execute();
  }
  return {
    type: 'member',
    accountId: row.account_id,
    tokenId: row.id,
    name: row.name ?? row.email,
    role: row.role,
    environmentIds: null,
    permissionGroup: row.permission_group_id ? await loadPermissionGroupGrant(db, row.permission_group_id) : null,
    memberId: row.member_id,
    memberEmail: row.email,
    memberName: row.name,
  };
}

/** The principal of a request that sent the session cookie (and, for writes, the CSRF header). */
export function authenticateSessionCookie(db: Db, request: FastifyRequest): Promise<Principal | undefined> {
  const token = request.cookies?.[SESSION_COOKIE];
  if (!token) return Promise.resolve(undefined);
  const header = request.headers[CSRF_HEADER];
  const csrf = UNSAFE_METHODS.has(request.method) ? { header: typeof header === 'string' ? header : undefined } : undefined;
  return authenticateSession(db, token, csrf);
}

/** Revokes a session (sign-out): refused (401) from its next request on. */
export async function revokeSession(db: Db, sessionId: string): Promise<void> {
  await db.updateTable('member_sessions').set({ revoked_at: sql`coalesce(revoked_at, now())` }).where('id', '=', sessionId).execute();
}
