import type { Db } from '../db/database.ts';
import { Conflict, Invalid, NotFound } from '../errors.ts';
import { listEnvironments } from '../environments/store.ts';
import { recordAuditEvents, type AuditContext } from '../access/audit.ts';
import type { CommitRow, EnvironmentRow } from '../db/schema.ts';
import { describePlan, type PlanResult } from './plan.ts';
import type { ResourceType } from './resource-kind.ts';
import * as store from './store.ts';
import { claimPendingRequest, createPromotionRequest, decideRequest, presentPromotionRequest, type PromotionAsk } from './approval.ts';

/**
 * Promote all: everything committed in the environment directly below `toSlug` and not
 * yet in it moves up, atomically — one promote commit per resource, carrying its newest
 * waiting version.
 */
export async function promoteAll(
  db: Db,
  accountId: string,
  toSlug: string,
  audit: AuditContext,
  options: { types?: ResourceType[]; key?: string; dryRun: boolean; approvedRequestId?: string },
): Promise<PlanResult> {
  return db.transaction().execute(async (tx) => {
    await store.lockVersioning(tx, accountId);
    const environments = await listEnvironments(tx, accountId);
    const index = environments.findIndex((e) => e.slug === toSlug);
    if (index < 0) throw new NotFound('Environment', toSlug);
    if (index === 0) throw Invalid.field('to_environment', `"${toSlug}" is the first environment: there is nothing below it to promote`);
    const target = environments[index];
    const source = environments[index - 1];
    const gate = await approvalGate(tx, accountId, target, { types: options.types, key: options.key }, audit, options);
    if (gate) return gate;
    const waiting = await store.latestUnpromotedCommits(tx, source.id, target.id, options);
    const current = new Map((await store.committedVersions(tx, target.id, options)).map((r) => [`${r.resource_type}\u0000${r.resource_key}`, r.committed_version_id]));
    const planned: store.PlannedCommit[] = waiting.map((commit) => ({
      environmentId: target.id,
      ref: { type: commit.resource_type as ResourceType, key: commit.resource_key },
      version: { id: commit.version_id },
      parentVersionId: current.get(`${commit.resource_type}\u0000${commit.resource_key}`) ?? null,
      kind: 'promote',
      sourceCommitId: commit.id,
      message: commit.commit_message,
    }));
    if (options.dryRun) return { dry_run: true, changes: await describePlan(tx, environments, planned) };
    return { dry_run: false, commits: await applyPromotions(tx, accountId, audit, source, planned) };
  });
}

/**
 * Promotion approval: into an environment that requires it, a promotion (not a dry run)
 * becomes a pending request instead; an approval re-runs it with `approvedRequestId`,
 * which must name a pending request of another member, decided in this transaction.
 */
async function approvalGate(
  tx: Db,
  accountId: string,
  target: EnvironmentRow,
  ask: PromotionAsk,
  audit: AuditContext,
  options: { dryRun: boolean; approvedRequestId?: string },
): Promise<PlanResult | undefined> {
  if (options.dryRun) return undefined;
  if (options.approvedRequestId) {
    await claimPendingRequest(tx, accountId, options.approvedRequestId, audit);
    await decideRequest(tx, options.approvedRequestId, 'applied', audit);
    return undefined;
  }
  if (!target.require_promotion_approval) return undefined;
  const request = await createPromotionRequest(tx, accountId, target, ask, audit);
  return { dry_run: false, pending: presentPromotionRequest(request, new Map([[target.id, target.slug]])) };
}

/** Applies planned promotions from `source`, with one `commit.promoted` audit event per commit promoted. */
async function applyPromotions(tx: Db, accountId: string, audit: AuditContext, source: EnvironmentRow, planned: store.PlannedCommit[]): Promise<CommitRow[]> {
  const commits = await store.applyCommits(tx, accountId, audit.actor, planned);
  await recordAuditEvents(
    tx,
    commits.map((commit) => ({
      ...audit,
      accountId,
      action: 'commit.promoted',
      environmentId: commit.environment_id,
      target: { type: 'commit', id: commit.source_commit_id },
      data: { commit_id: commit.id, from_environment: source.slug, resource: { type: commit.resource_type, identifier: commit.resource_key } },
    })),
  );
  return commits;
}

/** Promote one commit to the next environment only (and with it any older waiting commits of that resource). */
export async function promoteOne(db: Db, accountId: string, commitId: string, audit: AuditContext, options: { dryRun: boolean; approvedRequestId?: string }): Promise<PlanResult> {
  return db.transaction().execute(async (tx) => {
    await store.lockVersioning(tx, accountId);
    const commit = await store.findCommit(tx, commitId);
    const environments = await listEnvironments(tx, accountId);
    const index = commit ? environments.findIndex((e) => e.id === commit.environment_id) : -1;
    if (!commit || index < 0) throw new NotFound('Commit', commitId);
    const target = environments[index + 1];
    if (!target) throw new Conflict(`The commit is in ${environments[index].slug}, the last environment: there is nowhere to promote it`, 'nothing_above');
    const ref = { type: commit.resource_type as ResourceType, key: commit.resource_key };
    const gate = await approvalGate(tx, accountId, target, { commitId }, audit, options);
    if (gate) return gate;
    const [done] = await store.promotedUpTo(tx, target.id, commit.environment_id).where('s.resource_type', '=', ref.type).where('s.resource_key', '=', ref.key).execute();
    if (done && BigInt(done.upto) >= BigInt(commit.seq)) {
      throw new Conflict(`This commit (or a later one of ${ref.type} "${ref.key}") is already in ${target.slug}`, 'already_promoted');
    }
    const [current] = await store.committedVersions(tx, target.id, ref);
    const planned: store.PlannedCommit[] = [{
      environmentId: target.id,
      ref,
      version: { id: commit.version_id },
      parentVersionId: current?.committed_version_id ?? null,
      kind: 'promote',
      sourceCommitId: commit.id,
      message: commit.commit_message,
    }];
    if (options.dryRun) return { dry_run: true, changes: await describePlan(tx, environments, planned) };
    return { dry_run: false, commits: await applyPromotions(tx, accountId, audit, environments[index], planned) };
  });
}
