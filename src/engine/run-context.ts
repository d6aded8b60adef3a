import { sql } from 'kysely';
import { loadChannelForSending, type SendingChannel } from '../channels/config/store.ts';
import { loadVariables } from '../variables/store.ts';
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
  preferenceSets: ScopeParts['preferenceSets'];
  /** Set when a step's transaction already marked the run completed. */
  completed?: boolean;
  /** Lookups shared by the runs of one job (channel configuration, variables). */
  cache: JobCache;
}

/** Per-job memo of configuration reads: a job's runs share one environment and moment. */
export interface JobCache {
  channel(key: string): Promise<SendingChannel | undefined>;
  variables(): Promise<Record<string, string>>;
}

export function createJobCache(deps: EngineDeps, environmentId: string): JobCache {
  const channels = new Map<string, Promise<SendingChannel | undefined>>();
  let variables: Promise<Record<string, string>> | undefined;
  return {
    channel(key) {
      let found = channels.get(key);
      if (!found) channels.set(key, (found = loadChannelForSending(deps.db, deps.accountId, environmentId, key)));
      return found;
    },
    variables() {
      return (variables ??= loadVariables(deps.db, deps.accountId, environmentId));
    },
  };
}

/** What a step tells the walker. */
export type StepOutcome =
  | { kind: 'next' }
  | { kind: 'pause'; resumeAt: Date }
  | { kind: 'stop'; status: RunStatus; error?: Record<string, unknown> };

/** Records a step's state on the run inside `tx` (with whatever else the step writes there). */
export async function saveStepState(tx: EnvTx, ctx: RunContext, ref: string, state: StepState, options: { completesRun?: boolean } = {}): Promise<void> {
  // The workflow's last step may complete the run in the same statement (one round trip fewer per run).
  const complete = options.completesRun === true;
  await sql`
    UPDATE workflow_recipient_runs
    SET refs = refs || jsonb_build_object(${ref}::text, ${JSON.stringify(state)}::jsonb), updated_at = now(),
        status = CASE WHEN ${complete}::boolean AND status = 'processing' THEN 'completed' ELSE status END,
        completed_at = CASE WHEN ${complete}::boolean AND status = 'processing' THEN now() ELSE completed_at END
    WHERE environment_id = ${ctx.environmentId} AND id = ${ctx.run.id}`.execute(tx);
  ctx.refs[ref] = state;
  ctx.scope.refs[ref] = state.output ?? state;
  if (complete) ctx.completed = true;
}

/** True for the workflow's last top-level step: finishing it finishes the run. */
export function isLastStep(ctx: RunContext, step: Step): boolean {
  return ctx.workflow.steps?.at(-1)?.ref === step.ref;
}

/** Saves a step's state in a transaction of its own. */
export function saveStep(ctx: RunContext, ref: string, state: StepState): Promise<void> {
  return inEnvironment(ctx.deps.db, ctx.environmentId, (tx) => saveStepState(tx, ctx, ref, state));
}

/**
 * Pauses the run until `resumeAt`: the state, the status and the job that resumes it
 * are written together, so a crash can neither lose the resume nor run it twice.
 */
export function pauseRun(ctx: RunContext, ref: string, state: StepState, resumeAt: Date): Promise<StepOutcome> {
  return inEnvironment(ctx.deps.db, ctx.environmentId, (tx) => pauseRunWithin(tx, ctx, ref, state, resumeAt));
}

/** Pauses the run inside `tx`, with whatever else the step writes there (a batch, a delivery attempt). */
export async function pauseRunWithin(tx: EnvTx, ctx: RunContext, ref: string, state: StepState, resumeAt: Date): Promise<StepOutcome> {
  await saveStepState(tx, ctx, ref, state);
  await tx.updateTable('workflow_recipient_runs').set({ status: 'paused' }).where('environment_id', '=', ctx.environmentId).where('id', '=', ctx.run.id).where('status', '=', 'processing').execute();
  await enqueue(tx, [{ task: 'run', payload: { e: ctx.environmentId, runs: [ctx.run.id] }, runAt: resumeAt, jobKey: `run:${ctx.run.id}` }]);
  return { kind: 'pause', resumeAt };
}

/** What a run reads before its steps: recipient, actor and tenant properties, and preferences. */
export interface ScopeParts {
  recipient: Record<string, unknown> | undefined;
  actor: Record<string, unknown> | null;
  tenant: Record<string, unknown> | null;
  tenantSettings: Record<string, unknown> | null;
  /** The recipient's preference sets that apply to the run: `default` and the run's tenant's. */
  preferenceSets: Array<{ set_id: string; settings: Record<string, unknown> }>;
}

/**
 * Loads the scope parts of many runs with one query per table (a job's runs are read
 * together), keyed by run id.
 */
export async function loadScopeParts(tx: EnvTx, environmentId: string, runs: RecipientRunRow[]): Promise<Map<string, ScopeParts>> {
  const refs = runs.flatMap((run) => [refFromReference(run.recipient), ...(run.actor ? [refFromReference(run.actor)] : [])]);
  const userIds = [...new Set(refs.filter((r) => !r.collection).map((r) => r.id))];
  const objectRefs = refs.filter((r) => r.collection);
  const tenantIds = [...new Set(runs.flatMap((run) => (run.tenant ? [run.tenant] : [])))];

  const users = new Map<string, Record<string, unknown>>();
  if (userIds.length > 0) {
    for (const row of await tx.selectFrom('users').select(['id', 'properties']).where('environment_id', '=', environmentId).where('id', 'in', userIds).execute()) {
      users.set(row.id, { ...row.properties, id: row.id });
    }
  }
  const objects = new Map<string, Record<string, unknown>>();
  if (objectRefs.length > 0) {
    const rows = await tx.selectFrom('objects').select(['collection', 'id', 'properties'])
      .where('environment_id', '=', environmentId)
      .where((eb) => eb.or(objectRefs.map((r) => eb.and([eb('collection', '=', r.collection!), eb('id', '=', r.id)]))))
      .execute();
    for (const row of rows) objects.set(`${row.collection}\n${row.id}`, { ...row.properties, id: row.id, collection: row.collection });
  }
  const tenants = new Map<string, { properties: Record<string, unknown>; settings: Record<string, unknown> }>();
  if (tenantIds.length > 0) {
    for (const row of await tx.selectFrom('tenants').select(['id', 'properties', 'settings']).where('environment_id', '=', environmentId).where('id', 'in', tenantIds).execute()) {
      tenants.set(row.id, row);
    }
  }
  const preferenceRows = userIds.length > 0
    ? await tx.selectFrom('user_preference_sets').select(['user_id', 'set_id', 'settings'])
      .where('environment_id', '=', environmentId)
      .where('user_id', 'in', userIds)
      .where('set_id', 'in', ['default', ...tenantIds])
      .execute()
    : [];
  // Objects are recipients too (a Slack channel, say): their sets apply like a user's.
  const recipientObjects = runs.map((run) => refFromReference(run.recipient)).filter((r) => r.collection);
  const objectPreferenceRows = recipientObjects.length > 0
    ? await tx.selectFrom('object_preference_sets').select(['collection', 'object_id', 'set_id', 'settings'])
      .where('environment_id', '=', environmentId)
      .where((eb) => eb.or(recipientObjects.map((r) => eb.and([eb('collection', '=', r.collection!), eb('object_id', '=', r.id)]))))
      .where('set_id', 'in', ['default', ...tenantIds])
      .execute()
    : [];

  const find = (ref: RecipientRef) => (ref.collection ? objects.get(`${ref.collection}\n${ref.id}`) : users.get(ref.id));
  const parts = new Map<string, ScopeParts>();
  for (const run of runs) {
    const ref = refFromReference(run.recipient);
    const recipient = find(ref);
    const actorRef = run.actor ? refFromReference(run.actor) : undefined;
    const tenantRow = run.tenant ? tenants.get(run.tenant) : undefined;
    const subscription = (run.recipient as { subscription?: unknown }).subscription;
    parts.set(run.id, {
      recipient: recipient && (subscription ? { ...recipient, subscription } : recipient),
      actor: actorRef ? find(actorRef) ?? { id: actorRef.id } : null,
      tenant: run.tenant ? { ...(tenantRow?.properties ?? {}), id: run.tenant } : null,
      tenantSettings: tenantRow?.settings ?? null,
      preferenceSets: (ref.collection
        ? objectPreferenceRows.filter((row) => row.collection === ref.collection && row.object_id === ref.id)
        : preferenceRows.filter((row) => row.user_id === ref.id))
        .filter((row) => row.set_id === 'default' || row.set_id === run.tenant)
        .map((row) => ({ set_id: row.set_id, settings: row.settings as Record<string, unknown> })),
    });
  }
  return parts;
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
