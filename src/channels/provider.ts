import type { FieldError } from '../errors.ts';

/** Channel types whose messages leave Herald through a provider (in-app feeds do not). */
export type DeliverableChannelType = 'email' | 'sms' | 'push' | 'chat' | 'http';

/** The recipient fields providers read an address from. */
export interface OutboundRecipient {
  id: string;
  email?: string | null;
  name?: string | null;
  phone_number?: string | null;
}

/** A rendered message ready to hand to a provider. */
export interface OutboundMessage {
  /** Herald's message id: sent as Message-ID / idempotency key where the provider allows. */
  messageId: string;
  channelType: DeliverableChannelType;
  recipient: OutboundRecipient;
  /** The recipient's channel data for this channel (push tokens, chat connections). */
  channelData?: Record<string, unknown> | null;
  content: EmailContent | TextContent | PushContent | ChatContent | HttpContent;
}

/** Addresses are `"addr"` or `"Name <addr>"`; lists may also be comma-separated strings. */
export interface EmailContent {
  subject: string;
  html_body: string;
  text_body?: string;
  from?: string;
  reply_to?: string;
  cc?: string | string[];
  bcc?: string | string[];
  headers?: Record<string, string>;
}

export interface TextContent {
  text_body: string;
  /** Overrides the recipient's phone_number (the SMS step's `settings.to_number`). */
  to_number?: string;
}

export interface PushContent {
  title?: string;
  text_body: string;
  data?: Record<string, unknown>;
  /** 'silent' sends data only, no visible notification (the push step's `settings.delivery_type`). */
  delivery_type?: 'silent' | 'content';
}

export interface ChatContent {
  markdown_body?: string;
  text_body?: string;
  /** A provider payload (Slack: Block Kit message), as an object or a JSON string. */
  json_body?: unknown;
}

export interface HttpContent {
  url: string;
  method: string;
  headers: Record<string, string>;
  query: Record<string, string>;
  body?: string;
}

/** One request to a provider and its answer, in Knock's MessageDeliveryLog request/response shape. Secrets are redacted. */
export interface DeliveryAttemptLog {
  request: { method: string; host: string; path: string; query: string | null; headers: Record<string, string>; body: unknown };
  response?: { status: number; headers?: Record<string, string>; body: unknown };
}

/** A provider accepted the message (`delivered` when the provider is the final destination, e.g. webhooks). */
export interface DeliveryResult {
  status: 'sent' | 'delivered';
  providerMessageId?: string;
  /** One entry per request made (a push goes to every token, a chat message to every connection). */
  logs: DeliveryAttemptLog[];
}

/** A send that failed; `retryable` says whether trying again later may succeed. */
export class DeliveryError extends Error {
  readonly retryable: boolean;
  readonly logs: DeliveryAttemptLog[];
  /** The provider's Retry-After, when it sent one. */
  readonly retryAfterMs?: number;

  constructor(message: string, retryable: boolean, logs: DeliveryAttemptLog[] = [], retryAfterMs?: number) {
    super(message);
    this.name = 'DeliveryError';
    this.retryable = retryable;
    this.logs = logs;
    this.retryAfterMs = retryAfterMs;
  }
}

/** The recipient has nowhere to send to (no email, phone number, token or connection): the message is `not_sent`. */
export class MissingChannelData extends DeliveryError {
  constructor(message: string) {
    super(message, false);
    this.name = 'MissingChannelData';
  }
}

/** Where a provider would send: the recipient and their channel data. */
export type DeliveryTarget = Pick<OutboundMessage, 'recipient' | 'channelData'>;

export interface DeliverOptions {
  signal?: AbortSignal;
  /** Per request; 10 s unless given. */
  timeoutMs?: number;
}

/** A delivery provider (SMTP, Twilio, FCM, ...), configured per channel and environment by `settings`. */
export interface Provider {
  readonly name: string;
  readonly channelType: DeliverableChannelType;
  /** Problems with a channel's settings (field names relative to the settings object); empty when usable. */
  checkSettings(settings: unknown): FieldError[];
  /** The recipient's addresses for this provider (emails, phone numbers, tokens, connections); empty means not_sent. */
  addresses(target: DeliveryTarget): string[];
  /** Sends one message; throws DeliveryError (MissingChannelData when there is no address). */
  deliver(settings: Record<string, unknown>, message: OutboundMessage, options?: DeliverOptions): Promise<DeliveryResult>;
}

export const DEFAULT_TIMEOUT_MS = 10_000;
