import { sql, type Selectable } from 'kysely';
import type { Db } from '../db/database.ts';
import type { PermissionGroupsTable } from '../db/schema.ts';
import { Conflict, Invalid, NotFound } from '../errors.ts';
import { listEnvironments } from '../environments/store.ts';
import { recordAuditEvent, type AuditContext } from './audit.ts';
import { CUSTOM_ROLE, type AccessLevel, type EnvironmentLevels, type PermissionGroupGrant, type ReleaseLevel } from './permissions.ts';

/**
 * Custom permission groups (Herald, beyond Knock): per-environment levels that members
 * and service tokens with role `custom` take their permissions from. What the levels
 * allow is decided in permissions.ts (`decide`); this module stores and validates them.
 */

type GroupRow = Selectable<PermissionGroupsTable>;

/** Levels by environment slug, as the API reads and writes them; `release` defaults to none. */
export type LevelsBySlug = Record<string, { access: AccessLevel; release?: ReleaseLevel }>;

export interface PermissionGroupView {
  id: string;
  name: string;
  description: string | null;
  /** Levels by environment slug; an environment not listed is `none`. */
  environments: Record<string, EnvironmentLevels>;
  created_at: string;
  updated_at: string;
}

const current = (db: Db, accountId: string) => db.selectFrom('permission_groups').selectAll().where('account_id', '=', accountId).where('deleted_at', 'is', null);

async function levelsOf(db: Db, groupIds: string[]): Promise<Map<string, Array<{ environment_id: string } & EnvironmentLevels>>> {
  const byGroup = new Map<string, Array<{ environment_id: string } & EnvironmentLevels>>();
  if (groupIds.length === 0) return byGroup;
  const rows = await db.selectFrom('permission_group_environments').selectAll().where('permission_group_id', 'in', groupIds).execute();
  for (const row of rows) {
    const list = byGroup.get(row.permission_group_id) ?? [];
    list.push({ environment_id: row.environment_id, access: row.access, release: row.release });
    byGroup.set(row.permission_group_id, list);
  }
  return byGroup;
}

async function present(db: Db, accountId: string, rows: GroupRow[]): Promise<PermissionGroupView[]> {
  const environments = await listEnvironments(db, accountId);
  const levels = await levelsOf(db, rows.map((r) => r.id));
  return rows.map((row) => {
    const mine = levels.get(row.id) ?? [];
    const bySlug: Record<string, EnvironmentLevels> = {};
    // In environment order; environments since deleted are left out.
    for (const environment of environments) {
      const found = mine.find((l) => l.environment_id === environment.id);
      if (found) bySlug[environment.slug] = { access: found.access, release: found.release };
    }
    return {
      id: row.id,
      name: row.name,
      description: row.description,
      environments: bySlug,
      created_at: row.created_at.toISOString(),
      updated_at: row.updated_at.toISOString(),
    };
  });
}

export async function listPermissionGroups(db: Db, accountId: string): Promise<PermissionGroupView[]> {
  return present(db, accountId, await current(db, accountId).orderBy(sql`lower(name)`).orderBy('id').execute());
}

export async function getPermissionGroup(db: Db, accountId: string, id: string): Promise<PermissionGroupView> {
  const row = await current(db, accountId).where('id', '=', id).executeTakeFirst();
  if (!row) throw new NotFound('Permission group', id);
  return (await present(db, accountId, [row]))[0];
}

/** The stored rows for levels given by slug: unknown slugs and release without access are refused (422). */
async function resolveLevels(tx: Db, accountId: string, levels: LevelsBySlug): Promise<Array<{ environment_id: string } & EnvironmentLevels>> {
  const environments = await listEnvironments(tx, accountId);
  const rows: Array<{ environment_id: string } & EnvironmentLevels> = [];
  for (const [slug, given] of Object.entries(levels)) {
    const environment = environments.find((e) => e.slug === slug);
    if (!environment) throw Invalid.field(`environments.${slug}`, `names no environment ("${slug}")`);
    const release = given.release ?? 'none';
    if (given.access === 'none' && release !== 'none') {
      throw Invalid.field(`environments.${slug}.release`, 'needs access "view" or "manage" in the environment (with access "none" nothing is allowed there)');
    }
    // `none` everywhere is the same as not listed.
    if (given.access !== 'none') rows.push({ environment_id: environment.id, access: given.access, release });
  }
  return rows;
}

async function writeLevels(tx: Db, groupId: string, rows: Array<{ environment_id: string } & EnvironmentLevels>): Promise<void> {
  await tx.deleteFrom('permission_group_environments').where('permission_group_id', '=', groupId).execute();
  if (rows.length) await tx.insertInto('permission_group_environments').values(rows.map((r) => ({ ...r, permission_group_id: groupId }))).execute();
}

function nameTaken(name: string) {
  return (error: { code?: string }): never => {
    if (error.code === '23505') throw new Conflict(`A permission group named "${name}" already exists`, 'permission_group_exists');
    throw error;
  };
}

export async function createPermissionGroup(
  db: Db,
  accountId: string,
  input: { name: string; description?: string | null; environments: LevelsBySlug },
  audit: AuditContext,
): Promise<PermissionGroupView> {
  const row = await db.transaction().execute(async (tx) => {
    const levels = await resolveLevels(tx, accountId, input.environments);
    const inserted = await tx
      .insertInto('permission_groups')
      .values({ account_id: accountId, name: input.name, description: input.description ?? null, deleted_at: null })
      .returningAll()
      .executeTakeFirstOrThrow()
      .catch(nameTaken(input.name));
    await writeLevels(tx, inserted.id, levels);
    const [view] = await present(tx, accountId, [inserted]);
    await recordAuditEvent(tx, {
      ...audit,
      accountId,
      action: 'permission_group.created',
      environmentId: null,
      target: { type: 'permission_group', id: inserted.id },
      data: { name: view.name, description: view.description, environments: view.environments },
    });
    return inserted;
  });
  return getPermissionGroup(db, accountId, row.id);
}

/** Changes a group (its members' and tokens' permissions change from their next request). */
export async function updatePermissionGroup(
  db: Db,
  accountId: string,
  id: string,
  input: { name?: string; description?: string | null; environments?: LevelsBySlug },
  audit: AuditContext,
): Promise<PermissionGroupView> {
  await db.transaction().execute(async (tx) => {
    const before = await current(tx, accountId).where('id', '=', id).forUpdate().executeTakeFirst();
    if (!before) throw new NotFound('Permission group', id);
    const [was] = await present(tx, accountId, [before]);
    const levels = input.environments === undefined ? undefined : await resolveLevels(tx, accountId, input.environments);
    const after = await tx
      .updateTable('permission_groups')
      .set({
        name: input.name ?? before.name,
        description: input.description === undefined ? before.description : input.description,
        updated_at: sql`now()`,
      })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirstOrThrow()
      .catch(nameTaken(input.name ?? before.name));
    if (levels) await writeLevels(tx, id, levels);
    const [now] = await present(tx, accountId, [after]);
    const changes: Record<string, { before: unknown; after: unknown }> = {};
    for (const field of ['name', 'description', 'environments'] as const) {
      if (JSON.stringify(was[field]) !== JSON.stringify(now[field])) changes[field] = { before: was[field], after: now[field] };
    }
    if (Object.keys(changes).length === 0) return;
    await recordAuditEvent(tx, {
      ...audit,
      accountId,
      action: 'permission_group.updated',
      environmentId: null,
      target: { type: 'permission_group', id },
      data: { name: now.name, changes },
    });
  });
  return getPermissionGroup(db, accountId, id);
}

/** Deletes a group no current member, pending invitation or live service token uses (else 409). */
export async function deletePermissionGroup(db: Db, accountId: string, id: string, audit: AuditContext): Promise<void> {
  await db.transaction().execute(async (tx) => {
    // Assignments take this row FOR SHARE, so none can slip in between the count and the delete.
    const group = await current(tx, accountId).where('id', '=', id).forUpdate().executeTakeFirst();
    if (!group) throw new NotFound('Permission group', id);
    const members = await tx
      .selectFrom('members')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where('permission_group_id', '=', id)
      .where('removed_at', 'is', null)
      .executeTakeFirstOrThrow();
    const tokens = await tx
      .selectFrom('service_tokens')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where('permission_group_id', '=', id)
      .where('revoked_at', 'is', null)
      .executeTakeFirstOrThrow();
    if (Number(members.n) + Number(tokens.n) > 0) {
      throw new Conflict(
        `The permission group "${group.name}" is in use by ${members.n} member(s) or invitation(s) and ${tokens.n} service token(s): give them another role or group first`,
        'permission_group_in_use',
      );
    }
    await tx.updateTable('permission_groups').set({ deleted_at: sql`now()`, updated_at: sql`now()` }).where('id', '=', id).execute();
    await recordAuditEvent(tx, {
      ...audit,
      accountId,
      action: 'permission_group.deleted',
      environmentId: null,
      target: { type: 'permission_group', id },
      data: { name: group.name },
    });
  });
}

/**
 * The group a member or token with `role` is given: required (and must exist) for role
 * `custom`, refused for any other role (422). Locks the group's row until the
 * transaction ends, so it cannot be deleted meanwhile.
 */
export async function assignablePermissionGroup(tx: Db, accountId: string, role: string, groupId: string | null | undefined): Promise<string | null> {
  if (role !== CUSTOM_ROLE) {
    if (groupId) throw Invalid.field('permission_group_id', `is only for role "${CUSTOM_ROLE}"`);
    return null;
  }
  if (!groupId) throw Invalid.field('permission_group_id', `is required with role "${CUSTOM_ROLE}"`);
  const group = await current(tx, accountId).where('id', '=', groupId).forShare().executeTakeFirst();
  if (!group) throw Invalid.field('permission_group_id', `names no permission group ("${groupId}")`);
  return group.id;
}

/** A group's levels by environment id, as `decide` reads them; null if it is gone. */
export async function loadPermissionGroupGrant(db: Db, groupId: string): Promise<PermissionGroupGrant | null> {
  const group = await db.selectFrom('permission_groups').select(['id', 'name']).where('id', '=', groupId).where('deleted_at', 'is', null).executeTakeFirst();
  if (!group) return null;
  const environments: Record<string, EnvironmentLevels> = {};
  for (const level of (await levelsOf(db, [group.id])).get(group.id) ?? []) environments[level.environment_id] = { access: level.access, release: level.release };
  return { id: group.id, name: group.name, environments };
}
