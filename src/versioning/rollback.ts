import { sql } from 'kysely';
import type { Db } from '../db/database.ts';
import { Invalid, NotFound } from '../errors.ts';
import { listEnvironments } from '../environments/store.ts';
import type { Author } from './author.ts';
import { describePlan, type PlannedChange } from './plan.ts';
import type { ResourceType } from './resource-kind.ts';
import * as store from './store.ts';
import type { CommitRow } from '../db/schema.ts';

export interface RollbackResult {
  dry_run: boolean;
  /** Resources restored (or, on a dry run, that would be, with a diff each). */
  changes: PlannedChange[];
  commits: CommitRow[];
  /** Resources created after the target commit: a rollback never invents a version, so they stay as they are. */
  unchanged_newer: Array<{ type: string; identifier: string }>;
}

/**
 * Rollback (Herald): restores an environment's resources — all, one type, or one — to
 * their state right after `toCommitId`, a commit of that environment's own history, so
 * only versions the environment already had come back. Atomic; recorded as new commits
 * marked `rollback_of`.
 */
export async function rollbackEnvironment(
  db: Db,
  accountId: string,
  environmentSlug: string,
  toCommitId: string,
  author: Author,
  options: { types?: ResourceType[]; key?: string; dryRun: boolean },
): Promise<RollbackResult> {
  return db.transaction().execute(async (tx) => {
    await store.lockVersioning(tx, accountId);
    const environments = await listEnvironments(tx, accountId);
    const environment = environments.find((e) => e.slug === environmentSlug);
    if (!environment) throw new NotFound('Environment', environmentSlug);
    const target = await store.findCommit(tx, toCommitId);
    if (!target || target.environment_id !== environment.id) {
      throw Invalid.field('to_commit', `is not a commit of ${environment.slug}'s history: a rollback only restores versions the environment had`);
    }
    let atTarget = tx
      .selectFrom('commits')
      .select(['resource_type', 'resource_key', 'version_id', 'id'])
      .distinctOn(['resource_type', 'resource_key'])
      .where('environment_id', '=', environment.id)
      .where(sql<boolean>`seq <= ${target.seq}`);
    if (options.types?.length) atTarget = atTarget.where('resource_type', 'in', options.types);
    if (options.key) atTarget = atTarget.where('resource_key', '=', options.key);
    const restored = await atTarget.orderBy('resource_type').orderBy('resource_key').orderBy('seq', 'desc').execute();
    const current = await store.committedVersions(tx, environment.id, options);
    const wanted = new Map(restored.map((r) => [`${r.resource_type}\u0000${r.resource_key}`, r.version_id]));

    const planned: store.PlannedCommit[] = [];
    const unchangedNewer: RollbackResult['unchanged_newer'] = [];
    for (const row of current) {
      const versionId = wanted.get(`${row.resource_type}\u0000${row.resource_key}`);
      if (!versionId) {
        unchangedNewer.push({ type: row.resource_type, identifier: row.resource_key });
        continue;
      }
      if (versionId === row.committed_version_id) continue;
      planned.push({
        environmentId: environment.id,
        ref: { type: row.resource_type as ResourceType, key: row.resource_key },
        version: { id: versionId },
        parentVersionId: row.committed_version_id,
        kind: 'rollback',
        sourceCommitId: target.id,
        message: `Rollback to ${target.id}`,
      });
    }
    // Diffs are for previews; a real rollback answers fast with the list of resources.
    const changes = await describePlan(tx, environments, planned, options.dryRun);
    if (options.dryRun) return { dry_run: true, changes, commits: [], unchanged_newer: unchangedNewer };
    const commits = await store.applyCommits(tx, accountId, author, planned);
    return { dry_run: false, changes, commits, unchanged_newer: unchangedNewer };
  });
}
