import type { CommitRow, EnvironmentRow } from '../db/schema.ts';
import { Invalid } from '../errors.ts';
import type { Author } from './author.ts';
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
 * new versions, in the caller's transaction. Returns the commits made.
 */
export async function commitChanges(tx: Tx, accountId: string, environment: EnvironmentRow, author: Author, filter: CommitFilter): Promise<CommitRow[]> {
  let query = tx
    .selectFrom('environment_resources as er')
    .leftJoin('resource_versions as v', 'v.id', 'er.committed_version_id')
    .select(['er.resource_type', 'er.resource_key', 'er.committed_version_id', 'er.working_content', 'er.working_sha', 'v.content as committed_content', 'v.sha as committed_sha'])
    .where('er.environment_id', '=', environment.id);
  if (filter.types?.length) query = query.where('er.resource_type', 'in', filter.types);
  if (filter.key) query = query.where('er.resource_key', '=', filter.key);
  query = filter.allowEmpty
    ? query.where((eb) => eb.or([eb('er.working_content', 'is not', null), eb('er.committed_version_id', 'is not', null)]))
    : query.where('er.working_content', 'is not', null);
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
  return store.applyCommits(tx, accountId, author, planned);
}
