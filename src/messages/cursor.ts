import { sql, type RawBuilder } from 'kysely';
import { Invalid } from '../errors.ts';
import { isBackwards, type PageRequest } from '../http/pagination.ts';

/**
 * Keyset pagination over `(inserted_at, id)`, newest first (messages, runs, feeds).
 * The key carries the timestamp in whole microseconds, as Postgres stores it: a
 * JavaScript Date would round it to milliseconds and skip or repeat rows.
 */
export interface TimeKey {
  micros: string;
  id: string;
}

const KEY = /^(\d{1,18})_([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/;

/** The microseconds since the epoch of a table's `inserted_at`, as text (select it as `cursor_us`). */
export function cursorMicros(table: string): RawBuilder<string> {
  return sql<string>`(extract(epoch from ${sql.ref(`${table}.inserted_at`)}) * 1000000)::bigint::text`;
}

/** The page key of a row selected with `cursor_us`. */
export function timeKeyOf(row: { cursor_us: string; id: string }): string {
  return `${row.cursor_us}_${row.id}`;
}

function parseTimeKey(key: string, field: 'after' | 'before'): TimeKey {
  const match = KEY.exec(key);
  if (!match) throw Invalid.field(field, 'is not a valid cursor');
  return { micros: match[1], id: match[2] };
}

function keyValue(key: TimeKey): RawBuilder<unknown> {
  return sql`(timestamptz 'epoch' + ${key.micros}::bigint * interval '1 microsecond', ${key.id}::uuid)`;
}

/**
 * The page's bounds on `(table.inserted_at, table.id)` and its order: forwards (after)
 * goes to older rows, backwards (only `before`) to newer ones, nearest first.
 */
export function timePage(table: string, page: PageRequest): { where: RawBuilder<boolean>[]; direction: 'asc' | 'desc' } {
  const row = sql`(${sql.ref(`${table}.inserted_at`)}, ${sql.ref(`${table}.id`)})`;
  const where: RawBuilder<boolean>[] = [];
  if (page.after !== undefined) where.push(sql<boolean>`${row} < ${keyValue(parseTimeKey(page.after, 'after'))}`);
  if (page.before !== undefined) where.push(sql<boolean>`${row} > ${keyValue(parseTimeKey(page.before, 'before'))}`);
  return { where, direction: isBackwards(page) ? 'asc' : 'desc' };
}
