/**
 * Run-time evaluation of Knock condition groups (step, channel and preference
 * conditions share one model: Knock docs `concepts_conditions.mdx`). The shapes are the
 * ones `workflows/conditions.ts` validates; this module only decides true or false.
 * Pure: the clock is injected through `options.now`.
 */
import type { ConditionOperator } from '../workflows/conditions.ts';

/** Operators in the spec's `Condition.operator` enum that the workflow validator does not list; preference sets may hold them. */
export type ExtraConditionOperator = 'is_not_timestamp' | 'is_timestamp_on_or_after_date' | 'is_timestamp_before_date';

/** One `{variable, operator, argument}` check. */
export interface Condition {
  variable: string;
  operator: ConditionOperator | ExtraConditionOperator | (string & {});
  argument?: string | null;
}

/**
 * `{all: [...]}` (every item holds) or `{any: [...]}` (one item holds); an item is a
 * `Condition` or a nested group (the validator allows `{all}` inside `any`). Items are
 * `unknown` so stored step conditions (`ConditionGroupSchema`) pass without casts; a
 * malformed item never holds.
 */
export interface ConditionGroup {
  readonly all?: readonly unknown[] | null;
  readonly any?: readonly unknown[] | null;
}

/** What variables and dynamic arguments resolve against; absent scopes resolve to nothing. */
export interface ConditionContext {
  recipient?: unknown;
  actor?: unknown;
  data?: unknown;
  tenant?: unknown;
  vars?: unknown;
  refs?: unknown;
  workflow?: unknown;
  run?: unknown;
  [scope: string]: unknown;
}

export interface EvaluateOptions {
  /** The evaluation instant for `*_now` operators and relative timestamps; defaults to the current time. */
  now?: Date | number;
}

/**
 * The prefixes Knock resolves in variables and dynamic arguments ("Conditions scope" in
 * `concepts_conditions.mdx`). A non-JSON argument is read as a path only under one of
 * these, so a literal like `acme.com` stays a string.
 */
export const CONDITION_SCOPES = ['data', 'recipient', 'actor', 'vars', 'workflow', 'run', 'tenant', 'refs'] as const;
const SCOPES: ReadonlySet<string> = new Set(CONDITION_SCOPES);

/**
 * The value at a dot path (`data.items.0.name`; `items[0]` works too) or undefined when
 * any segment is missing. Own properties only, so `constructor` or `__proto__` never resolve.
 */
export function resolvePath(obj: unknown, path: string): unknown {
  if (path === '') return obj;
  let current = obj;
  for (const segment of path.replace(/\[(\d+)\]/g, '.$1').split('.')) {
    if (current === null || typeof current !== 'object') return undefined;
    if (!Object.hasOwn(current, segment)) return undefined;
    current = (current as Record<string, unknown>)[segment];
  }
  return current;
}

/** Whether the group holds; a missing or empty group holds (no conditions means "always"). */
export function evaluateConditions(
  group: ConditionGroup | null | undefined,
  context: ConditionContext,
  options: EvaluateOptions = {},
): boolean {
  if (group === null || group === undefined) return true;
  const now = toMillis(options.now ?? Date.now());
  return evaluateGroup(group, context, now);
}

/** Whether one condition holds. */
export function evaluateCondition(condition: Condition, context: ConditionContext, options: EvaluateOptions = {}): boolean {
  return evaluateOne(condition, context, toMillis(options.now ?? Date.now()));
}

function evaluateGroup(group: ConditionGroup, context: ConditionContext, now: number): boolean {
  const check = (item: unknown): boolean => {
    if (!isPlainObject(item)) return false;
    if ('all' in item || 'any' in item) return evaluateGroup(item, context, now);
    if (typeof item.variable !== 'string' || typeof item.operator !== 'string') return false;
    return evaluateOne(item as unknown as Condition, context, now);
  };
  if (Array.isArray(group.all)) return group.all.every(check);
  if (Array.isArray(group.any)) return group.any.length === 0 || group.any.some(check);
  return true;
}

/**
 * How a condition's `argument` reads (`concepts_conditions.mdx`, "Arguments"): valid JSON
 * is a static value (`"10"`, `"\"pro\""`, `"true"`, `"[1,2]"`); otherwise a
 * `<scope>.<path>` (or Liquid `{{ <scope>.<path> }}`) that resolves is a dynamic value;
 * anything else, including a path that does not resolve, is the string itself.
 */
export function resolveArgument(argument: string | null | undefined, context: ConditionContext): unknown {
  if (argument === null || argument === undefined) return null;
  try {
    return JSON.parse(argument);
  } catch {
    const path = /^\{\{\s*(.+?)\s*\}\}$/.exec(argument)?.[1] ?? argument;
    const scope = path.split('.', 1)[0];
    if (path.includes('.') && SCOPES.has(scope)) {
      const value = resolvePath(context, path);
      if (value !== undefined) return value;
    }
    return argument;
  }
}

/** Knock's `$message.<case>` arguments in message status conditions (`designing-workflows_step-conditions.mdx`). */
const MESSAGE_CASE = /^\$message\.([a-z_]+)$/;

/** Delivery status hierarchy used by message status conditions, lowest first (`designing-workflows_step-conditions.mdx`). */
const DELIVERY_RANK = ['undelivered', 'bounced', 'delivery_attempted', 'queued', 'not_sent', 'sent', 'delivered'];

function evaluateOne(condition: Condition, context: ConditionContext, now: number): boolean {
  const raw = resolvePath(context, condition.variable);
  // "Where data is not found at the path given by the variable, Knock falls back to an empty string."
  const value = raw === undefined ? '' : raw;
  const messageCase = typeof condition.argument === 'string' ? MESSAGE_CASE.exec(condition.argument)?.[1] : undefined;
  if (messageCase !== undefined) return evaluateMessageStatus(condition.operator, raw, messageCase);
  const arg = (): unknown => resolveArgument(condition.argument, context);

  switch (condition.operator) {
    case 'equal_to':
      return looseEqual(value, arg());
    case 'not_equal_to':
      return !looseEqual(value, arg());
    case 'greater_than':
      return compareWith(value, arg(), (c) => c > 0);
    case 'less_than':
      return compareWith(value, arg(), (c) => c < 0);
    case 'greater_than_or_equal_to':
      return compareWith(value, arg(), (c) => c >= 0);
    case 'less_than_or_equal_to':
      return compareWith(value, arg(), (c) => c <= 0);
    case 'contains':
      return contains(value, arg());
    case 'not_contains':
      return !contains(value, arg());
    case 'contains_all':
      return containsAll(value, arg());
    case 'not_contains_all':
      return !containsAll(value, arg());
    case 'is_between':
      return isBetween(value, arg());
    case 'empty':
      return isEmpty(raw);
    case 'not_empty':
      return !isEmpty(raw);
    case 'exists':
      return raw !== undefined && raw !== null;
    case 'not_exists':
      return raw === undefined || raw === null;
    case 'is_timestamp':
      return toTimestamp(raw, now) !== undefined;
    case 'is_not_timestamp':
      return toTimestamp(raw, now) === undefined;
    case 'is_timestamp_before':
      return compareTimes(raw, timestampArgument(condition.argument, context, now), now, (t, a) => t < a);
    case 'is_timestamp_on_or_after':
      return compareTimes(raw, timestampArgument(condition.argument, context, now), now, (t, a) => t >= a);
    case 'is_timestamp_before_date':
      return compareTimes(raw, timestampArgument(condition.argument, context, now), now, (t, a) => utcDay(t) < utcDay(a));
    case 'is_timestamp_on_or_after_date':
      return compareTimes(raw, timestampArgument(condition.argument, context, now), now, (t, a) => utcDay(t) >= utcDay(a));
    case 'is_timestamp_between':
      return isTimestampBetween(raw, condition.argument, context, now);
    case 'is_timestamp_before_now':
      return compareTimes(raw, now, now, (t, n) => t < n);
    case 'is_timestamp_on_or_after_now':
      return compareTimes(raw, now, now, (t, n) => t >= n);
    // Herald has no audiences, so no recipient is ever a member of one.
    case 'is_audience_member':
      return false;
    case 'is_not_audience_member':
      return true;
    default:
      // An operator we do not know cannot be shown to hold.
      return false;
  }
}

/**
 * Message status conditions: `refs.<ref>.delivery_status` holds the delivery status of the
 * step's message (or `skipped`/nothing when the step produced none) and is compared by the
 * hierarchy; `refs.<ref>.engagement_status` holds the list of engagement statuses.
 */
function evaluateMessageStatus(operator: string, status: unknown, messageCase: string): boolean {
  const engagements = Array.isArray(status) ? status : typeof status === 'string' && status !== '' ? [status] : [];
  const has = (s: string): boolean => engagements.includes(s);
  const rank = (s: unknown): number => (typeof s === 'string' ? DELIVERY_RANK.indexOf(s) : -1);
  switch (operator) {
    case 'equal_to':
      return status === messageCase || (messageCase === 'skipped' && (status === undefined || status === null));
    case 'not_equal_to':
      return !evaluateMessageStatus('equal_to', status, messageCase);
    case 'greater_than':
      return rank(status) > rank(messageCase);
    case 'greater_than_or_equal_to':
      return rank(status) >= rank(messageCase) && rank(status) >= 0;
    case 'less_than':
      return rank(status) < rank(messageCase);
    case 'less_than_or_equal_to':
      return rank(status) <= rank(messageCase);
    case 'contains':
      if (messageCase === 'seen_not_read') return has('seen') && !has('read');
      if (messageCase === 'read_not_link_clicked') return has('read') && !has('link_clicked');
      return has(messageCase);
    case 'not_contains':
      return !evaluateMessageStatus('contains', status, messageCase);
    default:
      return false;
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `""`, `null`, `[]` or not set (`concepts_conditions.mdx`, `empty`). */
function isEmpty(value: unknown): boolean {
  return value === undefined || value === null || value === '' || (Array.isArray(value) && value.length === 0);
}

const NUMERIC = /^\s*-?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$/;

/** A number, or a string that spells one. */
function asNumber(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value === 'string' && NUMERIC.test(value)) return Number(value);
  return undefined;
}

/**
 * Equality that lets a number or boolean match its string spelling (`"5"` = `5`,
 * `"true"` = `true`), since trigger data and arguments typed in an editor often disagree
 * on type; lists and objects compare item by item.
 */
export function looseEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((item, i) => looseEqual(item, b[i]));
  if (isPlainObject(a) && isPlainObject(b)) {
    const keys = Object.keys(a);
    return keys.length === Object.keys(b).length && keys.every((k) => Object.hasOwn(b, k) && looseEqual(a[k], b[k]));
  }
  if (typeof a === 'number' || typeof b === 'number') {
    const [x, y] = [asNumber(a), asNumber(b)];
    return x !== undefined && y !== undefined && x === y;
  }
  if (typeof a === 'boolean' && typeof b === 'string') return String(a) === b;
  if (typeof b === 'boolean' && typeof a === 'string') return String(b) === a;
  return false;
}

/** Orders numbers (or numeric strings) numerically, other strings by code point; anything else is not comparable. */
function compare(a: unknown, b: unknown): number | undefined {
  const [x, y] = [asNumber(a), asNumber(b)];
  if (x !== undefined && y !== undefined) return x - y;
  if (typeof a === 'string' && typeof b === 'string') return a < b ? -1 : a > b ? 1 : 0;
  return undefined;
}

function compareWith(a: unknown, b: unknown, test: (c: number) => boolean): boolean {
  const c = compare(a, b);
  return c !== undefined && test(c);
}

/**
 * `contains` (`concepts_conditions.mdx`): text in text is a substring test; text and a
 * list is membership (whichever side is the list); two lists share at least one item.
 */
function contains(value: unknown, arg: unknown): boolean {
  if (Array.isArray(value) && Array.isArray(arg)) return arg.some((a) => value.some((v) => looseEqual(v, a)));
  if (Array.isArray(value)) return value.some((v) => looseEqual(v, arg));
  if (Array.isArray(arg)) return arg.some((a) => looseEqual(value, a));
  if (typeof value === 'string' && (typeof arg === 'string' || typeof arg === 'number')) return value.includes(String(arg));
  return false;
}

/** `contains_all` is for lists: every argument item is in the variable (a single argument counts as a list of one). */
function containsAll(value: unknown, arg: unknown): boolean {
  if (!Array.isArray(value)) return false;
  const wanted = Array.isArray(arg) ? arg : [arg];
  return wanted.every((a) => value.some((v) => looseEqual(v, a)));
}

/** Bounds given as a JSON list `[low, high]` or as `"low,high"`. */
function bounds(arg: unknown): [unknown, unknown] | undefined {
  if (Array.isArray(arg) && arg.length === 2) return [arg[0], arg[1]];
  if (typeof arg === 'string') {
    const parts = arg.split(',');
    if (parts.length === 2) return [parts[0].trim(), parts[1].trim()];
  }
  return undefined;
}

/** `is_between`: low ≤ value ≤ high, both bounds inclusive, numbers only. */
function isBetween(value: unknown, arg: unknown): boolean {
  const range = bounds(arg);
  const [v, low, high] = [asNumber(value), asNumber(range?.[0]), asNumber(range?.[1])];
  return v !== undefined && low !== undefined && high !== undefined && low <= v && v <= high;
}

const ISO_8601 = /^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)(Z|[+-]\d{2}:?\d{2})?)?$/i;
const RELATIVE = /^(\d+(?:\.\d+)?)\s*(minute|hour|day|week)s?\s+(ago|from now)$/i;
const UNIT_MS: Record<string, number> = { minute: 60_000, hour: 3_600_000, day: 86_400_000, week: 604_800_000 };
/** Unix times at or above this are taken as milliseconds (as seconds it would be beyond year 5000). */
const MILLIS_THRESHOLD = 1e11;

function toMillis(time: Date | number): number {
  return time instanceof Date ? time.getTime() : time;
}

/**
 * A timestamp as epoch milliseconds: an ISO-8601 string (no zone means UTC), a unix time
 * (number or digit string; seconds, or milliseconds when ≥ 1e11), a `Date`, or a relative
 * time such as `7 days ago` / `3 hours from now` measured from `now`.
 */
function toTimestamp(value: unknown, now: number): number | undefined {
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? undefined : value.getTime();
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return undefined;
    return Math.abs(value) >= MILLIS_THRESHOLD ? value : value * 1000;
  }
  if (typeof value !== 'string') return undefined;
  const text = value.trim();
  if (/^-?\d+(\.\d+)?$/.test(text)) return toTimestamp(Number(text), now);
  const relative = RELATIVE.exec(text);
  if (relative) {
    const offset = Number(relative[1]) * UNIT_MS[relative[2].toLowerCase()];
    return relative[3].toLowerCase() === 'ago' ? now - offset : now + offset;
  }
  const iso = ISO_8601.exec(text);
  if (!iso) return undefined;
  const [, date, time, zone] = iso;
  const normalizedZone = zone === undefined ? 'Z' : zone.toUpperCase() === 'Z' ? 'Z' : zone.replace(/^([+-]\d{2})(\d{2})$/, '$1:$2');
  const millis = Date.parse(time === undefined ? `${date}T00:00:00Z` : `${date}T${time}${normalizedZone}`);
  return Number.isNaN(millis) ? undefined : millis;
}

/** A timestamp argument: a static (JSON) value, a dynamic path, a Liquid `{{ path }}`, or relative text. */
function timestampArgument(argument: string | null | undefined, context: ConditionContext, now: number): number | undefined {
  return toTimestamp(resolveArgument(argument, context), now);
}

function compareTimes(value: unknown, against: number | undefined, now: number, test: (t: number, a: number) => boolean): boolean {
  const t = toTimestamp(value, now);
  return t !== undefined && against !== undefined && test(t, against);
}

function utcDay(millis: number): number {
  return Math.floor(millis / UNIT_MS.day);
}

/** `is_timestamp_between`: start ≤ value ≤ end; each bound may itself be a dynamic path. */
function isTimestampBetween(value: unknown, argument: string | null | undefined, context: ConditionContext, now: number): boolean {
  const range = bounds(resolveArgument(argument, context));
  if (!range) return false;
  const bound = (b: unknown): number | undefined => toTimestamp(typeof b === 'string' ? resolveArgument(b, context) : b, now);
  const [start, end] = [bound(range[0]), bound(range[1])];
  return start !== undefined && compareTimes(value, end, now, (t, e) => t >= start && t <= e);
}
