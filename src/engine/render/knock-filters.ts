import { createHash, createHmac } from 'node:crypto';
import { filters as builtInFilters, type Context, type FilterImplOptions } from 'liquidjs';
import { markdownToHtml } from './markdown.ts';
import { sessionOf } from './session.ts';
import { pluralForm } from './translations.ts';

/** What liquidjs binds `this` to in a filter. */
interface FilterThis {
  context: Context;
}

const DATE_STYLES = ['short', 'medium', 'long', 'full'] as const;
type DateStyle = (typeof DATE_STYLES)[number];

function toDate(value: unknown): Date | undefined {
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? undefined : value;
  if (typeof value === 'number') return new Date(value * 1000);
  if (typeof value !== 'string' || value.trim() === '') return undefined;
  const date = value === 'now' || value === 'today' ? new Date() : /^\d+$/.test(value) ? new Date(Number(value) * 1000) : new Date(value);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

function dateStyle(value: unknown): DateStyle {
  return DATE_STYLES.includes(value as DateStyle) ? (value as DateStyle) : 'short';
}

/** Runs an Intl formatter; an unknown locale, zone or currency leaves the value as it was. */
function formatOr(value: unknown, format: () => string): unknown {
  try {
    return format();
  } catch {
    return value;
  }
}

function offsetOf(date: Date, timeZone: string): string {
  const name = new Intl.DateTimeFormat('en-US', { timeZone, timeZoneName: 'longOffset' }).formatToParts(date).find((p) => p.type === 'timeZoneName')?.value;
  const offset = name?.replace(/^GMT/, '') ?? '';
  return offset === '' ? '+00:00' : offset;
}

/** `{{ timestamp | timezone: "America/New_York" }}` → `2023-12-31T19:30:00-05:00`. */
function timezone(value: unknown, timeZone: unknown): unknown {
  const date = toDate(value);
  if (!date || typeof timeZone !== 'string') return value;
  return formatOr(value, () => {
    const parts = Object.fromEntries(
      new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' })
        .formatToParts(date)
        .map((p) => [p.type, p.value]),
    );
    return `${parts.year}-${parts.month}-${parts.day}T${parts.hour}:${parts.minute}:${parts.second}${offsetOf(date, timeZone)}`;
  });
}

/**
 * liquidjs's `date`, which already takes Knock's time zone argument, with `%Z` printed as
 * the zone's abbreviation (`EST`) as in Knock's docs rather than its IANA name.
 */
function date(this: FilterThis, value: unknown, format?: unknown, timeZone?: unknown): unknown {
  let fmt = format;
  const when = toDate(value);
  if (typeof fmt === 'string' && fmt.includes('%Z') && typeof timeZone === 'string' && when) {
    const abbreviation = formatOr('', () => new Intl.DateTimeFormat('en-US', { timeZone, timeZoneName: 'short' }).formatToParts(when).find((p) => p.type === 'timeZoneName')?.value ?? '');
    if (abbreviation) fmt = fmt.replaceAll('%Z', String(abbreviation).replaceAll('%', '%%'));
  }
  return (builtInFilters.date as (this: FilterThis, ...args: unknown[]) => unknown).call(this, value, fmt, timeZone);
}

function formatDateInLocale(value: unknown, locale: unknown, style?: unknown): unknown {
  const date = toDate(value);
  if (!date) return value;
  return formatOr(value, () => new Intl.DateTimeFormat(String(locale ?? 'en'), { dateStyle: dateStyle(style), timeZone: 'UTC' }).format(date));
}

function formatDatetimeInLocale(value: unknown, locale: unknown, dateFormat?: unknown, timeFormat?: unknown): unknown {
  const date = toDate(value);
  if (!date) return value;
  return formatOr(value, () => new Intl.DateTimeFormat(String(locale ?? 'en'), { dateStyle: dateStyle(dateFormat), timeStyle: dateStyle(timeFormat), timeZone: 'UTC' }).format(date));
}

function formatNumber(value: unknown, locale?: unknown): unknown {
  const n = Number(value);
  if (value === null || value === '' || Number.isNaN(n)) return value;
  return formatOr(value, () => new Intl.NumberFormat(String(locale ?? 'en')).format(n));
}

function currencyFormatter(rounded: boolean) {
  return (value: unknown, currency?: unknown, locale?: unknown): unknown => {
    const n = Number(value);
    if (value === null || value === '' || Number.isNaN(n)) return value;
    const digits = rounded ? 0 : 2;
    return formatOr(value, () =>
      new Intl.NumberFormat(String(locale ?? 'en'), { style: 'currency', currency: String(currency ?? 'USD'), minimumFractionDigits: digits, maximumFractionDigits: digits }).format(n),
    );
  };
}

function fromJson(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}

function pluralize(value: unknown, singular: unknown, plural: unknown): unknown {
  return Number(value) === 1 ? singular : plural;
}

function titlecase(value: unknown): string {
  return String(value ?? '').replace(/(^|\s)(\S)/g, (_, space: string, first: string) => space + first.toUpperCase());
}

function hash(algorithm: 'md5' | 'sha256') {
  return (value: unknown): string => createHash(algorithm).update(String(value ?? '')).digest('hex');
}

function hmacSha256(value: unknown, key: unknown): string {
  return createHmac('sha256', String(key ?? '')).update(String(value ?? '')).digest('hex');
}

function intersect(left: unknown, right: unknown): unknown[] {
  if (!Array.isArray(left) || !Array.isArray(right)) return [];
  const keys = new Set(right.map((item) => JSON.stringify(item)));
  return left.filter((item) => keys.has(JSON.stringify(item)));
}

function compareVersions(left: unknown, right: unknown): number {
  const parse = (v: unknown) => {
    const [core, pre] = String(v ?? '').trim().replace(/^v/, '').split('+')[0].split(/-(.*)/s);
    return { core: core.split('.').map((n) => Number.parseInt(n, 10) || 0), pre: pre ?? '' };
  };
  const a = parse(left);
  const b = parse(right);
  for (let i = 0; i < Math.max(a.core.length, b.core.length, 3); i++) {
    const diff = (a.core[i] ?? 0) - (b.core[i] ?? 0);
    if (diff !== 0) return Math.sign(diff);
  }
  // A pre-release sorts before its release.
  if (a.pre === b.pre) return 0;
  if (a.pre === '') return 1;
  if (b.pre === '') return -1;
  return a.pre.localeCompare(b.pre, 'en', { numeric: true }) < 0 ? -1 : 1;
}

/**
 * `{{ "key" | t: name: value, count: n }}`: the recipient's translation of `key`, rendered
 * as Liquid with the run's variables and the given ones; the key itself when none exists.
 */
async function translate(this: FilterThis, key: unknown, ...args: unknown[]): Promise<unknown> {
  const session = sessionOf(this.context);
  const named: Record<string, unknown> = {};
  for (const arg of args) if (Array.isArray(arg) && arg.length === 2) named[String(arg[0])] = arg[1];
  const value = pluralForm(await session.translations.find(String(key)), named.count);
  if (typeof value !== 'string') return key;
  return session.renderText(value, { ...session.scope, ...named });
}

/** Knock's Liquid helpers (template-editor reference), by filter name. */
export const KNOCK_FILTERS: Record<string, FilterImplOptions> = {
  date,
  timezone,
  format_date_in_locale: formatDateInLocale,
  format_datetime_in_locale: formatDatetimeInLocale,
  format_number: formatNumber,
  currency: currencyFormatter(false),
  rounded_currency: currencyFormatter(true),
  from_json: fromJson,
  pluralize,
  titlecase,
  md5: hash('md5'),
  sha256: hash('sha256'),
  hmac_sha256: hmacSha256,
  intersect,
  compare_versions: compareVersions,
  // Its output is HTML by design, so HTML bodies do not escape it (markdown-it already escapes raw HTML).
  from_markdown: { handler: (value: unknown) => markdownToHtml(String(value ?? '')), raw: true },
  t: translate,
};
