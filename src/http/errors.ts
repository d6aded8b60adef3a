import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import pg from 'pg';
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
  /** Set when the issue is with a property's name (`propertyNames`). */
  propertyName?: string;
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
  const propertyName = issue.propertyName ?? issue.params.propertyName;
  if (typeof propertyName === 'string') parts.push(propertyName);
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

/**
 * Postgres refuses some values the request carried: SQLSTATE class 22 "data exception"
 * (22P05 unpaired surrogate escapes in jsonb, 22021 NUL bytes in text, 22P02 invalid
 * text representation, 22003 numbers out of range, …). These are bad input, not faults
 * of Herald: 422. Postgres's message does not name the field, so the body does not either.
 */
function isDataException(error: unknown): error is pg.DatabaseError {
  return error instanceof pg.DatabaseError && typeof error.code === 'string' && error.code.startsWith('22');
}

function dataExceptionBody(): ErrorBody {
  const message = 'contains a value that cannot be stored (e.g. a NUL character, an unpaired surrogate or an out-of-range number)';
  return {
    code: 'invalid_params',
    message: `The request ${message}`,
    status: 422,
    type: 'invalid_params_error',
    errors: [{ field: 'request', message, type: 'invalid_value' }],
  };
}

/** Maps any error to Knock's error shape; 5xx only for faults of Herald's own. */
export function toErrorBody(error: unknown): ErrorBody {
  if (error instanceof HeraldError) {
    const body: ErrorBody = { code: error.code, message: error.message, status: error.status, type: error.type };
    if (error.errors) body.errors = error.errors;
    return body;
  }
  if (isDataException(error)) return dataExceptionBody();
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
  // Only the SQLSTATE: Postgres's message may quote the refused value.
  else if (isDataException(error)) request.log.warn({ sqlstate: error.code }, 'value refused by the database');
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

/**
 * Malformed HTTP that never becomes a request (bad header bytes, header overflow,
 * timeouts): answered in the same shape, then the connection is closed.
 */
export function handleClientError(error: NodeJS.ErrnoException, socket: Duplex): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, code, message] =
    error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? [408, 'request_timeout', 'The request did not arrive in time']
      : error.code === 'HPE_HEADER_OVERFLOW'
        ? [431, 'headers_too_large', 'The request headers are too large']
        : [400, 'bad_request', 'The request is not valid HTTP'];
  const body = JSON.stringify({ code, message, status, type: 'invalid_request_error' } satisfies ErrorBody);
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(error);
}
