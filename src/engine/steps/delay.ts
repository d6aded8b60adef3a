import { resolvePath } from '../conditions.ts';
import { durationMs, pauseRun, saveStep, type RunContext, type Step, type StepOutcome } from '../run-context.ts';

/**
 * Delay: waits `delay_for` or until the timestamp at `delay_until_field_path`, then the
 * run continues. The wake-up time is fixed the first time the step runs.
 */
export async function runDelayStep(ctx: RunContext, step: Step): Promise<StepOutcome> {
  const state = ctx.refs[step.ref];
  const now = Date.now();
  if (ctx.settings.skip_delay) {
    await saveStep(ctx, step.ref, { status: 'done', skipped_delay: true });
    return { kind: 'next' };
  }
  const resumeAt = state?.status === 'waiting' ? Date.parse(String(state.resume_at)) : wakeUpTime(ctx, step, now);
  if (resumeAt <= now) {
    await saveStep(ctx, step.ref, { status: 'done', resume_at: new Date(resumeAt).toISOString() });
    return { kind: 'next' };
  }
  return pauseRun(ctx, step.ref, { status: 'waiting', resume_at: new Date(resumeAt).toISOString() }, new Date(resumeAt));
}

function wakeUpTime(ctx: RunContext, step: Step, now: number): number {
  const settings = step.settings ?? {};
  const path = settings.delay_until_field_path;
  if (typeof path === 'string') {
    const value = resolvePath(ctx.scope, path);
    const at = typeof value === 'number' ? value * (value < 1e12 ? 1000 : 1) : Date.parse(String(value));
    // A missing or unreadable timestamp falls back to delay_for (or no delay).
    if (Number.isFinite(at)) return at;
  }
  return now + (durationMs(settings.delay_for) ?? 0);
}
