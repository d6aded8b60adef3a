import type { FastifyRequest } from 'fastify';
import type { Db } from '../db/database.ts';
import { Forbidden } from '../errors.ts';
import { findEnvironmentBySlug, findEnvironmentById, listEnvironments } from '../environments/store.ts';
import { RESOURCE_KINDS } from '../workflows/kinds.ts';
import { decide, type Capability, type EnvironmentRef } from './permissions.ts';

/** Where a route's environment comes from. */
type EnvironmentSource =
  | 'none' // account-level
  | 'param' // :environment_slug
  | 'query' // ?environment= (default development)
  | 'query_optional' // ?environment= if given; environment-limited callers must give one
  | 'to_environment' // ?to_environment=
  | 'commit' // the environment of commit :id
  | 'commit_next' // the environment commit :id would be promoted into
  | 'promotion_request'; // the target environment of promotion request :id

export interface RoutePermission {
  capability: Capability;
  environment: EnvironmentSource;
  /** A second capability needed (in the same environment) when a boolean query flag is set, e.g. upsert with `commit=true`. */
  withFlag?: { query: string; capability: Capability };
}

const M = '/mgmt/v1';

function contentRoutes(): Record<string, RoutePermission> {
  const table: Record<string, RoutePermission> = {};
  for (const kind of Object.values(RESOURCE_KINDS)) {
    const key = kind.type === 'translation' ? ':locale_code' : `:${kind.wrapper}_key`;
    const base = `${M}/${kind.collection}`;
    table[`GET ${base}`] = { capability: 'content.read', environment: 'query' };
    table[`GET ${base}/${key}`] = { capability: 'content.read', environment: 'query' };
    table[`PUT ${base}/${key}`] = { capability: 'content.manage', environment: 'query', withFlag: { query: 'commit', capability: 'release.commit' } };
    table[`PUT ${base}/${key}/validate`] = { capability: 'content.read', environment: 'query' };
    if (kind.type === 'workflow') table[`PUT ${base}/${key}/activate`] = { capability: 'content.manage', environment: 'query' };
  }
  return table;
}

/**
 * Every management route and the capability it needs, with where its environment comes
 * from. A route missing here is refused (and fails the permission-matrix test).
 */
export const ROUTE_PERMISSIONS: Record<string, RoutePermission> = {
  [`GET ${M}/whoami`]: { capability: 'account.read', environment: 'none' },
  [`GET ${M}/account`]: { capability: 'account.read', environment: 'none' },
  [`PATCH ${M}/account`]: { capability: 'account.manage', environment: 'none' },
  [`GET ${M}/environments`]: { capability: 'account.read', environment: 'none' },
  [`GET ${M}/environments/:environment_slug`]: { capability: 'account.read', environment: 'param' },
  [`POST ${M}/environments`]: { capability: 'environments.manage', environment: 'none' },
  [`PATCH ${M}/environments/:environment_slug`]: { capability: 'environments.manage', environment: 'param' },
  [`GET ${M}/environments/:environment_slug/api_keys`]: { capability: 'api_keys.read', environment: 'param' },
  [`POST ${M}/environments/:environment_slug/api_keys`]: { capability: 'secrets.manage', environment: 'param' },
  [`DELETE ${M}/environments/:environment_slug/api_keys/:id`]: { capability: 'secrets.manage', environment: 'param' },
  [`GET ${M}/service_tokens`]: { capability: 'service_tokens.manage', environment: 'none' },
  [`POST ${M}/service_tokens`]: { capability: 'service_tokens.manage', environment: 'none' },
  [`DELETE ${M}/service_tokens/:id`]: { capability: 'service_tokens.manage', environment: 'none' },
  [`GET ${M}/members`]: { capability: 'members.manage', environment: 'none' },
  [`GET ${M}/members/:id`]: { capability: 'members.manage', environment: 'none' },
  [`POST ${M}/members`]: { capability: 'members.manage', environment: 'none' },
  [`PATCH ${M}/members/:id`]: { capability: 'members.manage', environment: 'none' },
  [`DELETE ${M}/members/:id`]: { capability: 'members.manage', environment: 'none' },
  // Permission groups (Herald): managed by whoever manages members.
  [`GET ${M}/permission_groups`]: { capability: 'members.manage', environment: 'none' },
  [`POST ${M}/permission_groups`]: { capability: 'members.manage', environment: 'none' },
  [`GET ${M}/permission_groups/:id`]: { capability: 'members.manage', environment: 'none' },
  [`PATCH ${M}/permission_groups/:id`]: { capability: 'members.manage', environment: 'none' },
  [`DELETE ${M}/permission_groups/:id`]: { capability: 'members.manage', environment: 'none' },
  // Signing out needs only to be signed in.
  [`DELETE ${M}/sessions/current`]: { capability: 'account.read', environment: 'none' },
  [`GET ${M}/audit_events`]: { capability: 'audit.read', environment: 'none' },
  [`GET ${M}/environments/:environment_slug/users`]: { capability: 'data.read', environment: 'param' },
  [`GET ${M}/environments/:environment_slug/users/:user_id`]: { capability: 'data.read', environment: 'param' },
  [`POST ${M}/environments/:environment_slug/users/:user_id/reveal`]: { capability: 'data.reveal', environment: 'param' },
  [`GET ${M}/environments/:environment_slug/tenants`]: { capability: 'data.read', environment: 'param' },
  [`GET ${M}/environments/:environment_slug/tenants/:tenant_id`]: { capability: 'data.read', environment: 'param' },
  [`POST ${M}/environments/:environment_slug/tenants/:tenant_id/reveal`]: { capability: 'data.reveal', environment: 'param' },
  [`GET ${M}/environments/:environment_slug/objects/:collection`]: { capability: 'data.read', environment: 'param' },
  [`GET ${M}/environments/:environment_slug/objects/:collection/:object_id`]: { capability: 'data.read', environment: 'param' },
  [`POST ${M}/environments/:environment_slug/objects/:collection/:object_id/reveal`]: { capability: 'data.reveal', environment: 'param' },
  [`GET ${M}/environments/:environment_slug/messages`]: { capability: 'data.read', environment: 'param' },
  [`GET ${M}/environments/:environment_slug/messages/:message_id`]: { capability: 'data.read', environment: 'param' },
  [`GET ${M}/environments/:environment_slug/messages/:message_id/content`]: { capability: 'data.read', environment: 'param' },
  [`GET ${M}/environments/:environment_slug/messages/:message_id/events`]: { capability: 'data.read', environment: 'param' },
  [`GET ${M}/environments/:environment_slug/messages/:message_id/delivery_logs`]: { capability: 'data.read', environment: 'param' },
  [`POST ${M}/environments/:environment_slug/messages/:message_id/reveal`]: { capability: 'data.reveal', environment: 'param' },
  [`GET ${M}/environments/:environment_slug/workflow_runs`]: { capability: 'data.read', environment: 'param' },
  [`GET ${M}/environments/:environment_slug/workflow_runs/:run_id`]: { capability: 'data.read', environment: 'param' },
  ...contentRoutes(),
  [`GET ${M}/commits`]: { capability: 'content.read', environment: 'query_optional' },
  [`GET ${M}/commits/:id`]: { capability: 'content.read', environment: 'commit' },
  [`GET ${M}/commits/:id/diff`]: { capability: 'content.read', environment: 'commit' },
  [`PUT ${M}/commits`]: { capability: 'release.commit', environment: 'query' },
  [`PUT ${M}/commits/promote`]: { capability: 'release.manage', environment: 'to_environment' },
  [`PUT ${M}/commits/:id/promote`]: { capability: 'release.manage', environment: 'commit_next' },
  [`GET ${M}/promotion_requests`]: { capability: 'content.read', environment: 'query_optional' },
  [`POST ${M}/promotion_requests/:id/approve`]: { capability: 'release.manage', environment: 'promotion_request' },
  [`POST ${M}/promotion_requests/:id/reject`]: { capability: 'release.manage', environment: 'promotion_request' },
  [`PUT ${M}/commits/:id/revert`]: { capability: 'release.manage', environment: 'commit' },
  [`PUT ${M}/environments/:environment_slug/rollback`]: { capability: 'release.manage', environment: 'param' },
  // Channels: account-level definitions; configuration (secrets masked on reads) per environment.
  [`GET ${M}/channels`]: { capability: 'account.read', environment: 'none' },
  [`GET ${M}/channels/:channel_key`]: { capability: 'account.read', environment: 'none' },
  [`POST ${M}/channels`]: { capability: 'environments.manage', environment: 'none' },
  [`GET ${M}/environments/:environment_slug/channels/:channel_key`]: { capability: 'api_keys.read', environment: 'param' },
  [`PUT ${M}/environments/:environment_slug/channels/:channel_key`]: { capability: 'secrets.manage', environment: 'param' },
  // Variables: ?environment= names one environment; without it, every environment (unlimited callers only).
  [`GET ${M}/variables`]: { capability: 'api_keys.read', environment: 'query_optional' },
  [`GET ${M}/variables/:key`]: { capability: 'api_keys.read', environment: 'query_optional' },
  [`PUT ${M}/variables/:key`]: { capability: 'secrets.manage', environment: 'query_optional' },
  [`DELETE ${M}/variables/:key`]: { capability: 'secrets.manage', environment: 'query_optional' },
  [`GET ${M}/environments/:environment_slug/signing_keys`]: { capability: 'api_keys.read', environment: 'param' },
  [`POST ${M}/environments/:environment_slug/signing_keys`]: { capability: 'secrets.manage', environment: 'param' },
  [`DELETE ${M}/environments/:environment_slug/signing_keys/:id`]: { capability: 'secrets.manage', environment: 'param' },
};

/** The table key of a request's route: method and route pattern. */
export function routeKey(request: FastifyRequest): string {
  return `${request.method} ${request.routeOptions.url ?? ''}`;
}

type Params = Record<string, string | undefined>;

async function resolveEnvironment(db: Db, accountId: string, source: EnvironmentSource, request: FastifyRequest): Promise<EnvironmentRef | 'all' | null | undefined> {
  const params = (request.params ?? {}) as Params;
  const query = (request.query ?? {}) as Params;
  const bySlug = (slug: string) => findEnvironmentBySlug(db, accountId, slug);
  switch (source) {
    case 'none':
      return null;
    case 'param':
      return bySlug(params.environment_slug ?? '');
    case 'query':
      return bySlug(query.environment ?? 'development');
    case 'query_optional':
      return query.environment === undefined ? 'all' : bySlug(query.environment);
    case 'to_environment':
      return bySlug(query.to_environment ?? '');
    case 'promotion_request': {
      const pending = await db.selectFrom('promotion_requests').select('environment_id').where('id', '=', params.id ?? '').executeTakeFirst();
      return pending ? findEnvironmentById(db, pending.environment_id) : undefined;
    }
    case 'commit':
    case 'commit_next': {
      const commit = await db.selectFrom('commits').select('environment_id').where('id', '=', params.id ?? '').executeTakeFirst();
      if (!commit) return undefined;
      if (source === 'commit') return findEnvironmentById(db, commit.environment_id);
      const environments = await listEnvironments(db, accountId);
      const index = environments.findIndex((e) => e.id === commit.environment_id);
      return environments[index + 1] ?? environments[index];
    }
  }
}

/**
 * preHandler for the management API: looks up the route's capability and environment
 * and refuses (403, naming what is missing) unless the principal holds it there.
 * Environments or commits that do not exist are left to the route (404).
 */
export function authorizeHook(db: Db, accountId: string) {
  return async (request: FastifyRequest): Promise<void> => {
    const rule = ROUTE_PERMISSIONS[routeKey(request)];
    if (!rule) throw new Forbidden(`No capability is declared for ${routeKey(request)}; refusing`, 'undeclared_route');
    const environment = await resolveEnvironment(db, accountId, rule.environment, request);
    if (environment === undefined) return;
    const { principal } = request;
    const account = await db.selectFrom('accounts').select('production_write_access').where('id', '=', accountId).executeTakeFirstOrThrow();
    const settings = { productionWriteAccess: account.production_write_access };
    const flag = rule.withFlag && ((request.query ?? {}) as Record<string, unknown>)[rule.withFlag.query];
    const capabilities = rule.withFlag && (flag === true || flag === 'true') ? [rule.capability, rule.withFlag.capability] : [rule.capability];
    for (const capability of capabilities) {
      const decision = decide(principal, capability, environment ?? undefined, settings);
      if (!decision.allowed) throw new Forbidden(`Missing permission "${decision.capability}": ${decision.reason}`, 'missing_permission');
    }
  };
}
