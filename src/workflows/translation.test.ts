import { describe, expect, it } from 'vitest';
import type { ResourceMeta } from '../versioning/resource-kind.ts';
import { localeCodeProblem, parseTranslationKey, translationKey, translationKind } from './translation.ts';

const meta: ResourceMeta = {
  key: 'en/my_app',
  environment: 'development',
  active: true,
  created_at: '2021-01-01T00:00:00Z',
  updated_at: '2021-01-02T00:00:00Z',
  sha: 'sha-translation-test',
};

const problems = (input: Record<string, unknown>) => translationKind.validate(translationKind.normalize(input));

/** The translations docs' pluralised, interpolated example. */
const docsJson = JSON.stringify({
  comment: 'New comment from {{ actorName }} on your post {{ postName }}.',
  orders: { shipping: { zero: 'You have no orders currently being shipped.', one: 'You have one order being shipped.', other: 'You have {{ count }} orders being shipped.' } },
});

const po = `# French
msgid ""
msgstr ""
"Content-Type: text/plain; charset=UTF-8\\n"

msgctxt "button"
msgid "OrderReady"
msgstr "Votre commande est prête."

msgid "orders"
msgid_plural "orders"
msgstr[0] "Une commande"
msgstr[1] "{{ count }} commandes"
`;

describe('translation keys', () => {
  it('are the locale, prefixed by the namespace when there is one', () => {
    expect(translationKey('en')).toBe('en');
    expect(translationKey('en', null)).toBe('en');
    expect(translationKey('en', '')).toBe('en');
    expect(translationKey('pt-BR', 'admin')).toBe('pt-BR/admin');
  });

  it('parse back to locale and namespace, and reject what translationKey cannot make', () => {
    expect(parseTranslationKey('en')).toEqual({ locale_code: 'en', namespace: null });
    expect(parseTranslationKey('pt-BR/admin')).toEqual({ locale_code: 'pt-BR', namespace: 'admin' });
    for (const key of ['', '/en', 'en/', 'a/b/c']) expect(parseTranslationKey(key)).toBeNull();
  });
});

describe('localeCodeProblem', () => {
  it('accepts canonical BCP 47 codes and suggests the canonical spelling of others', () => {
    for (const code of ['en', 'en-US', 'pt-BR', 'zh-Hant-TW', 'es-419', 'fr']) expect(localeCodeProblem(code)).toBeUndefined();
    expect(localeCodeProblem('en-us')).toBe('must be written en-US');
    expect(localeCodeProblem('en_US')).toBe('must be a locale code such as en, en-US or pt-BR');
    expect(localeCodeProblem('english')).toBe('must be a locale code such as en, en-US or pt-BR');
  });
});

describe('translationKind.validate', () => {
  it('accepts JSON translations (the spec and docs examples) and PO files', () => {
    expect(problems({ locale_code: 'en', namespace: 'my_app', content: '{"hello":"Hello, world!"}', format: 'json' })).toEqual([]);
    expect(problems({ locale_code: 'en', content: docsJson, format: 'json' })).toEqual([]);
    expect(problems({ locale_code: 'fr', content: po, format: 'po' })).toEqual([]);
  });

  it('requires locale_code, content and format, and a valid locale and namespace', () => {
    expect(problems({}).map((e) => e.field)).toEqual(['locale_code', 'format', 'content']);
    expect(problems({ locale_code: 'en_US', namespace: 'a.b', content: '{}', format: 'yaml' })).toEqual([
      { field: 'locale_code', message: 'must be a locale code such as en, en-US or pt-BR', type: 'format' },
      { field: 'namespace', message: 'must be at most 255 letters, digits, "_" or "-"', type: 'format' },
      { field: 'format', message: 'must be one of: json, po (got "yaml")', type: 'enum' },
    ]);
  });

  it('reports JSON content that does not parse, is not an object, or holds non-strings', () => {
    expect(problems({ locale_code: 'en', content: '{"a": ', format: 'json' })[0]).toMatchObject({ field: 'content', type: 'json' });
    expect(problems({ locale_code: 'en', content: '["a"]', format: 'json' })).toEqual([
      { field: 'content', message: 'must be a JSON object of translation strings', type: 'json' },
    ]);
    expect(problems({ locale_code: 'en', content: '{"a": {"b": 1}}', format: 'json' })).toEqual([
      { field: 'content', message: '"a.b" must be a string or an object of translations', type: 'type' },
    ]);
  });

  it('reports Liquid syntax errors inside translation strings, naming the string', () => {
    const [error] = problems({ locale_code: 'en', content: '{"greeting": "Hi {{ name"}', format: 'json' });
    expect(error).toMatchObject({ field: 'content', type: 'liquid_syntax' });
    expect(error.message).toBe('"greeting" has a Liquid syntax error: output "{{ name" not closed, line:1, col:4');
    const [poError] = problems({ locale_code: 'fr', content: 'msgid "a"\nmsgstr "{% if %}"', format: 'po' });
    expect(poError.message).toMatch(/^msgstr of "a" \(line 1\) has a Liquid syntax error: /);
  });

  it('reports malformed PO content with its line', () => {
    const cases: Array<[string, string]> = [
      ['msgid "a"\nmsgid "b"\nmsgstr "c"', 'is not a valid PO file: line 2: msgid on line 1 has no msgstr'],
      ['msgstr "x"', 'is not a valid PO file: line 1: msgstr must follow a msgid'],
      ['msgid "a\nmsgstr "b"', 'is not a valid PO file: line 1: msgid must be followed by a quoted string'],
      ['msgid "a"\nmsgstr[0] "b"', 'is not a valid PO file: line 2: msgstr[n] is only for entries with msgid_plural'],
      ['msgid "a"\nmsgstr "b"\nmsgid "a"\nmsgstr "c"', 'is not a valid PO file: line 3: msgid "a" is already defined on line 1'],
      ['hello', 'is not a valid PO file: line 1: must be a comment, a keyword (msgctxt, msgid, msgid_plural, msgstr) or a quoted string'],
      ['msgid "a"', 'is not a valid PO file: line 1: msgid on line 1 has no msgstr'],
    ];
    for (const [content, message] of cases) {
      expect(problems({ locale_code: 'fr', content, format: 'po' }), content).toEqual([{ field: 'content', message, type: 'po_syntax' }]);
    }
  });
});

describe('translationKind.normalize', () => {
  it('keeps request fields, drops an empty namespace and stores JSON compactly, whatever the key order', () => {
    const pushed = { locale_code: 'en', namespace: 'my_app', format: 'json', content: '{\n  "hello": "Hello, world!"\n}', inserted_at: 'x', updated_at: 'y' };
    const content = translationKind.normalize(pushed);
    expect(content).toEqual({ locale_code: 'en', namespace: 'my_app', format: 'json', content: '{"hello":"Hello, world!"}' });
    expect(JSON.stringify(translationKind.normalize(Object.fromEntries(Object.entries(pushed).reverse())))).toBe(JSON.stringify(content));
    expect(translationKind.normalize({ locale_code: 'en', namespace: '', format: 'po', content: po })).toEqual({ locale_code: 'en', format: 'po', content: po });
  });
});

describe('translationKind.present', () => {
  it("returns the spec's Translation shape with every required field, and round-trips through normalize", () => {
    const content = translationKind.normalize({ locale_code: 'en', namespace: 'my_app', content: '{"hello":"Hello, world!"}', format: 'json' });
    const shown = translationKind.present(content, meta);
    expect(shown).toEqual({
      locale_code: 'en',
      namespace: 'my_app',
      content: '{"hello":"Hello, world!"}',
      format: 'json',
      inserted_at: meta.created_at,
      updated_at: meta.updated_at,
    });
    expect(translationKind.normalize(shown)).toEqual(content);
  });

  it('takes locale and namespace from the key when the content lacks them; no namespace is ""', () => {
    expect(translationKind.present({ content: '{}', format: 'json' }, meta)).toMatchObject({ locale_code: 'en', namespace: 'my_app' });
    expect(translationKind.present({ content: '{}', format: 'json' }, { ...meta, key: 'de' })).toMatchObject({ locale_code: 'de', namespace: '' });
  });
});
