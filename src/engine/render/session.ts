import type { Context } from 'liquidjs';
import { RenderError } from './render-error.ts';
import type { TranslationLookup } from './translations.ts';
import type { TemplateSources } from './types.ts';

/** HTML that HTML-mode output must not escape again (a layout's `content`). */
export class SafeHtml {
  readonly html: string;
  constructor(html: string) {
    this.html = html;
  }
  toString(): string {
    return this.html;
  }
}

/**
 * What Knock's tags and filters need during one `renderTemplate` call. It travels in the
 * Liquid context's globals under a symbol, out of reach of template variables.
 */
export class RenderSession {
  readonly scope: Record<string, unknown>;
  readonly translations: TranslationLookup;
  /** Renders Liquid without HTML escaping (translation strings, partial block inputs). */
  readonly renderText: (source: string, scope: Record<string, unknown>) => Promise<string>;
  private readonly sources: TemplateSources;
  private readonly partials = new Map<string, Promise<{ content: string; type?: string } | undefined>>();

  constructor(
    scope: Record<string, unknown>,
    sources: TemplateSources,
    translations: TranslationLookup,
    renderText: (source: string, scope: Record<string, unknown>) => Promise<string>,
  ) {
    this.scope = scope;
    this.sources = sources;
    this.translations = translations;
    this.renderText = renderText;
  }

  /** The committed partial `key`; a missing one is a render error. Each is loaded once per render. */
  async partial(key: string): Promise<{ content: string; type?: string }> {
    let pending = this.partials.get(key);
    if (!pending) {
      pending = this.sources.partial(key);
      this.partials.set(key, pending);
    }
    const partial = await pending;
    if (!partial) throw new RenderError(`partial "${key}" not found`);
    return partial;
  }
}

const SESSION = Symbol('herald.render.session');

/** The globals that carry `session` into a Liquid render. */
export function sessionGlobals(session: RenderSession): object {
  return { [SESSION]: session };
}

/** The session of the render `ctx` belongs to. */
export function sessionOf(ctx: Context): RenderSession {
  const session = (ctx.globals as Record<symbol, unknown>)[SESSION];
  if (!(session instanceof RenderSession)) throw new RenderError('Knock tags and filters need a render session');
  return session;
}
