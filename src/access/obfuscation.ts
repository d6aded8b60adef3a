/**
 * Per-environment data controls (environments.md §4), applied on the server to every
 * management read of recipient data and message content: with `hide_pii_data`,
 * recipient details become a fixed mask (same shape, `"obfuscated": true`) and only
 * identifiers and timestamps show; with `hide_message_content`, message payloads
 * (rendered content, trigger data) are masked the same way.
 *
 * Masks keep only values the server knows to be identifiers, at the places it put them
 * (a record's own `id`, never an `id` key nested in custom properties), so data shaped to
 * look like an identifier is masked too.
 */

export const MASK = '••••••';

const NOTHING: ReadonlySet<string> = new Set();

/** A record's own fields that identify it rather than describe a person: never masked. */
const RECORD_IDENTIFIERS: ReadonlySet<string> = new Set(['id', '__typename', 'created_at', 'updated_at', 'inserted_at']);
/** Objects are identified by their collection as well. */
const OBJECT_IDENTIFIERS: ReadonlySet<string> = new Set([...RECORD_IDENTIFIERS, 'collection']);
/** The identifying fields of each entry of a record's `channel_data`. */
const CHANNEL_DATA_IDENTIFIERS: ReadonlySet<string> = new Set(['__typename', 'channel_id']);

const TIMESTAMP = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

/** Whether a kept field's value really is an identifier: a scalar, and a timestamp for `*_at` (those can be set by callers). */
function isIdentifierValue(key: string, value: unknown): boolean {
  if (value === null || value === undefined) return true;
  if (typeof value === 'object') return false;
  return key.endsWith('_at') ? typeof value === 'string' && TIMESTAMP.test(value) : true;
}

/**
 * Replaces every value in `value` by the mask, keeping the structure (arrays, objects)
 * and nulls; values under a key in `keep` (at any depth) are left as they are.
 */
export function maskDeep(value: unknown, keep: ReadonlySet<string> = NOTHING): unknown {
  if (value === null || value === undefined) return value;
  if (Array.isArray(value)) return value.map((inner) => maskDeep(inner, keep));
  if (typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, keep.has(key) ? inner : maskDeep(inner, keep)]));
  }
  return MASK;
}

/**
 * `value` with only its own scalar fields named in `keep` left as they are (not fields of
 * the same names nested deeper); everything else masked.
 */
export function maskExcept(value: unknown, keep: ReadonlySet<string>): unknown {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return maskDeep(value);
  return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, keep.has(key) && isIdentifierValue(key, inner) ? inner : maskDeep(inner)]));
}

/** A record (user, tenant, object) with its recipient details masked, marked `obfuscated: true`. */
export function maskRecord<T extends Record<string, unknown>>(record: T): T & { obfuscated: true } {
  const identifiers = record.__typename === 'Object' ? OBJECT_IDENTIFIERS : RECORD_IDENTIFIERS;
  const masked = Object.fromEntries(Object.entries(record).map(([key, value]) => {
    if (key === 'channel_data' && Array.isArray(value)) return [key, value.map((entry) => maskExcept(entry, CHANNEL_DATA_IDENTIFIERS))];
    return [key, identifiers.has(key) && isIdentifierValue(key, value) ? value : maskDeep(value)];
  }));
  return { ...(masked as T), obfuscated: true };
}

export interface DataControls {
  hide_pii_data: boolean;
  hide_message_content: boolean;
}

/** The record as a team member may see it in an environment with these controls. */
export function recipientView<T extends Record<string, unknown>>(record: T, controls: DataControls): T & { obfuscated: boolean } {
  return controls.hide_pii_data ? maskRecord(record) : { ...record, obfuscated: false };
}

/** Whether these controls hide anything: a view made under them is marked `obfuscated: true`. */
export function hidesAnything(controls: DataControls): boolean {
  return controls.hide_pii_data || controls.hide_message_content;
}

/** Masked message content keeps only its own typename. */
const CONTENT_IDENTIFIERS: ReadonlySet<string> = new Set(['__typename']);
/** Addresses in rendered content (whom it went to, from whom): recipient details under `hide_pii_data`. */
const CONTENT_ADDRESSES: ReadonlySet<string> = new Set(['to', 'cc', 'bcc', 'from', 'reply_to', 'token', 'tokens', 'device_token', 'connection', 'connections', 'phone_number', 'email']);

/**
 * A message payload (rendered content, trigger `data`, metadata) as a team member may see
 * it: every value masked with `hide_message_content`; with `hide_pii_data` alone, the
 * addresses in it.
 */
export function contentView(value: unknown, controls: DataControls): unknown {
  if (value === null || value === undefined) return value;
  if (controls.hide_message_content) return maskExcept(value, CONTENT_IDENTIFIERS);
  if (controls.hide_pii_data && typeof value === 'object' && !Array.isArray(value)) {
    return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, CONTENT_ADDRESSES.has(key) ? maskDeep(inner) : inner]));
  }
  return value;
}

/**
 * Diagnostics (delivery-log requests and responses, run step state, errors, event data)
 * quote content and recipient details alike: with either control on, everything but the
 * value's own structural fields in `keep` (statuses, counts, ids) is masked.
 */
export function diagnosticView(value: unknown, controls: DataControls, keep: ReadonlySet<string> = NOTHING): unknown {
  if (value === null || value === undefined) return value;
  return hidesAnything(controls) ? maskExcept(value, keep) : value;
}
