import { randomUUID } from 'node:crypto';
import { sql, type Kysely, type Selectable } from 'kysely';
import type { CommitRow, Database, EnvironmentResourcesTable } from '../db/schema.ts';
import type { Author } from './author.ts';
import type { Content, ResourceType } from './resource-kind.ts';

type Tx = Kysely<Database>;

export type EnvironmentResourceRow = Selectable<EnvironmentResourcesTable>;

/** A resource as one environment holds it, with its committed content. */
export interface HeldResource extends EnvironmentResourceRow {
  committed_content: Content | null;
  committed_sha: string | null;
}

/** One resource slot: type + key. */
export interface ResourceRef {
  type: ResourceType;
  key: string;
}

/** Serialises all content writes of an account (commits, promotions, rollbacks). */
export async function lockVersioning(tx: Tx, accountId: string): Promise<void> {
  await sql`SELECT pg_advisory_xact_lock(hashtext('herald.versioning'), hashtext(${accountId}))`.execute(tx);
}

function heldResources(tx: Tx) {
  return tx
    .selectFrom('environment_resources as er')
    .leftJoin('resource_versions as v', 'v.id', 'er.committed_version_id')
    .selectAll('er')
    .select(['v.content as committed_content', 'v.sha as committed_sha']);
}

/** A resource as an environment holds it; `forUpdate` locks its row until the transaction ends. */
export async function findHeldResource(tx: Tx, environmentId: string, ref: ResourceRef, options: { forUpdate?: boolean } = {}): Promise<HeldResource | undefined> {
  const query = heldResources(tx)
    .where('er.environment_id', '=', environmentId)
    .where('er.resource_type', '=', ref.type)
    .where('er.resource_key', '=', ref.key);
  const row = await (options.forUpdate ? query.forUpdate('er') : query).executeTakeFirst();
  return row as HeldResource | undefined;
}

/** Resources of a type in an environment, in key order, from `after` (exclusive). */
export async function listHeldResources(
  tx: Tx,
  environmentId: string,
  type: ResourceType,
  options: { after?: string; before?: string; limit: number; committedOnly: boolean; keyLike?: string[] },
): Promise<HeldResource[]> {
  let query = heldResources(tx).where('er.environment_id', '=', environmentId).where('er.resource_type', '=', type);
  const patterns = options.keyLike;
  if (patterns?.length) query = query.where((eb) => eb.or(patterns.map((pattern) => eb('er.resource_key', 'like', pattern))));
  query = options.committedOnly
    ? query.where('er.committed_version_id', 'is not', null)
    : query.where((eb) => eb.or([eb('er.committed_version_id', 'is not', null), eb('er.working_content', 'is not', null)]));
  if (options.after !== undefined) query = query.where('er.resource_key', '>', options.after);
  if (options.before !== undefined) query = query.where('er.resource_key', '<', options.before);
  const backwards = options.before !== undefined && options.after === undefined;
  const rows = await query.orderBy('er.resource_key', backwards ? 'desc' : 'asc').limit(options.limit).execute();
  return rows as HeldResource[];
}

export async function findResourceOrigin(tx: Tx, accountId: string, ref: ResourceRef): Promise<string | undefined> {
  const row = await tx
    .selectFrom('resources')
    .select('origin_environment_id')
    .where('account_id', '=', accountId)
    .where('resource_type', '=', ref.type)
    .where('resource_key', '=', ref.key)
    .executeTakeFirst();
  return row?.origin_environment_id;
}

export async function recordResourceOrigin(tx: Tx, accountId: string, ref: ResourceRef, environmentId: string): Promise<void> {
  await tx
    .insertInto('resources')
    .values({ account_id: accountId, resource_type: ref.type, resource_key: ref.key, origin_environment_id: environmentId })
    .onConflict((oc) => oc.doNothing())
    .execute();
}

/** Sets (or clears, with null) the working copy of a resource in an environment. */
export async function saveWorkingCopy(tx: Tx, environmentId: string, ref: ResourceRef, working: { content: Content; sha: string } | null): Promise<void> {
  const values = {
    working_content: working ? JSON.stringify(working.content) : null,
    working_sha: working?.sha ?? null,
  };
  await tx
    .insertInto('environment_resources')
    .values({ environment_id: environmentId, resource_type: ref.type, resource_key: ref.key, committed_version_id: null, ...values })
    .onConflict((oc) => oc.columns(['environment_id', 'resource_type', 'resource_key']).doUpdateSet({ ...values, updated_at: sql`now()` }))
    .execute();
}

export async function setActive(tx: Tx, environmentId: string, ref: ResourceRef, active: boolean): Promise<void> {
  await tx
    .updateTable('environment_resources')
    .set({ active, updated_at: sql`now()` })
    .where('environment_id', '=', environmentId)
    .where('resource_type', '=', ref.type)
    .where('resource_key', '=', ref.key)
    .execute();
}

export async function findCommit(tx: Tx, id: string): Promise<CommitRow | undefined> {
  return tx.selectFrom('commits').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function findVersionContent(tx: Tx, versionId: string | null): Promise<Content | null> {
  if (!versionId) return null;
  const row = await tx.selectFrom('resource_versions').select('content').where('id', '=', versionId).executeTakeFirst();
  return (row?.content as Content | undefined) ?? null;
}

export async function findVersionContents(tx: Tx, versionIds: string[]): Promise<Map<string, Content>> {
  if (versionIds.length === 0) return new Map();
  const rows = await tx.selectFrom('resource_versions').select(['id', 'content']).where('id', 'in', versionIds).execute();
  return new Map(rows.map((r) => [r.id, r.content as Content]));
}

/** A version to write and the commit that records it, before ids exist. */
export interface PlannedCommit {
  environmentId: string;
  ref: ResourceRef;
  /** Existing version to point at, or new content to store as a new version. */
  version: { id: string } | { content: Content; sha: string };
  parentVersionId: string | null;
  kind: CommitRow['kind'];
  sourceCommitId: string | null;
  message: string;
}

/**
 * Writes planned commits set-wise: new versions in one INSERT, commits in one INSERT,
 * committed pointers in one UPSERT (working copies of those resources are dropped).
 */
export async function applyCommits(tx: Tx, accountId: string, author: Author, planned: PlannedCommit[]): Promise<CommitRow[]> {
  if (planned.length === 0) return [];
  const fresh = planned.filter((p): p is PlannedCommit & { version: { content: Content; sha: string } } => 'content' in p.version);
  // Ids made here, so each planned commit knows its new version without relying on RETURNING order.
  const freshIds = new Map<PlannedCommit, string>(fresh.map((p) => [p, randomUUID()]));
  if (fresh.length) {
    await tx
      .insertInto('resource_versions')
      .values(fresh.map((p) => ({ id: freshIds.get(p)!, account_id: accountId, resource_type: p.ref.type, resource_key: p.ref.key, content: JSON.stringify(p.version.content), sha: p.version.sha })))
      .execute();
  }
  const versionOf = (p: PlannedCommit) => ('id' in p.version ? p.version.id : freshIds.get(p)!);

  const commits = await tx
    .insertInto('commits')
    .values(
      planned.map((p) => ({
        environment_id: p.environmentId,
        resource_type: p.ref.type,
        resource_key: p.ref.key,
        version_id: versionOf(p),
        parent_version_id: p.parentVersionId,
        kind: p.kind,
        source_commit_id: p.sourceCommitId,
        commit_message: p.message,
        author_kind: author.kind,
        author_id: author.id,
        author_email: author.email,
        author_name: author.name,
      })),
    )
    .returningAll()
    .execute();

  await tx
    .insertInto('environment_resources')
    .values(planned.map((p) => ({ environment_id: p.environmentId, resource_type: p.ref.type, resource_key: p.ref.key, committed_version_id: versionOf(p), working_content: null, working_sha: null })))
    .onConflict((oc) =>
      oc.columns(['environment_id', 'resource_type', 'resource_key']).doUpdateSet({
        committed_version_id: sql`excluded.committed_version_id`,
        working_content: null,
        working_sha: null,
        updated_at: sql`now()`,
      }),
    )
    .execute();

  const environments = [...new Set(planned.map((p) => p.environmentId))];
  await tx.updateTable('environments').set({ last_commit_at: sql`now()`, updated_at: sql`now()` }).where('id', 'in', environments).execute();
  return commits.sort((a, b) => Number(a.seq) - Number(b.seq));
}

/**
 * For each resource of `environmentId`, the newest commit of `sourceEnvironmentId` that
 * has already been promoted into it (by promotion or seeding): commits of the source
 * at or before that one are promoted, later ones are waiting.
 */
export function promotedUpTo(tx: Tx, environmentId: string, sourceEnvironmentId: string) {
  return tx
    .selectFrom('commits as p')
    .innerJoin('commits as s', 's.id', 'p.source_commit_id')
    .select(['s.resource_type', 's.resource_key', sql<string>`max(s.seq)`.as('upto')])
    .where('p.environment_id', '=', environmentId)
    .where('p.kind', 'in', ['promote', 'seed'])
    .where('s.environment_id', '=', sourceEnvironmentId)
    .groupBy(['s.resource_type', 's.resource_key']);
}

/** The newest commit of each resource in an environment not yet promoted into the next one. */
export async function latestUnpromotedCommits(
  tx: Tx,
  sourceEnvironmentId: string,
  targetEnvironmentId: string,
  filter: { types?: ResourceType[]; key?: string },
): Promise<CommitRow[]> {
  let query = tx
    .selectFrom('commits as c')
    .leftJoin(promotedUpTo(tx, targetEnvironmentId, sourceEnvironmentId).as('done'), (join) =>
      join.onRef('done.resource_type', '=', 'c.resource_type').onRef('done.resource_key', '=', 'c.resource_key'),
    )
    .selectAll('c')
    .distinctOn(['c.resource_type', 'c.resource_key'])
    .where('c.environment_id', '=', sourceEnvironmentId)
    .where(sql<boolean>`c.seq > coalesce(done.upto, 0)`);
  if (filter.types?.length) query = query.where('c.resource_type', 'in', filter.types);
  if (filter.key) query = query.where('c.resource_key', '=', filter.key);
  return query.orderBy('c.resource_type').orderBy('c.resource_key').orderBy('c.seq', 'desc').execute();
}

/** Committed version of every resource of an environment (optionally one type/key). */
export async function committedVersions(tx: Tx, environmentId: string, filter: { types?: ResourceType[]; key?: string } = {}) {
  let query = tx
    .selectFrom('environment_resources')
    .select(['resource_type', 'resource_key', 'committed_version_id'])
    .where('environment_id', '=', environmentId)
    .where('committed_version_id', 'is not', null);
  if (filter.types?.length) query = query.where('resource_type', 'in', filter.types);
  if (filter.key) query = query.where('resource_key', '=', filter.key);
  return query.execute();
}
