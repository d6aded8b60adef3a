import { sql } from 'kysely';
import type { RecipientRunRow, RunStatus } from '../db/schema.ts';
import { inEnvironment } from '../db/scoped.ts';
import { evaluateConditions } from './conditions.ts';
import { refFromReference } from './recipients.ts';
import { backoffMs, createJobCache, loadScopeParts, pauseRun, saveStep, type JobCache, type RunContext, type ScopeParts, type Step, type StepOutcome, type WorkflowContent } from './run-context.ts';
import { runBatchStep } from './steps/batch.ts';
import { runChannelStep } from './steps/channel.ts';
import { runDelayStep } from './steps/delay.ts';
import { runFetchStep } from './steps/fetch.ts';
import { runThrottleStep } from './steps/throttle.ts';
import { runTriggerWorkflowStep } from './steps/trigger-workflow.ts';
import type { EngineDeps } from './tasks.ts';

type StepRunner = (ctx: RunContext, step: Step) => Promise<StepOutcome>;

const STEP_RUNNERS: Record<string, StepRunner> = {
  channel: runChannelStep,
  delay: runDelayStep,
  batch: runBatchStep,
  throttle: runThrottleStep,
  http_fetch: runFetchStep,
  trigger_workflow: runTriggerWorkflowStep,
};

/** A step failure the run records as its error (after the step's tries are used up). */
export class StepError extends Error {}

/** Versions never change once written: their content is cached by id. */
const versions = new Map<string, WorkflowContent>();

async function loadVersion(deps: EngineDeps, versionId: string): Promise<WorkflowContent | undefined> {
  const cached = versions.get(versionId);
  if (cached) return cached;
  const row = await deps.db.selectFrom('resource_versions').select(['content']).where('id', '=', versionId).executeTakeFirst();
  if (!row) return undefined;
  if (versions.size > 2_000) versions.clear();
  versions.set(versionId, row.content as WorkflowContent);
  return row.content as WorkflowContent;
}

/** Runs of one job executed at the same time (each on its own connection when it needs one). */
const RUNS_IN_PARALLEL = 4;

/**
 * Executes (or continues) a job's recipient runs: they are claimed and their scopes read
 * in one transaction, then executed a few at a time, sharing configuration reads.
 */
export async function executeRuns(deps: EngineDeps, environmentId: string, runIds: string[]): Promise<void> {
  const cache = createJobCache(deps, environmentId);
  const claimed = await inEnvironment(deps.db, environmentId, async (tx) => {
    const runs = await tx.updateTable('workflow_recipient_runs')
      .set({ status: 'processing', updated_at: sql`now()` })
      .where('environment_id', '=', environmentId)
      .where('id', 'in', runIds)
      .where('status', 'in', ['queued', 'paused', 'processing'])
      .returningAll()
      .execute();
    // Cancelled, finished or batched runs are not returned: nothing to do for them.
    return runs.length === 0 ? [] : { runs, parts: await loadScopeParts(tx, environmentId, runs) };
  });
  if (Array.isArray(claimed)) return;
  const queue = [...claimed.runs];
  const lane = async () => {
    for (let run = queue.shift(); run; run = queue.shift()) await executeRun(deps, environmentId, run, claimed.parts.get(run.id)!, cache);
  };
  const results = await Promise.allSettled(Array.from({ length: Math.min(RUNS_IN_PARALLEL, queue.length) }, lane));
  // A failure (the database going away) fails the job, which the queue retries; finished runs are skipped then.
  const failed = results.find((r) => r.status === 'rejected');
  if (failed) throw (failed as PromiseRejectedResult).reason;
}

/**
 * Executes one claimed recipient run from where it stands: steps already done (recorded
 * in the run's `refs`) are skipped, so a job retried after a crash continues instead of
 * repeating. Ends completed, paused (a delay, batch or retry will resume it), or halted.
 */
async function executeRun(deps: EngineDeps, environmentId: string, run: RecipientRunRow, parts: ScopeParts, cache: JobCache): Promise<void> {
  const workflow = run.version_id ? await loadVersion(deps, run.version_id) : undefined;
  if (!workflow) {
    await finish(deps, environmentId, run, 'error', { message: 'The workflow version of this run no longer exists' });
    return;
  }
  if (!parts.recipient) {
    await finish(deps, environmentId, run, 'halted', { code: 'recipient_not_found', message: 'The recipient does not exist in this environment' });
    return;
  }
  const refs = (run.refs ?? {}) as RunContext['refs'];
  const scopeRefs: Record<string, unknown> = {};
  for (const [ref, state] of Object.entries(refs)) scopeRefs[ref] = state.output ?? state;
  const ctx: RunContext = {
    deps,
    environmentId,
    run,
    workflow,
    recipientRef: refFromReference(run.recipient),
    refs,
    settings: (run.settings ?? {}) as RunContext['settings'],
    preferenceSets: parts.preferenceSets,
    cache,
    scope: {
      recipient: parts.recipient,
      actor: parts.actor,
      tenant: parts.tenant,
      tenantSettings: parts.tenantSettings,
      data: (run.data ?? {}) as Record<string, unknown>,
      vars: await cache.variables(),
      workflow: { key: run.workflow_key, categories: workflow.categories ?? [] },
      refs: scopeRefs,
      timestamp: run.inserted_at.toISOString(),
    },
  };
  // Batch output restored for steps after a batch that closed before a restart.
  for (const state of Object.values(refs)) if (state.status === 'done' && state.batch) Object.assign(ctx.scope, state.batch);

  const outcome = await walk(ctx, workflow.steps ?? []);
  if (outcome.kind === 'stop') await finish(deps, environmentId, run, outcome.status, outcome.error);
  else if (outcome.kind === 'next' && !ctx.completed) await finish(deps, environmentId, run, 'completed');
}

/** Walks steps in order, into the chosen branch of a branch step. */
async function walk(ctx: RunContext, steps: Step[]): Promise<StepOutcome> {
  for (const step of steps) {
    const outcome = step.type === 'branch' ? await runBranch(ctx, step) : await runStep(ctx, step);
    if (outcome.kind !== 'next') return outcome;
  }
  return { kind: 'next' };
}

const FINISHED_STATES = new Set(['done', 'skipped', 'failed']);

async function runStep(ctx: RunContext, step: Step): Promise<StepOutcome> {
  const state = ctx.refs[step.ref];
  if (state && FINISHED_STATES.has(state.status)) return { kind: 'next' };
  if (!state && step.conditions && !evaluateConditions(step.conditions as never, ctx.scope)) {
    await saveStep(ctx, step.ref, { status: 'skipped', reason: 'conditions not met' });
    return { kind: 'next' };
  }
  const runner = STEP_RUNNERS[step.type];
  if (!runner) {
    // Steps Herald does not execute (AI agents, audiences, …) are recorded, not silently dropped.
    await saveStep(ctx, step.ref, { status: 'skipped', reason: `step type "${step.type}" is not supported by Herald` });
    return { kind: 'next' };
  }
  try {
    return await runner(ctx, step);
  } catch (error) {
    return stepFailed(ctx, step, error);
  }
}

/**
 * A failing step is tried again (3 tries in all, exponential backoff with jitter);
 * then the run halts with the step's error recorded.
 */
async function stepFailed(ctx: RunContext, step: Step, error: unknown): Promise<StepOutcome> {
  const message = error instanceof Error ? error.message : String(error);
  const tries = Number(ctx.refs[step.ref]?.tries ?? 0) + 1;
  const { stepMaxAttempts, stepRetryBaseMs } = ctx.deps.config;
  if (tries < stepMaxAttempts) {
    const resumeAt = new Date(Date.now() + backoffMs(stepRetryBaseMs, tries));
    return pauseRun(ctx, step.ref, { status: 'retrying', tries, error: message }, resumeAt);
  }
  await saveStep(ctx, step.ref, { status: 'failed', tries, error: message });
  return { kind: 'stop', status: 'halted', error: { step_ref: step.ref, step_type: step.type, message, tries } };
}

/** The first branch whose conditions hold (the last branch is the default), remembered on the run. */
async function runBranch(ctx: RunContext, step: Step): Promise<StepOutcome> {
  const branches = step.branches ?? [];
  let chosen = ctx.refs[step.ref]?.branch as number | undefined;
  if (chosen === undefined) {
    const context = ctx.scope;
    chosen = branches.findIndex((branch, i) => i === branches.length - 1 || !branch.conditions || evaluateConditions(branch.conditions as never, context));
    await saveStep(ctx, step.ref, { status: 'done', branch: chosen, output: { branch: branches[chosen]?.name ?? null } });
  }
  const branch = branches[chosen];
  if (!branch) return { kind: 'next' };
  const outcome = await walk(ctx, branch.steps ?? []);
  if (outcome.kind === 'next' && branch.terminates) return { kind: 'stop', status: 'completed' };
  return outcome;
}

async function finish(deps: EngineDeps, environmentId: string, run: RecipientRunRow, status: RunStatus, error?: Record<string, unknown>): Promise<void> {
  await inEnvironment(deps.db, environmentId, (tx) =>
    tx.updateTable('workflow_recipient_runs')
      .set({ status, error: error ? JSON.stringify(error) : null, completed_at: new Date(), updated_at: new Date() })
      .where('environment_id', '=', environmentId)
      .where('id', '=', run.id)
      .where('status', '=', 'processing')
      .execute());
}
