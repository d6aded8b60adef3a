import type { EnvTx } from '../db/scoped.ts';
import { enqueue } from './queue.ts';
import { recipientKey, type RecipientRef } from './recipients.ts';

/** Recipient runs per `run` job: big fan-outs spread over workers, small ones stay cheap. */
export const RUNS_PER_JOB = 25;

/** One recipient run to create. */
export interface NewRecipientRun {
  workflowRunId: string;
  workflowKey: string;
  versionId: string | null;
  recipient: RecipientRef;
  /** Properties of the subscription that brought the recipient in (`recipient.subscription`). */
  subscription?: Record<string, unknown> | null;
  actor: unknown;
  tenant: string | null;
  data: unknown;
  settings: unknown;
  cancellationKey: string | null;
  cancelled?: boolean;
}

/**
 * Inserts recipient runs (once per trigger and recipient: a repeat is ignored) and the
 * `run` jobs that execute the runnable ones, RUNS_PER_JOB to a job — runs of different
 * triggers share jobs, so small triggers arriving together cost one job, not one each.
 */
export async function createRecipientRuns(tx: EnvTx, environmentId: string, runs: NewRecipientRun[]): Promise<void> {
  if (runs.length === 0) return;
  const inserted = await tx
    .insertInto('workflow_recipient_runs')
    .values(runs.map((run) => ({
      environment_id: environmentId,
      workflow_run_id: run.workflowRunId,
      workflow_key: run.workflowKey,
      version_id: run.versionId,
      recipient: JSON.stringify(run.recipient.collection
        ? { id: run.recipient.id, collection: run.recipient.collection, subscription: run.subscription ?? null }
        : { id: run.recipient.id, subscription: run.subscription ?? null }),
      recipient_key: recipientKey(run.recipient),
      actor: run.actor == null ? null : JSON.stringify(run.actor),
      tenant: run.tenant,
      data: JSON.stringify(run.data ?? {}),
      settings: run.settings == null ? null : JSON.stringify(run.settings),
      cancellation_key: run.cancellationKey,
      status: run.cancelled ? ('cancelled' as const) : ('queued' as const),
      refs: '{}',
    })))
    .onConflict((oc) => oc.columns(['environment_id', 'workflow_run_id', 'recipient_key']).doNothing())
    .returning(['id', 'status'])
    .execute();
  const runnable = inserted.filter((row) => row.status === 'queued').map((row) => row.id);
  const jobs = [];
  for (let i = 0; i < runnable.length; i += RUNS_PER_JOB) {
    jobs.push({ task: 'run' as const, payload: { e: environmentId, runs: runnable.slice(i, i + RUNS_PER_JOB) } });
  }
  await enqueue(tx, jobs);
}
