import fc from 'fast-check';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHerald, type TestHerald } from '../support/herald.ts';

/**
 * targets.md, Reliability / Bad input: every implemented endpoint is fuzzed with
 * ≥ 10,000 generated malformed requests — bodies, path params, query strings, headers,
 * content types, oversized payloads, unknown keys. Every response must be < 500 and,
 * when it is an error, JSON in Knock's shape with `status` equal to the HTTP status.
 *
 * Routes are read from the OpenAPI documents Herald serves, so routes added later are
 * fuzzed without touching this file; bodies are derived from each route's JSON schema
 * (valid values, then mutated) so requests also get past validation into the database.
 * Reproduce a failure with HERALD_FUZZ_SEED=<seed printed by fast-check>.
 */

const RUNS = { data: 7_000, mgmt: 3_000, other: 300, concurrent: 100 };
/** Requests sent at once per run of the concurrent property (identifies are group-committed). */
const CONCURRENCY = 10;
const SEED = process.env.HERALD_FUZZ_SEED ? Number(process.env.HERALD_FUZZ_SEED) : undefined;

let herald: TestHerald;
let sk: string;
let pk: string;
let serviceToken: string;
const CHANNEL = '3f2a0c5e-8d4b-4e61-9a7f-2b6c1d0e9f48';
const apiKeyIds: string[] = [];

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
interface Schema {
  $ref?: string;
  type?: string;
  enum?: unknown[];
  const?: unknown;
  anyOf?: Schema[];
  oneOf?: Schema[];
  allOf?: Schema[];
  nullable?: boolean;
  format?: string;
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  minItems?: number;
  maxItems?: number;
  items?: Schema;
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: boolean | Schema;
  patternProperties?: Record<string, Schema>;
  propertyNames?: Schema;
}

interface Operation {
  api: 'data' | 'mgmt' | 'other';
  method: string;
  /** e.g. `/v1/users/{user_id}/preferences/{id}` */
  path: string;
  query: Record<string, Schema>;
  body?: Schema;
}

interface FuzzRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  payload?: string;
}

const stats = { sent: 0, byStatus: new Map<number, number>() };

// ---------------------------------------------------------------------------
// Nasty values
// ---------------------------------------------------------------------------

const loneSurrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c));
/** Single characters Postgres, JSON, URLs or terminals find awkward. */
const nastyChar = fc.oneof(
  fc.constantFrom('\u0000', '\u0001', '\u001f', '\u007f', '\u0085', '\u00a0', '\u2028', '\u2029', '\u202e', '\ufeff', '\uffff', '\ufffd', '\\', '"', "'", '%', '/', '?', '#', '&', '=', '+', '.', '\n', '\r', '\t', ' ', '😀', '\u{10ffff}', 'ß', 'İ'),
  loneSurrogate,
);
const nastyString: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.string({ unit: fc.oneof({ weight: 3, arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 }) }, nastyChar), maxLength: 40 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      '', ' ', '\u0000', 'a\u0000b', '\ud800', 'x\udfff', '%00', '%', '%zz', '..', '../../etc/passwd', "' OR 1=1 --", '"; DROP TABLE users; --',
      '${process.exit()}', '{{7*7}}', '__proto__', 'constructor', 'prototype', 'toString', 'null', 'undefined', 'NaN', '-1', '0', '1e309',
      '9223372036854775808', 'true', '[]', '{}', '<script>alert(1)</script>', 'development', 'production', 'default', CHANNEL,
    ),
  },
  { weight: 1, arbitrary: fc.constantFrom(255, 256, 257, 1_000, 4_097, 10_001, 70_000).chain((n) => fc.constantFrom('x', '日', '😀', '\u0000').map((c) => c.repeat(n))) },
);
const nastyKey = fc.oneof({ weight: 3, arbitrary: nastyString }, { weight: 1, arbitrary: fc.constantFrom('id', 'name', 'email', 'users', 'user_ids', 'data', 'settings', 'slug', 'kind', '__typename', 'channel_data', 'preferences') });

const scalarJunk: fc.Arbitrary<Json> = fc.oneof(
  nastyString,
  fc.integer(),
  fc.constantFrom(0, -1, 1e308, -1e308, 2 ** 53 + 1, 0.1, -0, 9_223_372_036_854_775_807),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.boolean(),
  fc.constant(null),
);
const { junk } = fc.letrec<{ junk: Json }>((tie) => ({
  junk: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    { weight: 4, arbitrary: scalarJunk },
    { weight: 1, arbitrary: fc.array(tie('junk'), { maxLength: 4 }) },
    { weight: 1, arbitrary: fc.dictionary(nastyKey, tie('junk'), { maxKeys: 4 }) },
  ),
}));

// ---------------------------------------------------------------------------
// Schema → values, and mutations of them
// ---------------------------------------------------------------------------

let components: Record<string, Schema> = {};

function resolve(schema: Schema): Schema {
  if (!schema.$ref) return schema;
  return components[schema.$ref.split('/').pop()!] ?? {};
}

/** Values that (mostly) satisfy `schema`: enough to get past validation into the handlers. */
function fromSchema(input: Schema, depth = 0): fc.Arbitrary<Json> {
  const schema = resolve(input);
  if (depth > 6) return fc.constant(null);
  let arb: fc.Arbitrary<Json>;
  if (schema.enum) arb = fc.constantFrom(...(schema.enum as Json[]));
  else if (schema.const !== undefined) arb = fc.constant(schema.const as Json);
  else if (schema.anyOf ?? schema.oneOf) arb = fc.oneof(...(schema.anyOf ?? schema.oneOf)!.map((s) => fromSchema(s, depth + 1)));
  else if (schema.allOf) arb = fromSchema(schema.allOf[0], depth + 1);
  else {
    switch (schema.type) {
      case 'string':
        arb = stringFromSchema(schema);
        break;
      case 'integer':
        arb = fc.integer({ min: schema.minimum ?? -1000, max: schema.maximum ?? 1000 });
        break;
      case 'number':
        arb = fc.double({ noNaN: true, noDefaultInfinity: true });
        break;
      case 'boolean':
        arb = fc.boolean();
        break;
      case 'null':
        arb = fc.constant(null);
        break;
      case 'array': {
        const min = schema.minItems ?? 0;
        arb = fc.array(schema.items ? fromSchema(schema.items, depth + 1) : junk, { minLength: min, maxLength: Math.max(min, Math.min(schema.maxItems ?? 3, 3)) });
        break;
      }
      case 'object':
      case undefined:
        arb = schema.properties || schema.additionalProperties || schema.patternProperties || schema.type ? objectFromSchema(schema, depth) : junk;
        break;
      default:
        arb = junk;
    }
  }
  return schema.nullable ? fc.oneof({ weight: 5, arbitrary: arb }, { weight: 1, arbitrary: fc.constant(null) }) : arb;
}

function stringFromSchema(schema: Schema): fc.Arbitrary<Json> {
  if (schema.format === 'uuid') return fc.oneof(fc.uuid(), fc.constant(CHANNEL));
  if (schema.format === 'date-time') return fc.date({ min: new Date('1970-01-01'), max: new Date('2100-01-01'), noInvalidDate: true }).map((d) => d.toISOString());
  if (schema.pattern) return fc.stringMatching(new RegExp(schema.pattern)).filter((s) => s.length <= (schema.maxLength ?? 64));
  const min = schema.minLength ?? 0;
  return fc.oneof(
    fc.string({ unit: 'grapheme', minLength: Math.max(min, 1), maxLength: Math.max(min, Math.min(schema.maxLength ?? 12, 12)) }),
    fc.constantFrom('fuzz-user', 'fuzz-user-2', 'fuzz-tenant', 'default', 'Europe/Berlin', 'alice@example.com'),
  );
}

function objectFromSchema(schema: Schema, depth: number): fc.Arbitrary<Json> {
  const shape: Record<string, fc.Arbitrary<Json>> = {};
  for (const [key, value] of Object.entries(schema.properties ?? {})) shape[key] = fromSchema(value, depth + 1);
  const known = fc.record(shape, { requiredKeys: schema.required?.filter((k) => k in shape) ?? [] });
  const extra = schema.additionalProperties ?? schema.patternProperties?.[Object.keys(schema.patternProperties)[0]];
  if (!extra) return known as fc.Arbitrary<Json>;
  const values = extra === true ? junk : fromSchema(extra as Schema, depth + 1);
  const keys = schema.propertyNames ? (stringFromSchema(resolve(schema.propertyNames)) as fc.Arbitrary<string>) : fc.string({ minLength: 1, maxLength: 10 });
  return fc.tuple(known, fc.dictionary(keys, values, { maxKeys: 2 })).map(([k, e]) => ({ ...e, ...k }) as Json);
}

/** Every node of a JSON value as a path of keys. */
function pathsOf(value: Json, prefix: Array<string | number> = [], out: Array<Array<string | number>> = []): Array<Array<string | number>> {
  out.push(prefix);
  if (Array.isArray(value)) value.forEach((v, i) => pathsOf(v, [...prefix, i], out));
  else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) pathsOf(v, [...prefix, k], out);
  return out;
}

type Mutation = { kind: 'replace' | 'add-key' | 'remove'; at: number; key: string; value: Json };
const mutation: fc.Arbitrary<Mutation> = fc.record({ kind: fc.constantFrom('replace', 'replace', 'add-key', 'remove'), at: fc.nat(), key: nastyKey, value: junk }) as fc.Arbitrary<Mutation>;

/** A copy of `value` with one node replaced, one unknown key added, or one key removed. */
function mutate(value: Json, { kind, at, key, value: replacement }: Mutation): Json {
  const copy = structuredClone(value);
  const paths = pathsOf(copy);
  const path = paths[at % paths.length];
  if (path.length === 0) return kind === 'replace' ? replacement : copy;
  let parent = copy as Record<string | number, Json>;
  for (const step of path.slice(0, -1)) parent = parent[step] as Record<string | number, Json>;
  const last = path[path.length - 1];
  const node = parent[last];
  if (kind === 'replace') parent[last] = replacement;
  else if (kind === 'remove' && !Array.isArray(parent)) delete parent[last];
  else if (node && typeof node === 'object' && !Array.isArray(node)) (node as Record<string, Json>)[key] = replacement;
  else parent[last] = replacement;
  return copy;
}

// ---------------------------------------------------------------------------
// Request parts
// ---------------------------------------------------------------------------

/** encodeURIComponent, except that lone surrogates become their (invalid) 3-byte UTF-8 forms. */
function encode(text: string): string {
  let out = '';
  for (const ch of text) {
    try {
      out += encodeURIComponent(ch);
    } catch {
      const c = ch.charCodeAt(0);
      out += [0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63)].map((b) => `%${b.toString(16).toUpperCase()}`).join('');
    }
  }
  return out;
}

const rawSegment = fc.oneof(
  fc.constantFrom('%00', 'a%00b', '%', '%zz', '%E0%A4%A', '%C0%80', '%ED%A0%80', '%FF', '%2F', 'a%2Fb', '..', '%2e%2e', '.', '%F0%9F%98%80', '%25', '+', 'a;b', 'a,b', '%20'),
  fc.constantFrom(256, 257, 1_025, 5_000, 17_000).map((n) => 'a'.repeat(n)),
  fc.constantFrom(257, 400).map((n) => '%E6%97%A5'.repeat(n)),
);

function knownValues(path: string, param: string): string[] {
  if (param === 'user_id') return ['fuzz-user', 'fuzz-user-2', 'nobody'];
  if (param === 'channel_id') return [CHANNEL, '00000000-0000-4000-8000-000000000000'];
  if (param === 'environment_slug') return ['development', 'production', 'fuzz-env', 'nowhere'];
  if (path.includes('/preferences/')) return ['default', 'fuzz-tenant'];
  if (path.includes('/tenants/')) return ['fuzz-tenant', 'nobody'];
  if (path.includes('/api_keys/')) return apiKeyIds.length > 0 ? apiKeyIds : ['00000000-0000-4000-8000-000000000000'];
  return ['00000000-0000-4000-8000-000000000000'];
}

function pathParam(path: string, param: string): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 5, arbitrary: fc.constantFrom(...knownValues(path, param)).map(encode) },
    { weight: 4, arbitrary: nastyString.map(encode) },
    { weight: 2, arbitrary: rawSegment },
  );
}

function queryValue(schema?: Schema): fc.Arbitrary<unknown> {
  return fc.oneof(
    { weight: 3, arbitrary: schema ? fromSchema(schema).map((v) => (typeof v === 'object' && v !== null ? v : String(v))) : nastyString },
    { weight: 3, arbitrary: nastyString },
    { weight: 1, arbitrary: fc.array(nastyString, { maxLength: 3 }) },
    { weight: 1, arbitrary: fc.dictionary(nastyKey, nastyString, { maxKeys: 2 }) },
    { weight: 1, arbitrary: fc.constantFrom('-1', '0', '101', '1e309', '0x10', ' 5', 'garbage', Buffer.from('seq:99999999999999999999').toString('base64url'), Buffer.from('seq:-1').toString('base64url'), Buffer.from('seq:1').toString('base64url'), ...['k:', 'k:\u0000', 'k:fuzz-user', `k:${'x'.repeat(300)}`, 'k:\ud800'].map((c) => Buffer.from(c).toString('base64url'))) },
  );
}

function serializeQuery(entries: Array<[string, unknown]>): string {
  const parts: string[] = [];
  const add = (key: string, value: unknown) => {
    if (Array.isArray(value)) value.forEach((v) => add(`${key}[]`, v));
    else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) add(`${key}[${encode(k)}]`, v);
    else parts.push(`${key}=${encode(String(value))}`);
  };
  for (const [key, value] of entries) add(encode(key), value);
  return parts.join('&');
}

const rawQuery = fc.constantFrom(
  'page_size=-1', 'page_size=0', 'page_size=1e2', 'page_size[]=1', 'after=garbage', 'before=%00', 'include=x', 'include[0][1][2][3][4][5]=x',
  '%', '&&&', '=', 'a=%zz&%=1', '__proto__[polluted]=1', 'constructor[prototype][polluted]=1', `after=${'A'.repeat(5_000)}`, 'limit=-1', 'limit=abc',
  'resolve_full_preference_settings=maybe', `name=${'%00'.repeat(10)}`, `tenant_id=${'x'.repeat(3_000)}`, 'include[]=preferences&include[]=preferences&include[]=preferences&include[]=preferences&include[]=preferences&include[]=preferences',
);

function queryString(op: Operation): fc.Arbitrary<string> {
  const keys = [...Object.keys(op.query), 'foo', '__proto__', 'page_size', 'after'];
  const entry = fc.constantFrom(...keys).chain((key) => fc.tuple(fc.constant(key), queryValue(op.query[key])));
  return fc.oneof(
    { weight: 4, arbitrary: fc.constant('') },
    { weight: 4, arbitrary: fc.array(entry, { minLength: 1, maxLength: 4 }).map(serializeQuery) },
    { weight: 2, arbitrary: rawQuery },
  );
}

const asciiHeader = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 80 });

function authorization(api: Operation['api']): fc.Arbitrary<string | undefined> {
  const right = api === 'mgmt' ? serviceToken : sk;
  return fc.oneof(
    { weight: 40, arbitrary: fc.constant(`Bearer ${right}`) },
    { weight: 2, arbitrary: fc.constant(`Bearer ${pk}`) },
    { weight: 2, arbitrary: fc.constant(`Bearer ${api === 'mgmt' ? sk : serviceToken}`) },
    { weight: 2, arbitrary: fc.constant(undefined) },
    {
      weight: 4,
      arbitrary: fc.oneof(
        asciiHeader,
        asciiHeader.map((s) => `Bearer ${s}`),
        asciiHeader.map((s) => `Bearer sk_development_${s}`),
        fc.constantFrom(right, `Basic ${right}`, `Bearer ${right} extra`, `Bearer  ${right}`, `bearer ${right}`, 'Bearer', 'Bearer ', `Bearer ${right.slice(0, -1)}`, `Bearer ${'k'.repeat(8_000)}`),
      ),
    },
  );
}

const contentType = fc.constantFrom(
  'text/plain', 'text/plain; charset=utf-8', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/octet-stream',
  'application/xml', '', 'application/json; charset=latin1', 'APPLICATION/JSON', 'application/json;;', 'application/vnd.api+json', '*/*', 'application/jsonx',
);

/** A raw payload that is not the JSON of any value the schema describes. */
const rawPayload = fc.oneof(
  fc.constantFrom('{', '{"a":', '{"a":1,}', "{'a':1}", '[1,2', 'nul', 'NaN', 'undefined', '{"a":1}garbage', '\ufeff{}', '""', '0', 'null', 'true', '[]', ' ', '\u0000', '{"a":"\\u0000"}', '{"a":"\\ud800"}', '{"\\u0000":1}', '{"a":1,"a":2}', '{"__proto__":{"x":1}}', '{"constructor":{"prototype":{"x":1}}}', '{"a":1e999999}', '{"a":-0}', '{"a":123456789012345678901234567890}'),
  fc.integer({ min: 50, max: 5_000 }).map((n) => `{"a":${'['.repeat(n)}${']'.repeat(n)}}`),
  fc.integer({ min: 50, max: 2_000 }).map((n) => `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`),
  fc.integer({ min: 50, max: 2_000 }).map((n) => `{"users":[${'['.repeat(n)}${']'.repeat(n)}]}`),
  fc.string({ unit: 'binary', maxLength: 200 }),
);

/** One generated request for `op`. */
function request(op: Operation): fc.Arbitrary<FuzzRequest> {
  const params = [...op.path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
  const path = fc.tuple(...params.map((p) => pathParam(op.path, p))).map((values) => {
    let url = op.path;
    params.forEach((p, i) => (url = url.replace(`{${p}}`, values[i])));
    return url;
  });
  const json = op.body ? fromSchema(op.body) : junk;
  const value = fc.oneof(
    { weight: 2, arbitrary: json },
    { weight: 6, arbitrary: fc.tuple(json, mutation).map(([v, m]) => mutate(v, m)) },
    { weight: 2, arbitrary: junk },
    { weight: 1, arbitrary: fc.tuple(json, fc.constantFrom(200_000, 270_000, 600_000)).map(([v, n]) => (v && typeof v === 'object' && !Array.isArray(v) ? { ...v, blob: 'x'.repeat(n) } : v)) },
  );
  const body = fc.oneof(
    { weight: 8, arbitrary: fc.tuple(value, fc.oneof({ weight: 9, arbitrary: fc.constant('application/json') }, { weight: 1, arbitrary: contentType })).map(([v, ct]) => ({ payload: JSON.stringify(v), contentType: ct as string | undefined })) },
    { weight: 2, arbitrary: fc.tuple(rawPayload, fc.oneof({ weight: 3, arbitrary: fc.constant('application/json') }, { weight: 1, arbitrary: contentType })).map(([payload, ct]) => ({ payload, contentType: ct as string | undefined })) },
    { weight: 1, arbitrary: fc.constantFrom({ payload: undefined, contentType: undefined }, { payload: undefined, contentType: 'application/json' }, { payload: '', contentType: 'application/json' }) },
  );
  const method = fc.oneof({ weight: 12, arbitrary: fc.constant(op.method) }, { weight: 1, arbitrary: fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS') });
  const extraHeaders = fc.dictionary(fc.constantFrom('idempotency-key', 'x-knock-user-token', 'accept', 'x-forwarded-for', 'x-request-id', 'cookie'), asciiHeader, { maxKeys: 2 });
  return fc
    .record({ method, path, query: queryString(op), body, auth: authorization(op.api), extraHeaders })
    .map(({ method: m, path: p, query, body: b, auth, extraHeaders: extra }) => {
      const headers: Record<string, string> = { ...extra };
      if (auth !== undefined) headers.authorization = auth;
      const sendsBody = m !== 'GET' && m !== 'HEAD';
      if (sendsBody && b.contentType !== undefined) headers['content-type'] = b.contentType;
      return { method: m, url: query ? `${p}?${query}` : p, headers, payload: sendsBody ? b.payload : undefined };
    });
}

// ---------------------------------------------------------------------------
// Sending and checking
// ---------------------------------------------------------------------------

function describeRequest(req: FuzzRequest, res: LightMyRequestResponse): string {
  const payload = req.payload === undefined ? '' : ` payload(${req.payload.length})=${JSON.stringify(req.payload.slice(0, 300))}`;
  return `${req.method} ${req.url.slice(0, 300)} headers=${JSON.stringify(req.headers).slice(0, 300)}${payload} → ${res.statusCode} ${res.body.slice(0, 500)}`;
}

/** The invariants of every response. Throws (with the request) when one does not hold. */
function check(req: FuzzRequest, res: LightMyRequestResponse): void {
  stats.byStatus.set(res.statusCode, (stats.byStatus.get(res.statusCode) ?? 0) + 1);
  const where = () => describeRequest(req, res);
  if (res.statusCode >= 500) throw new Error(`5xx for bad input: ${where()}`);
  if (req.method === 'HEAD' || res.statusCode === 204) return;
  let body: unknown;
  try {
    body = JSON.parse(res.body);
  } catch {
    throw new Error(`response is not JSON: ${where()}`);
  }
  if (!String(res.headers['content-type']).startsWith('application/json')) throw new Error(`content-type is not JSON: ${where()}`);
  if (res.statusCode >= 400) {
    const error = body as Record<string, unknown>;
    if (typeof error.code !== 'string' || typeof error.message !== 'string' || typeof error.type !== 'string' || error.status !== res.statusCode) {
      throw new Error(`error is not in Knock's shape: ${where()}`);
    }
    if (res.statusCode === 422 && !Array.isArray(error.errors)) throw new Error(`422 without errors: ${where()}`);
  }
}

async function send(req: FuzzRequest): Promise<LightMyRequestResponse> {
  stats.sent++;
  const res = await herald.app!.inject({
    method: req.method as 'GET',
    url: req.url,
    headers: req.headers,
    ...(req.payload === undefined ? {} : { payload: req.payload }),
  });
  check(req, res);
  return res;
}

/** Users, a tenant, channel data and preferences for the fuzzed requests to find (again). */
async function seed(): Promise<void> {
  const auth = { authorization: `Bearer ${sk}` };
  for (const id of ['fuzz-user', 'fuzz-user-2']) {
    await herald.app!.inject({
      method: 'PUT',
      url: `/v1/users/${id}`,
      headers: auth,
      payload: { name: 'Fuzz', email: `${id}@example.com`, channel_data: { [CHANNEL]: { tokens: ['t'] } }, preferences: { default: { workflows: { w: true } }, 'fuzz-tenant': { categories: { c: false } } } },
    });
  }
  await herald.app!.inject({ method: 'PUT', url: '/v1/tenants/fuzz-tenant', headers: auth, payload: { name: 'Fuzz tenant' } });
}

async function fuzz(api: Operation['api'], runs: number): Promise<void> {
  const ops = operations.filter((op) => op.api === api);
  expect(ops.length).toBeGreaterThan(0);
  const before = stats.sent;
  let sinceSeed = 0;
  await fc.assert(
    fc.asyncProperty(fc.constantFrom(...ops).chain(request), async (req) => {
      if (++sinceSeed % 250 === 0) await seed();
      await send(req);
    }),
    { numRuns: runs, seed: SEED, verbose: 0 },
  );
  expect(stats.sent - before).toBeGreaterThanOrEqual(runs);
}

let operations: Operation[] = [];

async function readOperations(doc: string, api: Operation['api']): Promise<Operation[]> {
  const res = await herald.request('GET', doc);
  expect(res.statusCode).toBe(200);
  const openapi = res.json() as {
    paths: Record<string, Record<string, { parameters?: Array<{ in: string; name: string; schema: Schema }>; requestBody?: { content: Record<string, { schema: Schema }> } }>>;
    components?: { schemas?: Record<string, Schema> };
  };
  components = { ...components, ...(openapi.components?.schemas ?? {}) };
  const ops: Operation[] = [];
  for (const [path, methods] of Object.entries(openapi.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      const query: Record<string, Schema> = {};
      for (const p of op.parameters ?? []) if (p.in === 'query') query[p.name] = p.schema;
      ops.push({ api, method: method.toUpperCase(), path, query, body: op.requestBody?.content['application/json']?.schema });
    }
  }
  return ops;
}

beforeAll(async () => {
  herald = await startTestHerald();
  sk = herald.secrets.environments.development.secret_key;
  pk = herald.secrets.environments.development.public_key;
  serviceToken = herald.secrets.service_token;
  operations = [...(await readOperations('/v1/openapi.json', 'data')), ...(await readOperations('/mgmt/v1/openapi.json', 'mgmt'))];
  operations.push(
    ...['/healthz', '/readyz', '/v1/openapi.json', '/mgmt/v1/openapi.json', '/v1/nothing/{id}', '/mgmt/v1/nothing/{id}', '/{id}'].map(
      (path): Operation => ({ api: 'other', method: 'GET', path, query: {} }),
    ),
  );
  const created = await herald.request('POST', '/mgmt/v1/environments', { token: serviceToken, body: { name: 'Fuzz', slug: 'fuzz-env' } });
  expect(created.statusCode).toBe(201);
  apiKeyIds.push(...(created.json() as { api_keys: Array<{ id: string }> }).api_keys.map((k) => k.id));
  await seed();
});

afterAll(async () => {
  const total = [...stats.byStatus.values()].reduce((a, b) => a + b, 0);
  const histogram = [...stats.byStatus.entries()].sort(([a], [b]) => a - b).map(([status, n]) => `${status}: ${n}`).join(', ');
  console.log(`fuzz: ${stats.sent} requests sent, ${total} checked — ${histogram}`);
  await herald?.close();
});

describe('fuzzing every route with malformed requests', () => {
  it('covers every route Herald implements', () => {
    const routes = new Set(operations.map((op) => `${op.method} ${op.path}`));
    // The routes of src/**/routes.ts at the time of writing; later ones are picked up from the OpenAPI documents.
    for (const route of [
      'PUT /v1/users/{user_id}', 'GET /v1/users/{user_id}', 'DELETE /v1/users/{user_id}', 'GET /v1/users', 'POST /v1/users/bulk/identify',
      'POST /v1/users/bulk/delete', 'POST /v1/users/{user_id}/merge', 'GET /v1/bulk_operations/{id}', 'GET /v1/users/{user_id}/preferences',
      'GET /v1/users/{user_id}/preferences/{id}', 'PUT /v1/users/{user_id}/preferences/{id}', 'DELETE /v1/users/{user_id}/preferences/{id}',
      'PUT /v1/users/{user_id}/channel_data/{channel_id}', 'GET /v1/users/{user_id}/channel_data/{channel_id}', 'DELETE /v1/users/{user_id}/channel_data/{channel_id}',
      'PUT /v1/tenants/{id}', 'GET /v1/tenants/{id}', 'DELETE /v1/tenants/{id}', 'GET /v1/tenants',
      'GET /mgmt/v1/whoami', 'GET /mgmt/v1/environments', 'POST /mgmt/v1/environments', 'GET /mgmt/v1/environments/{environment_slug}',
      'PATCH /mgmt/v1/environments/{environment_slug}', 'GET /mgmt/v1/environments/{environment_slug}/api_keys',
      'POST /mgmt/v1/environments/{environment_slug}/api_keys', 'DELETE /mgmt/v1/environments/{environment_slug}/api_keys/{id}',
    ]) {
      expect(routes, route).toContain(route);
    }
  });

  it(`data API (/v1): ${RUNS.data} requests`, async () => {
    const statusesBefore = new Map(stats.byStatus);
    await fuzz('data', RUNS.data);
    // Not vacuous: the requests reach the handlers and the database, not only auth and validation.
    const delta = (status: number) => (stats.byStatus.get(status) ?? 0) - (statusesBefore.get(status) ?? 0);
    expect(delta(200)).toBeGreaterThan(RUNS.data * 0.05);
    expect(delta(422)).toBeGreaterThan(RUNS.data * 0.2);
    expect(delta(404)).toBeGreaterThan(0);
    expect(delta(401)).toBeGreaterThan(0);
    expect(delta(403)).toBeGreaterThan(0);
  }, 180_000);

  it(`management API (/mgmt/v1): ${RUNS.mgmt} requests`, async () => {
    const statusesBefore = new Map(stats.byStatus);
    await fuzz('mgmt', RUNS.mgmt);
    const delta = (status: number) => (stats.byStatus.get(status) ?? 0) - (statusesBefore.get(status) ?? 0);
    expect(delta(200) + delta(201)).toBeGreaterThan(RUNS.mgmt * 0.05);
    expect(delta(422)).toBeGreaterThan(RUNS.mgmt * 0.1);
    expect(delta(401)).toBeGreaterThan(0);
  }, 180_000);

  it(`data API, ${CONCURRENCY} requests at a time: ${RUNS.concurrent * CONCURRENCY} requests`, async () => {
    // Concurrent writes of one environment share transactions (group commit): a malformed
    // request among them must neither fail with a 5xx nor take the others down with it.
    const ops = operations.filter((op) => op.api === 'data');
    const before = stats.sent;
    await fc.assert(
      fc.asyncProperty(fc.array(fc.constantFrom(...ops).chain(request), { minLength: CONCURRENCY, maxLength: CONCURRENCY }), async (requests) => {
        const valid = Array.from({ length: 3 }, (_, i) => `concurrent-${i}-${stats.sent}`);
        const good = valid.map((id) => send({ method: 'PUT', url: `/v1/users/${id}`, headers: { authorization: `Bearer ${sk}`, 'content-type': 'application/json' }, payload: JSON.stringify({ name: id }) }));
        await Promise.all(requests.map(send));
        for (const res of await Promise.all(good)) {
          if (res.statusCode !== 200) throw new Error(`a valid identify sent alongside malformed requests failed: ${res.statusCode} ${res.body}`);
        }
      }),
      { numRuns: RUNS.concurrent, seed: SEED, verbose: 0 },
    );
    expect(stats.sent - before).toBeGreaterThanOrEqual(RUNS.concurrent * CONCURRENCY);
  }, 120_000);

  it(`ops routes, docs and unknown routes: ${RUNS.other} requests`, async () => {
    await fuzz('other', RUNS.other);
  }, 60_000);

  it('oversized payloads (> 10 MB) on every kind of write route: 413', async () => {
    const big = JSON.stringify({ users: [{ id: 'big', blob: 'x'.repeat(10 * 1024 * 1024 + 100 * 1024) }] });
    const writes: Array<[string, string, string]> = [
      ['PUT', '/v1/users/big', sk],
      ['POST', '/v1/users/bulk/identify', sk],
      ['PUT', '/v1/tenants/big', sk],
      ['PUT', `/v1/users/fuzz-user/channel_data/${CHANNEL}`, sk],
      ['POST', '/mgmt/v1/environments', serviceToken],
    ];
    for (const [method, url, token] of writes) {
      const res = await send({ method, url, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, payload: big });
      expect(res.statusCode).toBe(413);
    }
    // Just under the limit: parsed, then refused by validation (custom properties over 256 kB), not a 5xx.
    const under = JSON.stringify({ blob: 'x'.repeat(9 * 1024 * 1024) });
    expect((await send({ method: 'PUT', url: '/v1/users/big', headers: { authorization: `Bearer ${sk}`, 'content-type': 'application/json' }, payload: under })).statusCode).toBe(422);
    expect((await send({ method: 'GET', url: '/v1/users/big', headers: { authorization: `Bearer ${sk}` } })).statusCode).toBe(404);
  }, 60_000);

  it('the server is still healthy and logged no errors', async () => {
    expect(stats.sent).toBeGreaterThanOrEqual(RUNS.data + RUNS.mgmt);
    expect((await herald.request('GET', '/healthz')).statusCode).toBe(200);
    expect((await herald.request('GET', '/v1/users/fuzz-user', { token: sk })).statusCode).toBeLessThan(500);
    const errors = herald.logs.filter((line) => (JSON.parse(line) as { level: number }).level >= 50);
    expect(errors.map((line) => line.slice(0, 500))).toEqual([]);
  });
});
