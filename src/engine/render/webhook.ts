import { renderLiquid } from './liquid-engines.ts';
import { RenderError } from './render-error.ts';
import type { RenderSession } from './session.ts';
import type { RenderedWebhook } from './types.ts';

/**
 * `[{key, value}]` pairs rendered into an object. A string is a template that must render
 * to a JSON object (the form Knock's request templates also accept).
 */
async function renderPairs(value: unknown, field: string, session: RenderSession): Promise<Record<string, string>> {
  const pairs: Record<string, string> = {};
  if (typeof value === 'string' && value.trim() !== '') {
    const rendered = await renderLiquid(value, session, 'text');
    let parsed: unknown;
    try {
      parsed = JSON.parse(rendered);
    } catch (error) {
      throw new RenderError(`webhook ${field} must render to a JSON object: ${(error as Error).message}`, { cause: error });
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new RenderError(`webhook ${field} must render to a JSON object`);
    for (const [key, item] of Object.entries(parsed)) pairs[key] = typeof item === 'string' ? item : JSON.stringify(item);
    return pairs;
  }
  if (!Array.isArray(value)) return pairs;
  for (const pair of value as Array<Record<string, unknown>>) {
    const key = (await renderLiquid(String(pair.key ?? ''), session, 'text')).trim();
    if (key !== '') pairs[key] = await renderLiquid(String(pair.value ?? ''), session, 'text');
  }
  return pairs;
}

/** A webhook template rendered into the request to send: every field is Liquid, output unescaped. */
export async function renderWebhook(template: Record<string, unknown>, session: RenderSession): Promise<RenderedWebhook> {
  return {
    url: (await renderLiquid(String(template.url ?? ''), session, 'text')).trim(),
    method: String(template.method ?? 'post').toUpperCase(),
    headers: await renderPairs(template.headers, 'headers', session),
    query: await renderPairs(template.query_params, 'query_params', session),
    body: typeof template.body === 'string' ? await renderLiquid(template.body, session, 'text') : '',
  };
}
