import { describe, expect, it } from 'vitest';
import type { ResourceMeta } from '../versioning/resource-kind.ts';
import { emailLayoutKind } from './email-layout.ts';

const meta: ResourceMeta = {
  key: 'transactional',
  environment: 'development',
  active: true,
  created_at: '2021-01-01T00:00:00Z',
  updated_at: '2021-01-02T00:00:00Z',
  sha: 'sha-layout-test',
};

const layout = {
  name: 'Transactional',
  html_layout: '<html><body>{{ content }}<footer>{% for link in footer_links %}<a href="{{ link.url }}">{{ link.text }}</a>{% endfor %}</footer></body></html>',
  text_layout: '{{content}}\n\n{{ vars.company }}',
  footer_links: [{ text: 'Example', url: 'http://example.com' }],
};

const problems = (input: Record<string, unknown>) => emailLayoutKind.validate(emailLayoutKind.normalize(input));

describe('emailLayoutKind.validate', () => {
  it('accepts a layout that wraps {{ content }} in both bodies, with branding overrides and MJML', () => {
    expect(problems(layout)).toEqual([]);
    const branding = { primary_color: '#4F46E5', primary_color_contrast: '#FFFFFF', dark_logo_url: 'https://cdn.example.com/logo-dark.png' };
    expect(problems({ ...layout, branding_overrides: branding })).toEqual([]);
    expect(problems({ ...layout, is_mjml: true, html_layout: '<mjml><mj-body>{{- content -}}</mj-body></mjml>' })).toEqual([]);
  });

  it('requires name, html_layout and text_layout', () => {
    expect(problems({})).toEqual([
      { field: 'name', message: 'is required', type: 'required' },
      { field: 'html_layout', message: 'is required', type: 'required' },
      { field: 'text_layout', message: 'is required', type: 'required' },
    ]);
  });

  it('requires {{ content }} in both layouts (the spec example without it is invalid)', () => {
    expect(problems({ name: 'x', html_layout: '<html><body>Hello, world!</body></html>', text_layout: 'Hello, world!' })).toEqual([
      { field: 'html_layout', message: 'must include {{ content }}, where the message is placed', type: 'invalid' },
      { field: 'text_layout', message: 'must include {{ content }}, where the message is placed', type: 'invalid' },
    ]);
  });

  it('reports Liquid syntax errors in layouts and footer links', () => {
    const errors = problems({ ...layout, html_layout: '{{ content }}{% if x %}', footer_links: [{ text: 'ok', url: '{{ vars.url' }] });
    expect(errors.map((e) => [e.field, e.type])).toEqual([
      ['html_layout', 'liquid_syntax'],
      ['footer_links.0.url', 'liquid_syntax'],
    ]);
    expect(errors[0].message).toBe('has a Liquid syntax error: tag {% if x %} not closed, line:1, col:14');
  });

  it('requires footer links to have text and url, and MJML layouts to contain <mjml>', () => {
    expect(problems({ ...layout, footer_links: [{ text: 'x' }, 'y'], is_mjml: true }).map((e) => e.field)).toEqual([
      'html_layout',
      'footer_links.1',
      'footer_links.0.url',
    ]);
  });
});

describe('emailLayoutKind.normalize', () => {
  it('drops read-only fields and CLI bookkeeping, fills defaults, and is stable under key order', () => {
    const pulled = { ...layout, key: 'transactional', sha: 'abc', environment: 'development', created_at: 'x', updated_at: 'y', 'html_layout@': 'layout.html', __readonly: {} };
    const content = emailLayoutKind.normalize(pulled);
    expect(content).toEqual({ ...layout, is_mjml: false });
    const reversed = Object.fromEntries(Object.entries(pulled).reverse());
    expect(JSON.stringify(emailLayoutKind.normalize(reversed))).toBe(JSON.stringify(content));
    expect(emailLayoutKind.normalize(content)).toEqual(content);
    expect(emailLayoutKind.normalize({ ...layout, footer_links: undefined, is_mjml: null, branding_overrides: null })).toEqual(
      emailLayoutKind.normalize({ ...layout, footer_links: [] }),
    );
  });
});

describe('emailLayoutKind.present', () => {
  it("returns the spec's EmailLayout shape with every required field, and round-trips through normalize", () => {
    const content = emailLayoutKind.normalize(layout);
    const shown = emailLayoutKind.present(content, meta);
    expect(shown).toEqual({
      key: 'transactional',
      name: 'Transactional',
      html_layout: layout.html_layout,
      text_layout: layout.text_layout,
      footer_links: layout.footer_links,
      is_mjml: false,
      environment: 'development',
      created_at: meta.created_at,
      updated_at: meta.updated_at,
      sha: meta.sha,
    });
    expect(emailLayoutKind.normalize(shown)).toEqual(content);
  });
});
