import { Type } from 'typebox';
import type { FieldError } from '../errors.ts';
import type { Content, ResourceKind, ResourceMeta } from '../versioning/resource-kind.ts';
import { FieldChecks, isRecord } from './field-checks.ts';
import { parsePo } from './gettext-po.ts';
import { liquidErrors } from './liquid.ts';
import { Nullable } from './typebox-nullable.ts';

export const TRANSLATION_FORMATS = ['json', 'po'] as const;

/**
 * Namespaces appear in translation keys (`locale/namespace`) and in the Knock CLI's file
 * names (`namespace.locale.json`), so they keep to characters neither uses as a separator.
 */
const NAMESPACE = /^[A-Za-z0-9_-]{1,255}$/;
const KEY_SEPARATOR = '/';

/** The versioned key of a translation: its locale, then its namespace when it has one (`en/admin`, Knock's `resource_id` form). */
export function translationKey(localeCode: string, namespace?: string | null): string {
  return namespace ? `${localeCode}${KEY_SEPARATOR}${namespace}` : localeCode;
}

/** The locale and namespace of a translation key made by `translationKey`; null when `key` is not one. */
export function parseTranslationKey(key: string): { locale_code: string; namespace: string | null } | null {
  const parts = key.split(KEY_SEPARATOR);
  if (parts.some((part) => part === '')) return null;
  if (parts.length === 1) return { locale_code: parts[0], namespace: null };
  if (parts.length === 2) return { locale_code: parts[0], namespace: parts[1] };
  return null;
}

/** Why `code` is not a BCP 47 locale code in canonical form (`en`, `en-US`, `pt-BR`, `zh-Hant-TW`), if it is not. */
export function localeCodeProblem(code: string): string | undefined {
  const problem = 'must be a locale code such as en, en-US or pt-BR';
  let canonical: string | undefined;
  try {
    canonical = Intl.getCanonicalLocales(code)[0];
  } catch {
    return problem;
  }
  // BCP 47 reserves 4- and 5-8-letter language subtags; every language in use has a 2- or 3-letter code.
  if (canonical === undefined || !/^[a-z]{2,3}(-|$)/.test(canonical)) return problem;
  return canonical === code ? undefined : `must be written ${canonical}`;
}

export const TranslationRequestSchema = Type.Object(
  {
    content: Type.String({ description: 'A JSON object of translation strings (format `json`) or a gettext PO file (format `po`).' }),
    format: Type.String({ description: `One of: ${TRANSLATION_FORMATS.join(', ')}.` }),
    locale_code: Type.Optional(Type.String({ description: 'Taken from the path when absent.' })),
    namespace: Type.Optional(Nullable(Type.String({ description: 'Taken from the `namespace` query parameter when absent.' }))),
  },
  { title: 'TranslationRequest', description: 'Read-only fields (timestamps) are accepted and ignored.' },
);

function normalize(input: Record<string, unknown>): Content {
  const content: Content = {};
  for (const field of ['content', 'format', 'locale_code'] as const) {
    if (input[field] !== undefined && input[field] !== null) content[field] = input[field];
  }
  // No namespace and an empty one are the same translation.
  if (input.namespace !== undefined && input.namespace !== null && input.namespace !== '') content.namespace = input.namespace;
  // JSON content is stored compact, so re-indenting a file is not a change.
  if (content.format === 'json' && typeof content.content === 'string') {
    try {
      content.content = JSON.stringify(JSON.parse(content.content));
    } catch {
      // Kept as sent; validate() reports it.
    }
  }
  return Object.fromEntries(Object.keys(content).sort().map((key) => [key, content[key]]));
}

/** Problems with the strings of a JSON translation object: each is a string (Liquid) or an object of more. */
function jsonTranslationErrors(value: Record<string, unknown>, trail: string[]): FieldError[] {
  return Object.entries(value).flatMap(([key, item]) => {
    const path = [...trail, key];
    const name = JSON.stringify(path.join('.'));
    if (isRecord(item)) return jsonTranslationErrors(item, path);
    if (typeof item !== 'string') return [{ field: 'content', message: `${name} must be a string or an object of translations`, type: 'type' }];
    return liquidErrors('content', item).map((error) => ({ ...error, message: `${name} ${error.message}` }));
  });
}

function contentErrors(format: string, text: string): FieldError[] {
  if (format === 'json') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      return [{ field: 'content', message: `must be a JSON object: ${(error as Error).message}`, type: 'json' }];
    }
    if (!isRecord(parsed)) return [{ field: 'content', message: 'must be a JSON object of translation strings', type: 'json' }];
    return jsonTranslationErrors(parsed, []);
  }
  const po = parsePo(text);
  if ('error' in po) return [{ field: 'content', message: `is not a valid PO file: line ${po.error.line}: ${po.error.message}`, type: 'po_syntax' }];
  return po.entries.flatMap((entry) =>
    entry.msgstr.flatMap((translated) =>
      liquidErrors('content', translated).map((error) => ({ ...error, message: `msgstr of "${entry.msgid}" (line ${entry.line}) ${error.message}` })),
    ),
  );
}

function validate(content: Content): FieldError[] {
  const checks = new FieldChecks();
  const locale = checks.string(content, '', 'locale_code', { required: true, nonBlank: true });
  if (locale !== undefined && locale.trim() !== '') {
    const problem = localeCodeProblem(locale);
    if (problem) checks.add('locale_code', problem, 'format');
  }
  const namespace = checks.string(content, '', 'namespace');
  if (namespace !== undefined && namespace !== '' && !NAMESPACE.test(namespace)) {
    checks.add('namespace', 'must be at most 255 letters, digits, "_" or "-"', 'format');
  }
  const format = checks.oneOf(content, '', 'format', TRANSLATION_FORMATS, { required: true });
  const text = checks.string(content, '', 'content', { required: true });
  if (format !== undefined && text !== undefined) checks.addAll(contentErrors(format, text));
  return checks.errors;
}

function present(content: Content, meta: ResourceMeta): Record<string, unknown> {
  const fromKey = parseTranslationKey(meta.key);
  return {
    locale_code: content.locale_code ?? fromKey?.locale_code ?? meta.key,
    namespace: content.namespace ?? fromKey?.namespace ?? '',
    content: content.content,
    format: content.format,
    inserted_at: meta.created_at,
    updated_at: meta.updated_at,
  };
}

/** Translations: per-locale strings for the `t` filter and tag, optionally namespaced. */
export const translationKind: ResourceKind = {
  type: 'translation',
  collection: 'translations',
  wrapper: 'translation',
  requestSchema: TranslationRequestSchema,
  normalize,
  validate,
  present,
};
