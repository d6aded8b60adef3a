import { FieldChecks, at, type Json } from './field-checks.ts';
import { liquidErrorsDeep } from './liquid.ts';

/** Channel types a channel step can target (spec `Workflow*Step.channel_type`). */
export const CHANNEL_TYPES = ['email', 'in_app_feed', 'sms', 'push', 'chat', 'http', 'in_app_guide'] as const;
export type ChannelType = (typeof CHANNEL_TYPES)[number];

export const HTTP_METHODS = ['get', 'post', 'put', 'delete', 'patch'] as const;
const VISUAL_BLOCK_TYPES = ['button_set', 'divider', 'html', 'image', 'markdown', 'partial'] as const;

/** `{key, value}` pairs of a webhook's or fetch's headers and query params. */
export function checkKeyValuePairs(checks: FieldChecks, obj: Json, base: string, key: string): void {
  for (const [pair, path] of checks.objectArray(obj, base, key) ?? []) {
    checks.string(pair, path, 'key', { required: true, nonBlank: true });
    checks.string(pair, path, 'value', { required: true });
  }
}

function checkEmail(checks: FieldChecks, template: Json, base: string): void {
  checks.string(template, base, 'subject', { required: true });
  const html = checks.string(template, base, 'html_body');
  const blocks = checks.objectArray(template, base, 'visual_blocks');
  if (template.html_body == null && template.visual_blocks == null) {
    checks.add(at(base, 'html_body'), 'is required unless visual_blocks is set', 'required');
  }
  checks.string(template, base, 'text_body');
  if (checks.boolean(template, base, 'is_mjml') === true && html !== undefined && !/<mjml[\s>]/i.test(html)) {
    checks.add(at(base, 'html_body'), 'must contain <mjml> when is_mjml is true', 'invalid');
  }
  const settings = checks.object(template, base, 'settings');
  if (settings) {
    const path = at(base, 'settings');
    for (const key of ['layout_key', 'attachment_key', 'pre_content']) checks.string(settings, path, key);
  }
  for (const [block, path] of blocks ?? []) checkVisualBlock(checks, block, path);
}

function checkVisualBlock(checks: FieldChecks, block: Json, base: string): void {
  switch (checks.oneOf(block, base, 'type', VISUAL_BLOCK_TYPES, { required: true })) {
    case 'html':
    case 'markdown':
      checks.string(block, base, 'content', { required: true });
      break;
    case 'image':
      checks.string(block, base, 'url', { required: true, nonBlank: true });
      break;
    case 'button_set':
      for (const [button, path] of checks.objectArray(block, base, 'buttons', { required: true }) ?? []) {
        checks.string(button, path, 'label', { required: true });
        checks.string(button, path, 'action', { required: true });
        checks.oneOf(button, path, 'variant', ['solid', 'outline']);
      }
      break;
    case 'partial':
      checks.string(block, base, 'key', { required: true, nonBlank: true });
      checks.string(block, base, 'name', { required: true });
      checks.object(block, base, 'attrs', { required: true });
      break;
    default:
      break;
  }
}

function checkInAppFeed(checks: FieldChecks, template: Json, base: string): void {
  checks.string(template, base, 'markdown_body', { required: true });
  checks.string(template, base, 'action_url');
  for (const [button, path] of checks.objectArray(template, base, 'action_buttons') ?? []) {
    checks.string(button, path, 'label', { required: true });
    checks.string(button, path, 'action', { required: true });
  }
}

function checkSms(checks: FieldChecks, template: Json, base: string): void {
  checks.string(template, base, 'text_body', { required: true });
  const settings = checks.object(template, base, 'settings');
  if (settings) for (const key of ['to_number', 'payload_overrides']) checks.string(settings, at(base, 'settings'), key);
}

function checkPush(checks: FieldChecks, template: Json, base: string): void {
  checks.string(template, base, 'text_body', { required: true });
  // Required by the spec, but the Knock CLI scaffolds push steps without one.
  checks.string(template, base, 'title');
  const settings = checks.object(template, base, 'settings');
  if (settings) {
    checks.oneOf(settings, at(base, 'settings'), 'delivery_type', ['silent', 'content']);
    checks.string(settings, at(base, 'settings'), 'payload_overrides');
  }
}

function checkChat(checks: FieldChecks, template: Json, base: string): void {
  checks.string(template, base, 'markdown_body');
  checks.string(template, base, 'json_body');
  if (template.markdown_body == null && template.json_body == null) {
    checks.add(at(base, 'markdown_body'), 'is required unless json_body is set', 'required');
  }
  checks.string(template, base, 'summary');
}

function checkWebhook(checks: FieldChecks, template: Json, base: string): void {
  checks.oneOf(template, base, 'method', HTTP_METHODS, { required: true });
  checks.string(template, base, 'url', { required: true, nonBlank: true });
  checks.string(template, base, 'body');
  checkKeyValuePairs(checks, template, base, 'headers');
  checkKeyValuePairs(checks, template, base, 'query_params');
}

const TEMPLATE_CHECKS: Record<Exclude<ChannelType, 'in_app_guide'>, (checks: FieldChecks, template: Json, base: string) => void> = {
  email: checkEmail,
  in_app_feed: checkInAppFeed,
  sms: checkSms,
  push: checkPush,
  chat: checkChat,
  http: checkWebhook,
};

/**
 * Checks a channel step's template at `base`: the Liquid of every string in it and, when the
 * step names its `channel_type`, the fields that type requires. Steps pushed by the Knock CLI
 * often leave `channel_type` out (it follows from the channel); their templates get the
 * Liquid check only.
 */
export function checkTemplate(checks: FieldChecks, template: Json, base: string, channelType: ChannelType | undefined): void {
  checks.addAll(liquidErrorsDeep(base, template));
  if (channelType !== undefined && channelType !== 'in_app_guide') TEMPLATE_CHECKS[channelType](checks, template, base);
}
