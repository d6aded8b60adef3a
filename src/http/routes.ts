import type { FastifyPluginAsync } from 'fastify';
import type { HttpDeps } from './app.ts';
import { accessRoutes } from '../access/routes.ts';
import { auditRoutes } from '../access/audit-routes.ts';
import { accountRoutes, serviceTokenRoutes } from '../access/token-routes.ts';
import { memberRoutes } from '../access/member-routes.ts';
import { permissionGroupRoutes } from '../access/permission-group-routes.ts';
import { environmentRoutes } from '../environments/routes.ts';
import { userRoutes } from '../recipients/users/routes.ts';
import { preferenceRoutes } from '../recipients/preferences/routes.ts';
import { channelDataRoutes } from '../recipients/channel-data/routes.ts';
import { tenantRoutes } from '../recipients/tenants/routes.ts';
import { objectRoutes } from '../recipients/objects/routes.ts';
import { versioningRoutes } from '../versioning/routes.ts';
import { userViewRoutes } from '../recipients/users/mgmt-routes.ts';
import { tenantViewRoutes } from '../recipients/tenants/mgmt-routes.ts';
import { objectViewRoutes } from '../recipients/objects/mgmt-routes.ts';
import { messageViewRoutes } from '../messages/mgmt-routes.ts';
import { runViewRoutes } from '../engine/runs-mgmt-routes.ts';
import { triggerRoutes } from '../engine/trigger/routes.ts';
import { recipientRunRoutes } from '../engine/runs-routes.ts';
import { messageRoutes } from '../messages/routes.ts';
import { feedRoutes } from '../messages/feed-routes.ts';
import { channelConfigRoutes } from '../channels/config/routes.ts';
import { variableRoutes } from '../variables/routes.ts';
import { signingKeyRoutes } from '../environments/signing-key-routes.ts';

/** Every feature's data API routes (mounted under /v1, API key auth). */
export function dataApiRoutes(deps: HttpDeps): FastifyPluginAsync {
  return async (app) => {
    await app.register(userRoutes(deps));
    await app.register(preferenceRoutes(deps));
    await app.register(channelDataRoutes(deps));
    await app.register(tenantRoutes(deps));
    await app.register(objectRoutes(deps));
    await app.register(triggerRoutes(deps));
    await app.register(messageRoutes(deps));
    await app.register(feedRoutes(deps));
    await app.register(recipientRunRoutes(deps));
  };
}

/** Every feature's management routes (mounted under /mgmt/v1, service token auth). */
export function managementApiRoutes(deps: HttpDeps): FastifyPluginAsync {
  return async (app) => {
    await app.register(accessRoutes(deps));
    await app.register(accountRoutes(deps));
    await app.register(serviceTokenRoutes(deps));
    await app.register(memberRoutes(deps));
    await app.register(permissionGroupRoutes(deps));
    await app.register(environmentRoutes(deps));
    await app.register(versioningRoutes(deps));
    await app.register(userViewRoutes(deps));
    await app.register(tenantViewRoutes(deps));
    await app.register(objectViewRoutes(deps));
    await app.register(messageViewRoutes(deps));
    await app.register(runViewRoutes(deps));
    await app.register(auditRoutes(deps));
    await app.register(channelConfigRoutes(deps));
    await app.register(variableRoutes(deps));
    await app.register(signingKeyRoutes(deps));
  };
}
