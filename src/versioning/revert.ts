import type { Db } from '../db/database.ts';
import { Invalid, NotFound } from '../errors.ts';
import { listEnvironments } from '../environments/store.ts';
import { recordAuditEvent, type AuditContext } from '../access/audit.ts';
import { describePlan, type PlanResult } from './plan.ts';
import type { ResourceType } from './resource-kind.ts';
import * as store from './store.ts';

/**
 * Revert (Knock's "Revert commit"): a new commit in the same environment that restores
 * the resource to its version before `commitId`, dropping its working copy there.
 */
export async function revertCommit(db: Db, accountId: string, commitId: string, audit: AuditContext, options: { dryRun: boolean }): Promise<PlanResult> {
  return db.transaction().execute(async (tx) => {
    await store.lockVersioning(tx, accountId);
    const commit = await store.findCommit(tx, commitId);
    const environments = await listEnvironments(tx, accountId);
    if (!commit || !environments.some((e) => e.id === commit.environment_id)) throw new NotFound('Commit', commitId);
    if (!commit.parent_version_id) {
      throw new Invalid('This commit created the resource: there is no earlier version to revert to', [], 'nothing_to_revert');
    }
    const ref = { type: commit.resource_type as ResourceType, key: commit.resource_key };
    const [current] = await store.committedVersions(tx, commit.environment_id, ref);
    const planned: store.PlannedCommit[] = [{
      environmentId: commit.environment_id,
      ref,
      version: { id: commit.parent_version_id },
      parentVersionId: current?.committed_version_id ?? null,
      kind: 'revert',
      sourceCommitId: commit.id,
      message: `Revert "${commit.commit_message}"`,
    }];
    if (options.dryRun) return { dry_run: true, changes: await describePlan(tx, environments, planned) };
    const commits = await store.applyCommits(tx, accountId, audit.actor, planned);
    await recordAuditEvent(tx, {
      ...audit,
      accountId,
      action: 'commit.reverted',
      environmentId: commit.environment_id,
      target: { type: 'commit', id: commit.id },
      data: { commit_id: commits[0].id, resource: { type: ref.type, identifier: ref.key } },
    });
    return { dry_run: false, commits };
  });
}
