/**
 * Webhook (http channel) provider: sends the rendered request as given. The endpoint is the
 * final destination, so a 2xx answer means `delivered`.
 *
 * Settings: none (an empty object). The request adds `Idempotency-Key: <message id>`
 * unless the step sets that header itself, and `Content-Type: application/json` when a
 * body is sent without a content type.
 */
import { callProvider, isSuccess, statusError } from '../http-delivery.ts';
import { settingsChecks } from '../provider-settings.ts';
import { DeliveryError, type DeliverOptions, type DeliveryResult, type HttpContent, type OutboundMessage, type Provider } from '../provider.ts';

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];

function checkSettings(settings: unknown) {
  return settingsChecks(settings ?? {}).checks.errors;
}

function hasHeader(headers: Record<string, string>, name: string): boolean {
  return Object.keys(headers).some((k) => k.toLowerCase() === name.toLowerCase());
}

async function deliver(_settings: Record<string, unknown>, message: OutboundMessage, options: DeliverOptions = {}): Promise<DeliveryResult> {
  const content = message.content as HttpContent;
  const method = content.method.toUpperCase();
  if (!METHODS.includes(method)) throw new DeliveryError(`webhook method ${content.method} is not one of ${METHODS.join(', ')}`, false);
  let url: URL;
  try {
    url = new URL(content.url);
  } catch {
    throw new DeliveryError(`webhook URL "${content.url}" is invalid`, false);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new DeliveryError(`webhook URL must be http(s), got ${url.protocol}`, false);
  for (const [key, value] of Object.entries(content.query ?? {})) url.searchParams.append(key, value);

  const body = method === 'GET' || content.body === undefined || content.body === '' ? undefined : content.body;
  const headers = { ...content.headers };
  if (!hasHeader(headers, 'idempotency-key')) headers['Idempotency-Key'] = message.messageId;
  if (body !== undefined && !hasHeader(headers, 'content-type')) headers['Content-Type'] = 'application/json';

  const response = await callProvider({ method, url: url.toString(), headers, body }, options);
  if (!isSuccess(response.status)) throw statusError(response, `webhook ${url.host}`);
  return { status: 'delivered', logs: [response.log] };
}

export const webhookProvider: Provider = {
  name: 'webhook',
  channelType: 'http',
  checkSettings,
  // The address is the step's URL, known only once rendered.
  addresses: () => ['webhook'],
  deliver,
};
