import Fastify, { LogController, type FastifyInstance, type FastifyPluginAsync, type FastifyServerOptions } from 'fastify';
import swagger from '@fastify/swagger';
import addFormats from 'ajv-formats';
import qs from 'qs';
import type { Db } from '../db/database.ts';
import type { ApiKeyAuthenticator } from '../environments/api-keys.ts';
import { handleError, handleNotFound } from './errors.ts';
import { apiKeyHook, serviceTokenHook } from './auth.ts';
import { loggerOptions } from './logging.ts';
import { dataApiRoutes, managementApiRoutes } from './routes.ts';

/** What the HTTP layer needs from the rest of Herald. */
export interface HttpDeps {
  db: Db;
  accountId: string;
  keys: ApiKeyAuthenticator;
  /** Resolves to true once the database, migrations and workers are ready. */
  isReady: () => Promise<boolean>;
}

export interface AppOptions {
  logLevel?: string;
  /** A pino destination stream (tests capture logs with it). */
  logStream?: NodeJS.WritableStream;
}

/** Trigger payloads may carry up to 10 MB of data (Knock's limit). */
const BODY_LIMIT = 10 * 1024 * 1024 + 64 * 1024;

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
    routerOptions: {
      ignoreTrailingSlash: true,
      maxParamLength: 1024,
      // Knock clients send arrays as `include[]=…` and `objects[0][id]=…` (Phoenix style).
      querystringParser: (query) => qs.parse(query, { arrayLimit: 1000, depth: 4 }),
    },
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
  app.addHook('onResponse', async (request, reply) => {
    request.log.info({ req: request, status: reply.statusCode, ms: Math.round(reply.elapsedTime) }, 'request');
  });

  app.get('/healthz', { schema: { hide: true } }, async () => ({ status: 'ok' }));
  app.get('/readyz', { schema: { hide: true } }, async (_request, reply) => {
    const ready = await deps.isReady();
    return reply.status(ready ? 200 : 503).send({ status: ready ? 'ready' : 'starting' });
  });

  app.register(
    documented('Herald data API (Knock-compatible)', '/v1/openapi.json', async (api) => {
      api.addHook('onRequest', apiKeyHook(deps.keys));
      await api.register(dataApiRoutes(deps), { prefix: '/v1' });
    }),
  );
  app.register(
    documented('Herald management API (Knock mgmt-compatible)', '/mgmt/v1/openapi.json', async (api) => {
      api.addHook('onRequest', serviceTokenHook(deps.db));
      await api.register(managementApiRoutes(deps), { prefix: '/mgmt/v1' });
    }),
  );
  return app;
}
