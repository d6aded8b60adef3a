import type { ChannelType } from '../../workflows/channel-templates.ts';

/** The committed content of the environment a run renders in, loaded on demand. */
export interface TemplateSources {
  partial(key: string): Promise<{ content: string; type?: string } | undefined>;
  layout(key: string): Promise<{ html_layout: string; text_layout: string; footer_links?: Array<{ text: string; url: string }> } | undefined>;
  /**
   * The translations of one locale (tenant overrides already merged in): the un-namespaced
   * strings at the top level and each namespace's top-level keys prefixed `namespace:`
   * (`{"greeting": …, "shipping:canceled": …}`). A namespace nested as `{"shipping": {…}}`
   * is found too.
   */
  translations(locale: string): Promise<Record<string, unknown> | undefined>;
}

/** The variables a template sees (Knock's template variables). */
export interface RenderScope {
  recipient: Record<string, unknown>;
  actor?: Record<string, unknown> | null;
  data: Record<string, unknown>;
  tenant?: Record<string, unknown> | null;
  vars: Record<string, unknown>;
  workflow: { key: string; [k: string]: unknown };
  activities?: unknown[];
  actors?: unknown[];
  total_activities?: number;
  total_actors?: number;
  refs?: Record<string, unknown>;
  timestamp?: string;
  current_message?: Record<string, unknown>;
}

/** The channel types with a template to render (guides are not rendered by the engine). */
export type RenderableChannelType = Exclude<ChannelType, 'in_app_guide'>;

/** An email channel's sender settings (spec `EmailChannelSettings`); each supports Liquid. */
export interface EmailSettings {
  from_address?: string | null;
  from_name?: string | null;
  reply_to_address?: string | null;
  cc_address?: string | null;
  bcc_address?: string | null;
  to_address?: string | null;
}

export interface RenderOptions {
  /** The recipient's locale for `t`; defaults to `recipient.locale`, then `defaultLocale`. */
  locale?: string;
  /** The locale translations fall back to; `en` unless set. */
  defaultLocale?: string;
  /** Sender settings of the email channel, rendered into `from`, `reply_to`, `cc`, `bcc` and `to`. */
  emailSettings?: EmailSettings;
}

/** Spec `MessageEmailContent` (without `to` unless `emailSettings.to_address` is set). */
export interface RenderedEmail {
  __typename: 'MessageEmailContent';
  subject_line: string;
  html_body: string;
  text_body: string;
  from?: string;
  reply_to?: string;
  cc?: string;
  bcc?: string;
  to?: string;
}

/** Spec `MessageInAppFeedContentBlock`. */
export interface FeedContentBlock {
  type: 'markdown' | 'text';
  name: string;
  content: string;
  rendered: string;
}

/** Spec `MessageInAppFeedButtonSetBlock`. */
export interface FeedButtonSetBlock {
  type: 'button_set';
  name: string;
  buttons: Array<{ name: string; label: string; action: string }>;
}

/** Spec `MessageInAppFeedContent`, plus the rendered `action_url` for the engine's convenience. */
export interface RenderedInAppFeed {
  __typename: 'MessageInAppFeedContent';
  blocks: Array<FeedContentBlock | FeedButtonSetBlock>;
  action_url?: string;
}

/** Spec `MessageSmsContent` (without `to` unless the template's `settings.to_number` is set). */
export interface RenderedSms {
  __typename: 'MessageSmsContent';
  body: string;
  to?: string;
}

/** Spec `MessagePushContent` (without the device `token`). */
export interface RenderedPush {
  __typename: 'MessagePushContent';
  title: string;
  body: string;
  data: Record<string, unknown> | null;
}

/** Spec `MessageChatContent` (without the recipient's `connection`). */
export interface RenderedChat {
  __typename: 'MessageChatContent';
  template: {
    blocks: Array<{ type: 'markdown' | 'text'; name: string; content: string }> | null;
    json_content: Record<string, unknown> | null;
    summary: string | null;
  };
}

/** A webhook request, ready to send. */
export interface RenderedWebhook {
  url: string;
  method: string;
  headers: Record<string, string>;
  query: Record<string, string>;
  body: string;
}

export interface RenderedContentByChannel {
  email: RenderedEmail;
  in_app_feed: RenderedInAppFeed;
  sms: RenderedSms;
  push: RenderedPush;
  chat: RenderedChat;
  http: RenderedWebhook;
}

export type RenderedContent = RenderedContentByChannel[RenderableChannelType];
