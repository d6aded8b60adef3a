import { sql } from 'kysely';
import type { Db } from '../db/database.ts';
import { generateSecret, hashSecret, secretPreview } from './secrets.ts';
import type { PermissionGroupGrant } from './permissions.ts';
import { loadPermissionGroupGrant } from './permission-groups.ts';

const TOKEN_PREFIX = 'hst_';

/** Who is calling the management API: a service token, or a member's sign-in session. */
export interface Principal {
  type: 'service_token' | 'member';
  accountId: string;
  /** The service token's id, or the session's id for a member. */
  tokenId: string;
  /** The token's name, or the member's name (their email if unnamed). */
  name: string;
  role: string;
  /** Environments the token may act in; null = every environment its role allows. */
  environmentIds: string[] | null;
  /** With role `custom`: the permission group (its current levels) the principal's permissions come from. */
  permissionGroup: PermissionGroupGrant | null;
  memberId: string | null;
  /** Email and name of the member behind the token (used as commit author). */
  memberEmail: string | null;
  memberName: string | null;
}

export interface CreateServiceTokenInput {
  name: string;
  role: string;
  createdByMemberId: string | null;
  environmentIds?: string[] | null;
  /** Required with role `custom`. */
  permissionGroupId?: string | null;
}

/** Creates a service token; the token itself is returned only here. */
export async function createServiceToken(db: Db, accountId: string, input: CreateServiceTokenInput): Promise<{ id: string; token: string }> {
  const token = generateSecret(TOKEN_PREFIX);
  const row = await db
    .insertInto('service_tokens')
    .values({
      account_id: accountId,
      name: input.name,
      token_hash: hashSecret(token),
      token_prefix: secretPreview(token, TOKEN_PREFIX),
      role: input.role,
      created_by_member_id: input.createdByMemberId,
      environment_ids: input.environmentIds ?? null,
      permission_group_id: input.permissionGroupId ?? null,
      last_used_at: null,
      revoked_at: null,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return { id: row.id, token };
}

/** The principal behind a bearer service token, or undefined if unknown or revoked. */
export async function authenticateServiceToken(db: Db, token: string): Promise<Principal | undefined> {
  const row = await db
    .selectFrom('service_tokens')
    .leftJoin('members', 'members.id', 'service_tokens.created_by_member_id')
    .select([
      'service_tokens.id',
      'service_tokens.account_id',
      'service_tokens.name',
      'service_tokens.role',
      'service_tokens.environment_ids',
      'service_tokens.permission_group_id',
      'service_tokens.created_by_member_id',
      'service_tokens.last_used_at',
      'members.email as member_email',
      'members.name as member_name',
    ])
    .where('service_tokens.token_hash', '=', hashSecret(token))
    .where('service_tokens.revoked_at', 'is', null)
    .executeTakeFirst();
  if (!row) return undefined;
  // Usage is recorded at most once a minute per token, not as a write on every request.
  if (!row.last_used_at || Date.now() - row.last_used_at.getTime() > 60_000) {
    await db.updateTable('service_tokens').set({ last_used_at: sql`now()` }).where('id', '=', row.id).execute();
  }
  return {
    type: 'service_token',
    accountId: row.account_id,
    tokenId: row.id,
    name: row.name,
    role: row.role,
    environmentIds: row.environment_ids,
    permissionGroup: row.permission_group_id ? await loadPermissionGroupGrant(db, row.permission_group_id) : null,
    memberId: row.created_by_member_id,
    memberEmail: row.member_email,
    memberName: row.member_name,
  };
}

/** A service token as list views show it (never the token itself). */
export interface ServiceTokenView {
  id: string;
  name: string;
  role: string;
  prefix: string;
  environments: string[] | null;
  /** Herald: only on tokens with role `custom`. */
  permission_group_id?: string;
  created_by_member_id: string | null;
  created_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
}

export async function listServiceTokens(db: Db, accountId: string, slugOf: (id: string) => string): Promise<ServiceTokenView[]> {
  const rows = await db.selectFrom('service_tokens').selectAll().where('account_id', '=', accountId).orderBy('created_at').orderBy('id').execute();
  return rows.map((row) => ({
    id: row.id,
    name: row.name,
    role: row.role,
    prefix: row.token_prefix,
    environments: row.environment_ids?.map(slugOf) ?? null,
    ...(row.permission_group_id ? { permission_group_id: row.permission_group_id } : {}),
    created_by_member_id: row.created_by_member_id,
    created_at: row.created_at.toISOString(),
    last_used_at: row.last_used_at?.toISOString() ?? null,
    revoked_at: row.revoked_at?.toISOString() ?? null,
  }));
}

/** The role of a token of the account, or undefined if there is none. */
export async function findServiceTokenRole(db: Db, accountId: string, id: string): Promise<string | undefined> {
  const row = await db.selectFrom('service_tokens').select('role').where('account_id', '=', accountId).where('id', '=', id).executeTakeFirst();
  return row?.role;
}

/** Revokes a token: it is refused (401) from its next request on. */
export async function revokeServiceToken(db: Db, accountId: string, id: string): Promise<void> {
  await db.updateTable('service_tokens').set({ revoked_at: sql`coalesce(revoked_at, now())` }).where('account_id', '=', accountId).where('id', '=', id).execute();
}
