import { sql } from 'kysely';
import { inEnvironment } from '../../db/scoped.ts';
import { resolvePath } from '../conditions.ts';
import { durationMs, pauseRunWithin, saveStepState, type RunContext, type Step, type StepOutcome } from '../run-context.ts';

const DEFAULT_RENDER_LIMIT = 10;

/**
 * Batch: the first run to reach the step for a recipient (and batch key) opens a batch and
 * pauses until the window closes; runs arriving while it is open add their activity to
 * it and end there. When the window closes the opening run continues with `activities`,
 * `actors`, `total_activities` and `total_actors` in scope. Adding and closing take the
 * batch row's lock, so an activity either makes it into the batch or opens the next one.
 */
export async function runBatchStep(ctx: RunContext, step: Step): Promise<StepOutcome> {
  const state = ctx.refs[step.ref];
  const settings = step.settings ?? {};
  if (state?.status === 'waiting') return closeBatch(ctx, step, String(state.batch_id), Number(settings.batch_items_render_limit ?? DEFAULT_RENDER_LIMIT));

  const keyPath = typeof settings.batch_key === 'string' && settings.batch_key !== '' ? settings.batch_key : undefined;
  const keyValue = keyPath ? String(resolvePath(ctx.scope, keyPath.includes('.') ? keyPath : `data.${keyPath}`) ?? '') : '';
  const scope = JSON.stringify([ctx.run.workflow_key, step.ref, ctx.run.recipient_key, keyValue]);
  const activity = {
    id: ctx.run.id,
    actor: ctx.run.actor,
    recipient: ctx.run.recipient,
    data: ctx.scope.data,
    inserted_at: ctx.run.inserted_at.toISOString(),
  };
  const closesAt = new Date(windowEnd(ctx, settings));

  return inEnvironment(ctx.deps.db, ctx.environmentId, async (tx) => {
    const joined = await sql<{ id: string }>`
      UPDATE step_batches SET activities = activities || ${JSON.stringify([activity])}::jsonb
      WHERE environment_id = ${ctx.environmentId} AND scope = ${scope} AND status = 'open'
      RETURNING id`.execute(tx);
    const batchId = joined.rows[0]?.id;
    if (batchId) {
      await saveStepState(tx, ctx, step.ref, { status: 'batched', batch_id: batchId });
      return { kind: 'stop', status: 'batched' } as StepOutcome;
    }
    const opened = await tx
      .insertInto('step_batches')
      .values({ environment_id: ctx.environmentId, scope, owner_run_id: ctx.run.id, closes_at: closesAt, activities: JSON.stringify([activity]), status: 'open' })
      .returning('id')
      .executeTakeFirstOrThrow();
    return pauseRunWithin(tx, ctx, step.ref, { status: 'waiting', batch_id: opened.id, closes_at: closesAt.toISOString() }, closesAt);
  });
}

function windowEnd(ctx: RunContext, settings: Record<string, unknown>): number {
  const path = settings.batch_until_field_path;
  if (typeof path === 'string') {
    const at = Date.parse(String(resolvePath(ctx.scope, path)));
    if (Number.isFinite(at)) return at;
  }
  return Date.now() + (durationMs(settings.batch_window) ?? 0);
}

async function closeBatch(ctx: RunContext, step: Step, batchId: string, renderLimit: number): Promise<StepOutcome> {
  const closesAt = Date.parse(String(ctx.refs[step.ref]?.closes_at));
  if (Number.isFinite(closesAt) && closesAt > Date.now()) return { kind: 'pause', resumeAt: new Date(closesAt) };
  return inEnvironment(ctx.deps.db, ctx.environmentId, async (tx) => {
    const closed = await sql<{ activities: Array<Record<string, unknown>> }>`
      UPDATE step_batches SET status = 'closed'
      WHERE environment_id = ${ctx.environmentId} AND id = ${batchId}
      RETURNING activities`.execute(tx);
    const activities = closed.rows[0]?.activities ?? [];
    const actors = uniqueActors(activities);
    const batch = {
      activities: activities.slice(-renderLimit),
      total_activities: activities.length,
      actors: actors.slice(0, renderLimit),
      total_actors: actors.length,
    };
    await saveStepState(tx, ctx, step.ref, { status: 'done', batch_id: batchId, batch });
    Object.assign(ctx.scope, batch);
    return { kind: 'next' } as StepOutcome;
  });
}

function uniqueActors(activities: Array<Record<string, unknown>>): unknown[] {
  const seen = new Set<string>();
  const actors: unknown[] = [];
  for (const activity of activities) {
    if (activity.actor == null) continue;
    const key = JSON.stringify(activity.actor);
    if (seen.has(key)) continue;
    seen.add(key);
    actors.push(activity.actor);
  }
  return actors;
}
