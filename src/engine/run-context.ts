import { sql } from 'kysely';
import type { Db } from '../db/database.ts';
import type { RecipientRunRow, RunStatus } from '../db/schema.ts';
import { inEnvironment, type EnvTx } from '../db/scoped.ts';
import { enqueue } from './queue.ts';
import { refFromReference, type RecipientRef } from './recipients.ts';
import type { EngineDeps } from './tasks.ts';

/** A step of a committed workflow version, as the engine reads it. */
export interface Step {
  type: string;
  ref: string;
  conditions?: unknown;
  channel_key?: string | null;
  channel_type?: string | null;
  template?: Record<string, unknown> | null;
  settings?: Record<string, unknown> | null;
  branches?: Array<{ name?: string; conditions?: unknown; steps?: Step[]; terminates?: boolean }>;
}

export interface WorkflowContent {
  steps?: Step[];
  categories?: string[];
  settings?: { override_preferences?: boolean } | null;
  [key: string]: unknown;
}

/** What a step has done, kept per step ref on the run: completed steps are skipped on a retry. */
export interface StepState {
  status: 'done' | 'skipped' | 'waiting' | 'retrying' | 'delivering' | 'failed' | 'throttled' | 'batched';
  [key: string]: unknown;
}

/** Everything a step sees while one recipient run executes. */
export interface RunContext {
  deps: EngineDeps;
  environmentId: string;
  run: RecipientRunRow;
  workflow: WorkflowContent;
  recipientRef: RecipientRef;
  /** Template scope: recipient, actor, tenant, data, vars, workflow, refs (and batch fields once batched). */
  scope: Record<string, unknown> & { data: Record<string, unknown>; refs: Record<string, unknown> };
  refs: Record<string, StepState>;
  settings: { sandbox_mode?: boolean; skip_delay?: boolean };
}

/** What a step tells the walker. */
export type StepOutcome =
  | { kind: 'next' }
  | { kind: 'pause'; resumeAt: Date }
  | { kind: 'stop'; status: RunStatus; error?: Record<string, unknown> };

/** Records a step's state on the run inside `tx` (with whatever else the step writes there). */
export async function saveStepState(tx: EnvTx, ctx: RunContext, ref: string, state: StepState): Promise<void> {
  await sql`
    UPDATE workflow_recipient_runs
    SET refs = refs || jsonb_build_object(${ref}::text, ${JSON.stringify(state)}::jsonb), updated_at = now()
    WHERE environment_id = ${ctx.environmentId} AND id = ${ctx.run.id}`.execute(tx);
  ctx.refs[ref] = state;
  ctx.scope.refs[ref] = state.output ?? state;
}

/** Saves a step's state in a transaction of its own. */
export function saveStep(ctx: RunContext, ref: string, state: StepState): Promise<void> {
  return inEnvironment(ctx.deps.db, ctx.environmentId, (tx) => saveStepState(tx, ctx, ref, state));
}

/**
 * Pauses the run until `resumeAt`: the state, the status and the job that resumes it
 * are written together, so a crash can neither lose the resume nor run it twice.
 */
export async function pauseRun(ctx: RunContext, ref: string, state: StepState, resumeAt: Date): Promise<StepOutcome> {
  await inEnvironment(ctx.deps.db, ctx.environmentId, async (tx) => {
    await saveStepState(tx, ctx, ref, state);
    await tx.updateTable('workflow_recipient_runs').set({ status: 'paused' }).where('environment_id', '=', ctx.environmentId).where('id', '=', ctx.run.id).where('status', '=', 'processing').execute();
    await enqueue(tx, [{ task: 'run', payload: { e: ctx.environmentId, runs: [ctx.run.id] }, runAt: resumeAt, jobKey: `run:${ctx.run.id}` }]);
  });
  return { kind: 'pause', resumeAt };
}

/** Loads recipient, actor and tenant properties for templates and conditions. */
export async function loadScopeParts(db: Db, environmentId: string, run: RecipientRunRow): Promise<{ recipient: Record<string, unknown> | undefined; actor: Record<string, unknown> | null; tenant: Record<string, unknown> | null; tenantSettings: Record<string, unknown> | null }> {
  return inEnvironment(db, environmentId, async (tx) => {
    const ref = refFromReference(run.recipient);
    const recipient = await loadRecipient(tx, environmentId, ref);
    const actorRef = run.actor ? refFromReference(run.actor) : undefined;
    const actor = actorRef ? (await loadRecipient(tx, environmentId, actorRef)) ?? { id: actorRef.id } : null;
    let tenant: Record<string, unknown> | null = null;
    let tenantSettings: Record<string, unknown> | null = null;
    if (run.tenant) {
      const row = await tx.selectFrom('tenants').select(['properties', 'settings']).where('environment_id', '=', environmentId).where('id', '=', run.tenant).executeTakeFirst();
      tenant = { ...(row?.properties ?? {}), id: run.tenant };
      tenantSettings = row?.settings ?? null;
    }
    const subscription = (run.recipient as { subscription?: unknown }).subscription;
    return { recipient: recipient && (subscription ? { ...recipient, subscription } : recipient), actor, tenant, tenantSettings };
  });
}

async function loadRecipient(tx: EnvTx, environmentId: string, ref: RecipientRef): Promise<Record<string, unknown> | undefined> {
  if (ref.collection) {
    const row = await tx.selectFrom('objects').select(['properties']).where('environment_id', '=', environmentId).where('collection', '=', ref.collection).where('id', '=', ref.id).executeTakeFirst();
    return row && { ...row.properties, id: ref.id, collection: ref.collection };
  }
  const row = await tx.selectFrom('users').select(['properties']).where('environment_id', '=', environmentId).where('id', '=', ref.id).executeTakeFirst();
  return row && { ...row.properties, id: ref.id };
}

/** `{unit, value}` → milliseconds (months as 30 days). */
export function durationMs(duration: unknown): number | undefined {
  if (!duration || typeof duration !== 'object') return undefined;
  const { unit, value } = duration as { unit?: string; value?: number };
  if (typeof value !== 'number' || value < 0) return undefined;
  const unitMs: Record<string, number> = { seconds: 1_000, minutes: 60_000, hours: 3_600_000, days: 86_400_000, weeks: 604_800_000, months: 2_592_000_000 };
  const ms = unit ? unitMs[unit] : undefined;
  return ms === undefined ? undefined : value * ms;
}

/** Exponential backoff with ±25% jitter: base, 2×base, 4×base, … */
export function backoffMs(base: number, attempt: number): number {
  const exact = base * 2 ** Math.max(0, attempt - 1);
  return Math.round(exact * (0.75 + Math.random() * 0.5));
}
