import type { CommitRow, EnvironmentRow } from '../db/schema.ts';
import { Forbidden, Invalid } from '../errors.ts';
import { listEnvironments } from '../environments/store.ts';
import { recordAuditEvents, type AuditContext } from '../access/audit.ts';
import type { Content, ResourceType } from './resource-kind.ts';
import * as store from './store.ts';

type Tx = Parameters<typeof store.lockVersioning>[0];

export interface CommitFilter {
  types?: ResourceType[];
  key?: string;
  message: string;
  /** Also commit resources without changes (a new version of the same content), so they can be promoted. */
  allowEmpty: boolean;
}

/**
 * Commits the working copies of an environment (all, or one type / one resource) as
 * new versions, audited, in the caller's transaction. Returns the commits made.
 */
export async function commitChanges(tx: Tx, accountId: string, environment: EnvironmentRow, audit: AuditContext, filter: CommitFilter): Promise<CommitRow[]> {
  // A commit makes versions, so it follows the edit rule: without production write access
  // only the first environment commits (elsewhere versions arrive by promotion); with it,
  // allow_empty re-versions only resources created in this environment.
  const account = await tx.selectFrom('accounts').select('production_write_access').where('id', '=', accountId).executeTakeFirstOrThrow();
  if (!account.production_write_access) {
    const [first] = await listEnvironments(tx, accountId);
    if (environment.id !== first.id) {
      throw new Forbidden(
        `Content is committed in ${first.slug} and promoted from there; "${environment.slug}" cannot commit while production write access is off`,
        'edits_only_in_development',
      );
    }
  }
  let query = tx
    .selectFrom('environment_resources as er')
    .leftJoin('resource_versions as v', 'v.id', 'er.committed_version_id')
    .select(['er.resource_type', 'er.resource_key', 'er.committed_version_id', 'er.working_content', 'er.working_sha', 'v.content as committed_content', 'v.sha as committed_sha'])
    .where('er.environment_id', '=', environment.id);
  if (filter.types?.length) query = query.where('er.resource_type', 'in', filter.types);
  if (filter.key) query = query.where('er.resource_key', '=', filter.key);
  if (!filter.allowEmpty) {
    query = query.where('er.working_content', 'is not', null);
  } else if (!account.production_write_access) {
    query = query.where((eb) => eb.or([eb('er.working_content', 'is not', null), eb('er.committed_version_id', 'is not', null)]));
  } else {
    query = query.where((eb) =>
      eb.or([
        eb('er.working_content', 'is not', null),
        eb.and([
          eb('er.committed_version_id', 'is not', null),
          eb.exists(
            eb
              .selectFrom('resources as r')
              .select('r.resource_key')
              .where('r.account_id', '=', accountId)
              .whereRef('r.resource_type', '=', 'er.resource_type')
              .whereRef('r.resource_key', '=', 'er.resource_key')
              .where('r.origin_environment_id', '=', environment.id),
          ),
        ]),
      ]),
    );
  }
  const rows = await query.orderBy('er.resource_type').orderBy('er.resource_key').execute();

  const planned: store.PlannedCommit[] = rows.map((row) => ({
    environmentId: environment.id,
    ref: { type: row.resource_type as ResourceType, key: row.resource_key },
    version: row.working_content
      ? { content: row.working_content as Content, sha: row.working_sha! }
      : { content: row.committed_content as Content, sha: row.committed_sha! },
    parentVersionId: row.committed_version_id,
    kind: 'commit',
    sourceCommitId: null,
    message: filter.message,
  }));
  if (planned.length === 0) throw new Invalid('There are no changes to commit', [], 'nothing_to_commit');
  const commits = await store.applyCommits(tx, accountId, audit.actor, planned);
  await recordAuditEvents(
    tx,
    commits.map((commit) => ({
      ...audit,
      accountId,
      action: 'commit.created',
      environmentId: environment.id,
      target: { type: 'commit', id: commit.id },
      data: { resource: { type: commit.resource_type, identifier: commit.resource_key }, allow_empty: filter.allowEmpty },
    })),
  );
  return commits;
}
