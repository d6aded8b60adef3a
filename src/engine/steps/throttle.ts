import { sql } from 'kysely';
import { inEnvironment } from '../../db/scoped.ts';
import { resolvePath } from '../conditions.ts';
import { durationMs, saveStepState, type RunContext, type Step, type StepOutcome } from '../run-context.ts';

/**
 * Throttle: at most `throttle_limit` runs per recipient (and throttle key) pass the step
 * within the window; the rest stop there. Concurrent runs of one scope are serialized by
 * a transaction-level advisory lock so the limit holds under load.
 */
export async function runThrottleStep(ctx: RunContext, step: Step): Promise<StepOutcome> {
  const settings = step.settings ?? {};
  const limit = Number(settings.throttle_limit ?? 1);
  const keyPath = typeof settings.throttle_key === 'string' && settings.throttle_key !== '' ? settings.throttle_key : undefined;
  const keyValue = keyPath ? String(resolvePath(ctx.scope, keyPath.includes('.') ? keyPath : `data.${keyPath}`) ?? '') : '';
  const scope = JSON.stringify([ctx.run.workflow_key, step.ref, ctx.run.recipient_key, keyValue]);
  let windowMs = durationMs(settings.throttle_window) ?? 0;
  if (typeof settings.throttle_window_field_path === 'string') {
    windowMs = durationMs(resolvePath(ctx.scope, settings.throttle_window_field_path)) ?? windowMs;
  }
  return inEnvironment(ctx.deps.db, ctx.environmentId, async (tx) => {
    await sql`SELECT pg_advisory_xact_lock(hashtext(${scope}))`.execute(tx);
    const counted = await sql<{ n: number }>`
      SELECT count(*)::int AS n FROM throttle_hits
      WHERE environment_id = ${ctx.environmentId} AND scope = ${scope} AND at > now() - (${windowMs}::bigint * interval '1 millisecond')`.execute(tx);
    if ((counted.rows[0]?.n ?? 0) >= limit) {
      await saveStepState(tx, ctx, step.ref, { status: 'throttled' });
      return { kind: 'stop', status: 'halted', error: { step_ref: step.ref, code: 'throttled', message: `throttled: more than ${limit} run(s) in the window` } } as StepOutcome;
    }
    await tx.insertInto('throttle_hits').values({ environment_id: ctx.environmentId, scope, run_id: ctx.run.id }).onConflict((oc) => oc.doNothing()).execute();
    await saveStepState(tx, ctx, step.ref, { status: 'done' });
    return { kind: 'next' } as StepOutcome;
  });
}
