import { DEFAULT_TIMEOUT_MS, DeliveryError, type DeliverOptions, type DeliveryAttemptLog } from './provider.ts';

/** One HTTP request to a provider. */
export interface ProviderRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: string;
  /** What the log shows as the body (e.g. form fields as an object); defaults to the body, parsed when JSON. */
  logBody?: unknown;
  /** What the log shows as the URL when the real one carries a secret (Slack incoming webhooks). */
  logUrl?: string;
}

/** A provider's HTTP answer, whatever its status. */
export interface ProviderResponse {
  status: number;
  headers: Record<string, string>;
  /** Parsed JSON when the body is JSON, else the text. */
  body: unknown;
  log: DeliveryAttemptLog;
}

const REDACTED = '[REDACTED]';
const SECRET_NAME = /^(authorization|proxy-authorization|cookie|set-cookie)$|token|secret|api[-_]?key|password|passwd|credential/i;
/** Body fields that hold credentials (not `token`: a push device token is an address, not a secret). */
const SECRET_BODY_KEY = /^(access_token|refresh_token|id_token|assertion|client_secret|private_key|auth_token|password|api_key)$/i;
const MAX_LOGGED_BODY = 64 * 1024;

/** Whether a header, query or body field of this name holds a credential that logs must not show. */
export function isSecretName(name: string): boolean {
  return SECRET_NAME.test(name);
}

/** A copy of `values` with every credential-named entry redacted. */
export function redactNamed(values: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(values).map(([k, v]) => [k, isSecretName(k) ? REDACTED : v]));
}

/** A copy of a JSON body with credential fields redacted, at any depth. */
export function redactBody(body: unknown): unknown {
  if (Array.isArray(body)) return body.map(redactBody);
  if (typeof body !== 'object' || body === null) return body;
  return Object.fromEntries(Object.entries(body).map(([k, v]) => [k, SECRET_BODY_KEY.test(k) ? REDACTED : redactBody(v)]));
}

function parseBody(text: string, contentType: string | null): unknown {
  const looksJson = contentType?.includes('json') || /^\s*[[{]/.test(text);
  if (looksJson) {
    try {
      return JSON.parse(text);
    } catch {
      // Not JSON after all: keep the text.
    }
  }
  return text;
}

function logBodyOf(request: ProviderRequest): unknown {
  if (request.logBody !== undefined) return request.logBody;
  if (request.body === undefined) return null;
  return parseBody(request.body, request.headers['Content-Type'] ?? request.headers['content-type'] ?? null);
}

function truncateForLog(body: unknown): unknown {
  return typeof body === 'string' && body.length > MAX_LOGGED_BODY ? `${body.slice(0, MAX_LOGGED_BODY)}…` : body;
}

/** The request part of a delivery log, with credential-named headers and query params redacted. */
export function requestLog(request: ProviderRequest): DeliveryAttemptLog['request'] {
  const url = new URL(request.logUrl ?? request.url);
  for (const key of [...url.searchParams.keys()]) if (isSecretName(key)) url.searchParams.set(key, REDACTED);
  return {
    method: request.method.toUpperCase(),
    host: url.host,
    path: url.pathname,
    query: url.search === '' ? null : url.search,
    headers: redactNamed(request.headers),
    body: redactBody(logBodyOf(request)),
  };
}

/** Retry-After in milliseconds (seconds or an HTTP date), when present. */
function retryAfterMs(header: string | undefined): number | undefined {
  if (!header) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

/**
 * Sends one request, bounded by `timeoutMs` and the caller's signal. Network failures,
 * timeouts and aborts throw a retryable DeliveryError; any HTTP answer is returned.
 */
export async function callProvider(request: ProviderRequest, options: DeliverOptions = {}): Promise<ProviderResponse> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
  const logged = requestLog(request);
  try {
    const response = await fetch(request.url, {
      method: request.method.toUpperCase(),
      headers: request.headers,
      body: request.body,
      signal,
      redirect: 'manual',
    });
    const text = await response.text();
    const headers: Record<string, string> = {};
    response.headers.forEach((value, name) => {
      headers[name] = value;
    });
    const body = parseBody(text, response.headers.get('content-type'));
    const log: DeliveryAttemptLog = {
      request: logged,
      response: { status: response.status, headers: redactNamed(headers), body: truncateForLog(redactBody(body)) },
    };
    return { status: response.status, headers, body, log };
  } catch (error) {
    const reason = timeout.aborted
      ? `timed out after ${timeoutMs} ms`
      : options.signal?.aborted
        ? 'aborted'
        : describeNetworkError(error);
    throw new DeliveryError(`${logged.method} ${logged.host}${logged.path} failed: ${reason}`, true, [{ request: logged }]);
  }
}

function describeNetworkError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? error.cause : undefined;
  const code = cause && 'code' in cause ? String(cause.code) : undefined;
  return cause ? `${code ?? cause.name}: ${cause.message}` : error.message;
}

/** Whether a failed HTTP status is worth retrying: server errors, 429 and 408. */
export function isRetryableStatus(status: number): boolean {
  return status >= 500 || status === 429 || status === 408;
}

/** The DeliveryError for a non-2xx answer: 5xx/429/408 retryable, other statuses not. */
export function statusError(response: ProviderResponse, what: string, detail?: string): DeliveryError {
  const suffix = detail ? `: ${detail}` : '';
  return new DeliveryError(
    `${what} answered ${response.status}${suffix}`,
    isRetryableStatus(response.status),
    [response.log],
    retryAfterMs(response.headers['retry-after']),
  );
}

/** Whether the status is 2xx. */
export function isSuccess(status: number): boolean {
  return status >= 200 && status < 300;
}
