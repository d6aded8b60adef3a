import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type, type Static } from 'typebox';
import type { Db } from '../db/database.ts';
import type { RunStatus } from '../db/schema.ts';
import { inEnvironment } from '../db/scoped.ts';
import { NotFound } from '../errors.ts';
import type { HttpDeps } from '../http/app.ts';
import { PageInfo, PageQuery, pageRequest, toPage } from '../http/pagination.ts';
import { timeKeyOf } from '../messages/cursor.ts';
import { recipientKey, recipientReference, refFromReference } from './recipients.ts';
import { findRecipientRun, listRecipientRuns, listRunMessages, type RecipientRunListRow } from './runs-store.ts';

/**
 * Knock's statuses of a recipient run. Herald's own finer ones end the same way for
 * Knock clients: halted (a step failed), error (the run could not start) and batched
 * (its trigger went into another run's batch) are all `completed`.
 */
export type KnockRunStatus = 'queued' | 'processing' | 'paused' | 'completed' | 'cancelled';

const KNOCK_STATUS: Record<RunStatus, KnockRunStatus> = {
  queued: 'queued',
  processing: 'processing',
  paused: 'paused',
  completed: 'completed',
  cancelled: 'cancelled',
  halted: 'completed',
  error: 'completed',
  batched: 'completed',
};

/** The Herald statuses a Knock status filter stands for. */
export function heraldStatuses(statuses: KnockRunStatus[]): RunStatus[] {
  return (Object.keys(KNOCK_STATUS) as RunStatus[]).filter((status) => statuses.includes(KNOCK_STATUS[status]));
}

const RecipientReference = Type.Union([Type.String({ minLength: 1, maxLength: 256 }), Type.Object({ id: Type.String({ minLength: 1, maxLength: 256 }), collection: Type.String({ minLength: 1, maxLength: 256 }) })]);
const RunStatusParam = Type.Enum(['queued', 'processing', 'paused', 'completed', 'cancelled']);

export const ListRunsQuery = Type.Object({
  ...PageQuery,
  workflow: Type.Optional(Type.String({ maxLength: 256 })),
  status: Type.Optional(Type.Array(RunStatusParam, { maxItems: 5 })),
  tenant: Type.Optional(Type.String({ maxLength: 256 })),
  has_errors: Type.Optional(Type.Boolean()),
  recipient: Type.Optional(RecipientReference),
  starting_at: Type.Optional(Type.String({ format: 'date-time' })),
  ending_at: Type.Optional(Type.String({ format: 'date-time' })),
});

const WorkflowRecipientRun = Type.Object(
  {
    __typename: Type.Literal('WorkflowRecipientRun'),
    id: Type.String({ format: 'uuid' }),
    workflow_run_id: Type.String({ format: 'uuid' }),
    workflow: Type.String(),
    status: RunStatusParam,
    recipient: Type.Unknown(),
    actor: Type.Unknown(),
    tenant: Type.Union([Type.String(), Type.Null()]),
    error_count: Type.Integer(),
    trigger_source: Type.Object({ type: Type.Literal('api'), cancellation_key: Type.Union([Type.String(), Type.Null()]) }),
    inserted_at: Type.String({ format: 'date-time' }),
    updated_at: Type.String({ format: 'date-time' }),
    herald_status: Type.String({ description: 'Herald addition: the run\'s own status (halted, error and batched show as completed).' }),
    error: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()], { description: 'Herald addition: why the run halted or failed.' }),
    steps: Type.Record(Type.String(), Type.Unknown(), { description: 'Herald addition: what each step did, by step ref.' }),
    completed_at: Type.Union([Type.String(), Type.Null()], { description: 'Herald addition.' }),
  },
  { title: 'WorkflowRecipientRun', additionalProperties: true },
);

const WorkflowRecipientRunEvent = Type.Object(
  {
    __typename: Type.Literal('WorkflowRecipientRunEvent'),
    id: Type.String(),
    event: Type.String(),
    status: Type.Union([Type.Literal('ok'), Type.Literal('error')]),
    step_ref: Type.Union([Type.String(), Type.Null()]),
    step_type: Type.Union([Type.String(), Type.Null()]),
    attempt: Type.Integer(),
    data: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()]),
    inserted_at: Type.String(),
  },
  { title: 'WorkflowRecipientRunEvent' },
);

const ListRunsResponse = Type.Object({ items: Type.Array(WorkflowRecipientRun), page_info: PageInfo }, { title: 'ListWorkflowRecipientRunsResponse' });
const RunDetail = Type.Intersect([WorkflowRecipientRun, Type.Object({ events: Type.Array(WorkflowRecipientRunEvent) })], { title: 'WorkflowRecipientRunDetail' });

/** The Knock `WorkflowRecipientRun` shape, with Herald's error detail and per-step state. */
export function toRecipientRun(row: RecipientRunListRow) {
  return {
    __typename: 'WorkflowRecipientRun' as const,
    id: row.id,
    workflow_run_id: row.workflow_run_id,
    workflow: row.workflow_key,
    status: KNOCK_STATUS[row.status],
    recipient: recipientReference(refFromReference(row.recipient)),
    actor: row.actor ? recipientReference(refFromReference(row.actor)) : null,
    tenant: row.tenant,
    error_count: Number(row.error_count),
    trigger_source: { type: 'api' as const, cancellation_key: row.cancellation_key },
    inserted_at: row.inserted_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
    herald_status: row.status,
    error: row.error,
    steps: row.refs,
    completed_at: row.completed_at?.toISOString() ?? null,
  };
}

interface RunEvent {
  __typename: 'WorkflowRecipientRunEvent';
  id: string;
  event: string;
  status: 'ok' | 'error';
  step_ref: string | null;
  step_type: string | null;
  attempt: number;
  data: Record<string, unknown> | null;
  inserted_at: string;
}

interface StepState {
  status?: string;
  error?: string;
  tries?: number;
  type?: string;
  [key: string]: unknown;
}

/** The run's timeline: one event per step that ran, one per message created, and its end. */
export async function runEvents(db: Db, environmentId: string, row: RecipientRunListRow): Promise<RunEvent[]> {
  const messages = await inEnvironment(db, environmentId, (tx) => listRunMessages(tx, environmentId, row.id));
  const at = row.updated_at.toISOString();
  const steps = Object.entries((row.refs ?? {}) as Record<string, StepState>).map(([ref, state]) => ({
    __typename: 'WorkflowRecipientRunEvent' as const,
    id: `${row.id}:step:${ref}`,
    event: `step_${state?.status ?? 'unknown'}`,
    status: state?.error ? ('error' as const) : ('ok' as const),
    step_ref: ref,
    step_type: typeof state?.type === 'string' ? state.type : null,
    attempt: typeof state?.tries === 'number' ? state.tries : 1,
    data: state && typeof state === 'object' ? state : null,
    inserted_at: at,
  }));
  const created = messages.map((m) => ({
    __typename: 'WorkflowRecipientRunEvent' as const,
    id: `${row.id}:message:${m.id}`,
    event: 'message_enqueued',
    status: 'ok' as const,
    step_ref: m.step_ref,
    step_type: 'channel',
    attempt: 1,
    data: { message_id: m.id, channel_type: m.channel_type, delivery_status: m.status },
    inserted_at: m.inserted_at.toISOString(),
  }));
  const events: RunEvent[] = [...created, ...steps];
  if (row.completed_at) {
    events.push({
      __typename: 'WorkflowRecipientRunEvent',
      id: `${row.id}:end`,
      event: `run_${row.status}`,
      status: row.error ? 'error' : 'ok',
      step_ref: null,
      step_type: null,
      attempt: 1,
      data: row.error,
      inserted_at: row.completed_at.toISOString(),
    });
  }
  return events.sort((a, b) => a.inserted_at.localeCompare(b.inserted_at));
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A page of the environment's recipient runs, newest first, with Knock's filters. */
export async function listRuns(db: Db, environmentId: string, query: Static<typeof ListRunsQuery>) {
  const page = pageRequest(query);
  return inEnvironment(db, environmentId, async (tx) => {
    const rows = await listRecipientRuns(tx, environmentId, {
      workflowKey: query.workflow,
      statuses: query.status ? heraldStatuses(query.status) : undefined,
      tenant: query.tenant,
      hasErrors: query.has_errors,
      recipientKey: query.recipient !== undefined ? recipientKey(refFromReference(query.recipient)) : undefined,
      startingAt: query.starting_at,
      endingAt: query.ending_at,
    }, page);
    const { rows: items, pageInfo } = toPage(rows, page, timeKeyOf);
    return { items: items.map(toRecipientRun), page_info: pageInfo };
  });
}

/** One recipient run with its timeline; 404 if the environment has no such run. */
export async function getRun(db: Db, environmentId: string, id: string) {
  const row = UUID.test(id) ? await inEnvironment(db, environmentId, (tx) => findRecipientRun(tx, environmentId, id)) : undefined;
  if (!row) throw new NotFound('Workflow recipient run', id);
  return { ...toRecipientRun(row), events: await runEvents(db, environmentId, row) };
}

/** Data API: workflow recipient runs, read-only. */
export function recipientRunRoutes({ db }: HttpDeps): FastifyPluginAsync {
  return async (root) => {
    const app = root.withTypeProvider<TypeBoxTypeProvider>();
    const tags = ['Workflow recipient runs'];

    app.get('/workflow_recipient_runs', {
      schema: { tags, summary: 'List workflow recipient runs', querystring: ListRunsQuery, response: { 200: ListRunsResponse } },
    }, async (request) => listRuns(db, request.apiKey.environmentId, request.query));

    app.get('/workflow_recipient_runs/:id', {
      schema: { tags, summary: 'Get a workflow recipient run', params: Type.Object({ id: Type.String({ minLength: 1, maxLength: 256 }) }), response: { 200: RunDetail } },
    }, async (request) => getRun(db, request.apiKey.environmentId, request.params.id));
  };
}
