import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { HeraldError, type FieldError } from '../errors.ts';

/** Knock's error body, plus `errors` listing invalid fields on 422. */
export interface ErrorBody {
  code: string;
  message: string;
  status: number;
  type: string;
  errors?: FieldError[];
}

interface AjvIssue {
  instancePath: string;
  keyword: string;
  message?: string;
  params: Record<string, unknown>;
}

/** `/users/0/id` (+ missing `email`) → `users.0.id` / `users.0.email`. */
function fieldOf(issue: AjvIssue, context: string | undefined): string {
  const parts = issue.instancePath.split('/').filter(Boolean);
  if (issue.keyword === 'required' && typeof issue.params.missingProperty === 'string') {
    parts.push(issue.params.missingProperty);
  }
  if (issue.keyword === 'additionalProperties' && typeof issue.params.additionalProperty === 'string') {
    parts.push(issue.params.additionalProperty);
  }
  const prefix = context && context !== 'body' ? `${context}.` : '';
  return prefix + (parts.join('.') || (context ?? 'body'));
}

function validationBody(error: FastifyError): ErrorBody {
  const issues = (error.validation ?? []) as AjvIssue[];
  const errors = issues.map((issue) => ({
    field: fieldOf(issue, error.validationContext),
    message: issue.message ?? 'is invalid',
    type: issue.keyword,
  }));
  return { code: 'invalid_params', message: 'One or more parameters are invalid', status: 422, type: 'invalid_params_error', errors };
}

/** Maps any error to Knock's error shape; 5xx only for faults of Herald's own. */
export function toErrorBody(error: unknown): ErrorBody {
  if (error instanceof HeraldError) {
    const body: ErrorBody = { code: error.code, message: error.message, status: error.status, type: error.type };
    if (error.errors) body.errors = error.errors;
    return body;
  }
  const fastifyError = error as FastifyError;
  if (fastifyError.validation) return validationBody(fastifyError);
  const status = fastifyError.statusCode;
  if (status && status >= 400 && status < 500) {
    return {
      code: (fastifyError.code ?? 'bad_request').toLowerCase(),
      message: fastifyError.message,
      status,
      type: 'invalid_request_error',
    };
  }
  return { code: 'internal_error', message: 'Internal server error', status: 500, type: 'api_error' };
}

/** Fastify error handler: one place that turns errors into HTTP responses. */
export function handleError(error: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const body = toErrorBody(error);
  if (body.status >= 500) request.log.error({ err: error }, 'request failed');
  return reply.status(body.status).send(body);
}

/** 404 for unknown routes, in the same shape. */
export function handleNotFound(request: FastifyRequest, reply: FastifyReply): FastifyReply {
  return reply.status(404).send({
    code: 'route_not_found',
    message: `No route for ${request.method} ${request.url.split('?')[0]}`,
    status: 404,
    type: 'invalid_request_error',
  } satisfies ErrorBody);
}
