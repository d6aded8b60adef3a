import { stdSerializers, type LoggerOptions } from 'pino';

/** Never log credentials or recipient details. */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-knock-user-token"]',
  'req.headers["idempotency-key"]',
  'headers.authorization',
  'body',
  'req.body',
  // Top level and one level down (pino's `*` matches exactly one key).
  ...['email', 'phone_number', 'password', 'token', 'secret_key', 'public_key', 'service_token', 'key'].flatMap((field) => [field, `*.${field}`]),
];

/**
 * Fields of Postgres errors that quote stored values: `detail` ("Failing row contains
 * (…)", "Key (id)=(…) already exists"), `where`, `internalQuery`, and the query
 * parameters some drivers attach. Logged errors keep their message, code and stack only.
 */
const VALUE_CARRYING_ERROR_FIELDS = ['detail', 'where', 'internalQuery', 'hint', 'parameters', 'query'];

function serializeError(error: Error): Record<string, unknown> {
  const serialized = stdSerializers.err(error) as unknown as Record<string, unknown>;
  for (const field of VALUE_CARRYING_ERROR_FIELDS) delete serialized[field];
  return serialized;
}

export function loggerOptions(level: string): LoggerOptions {
  return {
    level,
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    serializers: {
      err: serializeError,
      // Paths carry recipient ids (often emails): log the route pattern, never the raw URL.
      req: (req: { method: string; id: string; routeOptions?: { url?: string } }) => ({
        method: req.method,
        route: req.routeOptions?.url ?? '(unmatched)',
        id: req.id,
      }),
    },
  };
}
