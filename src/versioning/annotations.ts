import type { ResourceType } from './resource-kind.ts';

/**
 * `annotate=true` responses: hints the Knock CLI uses to lay a resource out in files —
 * which fields it extracts into template files, and which are read-only.
 */
interface Annotation {
  extractable_fields: Record<string, { default: boolean; file_ext: string }>;
  readonly_fields: string[];
}

const field = (isDefault: boolean, fileExt: string) => ({ default: isDefault, file_ext: fileExt });

const ROOT: Record<ResourceType, Annotation | undefined> = {
  workflow: { extractable_fields: {}, readonly_fields: ['environment', 'key', 'active', 'valid', 'created_at', 'updated_at', 'sha'] },
  email_layout: {
    extractable_fields: { html_layout: field(true, 'html'), text_layout: field(true, 'txt') },
    readonly_fields: ['key', 'environment', 'created_at', 'updated_at', 'sha'],
  },
  partial: {
    extractable_fields: { content: field(true, 'html') },
    readonly_fields: ['key', 'valid', 'type', 'environment', 'created_at', 'updated_at', 'sha'],
  },
  translation: undefined,
};

/** Per channel type: the template fields that live in their own files. */
const TEMPLATE_FIELDS: Record<string, Annotation['extractable_fields']> = {
  email: { subject: field(false, 'txt'), html_body: field(true, 'html'), text_body: field(true, 'txt'), json_body: field(true, 'json'), visual_blocks: field(true, 'json') },
  sms: { text_body: field(true, 'txt') },
  push: { text_body: field(true, 'txt') },
  in_app_feed: { markdown_body: field(true, 'md') },
  chat: { markdown_body: field(true, 'md'), json_body: field(true, 'json') },
};

function guessChannelType(template: Record<string, unknown>): string | undefined {
  if ('html_body' in template || 'subject' in template || 'visual_blocks' in template) return 'email';
  if ('markdown_body' in template && ('action_url' in template || 'action_buttons' in template)) return 'in_app_feed';
  if ('markdown_body' in template || 'json_body' in template || 'summary' in template) return 'chat';
  if ('title' in template) return 'push';
  if ('text_body' in template) return 'sms';
  return undefined;
}

function annotateSteps(steps: unknown): void {
  if (!Array.isArray(steps)) return;
  for (const step of steps as Array<Record<string, unknown>>) {
    if (!step || typeof step !== 'object') continue;
    const template = step.template as Record<string, unknown> | undefined;
    if (template && typeof template === 'object' && !Array.isArray(template)) {
      const channelType = guessChannelType(template);
      template.__annotation = { extractable_fields: channelType ? TEMPLATE_FIELDS[channelType] : {}, readonly_fields: [] } satisfies Annotation;
      const settings = template.settings as Record<string, unknown> | undefined;
      if (channelType === 'email' && settings && typeof settings === 'object') {
        settings.__annotation = { extractable_fields: { pre_content: field(true, 'txt') }, readonly_fields: [] } satisfies Annotation;
      }
    }
    for (const branch of (Array.isArray(step.branches) ? step.branches : []) as Array<Record<string, unknown>>) {
      annotateSteps(branch?.steps);
    }
  }
}

/** Adds `__annotation` hints to a presented resource (a deep copy; the input is untouched). */
export function annotate(type: ResourceType, presented: Record<string, unknown>): Record<string, unknown> {
  const root = ROOT[type];
  if (!root) return presented;
  const copy = structuredClone(presented);
  copy.__annotation = root;
  if (type === 'workflow') annotateSteps(copy.steps);
  return copy;
}

/** Drops what the Knock CLI sends but is not content: `$schema`, and `field@` file references at any depth. */
export function stripLocalFileReferences(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(stripLocalFileReferences);
  if (!value || typeof value !== 'object') return value;
  const result: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value)) {
    if (key === '$schema' || key === '__annotation' || key === '__readonly' || key.endsWith('@')) continue;
    result[key] = stripLocalFileReferences(inner);
  }
  return result;
}
