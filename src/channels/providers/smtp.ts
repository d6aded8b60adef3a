/**
 * SMTP email provider (nodemailer, pooled connections).
 *
 * Settings:
 * - `host` (required), `port` (required, 1–65535)
 * - `secure`: TLS from the start (port 465); otherwise STARTTLS when the server offers it
 * - `ignore_tls`: never upgrade with STARTTLS (local relays, tests)
 * - `username`, `password`: SMTP AUTH credentials (both or neither)
 * - `from_address` (required), `from_name`: the default sender
 * - `reply_to`: the default Reply-To
 */
import { createHash } from 'node:crypto';
import { createTransport } from 'nodemailer';
import type Mail from 'nodemailer/lib/mailer';
import { isRecord } from '../../workflows/field-checks.ts';
import { redactNamed } from '../http-delivery.ts';
import { assertUsableSettings, settingsChecks } from '../provider-settings.ts';
import {
  DeliveryError,
  MissingChannelData,
  type DeliverOptions,
  type DeliveryAttemptLog,
  type DeliveryResult,
  type DeliveryTarget,
  type EmailContent,
  type OutboundMessage,
  type Provider,
} from '../provider.ts';

export interface SmtpSettings {
  host: string;
  port: number;
  secure?: boolean;
  ignore_tls?: boolean;
  username?: string;
  password?: string;
  from_address: string;
  from_name?: string;
  reply_to?: string;
}

/** SMTP is slower than an HTTP API (greeting delays, greylisting tarpits): a longer default bound. */
const DEFAULT_SMTP_TIMEOUT_MS = 30_000;

type Transporter = ReturnType<typeof createTransport>;
const transports = new Map<string, Transporter>();

function transportFor(settings: SmtpSettings): Transporter {
  const key = createHash('sha256')
    .update(JSON.stringify([settings.host, settings.port, settings.secure, settings.ignore_tls, settings.username, settings.password]))
    .digest('hex');
  let transport = transports.get(key);
  if (!transport) {
    transport = createTransport({
      pool: true,
      maxConnections: 5,
      host: settings.host,
      port: settings.port,
      secure: settings.secure ?? false,
      ignoreTLS: settings.ignore_tls ?? false,
      auth: settings.username ? { user: settings.username, pass: settings.password ?? '' } : undefined,
      connectionTimeout: 10_000,
      greetingTimeout: 10_000,
      socketTimeout: 30_000,
    });
    transports.set(key, transport);
  }
  return transport;
}

/** Closes every pooled SMTP connection (at shutdown and after tests). */
export function closeSmtpTransports(): void {
  for (const transport of transports.values()) transport.close();
  transports.clear();
}

function checkSettings(settings: unknown) {
  const { checks, obj } = settingsChecks(settings);
  checks.string(obj, '', 'host', { required: true, nonBlank: true });
  checks.integer(obj, '', 'port', { required: true, min: 1, max: 65535 });
  checks.boolean(obj, '', 'secure');
  checks.boolean(obj, '', 'ignore_tls');
  const username = checks.string(obj, '', 'username');
  const password = checks.string(obj, '', 'password');
  if (username && password === undefined) checks.add('password', 'is required when username is set', 'required');
  checks.string(obj, '', 'from_address', { required: true, nonBlank: true });
  checks.string(obj, '', 'from_name');
  checks.string(obj, '', 'reply_to');
  return checks.errors;
}

function addresses({ recipient }: DeliveryTarget): string[] {
  return recipient.email ? [recipient.email] : [];
}

/** SMTP reply codes: 4xx is a temporary failure, 5xx a permanent one; no code means the connection failed. */
function deliveryErrorFor(error: unknown, log: DeliveryAttemptLog): DeliveryError {
  const err = isRecord(error) ? error : {};
  const message = error instanceof Error ? error.message : String(error);
  const responseCode = typeof err.responseCode === 'number' ? err.responseCode : undefined;
  const code = typeof err.code === 'string' ? err.code : undefined;
  const response = typeof err.response === 'string' ? err.response : message;
  const withResponse: DeliveryAttemptLog = responseCode ? { ...log, response: { status: responseCode, body: response } } : log;
  const retryable =
    responseCode !== undefined ? responseCode < 500 : !['EENVELOPE', 'EMESSAGE', 'ECONFIG', 'ENOAUTH', 'EMAXRECIPIENTS'].includes(code ?? '');
  return new DeliveryError(`SMTP ${code ? `${code}: ` : ''}${message}`, retryable, [withResponse]);
}

async function deliver(rawSettings: Record<string, unknown>, message: OutboundMessage, options: DeliverOptions = {}): Promise<DeliveryResult> {
  assertUsableSettings('smtp', checkSettings(rawSettings));
  const settings = rawSettings as unknown as SmtpSettings;
  const content = message.content as EmailContent;
  const to = message.recipient.email;
  if (!to) throw new MissingChannelData(`recipient ${message.recipient.id} has no email address`);

  const from = content.from ?? (settings.from_name ? { name: settings.from_name, address: settings.from_address } : settings.from_address);
  const mail: Mail.Options = {
    from,
    to: message.recipient.name ? { name: message.recipient.name, address: to } : to,
    cc: content.cc,
    bcc: content.bcc,
    replyTo: content.reply_to ?? settings.reply_to,
    subject: content.subject,
    html: content.html_body,
    text: content.text_body,
    headers: content.headers,
    // Receivers and our own retries dedupe on it.
    messageId: `<${message.messageId}@herald>`,
  };
  const log: DeliveryAttemptLog = {
    request: {
      method: 'SMTP',
      host: `${settings.host}:${settings.port}`,
      path: '/',
      query: null,
      headers: redactNamed({
        ...content.headers,
        From: typeof from === 'string' ? from : `${from.name} <${from.address}>`,
        To: to,
        ...(content.cc ? { Cc: [content.cc].flat().join(', ') } : {}),
        ...(content.bcc ? { Bcc: [content.bcc].flat().join(', ') } : {}),
        ...(mail.replyTo ? { 'Reply-To': String(mail.replyTo) } : {}),
        Subject: content.subject,
        'Message-ID': String(mail.messageId),
      }),
      body: { html: content.html_body, text: content.text_body ?? null },
    },
  };

  const timeout = AbortSignal.timeout(options.timeoutMs ?? DEFAULT_SMTP_TIMEOUT_MS);
  mail.signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
  let info;
  try {
    info = await transportFor(settings).sendMail(mail);
  } catch (error) {
    throw deliveryErrorFor(error, log);
  }
  const status = Number.parseInt(String(info.response), 10);
  return {
    status: 'sent',
    providerMessageId: info.messageId,
    logs: [{ ...log, response: { status: Number.isNaN(status) ? 250 : status, body: { response: info.response, accepted: info.accepted, rejected: info.rejected } } }],
  };
}

export const smtpProvider: Provider = {
  name: 'smtp',
  channelType: 'email',
  checkSettings,
  addresses,
  deliver,
};
