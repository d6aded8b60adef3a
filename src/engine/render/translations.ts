import type { TemplateSources } from './types.ts';

/**
 * Locales to look a key up in, most specific first: `fr-BE` → `fr-BE`, `fr`, then the
 * default locale (Knock's locale prioritization; tenant overrides come merged from the source).
 */
export function localeChain(locale: string | undefined, defaultLocale: string): string[] {
  const chain: string[] = [];
  if (locale) {
    const parts = locale.split('-');
    for (let n = parts.length; n > 0; n--) chain.push(parts.slice(0, n).join('-'));
  }
  chain.push(defaultLocale, defaultLocale.split('-')[0]);
  return [...new Set(chain.filter((code) => code !== ''))];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function walk(value: unknown, path: string[]): unknown {
  let node = value;
  for (const segment of path) {
    if (!isRecord(node) || !Object.hasOwn(node, segment)) return undefined;
    node = node[segment];
  }
  return node;
}

/**
 * A key in one locale's translations. The whole key is tried first (the `t` tag's keys are
 * sentences with dots in them), then `namespace:` and dotted paths into nested objects.
 */
export function lookupTranslation(translations: Record<string, unknown>, key: string): unknown {
  if (Object.hasOwn(translations, key)) return translations[key];
  const colon = key.indexOf(':');
  if (colon > 0) {
    const namespace = key.slice(0, colon);
    const path = key.slice(colon + 1).split('.');
    return walk(translations, [`${namespace}:${path[0]}`, ...path.slice(1)]) ?? walk(translations, [namespace, ...path]);
  }
  return walk(translations, key.split('.'));
}

/**
 * The string to use for a translation found as an object: with a `count`, its `zero`,
 * `one` or `other` form (`zero` falls back to `other`), as Knock's docs describe.
 */
export function pluralForm(value: unknown, count: unknown): unknown {
  if (!isRecord(value) || count === undefined || count === null) return value;
  const n = Number(count);
  if (n === 0) return value.zero ?? value.other;
  if (n === 1) return value.one ?? value.other;
  return value.other;
}

/** Looks keys up through a locale chain, loading each locale's translations at most once. */
export class TranslationLookup {
  private readonly loaded = new Map<string, Promise<Record<string, unknown> | undefined>>();
  private readonly sources: TemplateSources;
  readonly locales: string[];

  constructor(sources: TemplateSources, locales: string[]) {
    this.sources = sources;
    this.locales = locales;
  }

  /** The value of `key` in the first locale that has it, or undefined. */
  async find(key: string): Promise<unknown> {
    for (const locale of this.locales) {
      const translations = await this.load(locale);
      const value = translations && lookupTranslation(translations, key);
      if (value !== undefined && value !== null) return value;
    }
    return undefined;
  }

  private load(locale: string): Promise<Record<string, unknown> | undefined> {
    let pending = this.loaded.get(locale);
    if (!pending) {
      pending = this.sources.translations(locale);
      this.loaded.set(locale, pending);
    }
    return pending;
  }
}
