import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { HttpDeps } from '../http/app.ts';
import { Forbidden, Invalid, NotFound } from '../errors.ts';
import { listEnvironments } from '../environments/store.ts';
import { ASSIGNABLE_ROLES, isWithin } from './permissions.ts';
import { assignablePermissionGroup } from './permission-groups.ts';
import { createServiceToken, findServiceTokenRole, listServiceTokens, revokeServiceToken } from './service-tokens.ts';
import { auditContextOf, recordAuditEvent } from './audit.ts';

const tags = ['Service tokens'];

/** Service tokens (Herald): list, create (the caller's role or narrower, optionally limited to environments), revoke. */
export function serviceTokenRoutes({ db, accountId }: HttpDeps): FastifyPluginAsync {
  return async (root) => {
    const app = root.withTypeProvider<TypeBoxTypeProvider>();
    const slugs = async () => new Map((await listEnvironments(db, accountId)).map((e) => [e.id, e.slug]));

    app.get('/service_tokens', { schema: { tags, summary: 'List service tokens' } }, async () => {
      const bySlug = await slugs();
      const entries = await listServiceTokens(db, accountId, (id) => bySlug.get(id) ?? id);
      return { entries, page_info: { after: null, before: null, page_size: entries.length } };
    });

    app.post('/service_tokens', {
      schema: {
        tags,
        summary: 'Create a service token (shown once)',
        body: Type.Object(
          {
            name: Type.String({ minLength: 1, maxLength: 100 }),
            role: Type.Optional(Type.Union(ASSIGNABLE_ROLES.map((r) => Type.Literal(r)))),
            permission_group_id: Type.Optional(Type.String({ format: 'uuid', description: 'Herald: the permission group of a token with role `custom` (required with it).' })),
            environments: Type.Optional(Type.Array(Type.String({ maxLength: 100 }), { minItems: 1, maxItems: 50 })),
          },
          { additionalProperties: false },
        ),
      },
    }, async (request, reply) => {
      const { principal } = request;
      const role = request.body.role ?? principal.role;
      if (!isWithin(role, principal.role)) throw new Forbidden(`A token may carry your role ("${principal.role}") or a narrower one, not "${role}"`, 'role_too_broad');
      const environments = await listEnvironments(db, accountId);
      let environmentIds: string[] | null = principal.environmentIds;
      if (request.body.environments) {
        environmentIds = request.body.environments.map((slug) => {
          const environment = environments.find((e) => e.slug === slug);
          if (!environment) throw Invalid.field('environments', `names no environment ("${slug}")`);
          if (principal.environmentIds && !principal.environmentIds.includes(environment.id)) {
            throw new Forbidden(`You cannot grant access to "${slug}", which your own token lacks`, 'environment_too_broad');
          }
          return environment.id;
        });
      }
      const { id, token, groupId } = await db.transaction().execute(async (tx) => {
        // A custom token names its group; one carrying its custom creator's role keeps the creator's group.
        const asked = request.body.permission_group_id ?? (request.body.role === undefined ? principal.permissionGroup?.id : undefined);
        const groupId = await assignablePermissionGroup(tx, accountId, role, asked);
        const created = await createServiceToken(tx, accountId, { name: request.body.name, role, createdByMemberId: principal.memberId, environmentIds, permissionGroupId: groupId });
        await recordAuditEvent(tx, {
          ...auditContextOf(request),
          accountId,
          action: 'service_token.created',
          environmentId: null,
          target: { type: 'service_token', id: created.id },
          data: { name: request.body.name, role, ...(groupId ? { permission_group_id: groupId } : {}), environments: request.body.environments ?? null },
        });
        return { ...created, groupId };
      });
      const bySlug = new Map(environments.map((e) => [e.id, e.slug]));
      const group = groupId ? { permission_group_id: groupId } : {};
      return reply.status(201).send({ id, name: request.body.name, role, ...group, environments: environmentIds?.map((e) => bySlug.get(e)) ?? null, token });
    });

    app.delete('/service_tokens/:id', {
      schema: { tags, summary: 'Revoke a service token', params: Type.Object({ id: Type.String({ format: 'uuid' }) }) },
    }, async (request, reply) => {
      const role = await findServiceTokenRole(db, accountId, request.params.id);
      if (!role) throw new NotFound('Service token', request.params.id);
      if (!isWithin(role, request.principal.role)) throw new Forbidden(`A "${request.principal.role}" cannot revoke a "${role}" token`, 'role_too_broad');
      await db.transaction().execute(async (tx) => {
        await revokeServiceToken(tx, accountId, request.params.id);
        await recordAuditEvent(tx, { ...auditContextOf(request), accountId, action: 'service_token.revoked', environmentId: null, target: { type: 'service_token', id: request.params.id }, data: { role } });
      });
      return reply.status(204).send();
    });
  };
}

/** The account's settings (Herald): production write access. */
export function accountRoutes({ db, accountId }: HttpDeps): FastifyPluginAsync {
  return async (root) => {
    const app = root.withTypeProvider<TypeBoxTypeProvider>();
    const read = () => db.selectFrom('accounts').select(['name', 'slug', 'production_write_access']).where('id', '=', accountId).executeTakeFirstOrThrow();

    app.get('/account', { schema: { tags: ['Accounts'], summary: 'Account settings' } }, async () => read());

    app.patch('/account', {
      schema: {
        tags: ['Accounts'],
        summary: 'Change account settings',
        description: 'production_write_access: content may then be created and edited in any environment (editable only where created), and the production-only member role exists.',
        body: Type.Object({ production_write_access: Type.Boolean() }, { additionalProperties: false }),
      },
    }, async (request) => {
      await db.transaction().execute(async (tx) => {
        const before = await tx.selectFrom('accounts').select('production_write_access').where('id', '=', accountId).forUpdate().executeTakeFirstOrThrow();
        if (before.production_write_access === request.body.production_write_access) return;
        await tx.updateTable('accounts').set({ production_write_access: request.body.production_write_access, updated_at: new Date() }).where('id', '=', accountId).execute();
        await recordAuditEvent(tx, {
          ...auditContextOf(request),
          accountId,
          action: 'account.settings_changed',
          environmentId: null,
          target: { type: 'account', id: accountId },
          data: { production_write_access: { before: before.production_write_access, after: request.body.production_write_access } },
        });
      });
      return read();
    });
  };
}
