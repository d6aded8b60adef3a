import type { Kysely } from 'kysely';
import type { Db } from '../db/database.ts';
import type { Database } from '../db/schema.ts';
import type { Content } from './resource-kind.ts';

/** The workflow version a run uses, fixed at trigger time. */
export interface CommittedVersion {
  versionId: string;
  content: Content;
  active: boolean;
}

/**
 * The version of workflow `key` committed in an environment — what a trigger there
 * runs — or undefined if the workflow is not committed in that environment (working
 * copies never run through the API).
 */
export async function resolveCommittedVersion(db: Db, environmentId: string, key: string): Promise<CommittedVersion | undefined> {
  const row = await committedVersions(db, environmentId, 'workflow')
    .select(['v.id', 'v.content', 'er.active'])
    .where('er.resource_key', '=', key)
    .executeTakeFirst();
  return row && { versionId: row.id, content: row.content as Content, active: row.active };
}

/**
 * The versions of one resource type committed in an environment (`er`: the environment's
 * pointer, `v`: the version), for callers to narrow and select from — in their own
 * transaction when they pass one, so what they read is one consistent state.
 */
export function committedVersions(db: Kysely<Database>, environmentId: string, type: string) {
  return db
    .selectFrom('environment_resources as er')
    .innerJoin('resource_versions as v', 'v.id', 'er.committed_version_id')
    .where('er.environment_id', '=', environmentId)
    .where('er.resource_type', '=', type);
}
