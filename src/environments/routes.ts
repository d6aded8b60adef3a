import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { HttpDeps } from '../http/app.ts';
import { auditContextOf } from '../access/audit.ts';
import { hidesEnvironment } from '../access/permissions.ts';
import { isBackwards, pageRequest, toPage } from '../http/pagination.ts';
import { createApiKeys, listApiKeys } from './api-keys.ts';
import { createEnvironment, getEnvironment, toEnvironmentView, updateEnvironmentSettings } from './service.ts';
import { listEnvironments } from './store.ts';
import { ApiKey, CreateApiKeysBody, CreateEnvironmentBody, Environment, SlugParams, UpdateEnvironmentBody } from './schema.ts';

const tags = ['Environments'];

/** Management routes for environments and their API keys. */
export function environmentRoutes(deps: HttpDeps): FastifyPluginAsync {
  return async (root) => {
    const app = root.withTypeProvider<TypeBoxTypeProvider>();
    const { db, accountId } = deps;

    app.get('/environments', {
      schema: {
        tags,
        summary: 'List environments, in order',
        querystring: Type.Object({ after: Type.Optional(Type.String({ maxLength: 200 })), before: Type.Optional(Type.String({ maxLength: 200 })), limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })) }),
        response: { 200: Type.Object({ entries: Type.Array(Environment), page_info: Type.Any() }) },
      },
    }, async (request) => {
      const page = pageRequest({ after: request.query.after, before: request.query.before, page_size: request.query.limit });
      // Environments are few: page through the ordered list in memory, keyed by position.
      // Environments a permission group gives no access to are hidden from its members and tokens.
      let rows = (await listEnvironments(db, accountId)).filter((environment) => !hidesEnvironment(request.principal, environment));
      if (page.after !== undefined) rows = rows.filter((r) => r.position > Number(page.after));
      if (page.before !== undefined) rows = rows.filter((r) => r.position < Number(page.before));
      if (isBackwards(page)) rows.reverse();
      const { rows: entries, pageInfo } = toPage(rows.slice(0, page.size + 1), page, (row) => String(row.position));
      return { entries: entries.map(toEnvironmentView), page_info: pageInfo };
    });

    app.get('/environments/:environment_slug', {
      schema: { tags, summary: 'Get an environment', params: SlugParams, response: { 200: Environment } },
    }, async (request) => toEnvironmentView(await getEnvironment(db, accountId, request.params.environment_slug)));

    app.post('/environments', {
      schema: {
        tags,
        summary: 'Create an environment (Herald)',
        description: 'Inserts an environment after `insert_after` (never above production or below development) with a fresh API key pair, shown once.',
        body: CreateEnvironmentBody,
        response: { 201: Type.Intersect([Environment, Type.Object({ api_keys: Type.Array(ApiKey) })]) },
      },
    }, async (request, reply) => {
      const { environment, apiKeys } = await createEnvironment(db, accountId, request.body, auditContextOf(request));
      return reply.status(201).send({ ...toEnvironmentView(environment), api_keys: apiKeys });
    });

    app.patch('/environments/:environment_slug', {
      schema: {
        tags,
        summary: 'Change environment settings (Herald)',
        description: 'Name, label colour and the data controls `hide_pii_data` / `hide_message_content`.',
        params: SlugParams,
        body: UpdateEnvironmentBody,
        response: { 200: Environment },
      },
    }, async (request) => toEnvironmentView(await updateEnvironmentSettings(db, accountId, request.params.environment_slug, request.body, auditContextOf(request))));

    app.get('/environments/:environment_slug/api_keys', {
      schema: {
        tags,
        summary: "List an environment's API keys (Herald)",
        params: SlugParams,
        response: { 200: Type.Object({ entries: Type.Array(ApiKey), page_info: Type.Any() }) },
      },
    }, async (request) => {
      const environment = await getEnvironment(db, accountId, request.params.environment_slug);
      const entries = await listApiKeys(db, environment.id);
      return { entries, page_info: { after: null, before: null, page_size: entries.length } };
    });

    app.post('/environments/:environment_slug/api_keys', {
      schema: {
        tags,
        summary: 'Create API keys (Herald)',
        description: 'Creates a public/secret pair, or one key of `kind`. The keys are returned only in this response.',
        params: SlugParams,
        body: Type.Optional(CreateApiKeysBody),
        response: { 201: Type.Object({ entries: Type.Array(ApiKey) }) },
      },
    }, async (request, reply) => {
      const environment = await getEnvironment(db, accountId, request.params.environment_slug);
      const kinds = request.body?.kind ? [request.body.kind] : (['public', 'secret'] as const);
      const entries = await db.transaction().execute((tx) => createApiKeys(tx, environment, [...kinds], request.body?.name ?? null, auditContextOf(request)));
      return reply.status(201).send({ entries });
    });

    app.delete('/environments/:environment_slug/api_keys/:id', {
      schema: {
        tags,
        summary: 'Revoke an API key (Herald)',
        description: 'The key is refused (401) from its next request on.',
        params: Type.Object({ environment_slug: Type.String({ maxLength: 100 }), id: Type.String({ format: 'uuid' }) }),
        response: { 200: ApiKey },
      },
    }, async (request) => {
      const environment = await getEnvironment(db, accountId, request.params.environment_slug);
      return deps.keys.revoke(environment, request.params.id, auditContextOf(request));
    });
  };
}
