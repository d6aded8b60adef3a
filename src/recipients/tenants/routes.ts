import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { HttpDeps } from '../../http/app.ts';
import * as tenants from './service.ts';
import { ListTenantsQuery, ListTenantsResponse, SetTenantRequest, Tenant, TenantParams } from './schema.ts';

const tags = ['Tenants'];
const ResolveQuery = Type.Object({
  resolve_full_preference_settings: Type.Optional(Type.Boolean({ description: 'Accepted for compatibility; environment default preferences are not yet merged in.' })),
});

/** Data API routes for tenants. */
export function tenantRoutes({ db }: HttpDeps): FastifyPluginAsync {
  return async (root) => {
    const app = root.withTypeProvider<TypeBoxTypeProvider>();

    app.put('/tenants/:id', {
      schema: { tags, summary: 'Set a tenant', params: TenantParams, querystring: ResolveQuery, body: SetTenantRequest, response: { 200: Tenant } },
    }, async (request) => tenants.setTenant(db, request.apiKey.environmentId, request.params.id, request.body as tenants.SetTenantBody));

    app.get('/tenants/:id', {
      schema: { tags, summary: 'Get a tenant', params: TenantParams, querystring: ResolveQuery, response: { 200: Tenant } },
    }, async (request) => tenants.getTenant(db, request.apiKey.environmentId, request.params.id));

    app.delete('/tenants/:id', {
      schema: { tags, summary: 'Delete a tenant', params: TenantParams, response: { 204: Type.Null() } },
    }, async (request, reply) => {
      await tenants.deleteTenant(db, request.apiKey.environmentId, request.params.id);
      return reply.status(204).send(null);
    });

    app.get('/tenants', {
      schema: { tags, summary: 'List tenants', querystring: ListTenantsQuery, response: { 200: ListTenantsResponse } },
    }, async (request) => tenants.listTenants(db, request.apiKey.environmentId, request.query));
  };
}
