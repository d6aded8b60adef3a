import { Liquid, Tag, TypeGuards, type Context, type Emitter, type Parser, type TagToken, type Template, type TopLevelToken } from 'liquidjs';
import type { FieldError } from '../errors.ts';

/**
 * `{% t %}…{% endt %}`: Knock's translate block. Only its syntax matters here, so it
 * parses its body like any other Liquid and renders it untranslated.
 */
class TranslateBlock extends Tag {
  templates: Template[] = [];

  constructor(token: TagToken, remainTokens: TopLevelToken[], liquid: Liquid, parser: Parser) {
    super(token, remainTokens, liquid);
    while (remainTokens.length > 0) {
      const next = remainTokens.shift()!;
      if (TypeGuards.isTagToken(next) && next.name === 'endt') return;
      this.templates.push(parser.parseToken(next, remainTokens));
    }
    throw new Error(`tag ${token.getText()} not closed`);
  }

  *render(ctx: Context, emitter: Emitter): Generator<unknown, void, unknown> {
    yield this.liquid.renderer.renderTemplates(this.templates, ctx, emitter);
  }
}

/** `{% partial … %}`: an inline Knock tag whose arguments are not checked. */
class InlineKnockTag extends Tag {
  render(): void {}
}

/**
 * Liquid as Knock's template editor accepts it, used to check syntax only. Filters are
 * not checked at all (`strictFilters: false`), so Knock's own (`format_date`, `t`,
 * `currency`, `json`, …) parse like any other; Knock's tags are registered as no-ops.
 */
const engine = new Liquid({ strictFilters: false, strictVariables: false });
engine.registerTag('t', TranslateBlock);
engine.registerTag('partial', InlineKnockTag);

/** Longest Liquid message reported: messages quote the offending tag, which can be long. */
const MAX_MESSAGE = 300;

/** The Liquid syntax error of `template` reported at `field`, if it has one. Non-strings are not checked. */
export function liquidErrors(field: string, template: unknown): FieldError[] {
  if (typeof template !== 'string' || !mayContainLiquid(template)) return [];
  try {
    engine.parse(template);
    return [];
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    const message = `has a Liquid syntax error: ${detail.length > MAX_MESSAGE ? `${detail.slice(0, MAX_MESSAGE)}…` : detail}`;
    return [{ field, message, type: 'liquid_syntax' }];
  }
}

/** Liquid errors of every string inside `value` (objects and arrays walked), each at its own path. */
export function liquidErrorsDeep(field: string, value: unknown): FieldError[] {
  if (typeof value === 'string') return liquidErrors(field, value);
  if (value === null || typeof value !== 'object') return [];
  const entries = Array.isArray(value) ? value.map((item, i) => [String(i), item] as const) : Object.entries(value);
  return entries.flatMap(([key, item]) => liquidErrorsDeep(`${field}.${key}`, item));
}

/** Text without an opening delimiter cannot fail to parse; skipping it keeps validating large workflows cheap. */
function mayContainLiquid(text: string): boolean {
  return text.includes('{{') || text.includes('{%');
}
