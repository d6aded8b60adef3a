import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { HttpDeps } from '../http/app.ts';
import { inEnvironment } from '../db/scoped.ts';
import { NotFound } from '../errors.ts';
import { EnvironmentSlug, recipientExpander, VIEW_TAGS, viewEnvironment } from '../access/data-views.ts';
import { contentView, diagnosticView, hidesAnything, maskExcept, type DataControls } from '../access/obfuscation.ts';
import { findRecipientRun } from './runs-store.ts';
import { ListRunsQuery, listRuns, runEvents, toRecipientRun } from './runs-routes.ts';

const tags = VIEW_TAGS;
const Params = Type.Object({ environment_slug: EnvironmentSlug });
const RunParams = Type.Object({ environment_slug: EnvironmentSlug, run_id: Type.String({ minLength: 1, maxLength: 256 }) });
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * What a step's state keeps when the environment hides anything: how the step went and
 * what it made (message, batch, triggered run ids), never what it fetched, rendered,
 * batched or why it failed (errors and skip reasons may quote data).
 */
const STEP_KEEP: ReadonlySet<string> = new Set(['status', 'tries', 'type', 'message_id', 'batch_id', 'closes_at', 'resume_at', 'skipped_delay', 'attempt', 'branch']);
const STEP_OUTPUT_KEEP: ReadonlySet<string> = new Set(['status', 'delivery_status', 'message_id', 'workflow_run_id']);
const ERROR_KEEP: ReadonlySet<string> = new Set(['step_ref', 'step_type', 'tries']);
const EVENT_DATA_KEEP: ReadonlySet<string> = new Set([...STEP_KEEP, ...ERROR_KEEP, 'channel_type', 'delivery_status']);

function stepView(state: unknown, controls: DataControls): unknown {
  if (!hidesAnything(controls) || state === null || typeof state !== 'object' || Array.isArray(state)) return diagnosticView(state, controls, STEP_KEEP);
  const { output, ...rest } = state as Record<string, unknown>;
  const masked = maskExcept(rest, STEP_KEEP) as Record<string, unknown>;
  return output === undefined ? masked : { ...masked, output: maskExcept(output, STEP_OUTPUT_KEEP) };
}

function stepsView(steps: unknown, controls: DataControls): Record<string, unknown> {
  return Object.fromEntries(Object.entries((steps ?? {}) as Record<string, unknown>).map(([ref, state]) => [ref, stepView(state, controls)]));
}

type RunView = ReturnType<typeof toRecipientRun>;
type Expand = Awaited<ReturnType<typeof recipientExpander>>;

/** A recipient run as a team member may see it: recipient and actor expanded (masked with `hide_pii_data`), step state and errors masked with either control. */
function runView(run: RunView, expand: Expand, controls: DataControls) {
  const at = new Date(run.inserted_at);
  return {
    ...run,
    recipient: expand(run.recipient, at),
    actor: run.actor === null ? null : expand(run.actor, at),
    error: diagnosticView(run.error, controls, ERROR_KEEP) as Record<string, unknown> | null,
    steps: stepsView(run.steps, controls),
    obfuscated: hidesAnything(controls),
  };
}

/**
 * The dashboard's read views of an environment's workflow recipient runs (Herald),
 * through the management API, masked as the environment's data controls say.
 */
export function runViewRoutes({ db, accountId }: HttpDeps): FastifyPluginAsync {
  return async (root) => {
    const app = root.withTypeProvider<TypeBoxTypeProvider>();

    app.get('/environments/:environment_slug/workflow_runs', {
      schema: { tags, summary: "An environment's workflow recipient runs, newest first (masked as the environment's data controls say)", params: Params, querystring: ListRunsQuery },
    }, async (request) => {
      const environment = await viewEnvironment(db, accountId, request.params.environment_slug);
      const page = await listRuns(db, environment.id, request.query);
      const expand = await recipientExpander(db, environment, page.items.flatMap((run) => [run.recipient, run.actor]));
      return { items: page.items.map((run) => runView(run, expand, environment)), page_info: page.page_info };
    });

    app.get('/environments/:environment_slug/workflow_runs/:run_id', {
      schema: { tags, summary: 'One workflow recipient run with its data and timeline (masked as the environment\'s data controls say)', params: RunParams },
    }, async (request) => {
      const environment = await viewEnvironment(db, accountId, request.params.environment_slug);
      const { run_id: id } = request.params;
      const row = UUID.test(id) ? await inEnvironment(db, environment.id, (tx) => findRecipientRun(tx, environment.id, id)) : undefined;
      if (!row) throw new NotFound('Workflow recipient run', id);
      const run = toRecipientRun(row);
      const expand = await recipientExpander(db, environment, [run.recipient, run.actor]);
      const events = await runEvents(db, environment.id, row);
      return {
        ...runView(run, expand, environment),
        data: contentView(row.data, environment),
        events: events.map((event) => ({ ...event, data: diagnosticView(event.data, environment, EVENT_DATA_KEEP) })),
      };
    });
  };
}
