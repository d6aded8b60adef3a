import { describe, expect, it } from 'vitest';
import { liquidErrors, liquidErrorsDeep } from './liquid.ts';

describe('liquidErrors', () => {
  it('accepts unknown filters (Knock has its own) and Knock tags', () => {
    for (const template of ['{{ x | no_such_filter: 1, a: 2 }}', '{% t %}Hello {{ name }}{% endt %}', '{% partial "footer" %}', '{% render "card", title: data.title %}']) {
      expect(liquidErrors('f', template), template).toEqual([]);
    }
  });

  it('reports unknown tags, unclosed blocks and bad output with the liquidjs message', () => {
    expect(liquidErrors('body', 'a\n{% unless x %}')).toEqual([
      { field: 'body', message: 'has a Liquid syntax error: tag {% unless x %} not closed, line:2, col:1', type: 'liquid_syntax' },
    ]);
    expect(liquidErrors('body', '{% teleport %}')[0].message).toBe('has a Liquid syntax error: tag "teleport" not found, line:1, col:1');
    expect(liquidErrors('body', '{% t %}never closed')[0].message).toBe('has a Liquid syntax error: tag {% t %} not closed, line:1, col:1');
  });

  it('ignores non-strings and shortens very long messages', () => {
    expect(liquidErrors('f', 42)).toEqual([]);
    expect(liquidErrors('f', undefined)).toEqual([]);
    const [error] = liquidErrors('f', `{% if ${'x'.repeat(1000)} %}`);
    expect(error.message.length).toBeLessThan(400);
  });
});

describe('liquidErrorsDeep', () => {
  it('checks every string in a tree, each at its own path', () => {
    expect(liquidErrorsDeep('template', { a: 'ok', b: ['{{', { c: '{% if %}' }], d: 3 }).map((e) => e.field)).toEqual(['template.b.0', 'template.b.1.c']);
  });
});
