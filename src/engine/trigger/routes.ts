import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { HttpDeps } from '../../http/app.ts';
import { Invalid } from '../../errors.ts';
import { cancelWorkflow } from './cancel.ts';
import type { TriggerBody } from './ingest.ts';
import { CancelWorkflowRequest, TriggerWorkflowRequest, TriggerWorkflowResponse, WorkflowKeyParams } from './schema.ts';

const tags = ['Workflows'];

/** Data API: trigger and cancel workflows. */
export function triggerRoutes({ db, triggers }: HttpDeps): FastifyPluginAsync {
  return async (root) => {
    const app = root.withTypeProvider<TypeBoxTypeProvider>();

    app.post('/workflows/:key/trigger', {
      schema: {
        tags,
        summary: 'Trigger a workflow',
        description: 'Answers once the run is durably enqueued. An `Idempotency-Key` header makes retries within 24 hours return the original run.',
        params: WorkflowKeyParams,
        body: TriggerWorkflowRequest,
        headers: Type.Object({ 'idempotency-key': Type.Optional(Type.String({ minLength: 1, maxLength: 255 })) }),
        response: { 200: TriggerWorkflowResponse },
      },
    }, async (request, reply) => {
      const body = request.body as TriggerBody;
      checkRecipientIds(body);
      const result = await triggers.submit(request.apiKey.environmentId, {
        workflowKey: request.params.key,
        body,
        idempotencyKey: request.headers['idempotency-key'],
      });
      if (result.replayed) reply.header('idempotent-replayed', 'true');
      return { workflow_run_id: result.workflow_run_id };
    });

    app.post('/workflows/:key/cancel', {
      schema: { tags, summary: 'Cancel workflow runs by cancellation key', params: WorkflowKeyParams, body: CancelWorkflowRequest, response: { 204: Type.Null() } },
    }, async (request, reply) => {
      await cancelWorkflow(db, request.apiKey.environmentId, request.params.key, request.body.cancellation_key, request.body.recipients as TriggerBody['recipients']);
      return reply.status(204).send(null);
    });
  };
}

/** Inline recipients must say who they are; an empty id would be a recipient nobody can read. */
function checkRecipientIds(body: TriggerBody): void {
  const problems = (body.recipients ?? []).flatMap((r, i) =>
    typeof r !== 'string' && typeof r.collection === 'string' && r.collection.startsWith('$')
      ? [{ field: `recipients.${i}.collection`, message: 'must not start with $', type: 'invalid' }]
      : [],
  );
  if (problems.length > 0) throw new Invalid('Invalid recipients', problems);
}
