import { Type } from 'typebox';
import { Invalid } from '../errors.ts';

/** Query parameters of Knock's cursor pagination. */
export const PageQuery = {
  after: Type.Optional(Type.String({ maxLength: 200, description: 'The cursor to fetch entries after.' })),
  before: Type.Optional(Type.String({ maxLength: 200, description: 'The cursor to fetch entries before.' })),
  page_size: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 50, description: 'The number of items per page (defaults to 50).' })),
};

export const PageInfo = Type.Object({
  __typename: Type.Literal('PageInfo'),
  after: Type.Union([Type.String(), Type.Null()]),
  before: Type.Union([Type.String(), Type.Null()]),
  page_size: Type.Integer(),
});

export interface PageInfoShape {
  __typename: 'PageInfo';
  after: string | null;
  before: string | null;
  page_size: number;
}

/**
 * Cursors are opaque to clients: base64url of the sort key of the row they point at.
 * Keys are the rows' own ids (or, for environments, their position), never a counter
 * shared across environments, so a cursor reveals nothing about other environments.
 */
export function encodeCursor(key: string): string {
  return Buffer.from(`k:${key}`).toString('base64url');
}

export function decodeCursor(cursor: string, field: 'after' | 'before'): string {
  const decoded = Buffer.from(cursor, 'base64url').toString();
  if (!decoded.startsWith('k:') || decoded.length < 3 || decoded.includes('\u0000')) throw Invalid.field(field, 'is not a valid cursor');
  return decoded.slice(2);
}

/** A page request resolved from query parameters. */
export interface PageRequest {
  after?: string;
  before?: string;
  size: number;
}

export function pageRequest(query: { after?: string; before?: string; page_size?: number }): PageRequest {
  return {
    after: query.after ? decodeCursor(query.after, 'after') : undefined,
    before: query.before ? decodeCursor(query.before, 'before') : undefined,
    size: query.page_size ?? 50,
  };
}

/** True when the page is fetched backwards (only `before` given): rows come newest-first. */
export function isBackwards(request: PageRequest): boolean {
  return request.before !== undefined && request.after === undefined;
}

/**
 * Shapes rows fetched with one extra row (size + 1) in the direction of travel into a
 * page in ascending key order, with cursors for the neighbouring pages.
 */
export function toPage<T>(rows: T[], request: PageRequest, keyOf: (row: T) => string): { rows: T[]; pageInfo: PageInfoShape } {
  const backwards = isBackwards(request);
  const hasMore = rows.length > request.size;
  let page = rows.slice(0, request.size);
  if (backwards) page = page.reverse();
  const first = page[0];
  const last = page[page.length - 1];
  const moreAfter = backwards ? true : hasMore;
  const moreBefore = backwards ? hasMore : request.after !== undefined;
  return {
    rows: page,
    pageInfo: {
      __typename: 'PageInfo',
      after: moreAfter && last !== undefined ? encodeCursor(keyOf(last)) : null,
      before: moreBefore && first !== undefined ? encodeCursor(keyOf(first)) : null,
      page_size: request.size,
    },
  };
}
