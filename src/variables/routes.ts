import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { HttpDeps } from '../http/app.ts';
import type { Db } from '../db/database.ts';
import type { EnvironmentRow } from '../db/schema.ts';
import { auditContextOf } from '../access/audit.ts';
import { decodeCursor, encodeCursor } from '../http/pagination.ts';
import { getEnvironment } from '../environments/service.ts';
import { listEnvironments } from '../environments/store.ts';
import { EnvironmentQuery, ListVariablesQuery, PutVariableBody, Variable, VariableKeyParams, VariableWriteParams } from './schema.ts';
import { deleteVariable, getVariable, presentVariables, putVariable } from './service.ts';
import * as store from './store.ts';

const tags = ['Variables'];
const ScopeQuery = Type.Object({ environment: EnvironmentQuery });

/** The environment a request names, or undefined for every environment. */
async function scopeOf(db: Db, accountId: string, slug: string | undefined): Promise<EnvironmentRow | undefined> {
  return slug === undefined ? undefined : getEnvironment(db, accountId, slug);
}

/**
 * Variables: account-wide keys with per-environment values (`vars.*` in templates).
 * Secret values are never returned by any read.
 */
export function variableRoutes(deps: HttpDeps): FastifyPluginAsync {
  return async (root) => {
    const app = root.withTypeProvider<TypeBoxTypeProvider>();
    const { db, accountId } = deps;
    const present = async (variables: store.VariableRow[], environment: EnvironmentRow | undefined) =>
      presentVariables(db, variables, environment ?? (await listEnvironments(db, accountId)));

    app.get('/variables', {
      schema: {
        tags,
        summary: 'List variables',
        description: "With `environment`, each variable's value there; without, every environment's value in `environment_values`. Secret values are masked.",
        querystring: ListVariablesQuery,
        response: { 200: Type.Object({ entries: Type.Array(Variable), page_info: Type.Any() }) },
      },
    }, async (request) => {
      const q = request.query;
      const environment = await scopeOf(db, accountId, q.environment);
      const limit = q.limit ?? 50;
      const after = q.after ? decodeCursor(q.after, 'after') : undefined;
      const before = q.before ? decodeCursor(q.before, 'before') : undefined;
      const rows = await store.listVariables(db, accountId, { type: q.type, after, before, limit });
      const backwards = before !== undefined && after === undefined;
      const hasMore = rows.length > limit;
      const page = rows.slice(0, limit);
      if (backwards) page.reverse();
      return {
        entries: await present(page, environment),
        page_info: {
          __typename: 'PageInfo',
          after: (backwards || hasMore) && page.length ? encodeCursor(page[page.length - 1].key) : null,
          before: (backwards ? hasMore : after !== undefined) && page.length ? encodeCursor(page[0].key) : null,
          page_size: limit,
        },
      };
    });

    app.get('/variables/:key', {
      schema: {
        tags,
        summary: 'Get a variable',
        description: "With `environment`, its value there; without, every environment's value in `environment_values`. Secret values are masked.",
        params: VariableKeyParams,
        querystring: ScopeQuery,
        response: { 200: Variable },
      },
    }, async (request) => {
      const environment = await scopeOf(db, accountId, request.query.environment);
      const variable = await getVariable(db, accountId, request.params.key);
      const [view] = await present([variable], environment);
      return view;
    });

    app.put('/variables/:key', {
      schema: {
        tags,
        summary: 'Create or change a variable (Herald)',
        description:
          '`values` sets values by environment slug (null removes one); environments not named keep theirs. With `environment`, only that environment may be changed. Audited, without values.',
        params: VariableWriteParams,
        querystring: ScopeQuery,
        body: PutVariableBody,
        response: { 200: Variable },
      },
    }, async (request) => {
      const environment = await scopeOf(db, accountId, request.query.environment);
      const { variable } = await putVariable(db, accountId, request.params.key, request.body, environment, auditContextOf(request));
      const [view] = await present([variable], environment);
      return view;
    });

    app.delete('/variables/:key', {
      schema: {
        tags,
        summary: 'Delete a variable (Herald)',
        description: 'From every environment; with `environment`, only the value of that environment. Audited.',
        params: VariableKeyParams,
        querystring: ScopeQuery,
      },
    }, async (request, reply) => {
      const environment = await scopeOf(db, accountId, request.query.environment);
      await deleteVariable(db, accountId, request.params.key, environment, auditContextOf(request));
      return reply.status(204).send();
    });
  };
}
