import type { EnvironmentRow } from '../db/schema.ts';
import { SYSTEM_AUTHOR } from './author.ts';
import type { ResourceType } from './resource-kind.ts';
import * as store from './store.ts';

type Tx = Parameters<typeof store.lockVersioning>[0];

/**
 * Seeds a new environment by promoting into it the latest committed version of every
 * resource of the environment directly below (recorded as `seed` commits).
 */
export async function seedEnvironment(tx: Tx, accountId: string, environment: EnvironmentRow, below: EnvironmentRow): Promise<number> {
  await store.lockVersioning(tx, accountId);
  const latest = await tx
    .selectFrom('environment_resources as er')
    .innerJoin('commits as c', (join) =>
      join.onRef('c.environment_id', '=', 'er.environment_id').onRef('c.resource_type', '=', 'er.resource_type').onRef('c.resource_key', '=', 'er.resource_key'),
    )
    .select(['er.resource_type', 'er.resource_key', 'er.committed_version_id', 'c.id as commit_id', 'c.commit_message'])
    .distinctOn(['er.resource_type', 'er.resource_key'])
    .where('er.environment_id', '=', below.id)
    .where('er.committed_version_id', 'is not', null)
    .orderBy('er.resource_type')
    .orderBy('er.resource_key')
    .orderBy('c.seq', 'desc')
    .execute();
  const planned: store.PlannedCommit[] = latest.map((row) => ({
    environmentId: environment.id,
    ref: { type: row.resource_type as ResourceType, key: row.resource_key },
    version: { id: row.committed_version_id! },
    parentVersionId: null,
    kind: 'seed',
    sourceCommitId: row.commit_id,
    message: row.commit_message,
  }));
  await store.applyCommits(tx, accountId, SYSTEM_AUTHOR, planned);
  return planned.length;
}
