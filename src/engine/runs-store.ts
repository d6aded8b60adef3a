import { sql, type SqlBool } from 'kysely';
import type { EnvTx } from '../db/scoped.ts';
import type { RunStatus } from '../db/schema.ts';
import type { PageRequest } from '../http/pagination.ts';
import { cursorMicros, timePage } from '../messages/cursor.ts';

/** Reads of workflow recipient runs (one per recipient of a trigger) for the data API. */

export interface RecipientRunFilters {
  workflowKey?: string;
  /** Herald's own statuses (a Knock status may stand for several). */
  statuses?: RunStatus[];
  tenant?: string;
  hasErrors?: boolean;
  recipientKey?: string;
  startingAt?: string;
  endingAt?: string;
}

/**
 * Errors a run met: each step that recorded one (failed, or retrying after one), plus
 * the run's own error when no step caused it (e.g. the recipient does not exist).
 */
const ERROR_COUNT = sql<number>`(
  (SELECT count(*) FROM jsonb_each(workflow_recipient_runs.refs) AS s(ref, state) WHERE jsonb_typeof(s.state) = 'object' AND s.state ? 'error')
  + CASE WHEN workflow_recipient_runs.error IS NOT NULL AND NOT (workflow_recipient_runs.error ? 'step_ref') THEN 1 ELSE 0 END
)::int`;

function selectRuns(tx: EnvTx, environmentId: string) {
  return tx
    .selectFrom('workflow_recipient_runs')
    .selectAll()
    .select([ERROR_COUNT.as('error_count'), cursorMicros('workflow_recipient_runs').as('cursor_us')])
    .where('environment_id', '=', environmentId);
}

export type RecipientRunListRow = Awaited<ReturnType<ReturnType<typeof selectRuns>['executeTakeFirstOrThrow']>>;

/** One page of runs, newest first, with one extra row to tell whether more follow. */
export function listRecipientRuns(tx: EnvTx, environmentId: string, filters: RecipientRunFilters, page: PageRequest): Promise<RecipientRunListRow[]> {
  let query = selectRuns(tx, environmentId);
  if (filters.workflowKey !== undefined) query = query.where('workflow_key', '=', filters.workflowKey);
  if (filters.statuses && filters.statuses.length > 0) query = query.where('status', 'in', filters.statuses);
  if (filters.tenant !== undefined) query = query.where('tenant', '=', filters.tenant);
  if (filters.hasErrors !== undefined) query = query.where(sql<SqlBool>`(${ERROR_COUNT} > 0) = ${filters.hasErrors}`);
  if (filters.recipientKey !== undefined) query = query.where('recipient_key', '=', filters.recipientKey);
  if (filters.startingAt !== undefined) query = query.where('inserted_at', '>=', new Date(filters.startingAt));
  if (filters.endingAt !== undefined) query = query.where('inserted_at', '<=', new Date(filters.endingAt));
  const { where, direction } = timePage('workflow_recipient_runs', page);
  for (const bound of where) query = query.where(bound);
  return query.orderBy('inserted_at', direction).orderBy('id', direction).limit(page.size + 1).execute();
}

export function findRecipientRun(tx: EnvTx, environmentId: string, id: string): Promise<RecipientRunListRow | undefined> {
  return selectRuns(tx, environmentId).where('id', '=', id).executeTakeFirst();
}

/** The messages a run created, oldest first. */
export function listRunMessages(tx: EnvTx, environmentId: string, runId: string) {
  return tx
    .selectFrom('messages')
    .select(['id', 'step_ref', 'channel_type', 'status', 'inserted_at'])
    .where('environment_id', '=', environmentId)
    .where('workflow_recipient_run_id', '=', runId)
    .orderBy('inserted_at')
    .orderBy('id')
    .execute();
}
