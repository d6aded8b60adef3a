import { Hash, Tag, TypeGuards, evalToken, type Context, type Emitter, type Liquid, type Parser, type TagToken, type Template, type Token, type TopLevelToken } from 'liquidjs';
import { parseCached } from './parse-cache.ts';
import { RenderError } from './render-error.ts';
import { sessionOf } from './session.ts';

/** Knock renders partials inside partials up to this depth. */
const MAX_PARTIAL_DEPTH = 5;
const DEPTH_REGISTER = 'herald_partial_depth';

/**
 * `{% render 'key', name: value %}` (also spelt `{% partial … %}`): the committed partial
 * `key`, rendered with only the given variables in scope, as Knock scopes partials.
 */
export class PartialTag extends Tag {
  private readonly key: Token;
  private readonly args: Hash;

  constructor(token: TagToken, remainTokens: TopLevelToken[], liquid: Liquid) {
    super(token, remainTokens, liquid);
    const key = this.tokenizer.readValue();
    if (!key) throw new Error(`tag ${token.getText()} needs the key of a partial`);
    this.key = key;
    this.args = new Hash(this.tokenizer, ':');
  }

  *render(ctx: Context, emitter: Emitter): Generator<unknown, void, unknown> {
    const key = String(yield evalToken(this.key, ctx));
    const depth = ctx.getRegister(DEPTH_REGISTER, 0) as number;
    if (depth >= MAX_PARTIAL_DEPTH) throw new RenderError(`partials nest deeper than ${MAX_PARTIAL_DEPTH} levels (at "${key}")`);
    const partial = (yield sessionOf(ctx).partial(key)) as { content: string };
    const child = ctx.spawn((yield this.args.render(ctx)) as object);
    child.setRegister(DEPTH_REGISTER, depth + 1);
    yield this.liquid.renderer.renderTemplates(parseCached(this.liquid, partial.content), child, emitter);
  }
}

/**
 * `{% t %}…{% endt %}`: its source text is the translation key. The translation found for
 * the recipient's locale is rendered as Liquid in place of the body; without one, the body.
 */
export class TranslateTag extends Tag {
  private readonly templates: Template[] = [];
  private readonly key: string;

  constructor(token: TagToken, remainTokens: TopLevelToken[], liquid: Liquid, parser: Parser) {
    super(token, remainTokens, liquid);
    while (remainTokens.length > 0) {
      const next = remainTokens.shift()!;
      if (TypeGuards.isTagToken(next) && next.name === 'endt') {
        this.key = token.input.slice(token.end, next.begin).trim();
        return;
      }
      this.templates.push(parser.parseToken(next, remainTokens));
    }
    throw new Error(`tag ${token.getText()} not closed`);
  }

  *render(ctx: Context, emitter: Emitter): Generator<unknown, void, unknown> {
    const translated = yield sessionOf(ctx).translations.find(this.key);
    const templates = typeof translated === 'string' ? parseCached(this.liquid, translated) : this.templates;
    yield this.liquid.renderer.renderTemplates(templates, ctx, emitter);
  }
}
