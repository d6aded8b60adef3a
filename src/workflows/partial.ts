import { Type } from 'typebox';
import type { FieldError } from '../errors.ts';
import type { Content, ResourceKind, ResourceMeta } from '../versioning/resource-kind.ts';
import { canonicalContent } from './canonical-content.ts';
import { FieldChecks, at } from './field-checks.ts';
import { liquidErrors } from './liquid.ts';
import { rememberValidity } from './validity-cache.ts';

export const PARTIAL_TYPES = ['html', 'text', 'json', 'markdown'] as const;

/** Field types of a partial's `input_schema` (spec `MessageType*Field.type`). */
export const INPUT_FIELD_TYPES = [
  'boolean',
  'button',
  'color',
  'image',
  'json',
  'list',
  'markdown',
  'multi_select',
  'number',
  'select',
  'text',
  'textarea',
  'url',
] as const;

/** The fields of Knock's `PartialRequest`: all that a partial's content holds. */
const REQUEST_FIELDS = ['name', 'type', 'content', 'description', 'icon_name', 'input_schema', 'visual_block_enabled'] as const;

export const PartialRequestSchema = Type.Object(
  {
    name: Type.String({ description: 'A name for the partial; at most 255 characters.' }),
    type: Type.String({ description: `One of: ${PARTIAL_TYPES.join(', ')}.` }),
    content: Type.String({ description: 'The partial content (Liquid).' }),
    description: Type.Optional(Type.String({ description: 'Internal notes; at most 280 characters.' })),
    icon_name: Type.Optional(Type.String()),
    input_schema: Type.Optional(Type.Array(Type.Record(Type.String(), Type.Unknown()), { description: 'The fields the partial takes in the visual editor.' })),
    visual_block_enabled: Type.Optional(Type.Boolean({ description: 'Whether the partial is offered as a block in the visual editor (HTML partials only).' })),
  },
  { title: 'PartialRequest', description: 'Read-only fields sent back by the Knock CLI (key, environment, timestamps, valid) are accepted and ignored.' },
);

function normalize(input: Record<string, unknown>): Content {
  const content: Record<string, unknown> = { visual_block_enabled: false };
  for (const field of REQUEST_FIELDS) {
    if (input[field] !== undefined && input[field] !== null) content[field] = input[field];
  }
  return canonicalContent(content) as Content;
}

function checkInputSchema(checks: FieldChecks, content: Content): void {
  const seen = new Map<string, string>();
  for (const [field, path] of checks.objectArray(content, '', 'input_schema') ?? []) {
    const key = checks.string(field, path, 'key', { required: true, nonBlank: true });
    checks.oneOf(field, path, 'type', INPUT_FIELD_TYPES, { required: true });
    checks.string(field, path, 'label');
    checks.object(field, path, 'settings');
    if (key === undefined) continue;
    const first = seen.get(key);
    if (first === undefined) seen.set(key, path);
    else checks.add(at(path, 'key'), `duplicates the key "${key}" of ${first}`, 'duplicate');
  }
}

function validate(content: Content): FieldError[] {
  const checks = new FieldChecks();
  checks.string(content, '', 'name', { required: true, nonBlank: true, maxLength: 255 });
  const type = checks.oneOf(content, '', 'type', PARTIAL_TYPES, { required: true });
  const body = checks.string(content, '', 'content', { required: true });
  const liquid = liquidErrors('content', body);
  checks.addAll(liquid);
  // A JSON partial is JSON once rendered; without any Liquid in it, it must be JSON as written.
  if (type === 'json' && body !== undefined && liquid.length === 0 && !body.includes('{{') && !body.includes('{%')) {
    try {
      JSON.parse(body);
    } catch (error) {
      checks.add('content', `must be valid JSON for a json partial: ${(error as Error).message}`, 'json');
    }
  }
  checks.string(content, '', 'description', { maxLength: 280 });
  checks.string(content, '', 'icon_name');
  if (checks.boolean(content, '', 'visual_block_enabled') === true && type !== undefined && type !== 'html') {
    checks.add('visual_block_enabled', 'can only be true for html partials', 'invalid');
  }
  checkInputSchema(checks, content);
  return checks.errors;
}

function present(content: Content, meta: ResourceMeta): Record<string, unknown> {
  return {
    key: meta.key,
    name: content.name,
    type: content.type,
    content: content.content,
    ...(content.description !== undefined ? { description: content.description } : {}),
    ...(content.icon_name !== undefined ? { icon_name: content.icon_name } : {}),
    ...(content.input_schema !== undefined ? { input_schema: content.input_schema } : {}),
    visual_block_enabled: content.visual_block_enabled ?? false,
    environment: meta.environment,
    inserted_at: meta.created_at,
    updated_at: meta.updated_at,
    valid: rememberValidity('partial', meta.sha, () => validate(content).length === 0),
  };
}

/** Partials: reusable pieces of template content, rendered with `{% render 'key' %}`. */
export const partialKind: ResourceKind = {
  type: 'partial',
  collection: 'partials',
  wrapper: 'partial',
  requestSchema: PartialRequestSchema,
  normalize,
  validate,
  present,
};
