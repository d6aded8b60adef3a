import { visualBlocksToHtml } from './email-blocks.ts';
import { htmlToText } from './html-text.ts';
import { renderLiquid } from './liquid-engines.ts';
import { RenderError } from './render-error.ts';
import { SafeHtml, type RenderSession } from './session.ts';
import type { EmailSettings, RenderedEmail, TemplateSources } from './types.ts';

function record(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

async function renderBody(template: Record<string, unknown>, session: RenderSession): Promise<string> {
  if (typeof template.html_body === 'string') return renderLiquid(template.html_body, session, 'html');
  if (Array.isArray(template.visual_blocks)) return visualBlocksToHtml(template.visual_blocks, session);
  return '';
}

/**
 * The message placed in its layout: `html_layout` and `text_layout` are Liquid with the
 * run's variables plus `content` and the rendered `footer_links`. `settings.pre_content`
 * is rendered ahead of each layout, so what it assigns is visible there.
 */
async function applyLayout(
  key: string,
  preContent: string,
  body: { html: string; text: string },
  session: RenderSession,
  sources: TemplateSources,
): Promise<{ html: string; text: string }> {
  const layout = await sources.layout(key);
  if (!layout) throw new RenderError(`email layout "${key}" not found`);
  const footer_links = await Promise.all(
    (layout.footer_links ?? []).map(async (link) => ({
      text: await renderLiquid(link.text, session, 'text'),
      url: await renderLiquid(link.url, session, 'text'),
    })),
  );
  const html = await renderLiquid(preContent + layout.html_layout, session, 'html', { ...session.scope, footer_links, content: new SafeHtml(body.html) });
  const text = await renderLiquid(preContent + layout.text_layout, session, 'text', { ...session.scope, footer_links, content: body.text });
  return { html, text: text.trim() };
}

async function renderSenders(settings: EmailSettings, session: RenderSession): Promise<Partial<RenderedEmail>> {
  const render = async (value: string | null | undefined) => (typeof value === 'string' && value.trim() !== '' ? (await renderLiquid(value, session, 'text')).trim() : '');
  const senders: Partial<RenderedEmail> = {};
  const address = await render(settings.from_address);
  const name = await render(settings.from_name);
  if (address) senders.from = name ? `"${name.replace(/["\\]/g, '\\$&')}" <${address}>` : address;
  for (const [field, setting] of [
    ['reply_to', 'reply_to_address'],
    ['cc', 'cc_address'],
    ['bcc', 'bcc_address'],
    ['to', 'to_address'],
  ] as const) {
    const value = await render(settings[setting]);
    if (value) senders[field] = value;
  }
  return senders;
}

/**
 * An email template rendered (spec `MessageEmailContent`): the HTML body (or visual blocks)
 * with Liquid output escaped, the text body as written or derived from the HTML, both
 * wrapped in the layout named by `settings.layout_key` when there is one.
 */
export async function renderEmail(
  template: Record<string, unknown>,
  session: RenderSession,
  sources: TemplateSources,
  emailSettings: EmailSettings | undefined,
): Promise<RenderedEmail> {
  const subject_line = (await renderLiquid(typeof template.subject === 'string' ? template.subject : '', session, 'text')).trim();
  const html = await renderBody(template, session);
  const text = typeof template.text_body === 'string' && template.text_body.trim() !== '' ? (await renderLiquid(template.text_body, session, 'text')).trim() : htmlToText(html);
  const settings = record(template.settings);
  const layoutKey = typeof settings.layout_key === 'string' && settings.layout_key !== '' ? settings.layout_key : undefined;
  const preContent = typeof settings.pre_content === 'string' ? settings.pre_content : '';
  const body = layoutKey === undefined ? { html, text } : await applyLayout(layoutKey, preContent, { html, text }, session, sources);
  return {
    __typename: 'MessageEmailContent',
    subject_line,
    html_body: body.html,
    text_body: body.text,
    ...(emailSettings ? await renderSenders(emailSettings, session) : {}),
  };
}
