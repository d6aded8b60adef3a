import { randomUUID } from 'node:crypto';
import Fastify, { LogController, type FastifyInstance, type FastifyPluginAsync, type FastifyReply, type FastifyRequest, type FastifyServerOptions } from 'fastify';
import swagger from '@fastify/swagger';
import cookie from '@fastify/cookie';
import websocket from '@fastify/websocket';
import AjvCompiler, { type ValidatorFactory } from '@fastify/ajv-compiler';
import addFormats from 'ajv-formats';
import qs from 'qs';
import type { Db } from '../db/database.ts';
import type { ApiKeyAuthenticator } from '../environments/api-keys.ts';
import type { IdentifyCommitter } from '../recipients/users/identify-batch.ts';
import type { TriggerCommitter } from '../engine/trigger/ingest.ts';
import { Invalid, type FieldError } from '../errors.ts';
import { handleClientError, handleError, handleNotFound } from './errors.ts';
import { apiKeyHook, serviceTokenHook } from './auth.ts';
import { rateLimitHook, type RateLimitOptions } from './rate-limits.ts';
import { authorizeHook } from '../access/route-permissions.ts';
import { loggerOptions } from './logging.ts';
import { dataApiRoutes, managementApiRoutes } from './routes.ts';
import { publicAccessRoutes } from '../access/member-routes.ts';
import { FeedHub } from '../messages/realtime.ts';
import { feedSocketRoutes, WEBSOCKET_OPTIONS } from '../messages/socket.ts';
import { userTokenVerifier } from '../messages/user-token.ts';

/** What the HTTP layer needs from the rest of Herald. */
export interface HttpDeps {
  db: Db;
  accountId: string;
  keys: ApiKeyAuthenticator;
  /** Group commit of plain user identifies. */
  identify: IdentifyCommitter;
  /** Group commit of workflow triggers. */
  triggers: TriggerCommitter;
  /** Resolves to true once the database, migrations and workers are ready. */
  isReady: () => Promise<boolean>;
  /** Where this process's realtime feed sockets hear of new messages (fed by the process's LISTEN connection). */
  feedHub?: FeedHub;
}

export interface AppOptions {
  logLevel?: string;
  /** A pino destination stream (tests capture logs with it). */
  logStream?: NodeJS.WritableStream;
  /** Data-API rate limits per API key and tier; absent: none. */
  rateLimits?: RateLimitOptions;
}

/** Trigger payloads may carry up to 10 MB of data (Knock's limit). */
const BODY_LIMIT = 10 * 1024 * 1024 + 64 * 1024;

/**
 * Request values nest at most this deep. Nothing Knock-compatible comes close, and
 * deeper values would overflow recursive code (JSON.stringify, Postgres's jsonb parser).
 */
const MAX_NESTING = 100;

/**
 * Path parameters may be this long before percent-decoding. Long enough that every
 * value the schemas accept reaches them (256 four-byte characters are 3,072 encoded),
 * so too-long ids get a 422 naming the field rather than a router error.
 */
const MAX_PARAM_LENGTH = 16 * 1024;

/** Postgres stores neither NUL characters (text, jsonb) nor unpaired UTF-16 surrogates (jsonb). */
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const UNSTORABLE_ALL = new RegExp(UNSTORABLE.source, 'g');

function storable(text: string): boolean {
  return !UNSTORABLE.test(text);
}

function printable(key: string): string {
  return key.replace(UNSTORABLE_ALL, '\uFFFD');
}

interface Visit {
  value: unknown;
  parent: Visit | undefined;
  key: string | number;
  depth: number;
}

function pathOf(visit: Visit): string {
  const keys: string[] = [];
  for (let v: Visit | undefined = visit; v; v = v.parent) keys.unshift(printable(String(v.key)));
  // Body fields are named as the schema errors name them: `users.0.id`.
  if (keys[0] === 'body' && keys.length > 1) keys.shift();
  return keys.join('.');
}

/**
 * The first part of a request value Herald could not store or process: a string or key
 * with a NUL character or unpaired surrogate, or nesting deeper than MAX_NESTING.
 * Iterative, so arbitrarily deep input cannot overflow the stack.
 */
function findUnstorable(value: unknown, root: string): FieldError | undefined {
  const stack: Visit[] = [{ value, parent: undefined, key: root, depth: 0 }];
  const invalid = (visit: Visit): FieldError => ({ field: pathOf(visit), message: 'must not contain NUL characters or unpaired surrogates', type: 'invalid_characters' });
  while (stack.length > 0) {
    const visit = stack.pop()!;
    const { value: current, depth } = visit;
    if (typeof current === 'string') {
      if (!storable(current)) return invalid(visit);
      continue;
    }
    // Raw bodies (Buffers, if a route ever parses one) are not walked byte by byte.
    if (current === null || typeof current !== 'object' || ArrayBuffer.isView(current)) continue;
    if (depth >= MAX_NESTING) return { field: pathOf(visit), message: `must not nest deeper than ${MAX_NESTING} levels`, type: 'max_depth' };
    if (Array.isArray(current)) {
      for (let i = 0; i < current.length; i++) stack.push({ value: current[i], parent: visit, key: i, depth: depth + 1 });
      continue;
    }
    for (const key of Object.keys(current)) {
      const child: Visit = { value: (current as Record<string, unknown>)[key], parent: visit, key, depth: depth + 1 };
      if (!storable(key)) return invalid(child);
      stack.push(child);
    }
  }
  return undefined;
}

/** preValidation hook: refuses unstorable params, query strings and bodies with a 422 naming the field. */
async function rejectUnstorableInput(request: FastifyRequest): Promise<void> {
  const problem =
    findUnstorable(request.params, 'params') ?? findUnstorable(request.query, 'querystring') ?? findUnstorable(request.body, 'body');
  if (problem) throw new Invalid(`${problem.field} ${problem.message}`, [problem]);
}

const ajvCompilers = AjvCompiler();

/**
 * Query strings and path params arrive as text and are coerced to their schema types
 * (`page_size=10`, `include=preferences`); JSON bodies must carry the right types
 * already: `{"name": 42}` or `{"from_user_id": true}` is a 422, not silently "42"/"true".
 */
const buildValidator: ValidatorFactory = (externalSchemas, ajvOptions) => {
  const coercing = ajvCompilers(externalSchemas, ajvOptions);
  const strictOptions = { ...ajvOptions, customOptions: { ...ajvOptions?.customOptions, coerceTypes: false } } as typeof ajvOptions;
  const strict = ajvCompilers(externalSchemas, strictOptions);
  const pick = (route: Parameters<typeof strict>[0]) => (route.httpPart === 'body' ? strict : coercing)(route) as unknown as Validate;
  return ((route: Parameters<typeof strict>[0]) => compiledOnFirstUse(() => pick(route))) as unknown as ReturnType<typeof ajvCompilers>;
};

type Validate = ((data: unknown) => unknown) & { errors?: unknown };

/**
 * A validator compiled when a request first needs it: compiling every route's schemas
 * at start-up took seconds (hundreds of routes, two Ajv instances), most of them for
 * routes a process may never serve.
 */
function compiledOnFirstUse(compile: () => Validate): Validate {
  let compiled: Validate | undefined;
  const validate: Validate = function (this: unknown, data: unknown) {
    compiled ??= compile();
    const result = compiled.call(this, data);
    validate.errors = compiled.errors;
    return result;
  };
  return validate;
}

/** The one access line of a request. */
function logAccess(request: FastifyRequest, reply: FastifyReply): void {
  request.log.info({ req: request, status: reply.statusCode, ms: Math.round(reply.elapsedTime) }, 'request');
}

/** Serves one OpenAPI document for the routes registered inside `routes`. */
function documented(title: string, openapiPath: string, routes: FastifyPluginAsync): FastifyPluginAsync {
  return async (app) => {
    await app.register(swagger, {
      openapi: {
        info: { title, version: '1.0.0' },
        components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
        security: [{ bearer: [] }],
      },
    });
    await app.register(routes);
    app.get(openapiPath, { schema: { hide: true } }, async () => app.swagger());
  };
}

/** Builds the Fastify app: data API under /v1, management API under /mgmt/v1, ops routes. */
export function buildApp(deps: HttpDeps, options: AppOptions = {}): FastifyInstance {
  const logger = loggerOptions(options.logLevel ?? 'info');
  const serverOptions: FastifyServerOptions = {
    logger: options.logStream ? { ...logger, stream: options.logStream } : logger,
    // One access line per request (onResponse below) instead of Fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: BODY_LIMIT,
    // Request ids are unique across processes and restarts (they appear in the audit log).
    genReqId: () => randomUUID(),
    // Errors raised before routing (malformed percent-encoding, …) and malformed HTTP get Knock's error shape too.
    // They bypass the onResponse hook, so their access line is written here.
    frameworkErrors: (error, request, reply) => {
      handleError(error, request, reply);
      logAccess(request, reply);
    },
    clientErrorHandler: handleClientError,
    routerOptions: {
      ignoreTrailingSlash: true,
      maxParamLength: MAX_PARAM_LENGTH,
      // Knock clients send arrays as `include[]=…` and `objects[0][id]=…` (Phoenix style).
      querystringParser: (query) => qs.parse(query, { arrayLimit: 1000, depth: 4 }),
    },
    schemaController: { compilersFactory: { buildValidator } },
    ajv: {
      customOptions: { removeAdditional: false, coerceTypes: 'array', allErrors: true, useDefaults: true },
      plugins: [addFormats as never],
    },
  };
  const app: FastifyInstance = Fastify(serverOptions);
  // Response schemas document the API; bodies are serialised as they are (custom properties included).
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  app.setErrorHandler(handleError);
  app.setNotFoundHandler(handleNotFound);
  app.addHook('preValidation', rejectUnstorableInput);
  app.addHook('onResponse', async (request, reply) => logAccess(request, reply));

  // Session and CSRF cookies of signed-in members (management API).
  app.register(cookie);

  app.get('/healthz', { schema: { hide: true } }, async () => ({ status: 'ok' }));
  app.get('/readyz', { schema: { hide: true } }, async (_request, reply) => {
    const ready = await deps.isReady();
    return reply.status(ready ? 200 : 503).send({ status: ready ? 'ready' : 'starting' });
  });

  const verifyUserToken = userTokenVerifier(deps.db);
  // Realtime feeds (Phoenix channels, as @knocklabs/client speaks them), outside /v1.
  app.register(websocket, { options: WEBSOCKET_OPTIONS });
  app.register(feedSocketRoutes({ db: deps.db, accountId: deps.accountId, keys: deps.keys, hub: deps.feedHub ?? new FeedHub(), verifyUserToken }));

  app.register(
    documented('Herald data API (Knock-compatible)', '/v1/openapi.json', async (api) => {
      api.addHook('onRequest', apiKeyHook(deps.keys, verifyUserToken));
      // Knock's feed client sends `Content-Type: application/json` without a body; routes whose body is optional accept that.
      const parseJson = api.getDefaultJsonParser('error', 'error');
      api.removeContentTypeParser('application/json');
      api.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
        if (body === '' && request.routeOptions.config.optionalBody) return done(null, undefined);
        return parseJson(request, body as string, done);
      });
      if (options.rateLimits) api.addHook('onRequest', rateLimitHook(options.rateLimits));
      await api.register(dataApiRoutes(deps), { prefix: '/v1' });
    }),
  );
  app.register(
    documented('Herald management API (Knock mgmt-compatible)', '/mgmt/v1/openapi.json', async (mgmt) => {
      // Accepting an invitation and signing in need no token (documented with `security: []`).
      await mgmt.register(publicAccessRoutes(deps), { prefix: '/mgmt/v1' });
      await mgmt.register(async (api) => {
        api.addHook('onRequest', serviceTokenHook(deps.db));
        // After validation, so the environment a route acts in can be read from its parameters.
        api.addHook('preHandler', authorizeHook(deps.db, deps.accountId));
        // The Knock CLI's `commit promote --only` sends an empty form-encoded PUT.
        api.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => {
          done(null, body ? qs.parse(body as string, { depth: 4 }) : undefined);
        });
        await api.register(managementApiRoutes(deps), { prefix: '/mgmt/v1' });
      });
    }),
  );
  return app;
}
