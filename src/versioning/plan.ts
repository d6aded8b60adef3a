import type { CommitRow, EnvironmentRow } from '../db/schema.ts';
import { diffContent, type DiffOperation } from './diff.ts';
import * as store from './store.ts';
import type { presentPromotionRequest } from './approval.ts';

type Tx = Parameters<typeof store.lockVersioning>[0];

/** One resource a promote, revert or rollback would change (what `dry_run` answers). */
export interface PlannedChange {
  resource: { type: string; identifier: string };
  environment: string;
  from_version: string | null;
  to_version: string;
  diff: DiffOperation[];
}

/** Describes planned commits, with a JSON diff of each resource's content unless `withDiff` is false. */
export async function describePlan(tx: Tx, environments: EnvironmentRow[], planned: store.PlannedCommit[], withDiff = true): Promise<PlannedChange[]> {
  const ids = !withDiff ? [] : planned.flatMap((p) => ['id' in p.version ? p.version.id : null, p.parentVersionId]).filter((id): id is string => id !== null);
  const contents = await store.findVersionContents(tx, [...new Set(ids)]);
  const slug = new Map(environments.map((e) => [e.id, e.slug]));
  return planned.map((p) => {
    const toVersion = 'id' in p.version ? p.version.id : '(new)';
    const after = 'id' in p.version ? (contents.get(p.version.id) ?? null) : p.version.content;
    const before = p.parentVersionId ? (contents.get(p.parentVersionId) ?? null) : null;
    return {
      resource: { type: p.ref.type, identifier: p.ref.key },
      environment: slug.get(p.environmentId) ?? p.environmentId,
      from_version: p.parentVersionId,
      to_version: toVersion,
      diff: withDiff ? diffContent(before, after) : [],
    };
  });
}

/** Either the plan (dry run) or the commits that carried it out. */
export type PlanResult =
  | { dry_run: true; changes: PlannedChange[] }
  | { dry_run: false; commits: CommitRow[] }
  /** The target requires approval: a request now waits for a second member. */
  | { dry_run: false; pending: ReturnType<typeof presentPromotionRequest> };
