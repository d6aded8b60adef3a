/**
 * Slack chat provider: each of the recipient's connections gets the message, through its
 * incoming webhook or through `chat.postMessage` with a bot token.
 *
 * Settings:
 * - `access_token`: bot token used for connections that carry none of their own
 * - `base_url`: Web API root, defaults to https://slack.com
 *
 * Recipient channel data (Knock's SlackChannelData):
 * `{connections: [{incoming_webhook: {url}} | {access_token?, channel_id?, user_id?}], token?: {access_token}}`.
 * A token connection posts to `channel_id`, or to `user_id` as a DM.
 */
import { isRecord } from '../../workflows/field-checks.ts';
import { sendToEach, type SendOutcome } from '../fan-out.ts';
import { callProvider, isSuccess, statusError } from '../http-delivery.ts';
import { assertUsableSettings, checkHttpUrl, settingsChecks, trimBaseUrl } from '../provider-settings.ts';
import {
  DeliveryError,
  MissingChannelData,
  type ChatContent,
  type DeliverOptions,
  type DeliveryResult,
  type DeliveryTarget,
  type OutboundMessage,
  type Provider,
} from '../provider.ts';

export interface SlackSettings {
  access_token?: string;
  base_url?: string;
}

export const SLACK_BASE_URL = 'https://slack.com';

/** Slack Web API errors that a later attempt may not hit. */
const RETRYABLE_SLACK_ERRORS = new Set(['ratelimited', 'internal_error', 'fatal_error', 'service_unavailable', 'request_timeout']);

type Connection = { kind: 'webhook'; url: string } | { kind: 'token'; accessToken?: string; channel: string };

function checkSettings(settings: unknown) {
  const { checks, obj } = settingsChecks(settings);
  checks.string(obj, '', 'access_token', { nonBlank: true });
  checkHttpUrl(checks, obj, '', 'base_url');
  return checks.errors;
}

/** The usable connections in the recipient's channel data. */
function connectionsOf(channelData: DeliveryTarget['channelData']): Connection[] {
  const connections = Array.isArray(channelData?.connections) ? channelData.connections : [];
  const sharedToken = isRecord(channelData?.token) && typeof channelData.token.access_token === 'string' ? channelData.token.access_token : undefined;
  const usable: Connection[] = [];
  for (const c of connections) {
    if (!isRecord(c)) continue;
    if (isRecord(c.incoming_webhook) && typeof c.incoming_webhook.url === 'string' && c.incoming_webhook.url !== '') {
      usable.push({ kind: 'webhook', url: c.incoming_webhook.url });
      continue;
    }
    const channel = typeof c.channel_id === 'string' && c.channel_id ? c.channel_id : typeof c.user_id === 'string' && c.user_id ? c.user_id : undefined;
    if (channel) usable.push({ kind: 'token', channel, accessToken: typeof c.access_token === 'string' && c.access_token ? c.access_token : sharedToken });
  }
  return usable;
}

/** One entry per usable connection: `incoming_webhook`, or the channel / user id posted to. */
function addresses({ channelData }: DeliveryTarget): string[] {
  return connectionsOf(channelData).map((c) => (c.kind === 'webhook' ? 'incoming_webhook' : c.channel));
}

/** The message payload: `json_body` (Block Kit) when given, with the text as its fallback. */
function payloadOf(content: ChatContent): Record<string, unknown> {
  const text = content.markdown_body ?? content.text_body;
  let json = content.json_body;
  if (typeof json === 'string') {
    try {
      json = JSON.parse(json);
    } catch {
      throw new DeliveryError('Slack json_body is not valid JSON', false);
    }
  }
  if (json !== undefined && json !== null) {
    if (!isRecord(json)) throw new DeliveryError('Slack json_body must be a JSON object', false);
    return text !== undefined && json.text === undefined ? { text, ...json } : json;
  }
  if (text === undefined) throw new DeliveryError('Slack message has neither markdown_body, text_body nor json_body', false);
  return { text };
}

/** An incoming webhook URL's last segment is its secret. */
function loggableWebhookUrl(url: string): string {
  try {
    const u = new URL(url);
    u.pathname = u.pathname.replace(/[^/]+\/?$/, '[REDACTED]');
    u.search = '';
    return u.toString();
  } catch {
    return 'invalid-url:';
  }
}

async function postToWebhook(url: string, payload: Record<string, unknown>, options: DeliverOptions): Promise<SendOutcome> {
  if (!URL.canParse(url)) throw new DeliveryError('Slack incoming webhook URL is invalid', false);
  const response = await callProvider(
    { method: 'POST', url, logUrl: loggableWebhookUrl(url), headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(payload) },
    options,
  );
  // Incoming webhooks answer `ok` as text, or a status with an error word (`invalid_payload`, `channel_is_archived`).
  if (!isSuccess(response.status)) throw statusError(response, 'Slack incoming webhook', typeof response.body === 'string' ? response.body : undefined);
  return { logs: [response.log] };
}

async function postMessage(base: string, accessToken: string, channel: string, payload: Record<string, unknown>, options: DeliverOptions): Promise<SendOutcome> {
  const response = await callProvider(
    {
      method: 'POST',
      url: `${base}/api/chat.postMessage`,
      headers: { Authorization: `Bearer ${accessToken}`, 'Content-Type': 'application/json; charset=utf-8' },
      body: JSON.stringify({ ...payload, channel }),
    },
    options,
  );
  if (!isSuccess(response.status)) throw statusError(response, 'Slack chat.postMessage');
  // The Web API answers 200 with {ok: false, error} for most failures.
  const body = isRecord(response.body) ? response.body : {};
  if (body.ok !== true) {
    const error = typeof body.error === 'string' ? body.error : 'unexpected_response';
    throw new DeliveryError(`Slack chat.postMessage failed: ${error}`, RETRYABLE_SLACK_ERRORS.has(error), [response.log]);
  }
  return { providerMessageId: typeof body.ts === 'string' ? body.ts : undefined, logs: [response.log] };
}

async function deliver(rawSettings: Record<string, unknown>, message: OutboundMessage, options: DeliverOptions = {}): Promise<DeliveryResult> {
  assertUsableSettings('slack', checkSettings(rawSettings));
  const settings = rawSettings as SlackSettings;
  const connections = connectionsOf(message.channelData);
  if (connections.length === 0) throw new MissingChannelData(`recipient ${message.recipient.id} has no Slack connections`);
  const payload = payloadOf(message.content as ChatContent);
  const base = trimBaseUrl(settings.base_url ?? SLACK_BASE_URL);

  return sendToEach(connections, async (connection) => {
    if (connection.kind === 'webhook') return postToWebhook(connection.url, payload, options);
    const accessToken = connection.accessToken ?? settings.access_token;
    if (!accessToken) throw new DeliveryError(`Slack connection to ${connection.channel} has no access token, and the channel sets none`, false);
    return postMessage(base, accessToken, connection.channel, payload, options);
  });
}

export const slackProvider: Provider = { name: 'slack', channelType: 'chat', checkSettings, addresses, deliver };
