import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { HttpDeps } from '../../http/app.ts';
import { Invalid, type FieldError } from '../../errors.ts';
import { objectProperties } from '../../recipients/objects/service.ts';
import { identifyProperties, type IdentifyBody } from '../../recipients/users/service.ts';
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
      checkRecipients(body);
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

/**
 * Inline recipients are checked before the trigger is accepted (the worker identifies
 * them later, and must not fail on what the request could have been refused for):
 * reserved collections, and users' and objects' properties against the identify rules and limits.
 */
function checkRecipients(body: TriggerBody): void {
  const inputs: Array<[string, unknown]> = (body.recipients ?? []).map((r, i) => [`recipients.${i}`, r]);
  if (body.actor) inputs.push(['actor', body.actor]);
  const problems: FieldError[] = [];
  for (const [field, input] of inputs) {
    if (typeof input === 'string' || !input || typeof input !== 'object') continue;
    const recipient = input as { collection?: string } & IdentifyBody;
    if (typeof recipient.collection === 'string' && recipient.collection.startsWith('$')) {
      problems.push({ field: `${field}.collection`, message: 'must not start with $', type: 'invalid' });
      continue;
    }
    try {
      if (typeof recipient.collection === 'string') objectProperties(recipient, `${field}.`);
      else identifyProperties(recipient, `${field}.`);
    } catch (error) {
      if (error instanceof Invalid) problems.push(...(error.errors ?? []));
      else throw error;
    }
  }
  if (problems.length > 0) throw new Invalid('Invalid recipients', problems);
}
