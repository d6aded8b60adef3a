import { Type } from 'typebox';
import type { FieldError } from '../errors.ts';
import type { Content, ResourceKind, ResourceMeta } from '../versioning/resource-kind.ts';
import { canonicalContent } from './canonical-content.ts';
import { FieldChecks, at } from './field-checks.ts';
import { liquidErrors } from './liquid.ts';
import { Nullable } from './typebox-nullable.ts';

/** Where a layout places the message: `{{ content }}`, with any spacing or whitespace control. */
const CONTENT_PLACEHOLDER = /\{\{-?\s*content\s*-?\}\}/;

/** The fields of Knock's `EmailLayoutRequest`: all that a layout's content holds. */
const REQUEST_FIELDS = ['name', 'html_layout', 'text_layout', 'footer_links', 'is_mjml', 'branding_overrides'] as const;

const BRANDING_FIELDS = [
  'icon_url',
  'logo_url',
  'primary_color',
  'primary_color_contrast',
  'primary_text_color',
  'secondary_text_color',
  'dark_icon_url',
  'dark_logo_url',
  'dark_primary_color',
  'dark_primary_color_contrast',
] as const;

export const EmailLayoutRequestSchema = Type.Object(
  {
    name: Type.String({ description: 'The friendly name of the layout.' }),
    html_layout: Type.String({ description: 'The complete HTML (or MJML) of the layout; must include `{{ content }}`.' }),
    text_layout: Type.String({ description: 'The complete plain text of the layout; must include `{{ content }}`.' }),
    footer_links: Type.Optional(Type.Array(Type.Object({ text: Type.String(), url: Type.String() }))),
    is_mjml: Type.Optional(Nullable(Type.Boolean())),
    branding_overrides: Type.Optional(Nullable(Type.Record(Type.String(), Type.Unknown()))),
  },
  { title: 'EmailLayoutRequest', description: 'Read-only fields sent back by the Knock CLI (key, sha, environment, timestamps) are accepted and ignored.' },
);

function normalize(input: Record<string, unknown>): Content {
  const content: Record<string, unknown> = { footer_links: [], is_mjml: false };
  for (const field of REQUEST_FIELDS) {
    if (input[field] !== undefined && input[field] !== null) content[field] = input[field];
  }
  return canonicalContent(content) as Content;
}

/** A layout body: Liquid that parses and wraps the message with `{{ content }}`. */
function checkLayoutBody(checks: FieldChecks, content: Content, field: 'html_layout' | 'text_layout'): string | undefined {
  const body = checks.string(content, '', field, { required: true });
  if (body === undefined) return undefined;
  checks.addAll(liquidErrors(field, body));
  if (!CONTENT_PLACEHOLDER.test(body)) checks.add(field, 'must include {{ content }}, where the message is placed', 'invalid');
  return body;
}

function validate(content: Content): FieldError[] {
  const checks = new FieldChecks();
  checks.string(content, '', 'name', { required: true, nonBlank: true, maxLength: 255 });
  const html = checkLayoutBody(checks, content, 'html_layout');
  checkLayoutBody(checks, content, 'text_layout');
  if (checks.boolean(content, '', 'is_mjml') === true && html !== undefined && !/<mjml[\s>]/i.test(html)) {
    checks.add('html_layout', 'must contain <mjml> when is_mjml is true', 'invalid');
  }
  for (const [link, path] of checks.objectArray(content, '', 'footer_links') ?? []) {
    checks.addAll(liquidErrors(at(path, 'text'), checks.string(link, path, 'text', { required: true })));
    checks.addAll(liquidErrors(at(path, 'url'), checks.string(link, path, 'url', { required: true, nonBlank: true })));
  }
  const branding = checks.object(content, '', 'branding_overrides');
  if (branding) for (const field of BRANDING_FIELDS) checks.string(branding, 'branding_overrides', field);
  return checks.errors;
}

function present(content: Content, meta: ResourceMeta): Record<string, unknown> {
  return {
    key: meta.key,
    name: content.name,
    html_layout: content.html_layout,
    text_layout: content.text_layout,
    footer_links: content.footer_links ?? [],
    is_mjml: content.is_mjml ?? false,
    ...(content.branding_overrides !== undefined ? { branding_overrides: content.branding_overrides } : {}),
    environment: meta.environment,
    created_at: meta.created_at,
    updated_at: meta.updated_at,
    sha: meta.sha,
  };
}

/** Email layouts: the HTML and text frames email templates are rendered into. */
export const emailLayoutKind: ResourceKind = {
  type: 'email_layout',
  collection: 'email_layouts',
  wrapper: 'email_layout',
  requestSchema: EmailLayoutRequestSchema,
  normalize,
  validate,
  present,
};
