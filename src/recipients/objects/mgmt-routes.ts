import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { HttpDeps } from '../../http/app.ts';
import { PageQuery } from '../../http/pagination.ts';
import { EnvironmentSlug, recordReveal, RevealBody, VIEW_TAGS, viewEnvironment } from '../../access/data-views.ts';
import { recipientView } from '../../access/obfuscation.ts';
import { getObject, listObjects } from './service.ts';
import { Collection, ObjectId } from './schema.ts';

const tags = VIEW_TAGS;
const CollectionParams = Type.Object({ environment_slug: EnvironmentSlug, collection: Collection });
const ObjectParams = Type.Object({ environment_slug: EnvironmentSlug, collection: Collection, object_id: ObjectId });

/**
 * The dashboard's read views of an environment's objects (Herald), through the
 * management API: properties masked where the environment hides PII, unless an owner
 * or admin reveals one object with a stated reason (audited).
 */
export function objectViewRoutes({ db, accountId }: HttpDeps): FastifyPluginAsync {
  return async (root) => {
    const app = root.withTypeProvider<TypeBoxTypeProvider>();

    app.get('/environments/:environment_slug/objects/:collection', {
      schema: { tags, summary: "The objects of one of an environment's collections (masked where the environment hides PII)", params: CollectionParams, querystring: Type.Object(PageQuery) },
    }, async (request) => {
      const environment = await viewEnvironment(db, accountId, request.params.environment_slug);
      const page = await listObjects(db, environment.id, request.params.collection, request.query);
      return { entries: page.entries.map((object) => recipientView(object, environment)), page_info: page.page_info };
    });

    app.get('/environments/:environment_slug/objects/:collection/:object_id', {
      schema: { tags, summary: 'One object (masked where the environment hides PII)', params: ObjectParams },
    }, async (request) => {
      const environment = await viewEnvironment(db, accountId, request.params.environment_slug);
      return recipientView(await getObject(db, environment.id, request.params.collection, request.params.object_id), environment);
    });

    app.post('/environments/:environment_slug/objects/:collection/:object_id/reveal', {
      schema: { tags, summary: 'Reveal one masked object (owner/admin), with a reason that is audited', params: ObjectParams, body: RevealBody },
    }, async (request) => {
      const environment = await viewEnvironment(db, accountId, request.params.environment_slug);
      const object = await getObject(db, environment.id, request.params.collection, request.params.object_id);
      // The reveal is on the record before any data leaves.
      await recordReveal(db, request, accountId, environment.id, { type: 'object', id: `${object.collection}/${object.id}` }, request.body.reason);
      return { ...object, obfuscated: false };
    });
  };
}
