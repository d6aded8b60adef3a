/**
 * Twilio SMS provider (Programmable Messaging REST API).
 *
 * Settings:
 * - `account_sid` (required), `auth_token` (required): basic-auth credentials
 * - `from_number` (required): the sending number, E.164
 * - `base_url`: defaults to https://api.twilio.com
 */
import { callProvider, isSuccess, statusError } from '../http-delivery.ts';
import { assertUsableSettings, checkHttpUrl, settingsChecks, trimBaseUrl } from '../provider-settings.ts';
import { MissingChannelData, type DeliverOptions, type DeliveryResult, type DeliveryTarget, type OutboundMessage, type Provider, type TextContent } from '../provider.ts';
import { isRecord } from '../../workflows/field-checks.ts';

export interface TwilioSettings {
  account_sid: string;
  auth_token: string;
  from_number: string;
  base_url?: string;
}

export const TWILIO_BASE_URL = 'https://api.twilio.com';

function checkSettings(settings: unknown) {
  const { checks, obj } = settingsChecks(settings);
  checks.string(obj, '', 'account_sid', { required: true, nonBlank: true });
  checks.string(obj, '', 'auth_token', { required: true, nonBlank: true });
  checks.string(obj, '', 'from_number', { required: true, nonBlank: true });
  checkHttpUrl(checks, obj, '', 'base_url');
  return checks.errors;
}

/** The recipient's phone number; an SMS step's `to_number` setting overrides it at delivery. */
function addresses({ recipient }: DeliveryTarget): string[] {
  return recipient.phone_number ? [recipient.phone_number] : [];
}

async function deliver(rawSettings: Record<string, unknown>, message: OutboundMessage, options: DeliverOptions = {}): Promise<DeliveryResult> {
  assertUsableSettings('twilio', checkSettings(rawSettings));
  const settings = rawSettings as unknown as TwilioSettings;
  const content = message.content as TextContent;
  const to = content.to_number || message.recipient.phone_number;
  if (!to) throw new MissingChannelData(`recipient ${message.recipient.id} has no phone number`);

  const fields = { To: to, From: settings.from_number, Body: content.text_body };
  const base = trimBaseUrl(settings.base_url ?? TWILIO_BASE_URL);
  const credentials = Buffer.from(`${settings.account_sid}:${settings.auth_token}`).toString('base64');
  const response = await callProvider(
    {
      method: 'POST',
      url: `${base}/2010-04-01/Accounts/${encodeURIComponent(settings.account_sid)}/Messages.json`,
      headers: {
        Authorization: `Basic ${credentials}`,
        'Content-Type': 'application/x-www-form-urlencoded',
        Accept: 'application/json',
      },
      body: new URLSearchParams(fields).toString(),
      logBody: fields,
    },
    options,
  );
  if (!isSuccess(response.status)) {
    // Twilio's errors: {code, message, more_info, status}.
    const body = isRecord(response.body) ? response.body : {};
    const detail = body.message ? `${String(body.message)}${body.code ? ` (Twilio ${String(body.code)})` : ''}` : undefined;
    throw statusError(response, 'Twilio', detail);
  }
  const sid = isRecord(response.body) && typeof response.body.sid === 'string' ? response.body.sid : undefined;
  return { status: 'sent', providerMessageId: sid, logs: [response.log] };
}

export const twilioProvider: Provider = { name: 'twilio', channelType: 'sms', checkSettings, addresses, deliver };
