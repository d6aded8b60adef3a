import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { HttpDeps } from '../../http/app.ts';
import { inEnvironment } from '../../db/scoped.ts';
import { Invalid, NotFound } from '../../errors.ts';
import { PageQuery } from '../../http/pagination.ts';
import { EnvironmentSlug, recordReveal, RevealBody, VIEW_TAGS, viewEnvironment } from '../../access/data-views.ts';
import { recipientView } from '../../access/obfuscation.ts';
import { findTenant } from './store.ts';
import { listTenants, toTenant } from './service.ts';
import { TenantId } from './schema.ts';

const tags = VIEW_TAGS;
const Params = Type.Object({ environment_slug: EnvironmentSlug });
const TenantParams = Type.Object({ environment_slug: EnvironmentSlug, tenant_id: TenantId });
const ListQuery = Type.Object({
  ...PageQuery,
  tenant_id: Type.Optional(Type.String({ maxLength: 256 })),
  name: Type.Optional(Type.String({ maxLength: 2048, description: 'Refused where the environment hides PII (a name filter would reveal names one guess at a time).' })),
});

/**
 * The dashboard's read views of an environment's tenants (Herald), through the
 * management API: properties, settings and channel data masked where the environment
 * hides PII, unless an owner or admin reveals one tenant with a stated reason (audited).
 */
export function tenantViewRoutes({ db, accountId }: HttpDeps): FastifyPluginAsync {
  return async (root) => {
    const app = root.withTypeProvider<TypeBoxTypeProvider>();

    /** A tenant with its channel data; unmasked. */
    const tenantDetail = async (environmentId: string, id: string) => {
      const row = await inEnvironment(db, environmentId, (tx) => findTenant(tx, environmentId, id));
      if (!row) throw new NotFound('Tenant', id);
      const channelData = Object.entries(row.channel_data ?? {}).map(([channelId, data]) => ({ __typename: 'ChannelData', channel_id: channelId, data }));
      return { ...toTenant(row), channel_data: channelData };
    };

    app.get('/environments/:environment_slug/tenants', {
      schema: { tags, summary: "An environment's tenants (masked where the environment hides PII)", params: Params, querystring: ListQuery },
    }, async (request) => {
      const environment = await viewEnvironment(db, accountId, request.params.environment_slug);
      if (request.query.name !== undefined && environment.hide_pii_data) throw Invalid.field('name', 'cannot be filtered on in an environment that hides PII');
      const page = await listTenants(db, environment.id, request.query);
      return { entries: page.entries.map((tenant) => recipientView(tenant, environment)), page_info: page.page_info };
    });

    app.get('/environments/:environment_slug/tenants/:tenant_id', {
      schema: { tags, summary: 'One tenant with its channel data (masked where the environment hides PII)', params: TenantParams },
    }, async (request) => {
      const environment = await viewEnvironment(db, accountId, request.params.environment_slug);
      return recipientView(await tenantDetail(environment.id, request.params.tenant_id), environment);
    });

    app.post('/environments/:environment_slug/tenants/:tenant_id/reveal', {
      schema: { tags, summary: 'Reveal one masked tenant (owner/admin), with a reason that is audited', params: TenantParams, body: RevealBody },
    }, async (request) => {
      const environment = await viewEnvironment(db, accountId, request.params.environment_slug);
      const detail = await tenantDetail(environment.id, request.params.tenant_id);
      // The reveal is on the record before any data leaves.
      await recordReveal(db, request, accountId, environment.id, { type: 'tenant', id: request.params.tenant_id }, request.body.reason);
      return { ...detail, obfuscated: false };
    });
  };
}
