import { Liquid, LiquidError, filters as builtInFilters } from 'liquidjs';
import { KNOCK_FILTERS } from './knock-filters.ts';
import { PartialTag, TranslateTag } from './knock-tags.ts';
import { parseCached } from './parse-cache.ts';
import { RenderError } from './render-error.ts';
import { RenderSession, SafeHtml, sessionGlobals } from './session.ts';
import type { TranslationLookup } from './translations.ts';
import type { TemplateSources } from './types.ts';

/**
 * HTML output escaping: every `{{ … }}` in an HTML body is data, so it is escaped unless it
 * is HTML we made (a layout's `content`) or its last filter is raw (`from_markdown`, `raw`).
 */
function escapeOutput(this: { context: unknown }, value: unknown): string {
  if (value instanceof SafeHtml) return value.html;
  return (builtInFilters.escape as (this: unknown, value: unknown) => string).call(this, value);
}

function createEngine(outputEscape?: typeof escapeOutput): Liquid {
  const engine = new Liquid({
    // Knock ignores unknown filters and variables rather than failing the send.
    strictFilters: false,
    strictVariables: false,
    // Dates print in UTC unless a template asks for a zone, whatever the server's zone.
    timezoneOffset: 0,
    locale: 'en-US',
    // A runaway template must not hold a worker: 10 s covers loading partials too.
    renderLimit: 10_000,
    outputEscape,
  });
  engine.registerTag('render', PartialTag);
  engine.registerTag('partial', PartialTag);
  engine.registerTag('t', TranslateTag);
  for (const [name, filter] of Object.entries(KNOCK_FILTERS)) engine.registerFilter(name, filter);
  return engine;
}

/** Escaping is fixed when a template is parsed, hence one engine per output kind. */
const engines = { html: createEngine(escapeOutput), text: createEngine() };

/** `html` escapes Liquid output for HTML bodies; `text` leaves it as is (subjects, text, markdown, SMS, JSON). */
export type OutputMode = keyof typeof engines;

function mayContainLiquid(source: string): boolean {
  return source.includes('{{') || source.includes('{%');
}

/** `source` rendered as Liquid with `scope`; any Liquid error is a RenderError. */
export async function renderLiquid(source: string, session: RenderSession, mode: OutputMode, scope: Record<string, unknown> = session.scope): Promise<string> {
  if (!mayContainLiquid(source)) return source;
  const engine = engines[mode];
  try {
    return String(await engine.render(parseCached(engine, source), scope, { globals: sessionGlobals(session) }));
  } catch (error) {
    if (error instanceof RenderError) throw error;
    const message = error instanceof LiquidError || error instanceof Error ? error.message : String(error);
    throw new RenderError(`Liquid error: ${message}`, { cause: error });
  }
}

/** The value of a single Liquid expression such as `data.items` (no filters), keeping its type. */
export async function evaluateExpression(expression: string, session: RenderSession): Promise<unknown> {
  try {
    return await engines.text.evalValue(expression, session.scope);
  } catch (error) {
    throw new RenderError(`Liquid error: ${(error as Error).message}`, { cause: error });
  }
}

/** A session for one render, whose `t` renders translation strings without escaping (the output around it escapes once). */
export function createSession(scope: Record<string, unknown>, sources: TemplateSources, translations: TranslationLookup): RenderSession {
  const session: RenderSession = new RenderSession(scope, sources, translations, (source, vars) => renderLiquid(source, session, 'text', vars));
  return session;
}
