import { sql } from 'kysely';
import type { Db } from '../db/database.ts';
import type { Selectable } from 'kysely';
import type { MembersTable } from '../db/schema.ts';
import { hashPassword } from '../bootstrap.ts';
import { Conflict, Forbidden, Invalid, NotFound } from '../errors.ts';
import { isWithin, type AssignableRole } from './permissions.ts';
import { assignablePermissionGroup } from './permission-groups.ts';
import { recordAuditEvent, type AuditContext } from './audit.ts';
import { generateSecret, hashSecret } from './secrets.ts';
import type { Principal } from './service-tokens.ts';

const INVITE_PREFIX = 'hsi_';
/** Invitations expire after 7 days. */
export const INVITE_TTL_MS = 7 * 24 * 60 * 60 * 1000;

type MemberRow = Selectable<MembersTable>;

/** The mgmt API's `Member` shape (with `user` as `MemberUser`), plus Herald's `status`. */
export interface MemberView {
  id: string;
  role: string;
  /** Herald: `invited` until the invitation is accepted. */
  status: 'active' | 'invited';
  /** Herald: only on members with role `custom`, whose permissions come from this group. */
  permission_group_id?: string;
  user: { id: string; email: string; name: string | null; avatar_url: null; created_at: string; updated_at: string };
  created_at: string;
  updated_at: string;
}

export function presentMember(row: MemberRow): MemberView {
  const created = row.created_at.toISOString();
  const updated = row.updated_at.toISOString();
  return {
    id: row.id,
    role: row.role,
    status: row.password_hash ? 'active' : 'invited',
    ...(row.permission_group_id ? { permission_group_id: row.permission_group_id } : {}),
    // Herald has no separate user accounts: a member is its own user.
    user: { id: row.id, email: row.email, name: row.name, avatar_url: null, created_at: created, updated_at: updated },
    created_at: created,
    updated_at: updated,
  };
}

const current = (db: Db, accountId: string) => db.selectFrom('members').selectAll().where('account_id', '=', accountId).where('removed_at', 'is', null);

export async function listMembers(
  db: Db,
  accountId: string,
  filters: { role?: string; email?: string; after?: string; limit: number },
): Promise<{ entries: MemberView[]; after: string | null }> {
  let query = current(db, accountId);
  if (filters.role) query = query.where('role', '=', filters.role);
  if (filters.email) query = query.where(sql`lower(email)`, '=', filters.email.toLowerCase());
  if (filters.after) query = query.where('id', '>', filters.after);
  const rows = await query.orderBy('id').limit(filters.limit + 1).execute();
  const page = rows.slice(0, filters.limit);
  return { entries: page.map(presentMember), after: rows.length > filters.limit ? page[page.length - 1].id : null };
}

export async function findMember(db: Db, accountId: string, id: string): Promise<MemberRow | undefined> {
  return current(db, accountId).where('id', '=', id).executeTakeFirst();
}

/** The caller may grant `role` and act on members holding `targetRole` (admins: not owner or billing). */
function assertMayManage(principal: Principal, role: string, what: string): void {
  if (!isWithin(role, principal.role)) {
    throw new Forbidden(`A "${principal.role}" cannot ${what} a member with role "${role}"`, 'role_too_broad');
  }
}

async function assertRoleAvailable(db: Db, accountId: string, role: string): Promise<void> {
  if (role !== 'production_only_member') return;
  const account = await db.selectFrom('accounts').select('production_write_access').where('id', '=', accountId).executeTakeFirstOrThrow();
  if (!account.production_write_access) {
    throw Invalid.field('role', 'production_only_member exists only while production write access is on');
  }
}

/** Serialises membership changes of an account; returns the number of active owners. */
async function lockOwners(tx: Db, accountId: string): Promise<number> {
  await tx.selectFrom('accounts').select('id').where('id', '=', accountId).forUpdate().executeTakeFirstOrThrow();
  const row = await current(tx, accountId)
    .clearSelect()
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('role', '=', 'owner')
    .where('password_hash', 'is not', null)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

const isActiveOwner = (row: MemberRow) => row.role === 'owner' && row.password_hash !== null;

/** Invites a member: returns it with the one-time invitation token (stored only as a hash). */
export async function inviteMember(
  db: Db,
  accountId: string,
  principal: Principal,
  input: { email: string; role: AssignableRole; permission_group_id?: string },
  audit: AuditContext,
): Promise<{ member: MemberView; inviteToken: string; expiresAt: Date }> {
  assertMayManage(principal, input.role, 'invite');
  await assertRoleAvailable(db, accountId, input.role);
  const inviteToken = generateSecret(INVITE_PREFIX);
  const expiresAt = new Date(Date.now() + INVITE_TTL_MS);
  const row = await db.transaction().execute(async (tx) => {
    const existing = await current(tx, accountId).where(sql`lower(email)`, '=', input.email.toLowerCase()).executeTakeFirst();
    if (existing) throw new Conflict(`"${input.email}" is already a member (or invited)`, 'member_exists');
    const groupId = await assignablePermissionGroup(tx, accountId, input.role, input.permission_group_id);
    const inserted = await tx
      .insertInto('members')
      .values({
        account_id: accountId,
        email: input.email,
        name: null,
        role: input.role,
        password_hash: null,
        invite_token_hash: hashSecret(inviteToken),
        invite_expires_at: expiresAt,
        invited_by_member_id: principal.memberId,
        permission_group_id: groupId,
      })
      .returningAll()
      .executeTakeFirstOrThrow()
      .catch((error: { code?: string }) => {
        if (error.code === '23505') throw new Conflict(`"${input.email}" is already a member (or invited)`, 'member_exists');
        throw error;
      });
    await recordAuditEvent(tx, {
      ...audit,
      accountId,
      action: 'member.invited',
      environmentId: null,
      target: { type: 'member', id: inserted.id },
      data: { email: input.email, role: input.role, ...(groupId ? { permission_group_id: groupId } : {}), expires_at: expiresAt.toISOString() },
    });
    return inserted;
  });
  return { member: presentMember(row), inviteToken, expiresAt };
}

/** Accepts an invitation: sets the member's name and argon2id password; the token is then spent. */
export async function acceptInvite(db: Db, input: { inviteToken: string; password: string; name: string }, requestId: string): Promise<MemberView> {
  const passwordHash = await hashPassword(input.password);
  return db.transaction().execute(async (tx) => {
    const row = await tx
      .updateTable('members')
      .set({ password_hash: passwordHash, name: input.name, invite_token_hash: null, invite_expires_at: null, updated_at: sql`now()` })
      .where('invite_token_hash', '=', hashSecret(input.inviteToken))
      .where('invite_expires_at', '>', sql<Date>`now()`)
      .where('removed_at', 'is', null)
      .returningAll()
      .executeTakeFirst();
    if (!row) throw new NotFound('Invitation (it may have expired, been used or been revoked)');
    await recordAuditEvent(tx, {
      actor: { kind: 'member', id: row.id, email: row.email, name: row.name },
      requestId,
      accountId: row.account_id,
      action: 'member.joined',
      environmentId: null,
      target: { type: 'member', id: row.id },
      data: { role: row.role, ...(row.permission_group_id ? { permission_group_id: row.permission_group_id } : {}) },
    });
    return presentMember(row);
  });
}

/**
 * Changes a member's role, or (role `custom`) their permission group; effective on their
 * next request. The account keeps at least one owner.
 */
export async function changeMemberRole(
  db: Db,
  accountId: string,
  principal: Principal,
  id: string,
  input: { role: AssignableRole; permission_group_id?: string },
  audit: AuditContext,
): Promise<MemberView> {
  const { role } = input;
  assertMayManage(principal, role, 'grant the role of');
  await assertRoleAvailable(db, accountId, role);
  const row = await db.transaction().execute(async (tx) => {
    const owners = await lockOwners(tx, accountId);
    const before = await findMember(tx, accountId, id);
    if (!before) throw new NotFound('Member', id);
    assertMayManage(principal, before.role, 'change');
    const groupId = await assignablePermissionGroup(tx, accountId, role, input.permission_group_id);
    if (before.role === role && before.permission_group_id === groupId) return before;
    if (isActiveOwner(before) && owners <= 1) throw new Conflict('The account must keep at least one owner: make another member owner first', 'last_owner');
    const after = await tx
      .updateTable('members')
      .set({ role, permission_group_id: groupId, updated_at: sql`now()` })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirstOrThrow();
    const groups = before.permission_group_id || groupId ? { permission_group_id: { before: before.permission_group_id, after: groupId } } : {};
    await recordAuditEvent(tx, {
      ...audit,
      accountId,
      action: 'member.role_changed',
      environmentId: null,
      target: { type: 'member', id },
      data: { email: before.email, role: { before: before.role, after: role }, ...groups },
    });
    return after;
  });
  return presentMember(row);
}

/**
 * Removes a member (or revokes a pending invitation): their sessions and the service
 * tokens they created are revoked. The account keeps at least one owner.
 */
export async function removeMember(db: Db, accountId: string, principal: Principal, id: string, audit: AuditContext): Promise<void> {
  await db.transaction().execute(async (tx) => {
    const owners = await lockOwners(tx, accountId);
    const member = await findMember(tx, accountId, id);
    if (!member) throw new NotFound('Member', id);
    assertMayManage(principal, member.role, 'remove');
    if (isActiveOwner(member) && owners <= 1) throw new Conflict('The account must keep at least one owner', 'last_owner');
    await tx
      .updateTable('members')
      .set({ removed_at: sql`now()`, invite_token_hash: null, invite_expires_at: null, updated_at: sql`now()` })
      .where('id', '=', id)
      .execute();
    await tx.updateTable('member_sessions').set({ revoked_at: sql`now()` }).where('member_id', '=', id).where('revoked_at', 'is', null).execute();
    const tokens = await tx
      .updateTable('service_tokens')
      .set({ revoked_at: sql`now()` })
      .where('created_by_member_id', '=', id)
      .where('revoked_at', 'is', null)
      .returning('id')
      .execute();
    await recordAuditEvent(tx, {
      ...audit,
      accountId,
      action: 'member.removed',
      environmentId: null,
      target: { type: 'member', id },
      data: { email: member.email, role: member.role, ...(member.permission_group_id ? { permission_group_id: member.permission_group_id } : {}), pending_invite: member.password_hash === null, revoked_service_tokens: tokens.map((t) => t.id) },
    });
  });
}
