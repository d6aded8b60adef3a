import { renderLiquid } from './liquid-engines.ts';
import { RenderError } from './render-error.ts';
import type { RenderSession } from './session.ts';
import type { RenderedChat, RenderedPush, RenderedSms } from './types.ts';

function record(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

async function renderField(value: unknown, session: RenderSession): Promise<string> {
  return typeof value === 'string' ? (await renderLiquid(value, session, 'text')).trim() : '';
}

/** An SMS template rendered (spec `MessageSmsContent`); `to` only when `settings.to_number` overrides the recipient's number. */
export async function renderSms(template: Record<string, unknown>, session: RenderSession): Promise<RenderedSms> {
  const to = await renderField(record(template.settings).to_number, session);
  return { __typename: 'MessageSmsContent', body: await renderField(template.text_body, session), ...(to ? { to } : {}) };
}

/** A push template rendered (spec `MessagePushContent`); its `data` is the trigger data, as Knock passes it to the device. */
export async function renderPush(template: Record<string, unknown>, session: RenderSession): Promise<RenderedPush> {
  const data = session.scope.data;
  return {
    __typename: 'MessagePushContent',
    title: await renderField(template.title, session),
    body: await renderField(template.text_body, session),
    data: typeof data === 'object' && data !== null ? (data as Record<string, unknown>) : null,
  };
}

/**
 * A chat template rendered (spec `MessageChatContent.template`): `markdown_body` as a
 * `body` markdown block (chat providers convert markdown themselves), or `json_body`
 * parsed into `json_content`; an unparseable JSON body is a render error.
 */
export async function renderChat(template: Record<string, unknown>, session: RenderSession): Promise<RenderedChat> {
  let json_content: Record<string, unknown> | null = null;
  if (typeof template.json_body === 'string' && template.json_body.trim() !== '') {
    const rendered = await renderLiquid(template.json_body, session, 'text');
    try {
      json_content = JSON.parse(rendered) as Record<string, unknown>;
    } catch (error) {
      throw new RenderError(`chat json_body is not valid JSON once rendered: ${(error as Error).message}`, { cause: error });
    }
  }
  const markdown = typeof template.markdown_body === 'string' && json_content === null ? await renderField(template.markdown_body, session) : undefined;
  const summary = typeof template.summary === 'string' ? await renderField(template.summary, session) : null;
  return {
    __typename: 'MessageChatContent',
    template: {
      blocks: markdown === undefined ? null : [{ type: 'markdown', name: 'body', content: markdown }],
      json_content,
      summary,
    },
  };
}
