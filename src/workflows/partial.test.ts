import { describe, expect, it } from 'vitest';
import type { ResourceMeta } from '../versioning/resource-kind.ts';
import { partialKind } from './partial.ts';

const meta: ResourceMeta = {
  key: 'my-partial',
  environment: 'development',
  active: true,
  created_at: '2021-01-01T00:00:00Z',
  updated_at: '2021-01-02T00:00:00Z',
  sha: 'sha-partial-test',
};

/** The spec's `Partial` example, as a request. */
const specPartial = {
  content: '<p>Hello, world!</p>',
  description: 'This is a test partial',
  icon_name: 'icon-name',
  input_schema: [
    { key: 'text_field', label: 'My text field', settings: { description: 'A description of the text field', max_length: 100, min_length: 10, required: true }, type: 'text' },
  ],
  name: 'My Partial',
  type: 'html',
  visual_block_enabled: true,
};

const problems = (input: Record<string, unknown>) => partialKind.validate(partialKind.normalize(input));

describe('partialKind.validate', () => {
  it("accepts the spec example and the partials docs' Liquid", () => {
    expect(problems(specPartial)).toEqual([]);
    const docs = `{% assign items = input | from_json %}<ul>{% for item in items %}<li>{{ item }}</li>{% endfor %}</ul>{% if user.company != blank %}{{ user.company }}{% endif %}`;
    expect(problems({ name: 'List', type: 'html', content: docs })).toEqual([]);
    expect(problems({ name: 'Sig', type: 'markdown', content: '**{{ name | default: "Team" }}**' })).toEqual([]);
    expect(problems({ name: 'Text', type: 'text', content: 'Thanks, {{ vars.company }}' })).toEqual([]);
  });

  it('accepts JSON partials that are JSON, or that hold Liquid (JSON only once rendered)', () => {
    expect(problems({ name: 'J', type: 'json', content: '{"a": [1, 2]}' })).toEqual([]);
    expect(problems({ name: 'J', type: 'json', content: '{"name": {{ recipient.name | json }}}' })).toEqual([]);
  });

  it('requires name, type and content, and a known type', () => {
    expect(problems({}).map((e) => e.field)).toEqual(['name', 'type', 'content']);
    expect(problems({ name: 'x', type: 'yaml', content: '' })).toEqual([{ field: 'type', message: 'must be one of: html, text, json, markdown (got "yaml")', type: 'enum' }]);
  });

  it('reports Liquid syntax errors in the content', () => {
    expect(problems({ name: 'x', type: 'html', content: '<p>{{ recipient.name </p>' })).toEqual([
      { field: 'content', message: 'has a Liquid syntax error: output "{{ recipient.name </p>" not closed, line:1, col:4', type: 'liquid_syntax' },
    ]);
  });

  it('reports a Liquid-free JSON partial that is not JSON', () => {
    const [error] = problems({ name: 'x', type: 'json', content: '{"a": }' });
    expect(error).toMatchObject({ field: 'content', type: 'json' });
    expect(error.message).toMatch(/^must be valid JSON for a json partial: /);
  });

  it('only lets html partials be visual blocks, and checks the input schema', () => {
    expect(problems({ name: 'x', type: 'text', content: 'x', visual_block_enabled: true }).map((e) => e.field)).toEqual(['visual_block_enabled']);
    const inputSchema = [{ key: 'a', type: 'text' }, { key: 'a', type: 'colour' }, { type: 'text' }];
    expect(problems({ ...specPartial, input_schema: inputSchema })).toEqual([
      { field: 'input_schema.1.type', message: expect.stringContaining('(got "colour")'), type: 'enum' },
      { field: 'input_schema.1.key', message: 'duplicates the key "a" of input_schema.0', type: 'duplicate' },
      { field: 'input_schema.2.key', message: 'is required', type: 'required' },
    ]);
  });
});

describe('partialKind.normalize', () => {
  it('drops read-only fields (key, environment, timestamps, valid) and is stable under key order', () => {
    const pulled = { ...specPartial, key: 'my-partial', environment: 'development', inserted_at: 'x', updated_at: 'y', valid: true, 'content@': 'content.html' };
    const content = partialKind.normalize(pulled);
    expect(content).toEqual(specPartial);
    expect(JSON.stringify(partialKind.normalize(Object.fromEntries(Object.entries(pulled).reverse())))).toBe(JSON.stringify(content));
    expect(partialKind.normalize({ name: 'x', type: 'text', content: 'x' })).toEqual({ name: 'x', type: 'text', content: 'x', visual_block_enabled: false });
  });
});

describe('partialKind.present', () => {
  it("returns the spec's Partial shape with every required field, and round-trips through normalize", () => {
    const content = partialKind.normalize(specPartial);
    const shown = partialKind.present(content, meta);
    for (const field of ['key', 'type', 'name', 'content', 'inserted_at', 'updated_at', 'valid']) expect(shown).toHaveProperty(field);
    expect(shown).toEqual({ ...specPartial, key: 'my-partial', environment: 'development', inserted_at: meta.created_at, updated_at: meta.updated_at, valid: true });
    expect(partialKind.normalize(shown)).toEqual(content);
  });

  it('reports valid: false for a partial with problems', () => {
    expect(partialKind.present(partialKind.normalize({ name: 'x', type: 'html', content: '{%' }), { ...meta, sha: 'sha-bad-partial' }).valid).toBe(false);
  });
});
