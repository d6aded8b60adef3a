/**
 * Per-environment data controls (environments.md §4), applied on the server to every
 * management read of recipient data: with `hide_pii_data`, recipient details become a
 * fixed mask (same shape, `"obfuscated": true`); only identifiers and timestamps show.
 */

export const MASK = '••••••';

/** Fields that identify a record rather than describe a person: never masked. */
const IDENTIFIERS = new Set(['id', '__typename', 'channel_id', 'collection', 'created_at', 'updated_at', 'inserted_at']);

/** Replaces every value in `value` by the mask, keeping the structure (arrays, objects) and nulls. */
function maskDeep(value: unknown): unknown {
  if (value === null || value === undefined) return value;
  if (Array.isArray(value)) return value.map(maskDeep);
  if (typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, IDENTIFIERS.has(key) ? inner : maskDeep(inner)]));
  }
  return MASK;
}

/** A record with its recipient details masked, marked `obfuscated: true`. */
export function maskRecord<T extends Record<string, unknown>>(record: T): T & { obfuscated: true } {
  return { ...(maskDeep(record) as T), obfuscated: true };
}

export interface DataControls {
  hide_pii_data: boolean;
  hide_message_content: boolean;
}

/** The record as a team member may see it in an environment with these controls. */
export function recipientView<T extends Record<string, unknown>>(record: T, controls: DataControls): T & { obfuscated: boolean } {
  return controls.hide_pii_data ? maskRecord(record) : { ...record, obfuscated: false };
}
