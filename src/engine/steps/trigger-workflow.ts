import { inEnvironment } from '../../db/scoped.ts';
import { renderTemplate } from '../render.ts';
import { recipientReference } from '../recipients.ts';
import { saveStepState, type RunContext, type Step, type StepOutcome } from '../run-context.ts';
import { committedTemplateSources } from '../template-sources.ts';
import { writeTriggers, type TriggerBody } from '../trigger/ingest.ts';

/**
 * Trigger workflow: triggers another workflow of the same environment. Its settings
 * (`recipients`, `actor`, `data`, `tenant`, `cancellation_key`) are Liquid producing JSON;
 * each defaults to this run's own. The trigger is written in the same transaction as the
 * step's completion, so a retried run never triggers twice.
 */
export async function runTriggerWorkflowStep(ctx: RunContext, step: Step): Promise<StepOutcome> {
  const settings = step.settings ?? {};
  const workflowKey = String(settings.workflow_key ?? '');
  const rendered = await renderStrings(ctx, settings);
  const recipients = parseJson(rendered.recipients);
  const body: TriggerBody = {
    recipients: recipients === undefined ? [recipientReference(ctx.recipientRef)] : ((Array.isArray(recipients) ? recipients : [recipients]) as TriggerBody['recipients']),
    actor: (parseJson(rendered.actor) as TriggerBody['actor']) ?? (ctx.run.actor as TriggerBody['actor']),
    data: (parseJson(rendered.data) as TriggerBody['data']) ?? ctx.scope.data,
    tenant: (parseJson(rendered.tenant) as TriggerBody['tenant']) ?? ctx.run.tenant,
    cancellation_key: rendered.cancellation_key || null,
  };
  return inEnvironment(ctx.deps.db, ctx.environmentId, async (tx) => {
    const [result] = await writeTriggers(tx, ctx.environmentId, [{ workflowKey, body }]);
    if (result instanceof Error) throw result;
    await saveStepState(tx, ctx, step.ref, { status: 'done', output: { workflow_run_id: result!.workflow_run_id } });
    return { kind: 'next' } as StepOutcome;
  });
}

async function renderStrings(ctx: RunContext, settings: Record<string, unknown>): Promise<Record<string, string>> {
  const fields = ['recipients', 'actor', 'data', 'tenant', 'cancellation_key'].filter((key) => typeof settings[key] === 'string' && settings[key] !== '');
  if (fields.length === 0) return {};
  // Rendered as webhook headers: the renderer's generic "strings through Liquid" path.
  const out = (await renderTemplate('http', {
    url: 'http://localhost/',
    method: 'post',
    headers: fields.map((key) => ({ key, value: settings[key] })),
  }, ctx.scope as never, committedTemplateSources(ctx.deps.db, ctx.environmentId))) as unknown as { headers: Record<string, string> };
  return out.headers ?? {};
}

function parseJson(text: string | undefined): unknown {
  if (text === undefined || text.trim() === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    // A bare string (a user id for recipients, an id for actor or tenant).
    return text.trim();
  }
}
