import { renderEmail } from './render/email.ts';
import { renderInAppFeed } from './render/in-app-feed.ts';
import { createSession } from './render/liquid-engines.ts';
import { RenderError } from './render/render-error.ts';
import type { RenderSession } from './render/session.ts';
import { renderChat, renderPush, renderSms } from './render/text-channels.ts';
import { TranslationLookup, localeChain } from './render/translations.ts';
import type { RenderOptions, RenderScope, RenderableChannelType, RenderedContentByChannel, TemplateSources } from './render/types.ts';
import { renderWebhook } from './render/webhook.ts';

export { RenderError } from './render/render-error.ts';
export type {
  EmailSettings,
  FeedButtonSetBlock,
  FeedContentBlock,
  RenderOptions,
  RenderScope,
  RenderableChannelType,
  RenderedChat,
  RenderedContent,
  RenderedContentByChannel,
  RenderedEmail,
  RenderedInAppFeed,
  RenderedPush,
  RenderedSms,
  RenderedWebhook,
  TemplateSources,
} from './render/types.ts';

type ChannelRenderer = (template: Record<string, unknown>, session: RenderSession, sources: TemplateSources, options: RenderOptions) => Promise<unknown>;

const RENDERERS: Record<RenderableChannelType, ChannelRenderer> = {
  email: (template, session, sources, options) => renderEmail(template, session, sources, options.emailSettings),
  in_app_feed: (template, session) => renderInAppFeed(template, session),
  sms: (template, session) => renderSms(template, session),
  push: (template, session) => renderPush(template, session),
  chat: (template, session) => renderChat(template, session),
  http: (template, session) => renderWebhook(template, session),
};

/**
 * Renders a channel step's template for one recipient into the message content Knock's
 * API returns (`MessageContents.data`; a webhook's request for `http`). Throws RenderError
 * for an unknown partial or layout and for any Liquid error.
 */
export async function renderTemplate<T extends RenderableChannelType>(
  channelType: T,
  template: Record<string, unknown>,
  scope: RenderScope,
  sources: TemplateSources,
  options: RenderOptions = {},
): Promise<RenderedContentByChannel[T]> {
  const renderer = RENDERERS[channelType];
  if (!renderer) throw new RenderError(`channel type "${channelType}" has no template to render`);
  const recipientLocale = typeof scope.recipient?.locale === 'string' ? scope.recipient.locale : undefined;
  const locales = localeChain(options.locale ?? recipientLocale, options.defaultLocale ?? 'en');
  const variables = { ...scope, timestamp: scope.timestamp ?? new Date().toISOString() };
  const session = createSession(variables, sources, new TranslationLookup(sources, locales));
  return (await renderer(template, session, sources, options)) as RenderedContentByChannel[T];
}
