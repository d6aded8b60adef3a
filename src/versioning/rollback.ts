import { sql } from 'kysely';
import type { Db } from '../db/database.ts';
import { Invalid, NotFound } from '../errors.ts';
import { listEnvironments } from '../environments/store.ts';
import { recordAuditEvent, type AuditContext } from '../access/audit.ts';
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
  audit: AuditContext,
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
    // For each resource the environment holds now: its version right after the target
    // commit (one index lookup per resource, so the cost does not grow with history).
    let query = tx
      .selectFrom('environment_resources as er')
      .leftJoinLateral(
        (eb) =>
          eb
            .selectFrom('commits as c')
            .select('c.version_id')
            .whereRef('c.environment_id', '=', 'er.environment_id')
            .whereRef('c.resource_type', '=', 'er.resource_type')
            .whereRef('c.resource_key', '=', 'er.resource_key')
            .where(sql<boolean>`c.seq <= ${target.seq}`)
            .orderBy('c.seq', 'desc')
            .limit(1)
            .as('at_target'),
        (join) => join.onTrue(),
      )
      .select(['er.resource_type', 'er.resource_key', 'er.committed_version_id', 'at_target.version_id as target_version_id'])
      .where('er.environment_id', '=', environment.id)
      .where('er.committed_version_id', 'is not', null);
    if (options.types?.length) query = query.where('er.resource_type', 'in', options.types);
    if (options.key) query = query.where('er.resource_key', '=', options.key);
    const current = await query.orderBy('er.resource_type').orderBy('er.resource_key').execute();

    const planned: store.PlannedCommit[] = [];
    const unchangedNewer: RollbackResult['unchanged_newer'] = [];
    for (const row of current) {
      const versionId = row.target_version_id;
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
    const commits = await store.applyCommits(tx, accountId, audit.actor, planned);
    // Like every audit event, it records a change: a rollback that restores nothing records nothing.
    if (commits.length > 0) {
      await recordAuditEvent(tx, {
        ...audit,
        accountId,
        action: 'environment.rolled_back',
        environmentId: environment.id,
        target: { type: 'environment', id: environment.slug },
        data: {
          to_commit: target.id,
          ...(options.types?.length ? { resource_type: options.types } : {}),
          ...(options.key ? { resource_id: options.key } : {}),
          restored: commits.length,
          commit_ids: commits.map((c) => c.id),
        },
      });
    }
    return { dry_run: false, changes, commits, unchanged_newer: unchangedNewer };
  });
}
