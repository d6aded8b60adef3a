import { renderTemplate } from '../render.ts';
import { inEnvironment } from '../../db/scoped.ts';
import { saveStepState, type RunContext, type Step, type StepOutcome } from '../run-context.ts';
import { committedTemplateSources } from '../template-sources.ts';

const TIMEOUT_MS = 10_000;
const MAX_RESPONSE_BYTES = 1024 * 1024;

/**
 * Fetch (`http_fetch`): calls an HTTP endpoint with Liquid-rendered settings and merges a
 * JSON object response into the run's `data` for the steps after it (Knock's behaviour);
 * the response is kept at `refs.<step>`. A non-2xx answer or a network error fails the
 * step (tried again, then the run halts).
 */
export async function runFetchStep(ctx: RunContext, step: Step): Promise<StepOutcome> {
  const settings = step.settings ?? {};
  const request = (await renderTemplate('http', settings, ctx.scope as never, committedTemplateSources(ctx.deps.db, ctx.environmentId))) as unknown as {
    url: string; method: string; headers: Record<string, string>; query: Record<string, string>; body?: string;
  };
  const url = new URL(request.url);
  for (const [key, value] of Object.entries(request.query ?? {})) url.searchParams.set(key, value);
  const method = (request.method || 'get').toUpperCase();
  const response = await fetch(url, {
    method,
    headers: { accept: 'application/json', ...(request.body ? { 'content-type': 'application/json' } : {}), ...request.headers },
    body: method === 'GET' || method === 'HEAD' ? undefined : request.body || undefined,
    signal: AbortSignal.timeout(TIMEOUT_MS),
  });
  const text = (await response.text()).slice(0, MAX_RESPONSE_BYTES);
  if (!response.ok) throw new Error(`The fetch to ${url.host} answered ${response.status}`);
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // A non-JSON answer is kept as text and merges nothing.
  }
  const merges = body !== null && typeof body === 'object' && !Array.isArray(body);
  if (merges) Object.assign(ctx.scope.data, body);
  await inEnvironment(ctx.deps.db, ctx.environmentId, async (tx) => {
    if (merges) {
      await tx.updateTable('workflow_recipient_runs').set({ data: JSON.stringify(ctx.scope.data) }).where('environment_id', '=', ctx.environmentId).where('id', '=', ctx.run.id).execute();
    }
    await saveStepState(tx, ctx, step.ref, { status: 'done', output: { status: response.status, body } });
  });
  return { kind: 'next' };
}
