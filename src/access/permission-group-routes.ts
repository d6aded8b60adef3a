import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { HttpDeps } from '../http/app.ts';
import { auditContextOf } from './audit.ts';
import { ACCESS_LEVELS, RELEASE_LEVELS } from './permissions.ts';
import { createPermissionGroup, deletePermissionGroup, getPermissionGroup, listPermissionGroups, updatePermissionGroup } from './permission-groups.ts';

const tags = ['Permission groups'];
const IdParams = Type.Object({ id: Type.String({ format: 'uuid' }) });
const Name = Type.String({ minLength: 1, maxLength: 100 });
const Description = Type.Union([Type.String({ maxLength: 1000 }), Type.Null()]);
const Levels = Type.Object(
  {
    access: Type.Union(ACCESS_LEVELS.map((l) => Type.Literal(l)), { description: 'view: read content, data and API keys; manage: also edit content and manage recipients.' }),
    release: Type.Optional(Type.Union(RELEASE_LEVELS.map((l) => Type.Literal(l)), { description: 'commit: commit; manage: also promote, revert, roll back and approve promotions. Default none.' })),
  },
  { additionalProperties: false },
);
const Environments = Type.Record(Type.String({ minLength: 1, maxLength: 100 }), Levels, {
  maxProperties: 100,
  description: 'Levels by environment slug; an environment not listed is `none` (no access: 403 on every route there, hidden from environment lists).',
});

/** Custom permission groups (Herald, beyond Knock): per-environment levels for members and tokens with role `custom`. */
export function permissionGroupRoutes({ db, accountId }: HttpDeps): FastifyPluginAsync {
  return async (root) => {
    const app = root.withTypeProvider<TypeBoxTypeProvider>();

    app.get('/permission_groups', { schema: { tags, summary: 'List permission groups (Herald)' } }, async () => {
      const entries = await listPermissionGroups(db, accountId);
      return { entries, page_info: { after: null, before: null, page_size: entries.length } };
    });

    app.post('/permission_groups', {
      schema: {
        tags,
        summary: 'Create a permission group (Herald)',
        body: Type.Object({ name: Name, description: Type.Optional(Description), environments: Type.Optional(Environments) }, { additionalProperties: false }),
      },
    }, async (request, reply) => {
      const group = await createPermissionGroup(db, accountId, { ...request.body, environments: request.body.environments ?? {} }, auditContextOf(request));
      return reply.status(201).send(group);
    });

    app.get('/permission_groups/:id', { schema: { tags, summary: 'Get a permission group (Herald)', params: IdParams } }, async (request) =>
      getPermissionGroup(db, accountId, request.params.id));

    app.patch('/permission_groups/:id', {
      schema: {
        tags,
        summary: 'Change a permission group (Herald); `environments` replaces all its levels',
        params: IdParams,
        body: Type.Object({ name: Type.Optional(Name), description: Type.Optional(Description), environments: Type.Optional(Environments) }, { additionalProperties: false }),
      },
    }, async (request) => updatePermissionGroup(db, accountId, request.params.id, request.body, auditContextOf(request)));

    app.delete('/permission_groups/:id', {
      schema: { tags, summary: 'Delete a permission group no member or service token uses (Herald; else 409)', params: IdParams },
    }, async (request, reply) => {
      await deletePermissionGroup(db, accountId, request.params.id, auditContextOf(request));
      return reply.status(204).send();
    });
  };
}
