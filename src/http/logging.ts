import type { LoggerOptions } from 'pino';

/** Never log credentials or recipient details. */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-knock-user-token"]',
  'req.headers["idempotency-key"]',
  'headers.authorization',
  'body',
  'req.body',
  '*.email',
  '*.phone_number',
  '*.password',
  '*.token',
  '*.secret_key',
  '*.public_key',
  '*.service_token',
];

export function loggerOptions(level: string): LoggerOptions {
  return {
    level,
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    serializers: {
      // Paths can carry user ids in query strings; keep the path only.
      req: (req: { method: string; url: string; id: string }) => ({ method: req.method, url: req.url.split('?')[0], id: req.id }),
    },
  };
}
