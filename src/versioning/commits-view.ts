import { sql } from 'kysely';
import type { Db } from '../db/database.ts';
import type { CommitRow } from '../db/schema.ts';
import { NotFound } from '../errors.ts';
import { listEnvironments } from '../environments/store.ts';
import { diffContent } from './diff.ts';
import type { ResourceType } from './resource-kind.ts';
import * as store from './store.ts';

/** The mgmt spec's Commit, plus Herald's lineage fields. */
export function presentCommit(row: CommitRow & { promoted?: boolean }, environmentSlug: string) {
  return {
    id: row.id,
    resource: { type: row.resource_type, identifier: row.resource_key },
    author: { email: row.author_email, name: row.author_name },
    commit_message: row.commit_message,
    environment: environmentSlug,
    created_at: row.created_at.toISOString(),
    kind: row.kind,
    version_id: row.version_id,
    parent_version_id: row.parent_version_id,
    promoted_from: row.kind === 'promote' || row.kind === 'seed' ? row.source_commit_id : null,
    reverts: row.kind === 'revert' ? row.source_commit_id : null,
    rollback_of: row.kind === 'rollback' ? row.source_commit_id : null,
    ...(row.promoted === undefined ? {} : { promoted: row.promoted }),
  };
}

export type CommitView = ReturnType<typeof presentCommit>;

/** Slugs of an account's environments by id. */
export async function environmentSlugs(db: Db, accountId: string): Promise<Map<string, string>> {
  return new Map((await listEnvironments(db, accountId)).map((e) => [e.id, e.slug]));
}

export interface CommitQuery {
  environment?: string;
  promoted?: boolean;
  resource_type?: ResourceType[];
  resource_id?: string;
  after?: string;
  before?: string;
  limit: number;
}

/**
 * Commits, newest first, with `promoted` = already in the next environment (by
 * promotion or seeding). Commits of the last environment have nowhere to go and count
 * as promoted.
 */
export async function listCommits(db: Db, accountId: string, query: CommitQuery): Promise<{ entries: CommitView[]; after: string | null; before: string | null }> {
  const environments = await listEnvironments(db, accountId);
  const slugs = new Map(environments.map((e) => [e.id, e.slug]));
  const promoted = sql<boolean>`coalesce(c.seq <= (
      SELECT max(s.seq) FROM commits p JOIN commits s ON s.id = p.source_commit_id
      WHERE p.kind IN ('promote', 'seed')
        AND p.environment_id = (SELECT n.id FROM environments n WHERE n.account_id = ${accountId} AND n.position = e.position + 1)
        AND s.environment_id = c.environment_id AND s.resource_type = c.resource_type AND s.resource_key = c.resource_key
    ), (SELECT n.id FROM environments n WHERE n.account_id = ${accountId} AND n.position = e.position + 1) IS NULL)`;
  let rows = db
    .selectFrom('commits as c')
    .innerJoin('environments as e', 'e.id', 'c.environment_id')
    .selectAll('c')
    .select(promoted.as('promoted'))
    .where('e.account_id', '=', accountId);
  if (query.environment !== undefined) {
    const environment = environments.find((e) => e.slug === query.environment);
    if (!environment) throw new NotFound('Environment', query.environment);
    rows = rows.where('c.environment_id', '=', environment.id);
  }
  if (query.resource_type?.length) rows = rows.where('c.resource_type', 'in', query.resource_type);
  if (query.resource_id) rows = rows.where('c.resource_key', '=', query.resource_id);
  if (query.promoted !== undefined) rows = rows.where(promoted, '=', query.promoted);
  // Newest first: `after` pages towards older commits, `before` towards newer ones.
  if (query.after) rows = rows.where('c.seq', '<', query.after);
  if (query.before) rows = rows.where('c.seq', '>', query.before);
  const backwards = query.before !== undefined && query.after === undefined;
  const fetched = await rows.orderBy('c.seq', backwards ? 'asc' : 'desc').limit(query.limit + 1).execute();
  const hasMore = fetched.length > query.limit;
  const page = fetched.slice(0, query.limit);
  if (backwards) page.reverse();
  return {
    entries: page.map((row) => presentCommit(row, slugs.get(row.environment_id) ?? '')),
    after: (backwards || hasMore) && page.length ? page[page.length - 1].seq : null,
    before: (backwards ? hasMore : query.after !== undefined) && page.length ? page[0].seq : null,
  };
}

export async function getCommit(db: Db, accountId: string, id: string): Promise<CommitView> {
  const slugs = await environmentSlugs(db, accountId);
  const row = await store.findCommit(db, id);
  if (!row || !slugs.has(row.environment_id)) throw new NotFound('Commit', id);
  return presentCommit(row, slugs.get(row.environment_id)!);
}

/** The change a commit made: content before (its parent version) and after, and the JSON Patch between. */
export async function commitDiff(db: Db, accountId: string, id: string) {
  const commit = await getCommit(db, accountId, id);
  const before = await store.findVersionContent(db, commit.parent_version_id);
  const after = await store.findVersionContent(db, commit.version_id);
  return { commit, before, after, diff: diffContent(before, after) };
}
