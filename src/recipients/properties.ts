import { Invalid } from '../errors.ts';

/** Knock's limit on a recipient's custom properties. */
export const MAX_PROPERTIES_BYTES = 256 * 1024;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Knock's deep merge of recipient properties (the JS twin of SQL `herald_jsonb_merge`):
 * objects merge key by key, anything else in `update` replaces what is in `base`.
 */
export function deepMerge(base: Record<string, unknown>, update: Record<string, unknown>): Record<string, unknown> {
  const result: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(update)) {
    const current = result[key];
    result[key] = isPlainObject(current) && isPlainObject(value) ? deepMerge(current, value) : value;
  }
  return result;
}

/** Refuses custom properties over the size limit. */
export function checkPropertiesSize(properties: Record<string, unknown>, field = 'properties'): void {
  if (Buffer.byteLength(JSON.stringify(properties)) > MAX_PROPERTIES_BYTES) {
    throw Invalid.field(field, `exceed the limit of ${MAX_PROPERTIES_BYTES / 1024} kB`);
  }
}
