import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { HttpDeps } from '../../http/app.ts';
import { inEnvironment } from '../../db/scoped.ts';
import { NotFound } from '../../errors.ts';
import { UserId } from '../users/schema.ts';
import { requireUser } from '../users/service.ts';
import { PreferenceSet, PreferenceSetRequest } from './schema.ts';
import { toPreferenceSet, writeUserPreferenceSet } from './service.ts';
import * as store from './store.ts';

const tags = ['Preferences'];
const SetParams = Type.Object({ user_id: UserId, id: Type.String({ minLength: 1, maxLength: 256, description: '`default` or a tenant id' }) });

/** Data API routes for a user's preference sets. */
export function preferenceRoutes({ db }: HttpDeps): FastifyPluginAsync {
  return async (root) => {
    const app = root.withTypeProvider<TypeBoxTypeProvider>();

    app.get('/users/:user_id/preferences', {
      schema: { tags, summary: "List a user's preference sets", params: Type.Object({ user_id: UserId }), response: { 200: Type.Array(PreferenceSet) } },
    }, async (request) => {
      const { environmentId } = request.apiKey;
      const { user_id } = request.params;
      return inEnvironment(db, environmentId, async (tx) => {
        await requireUser(tx, environmentId, user_id);
        const sets = await store.listUserPreferenceSets(tx, environmentId, user_id);
        return sets.map((set) => toPreferenceSet(set.set_id, set.settings));
      });
    });

    app.get('/users/:user_id/preferences/:id', {
      schema: { tags, summary: 'Get a preference set (empty if never set)', params: SetParams, response: { 200: PreferenceSet } },
    }, async (request) => {
      const { environmentId } = request.apiKey;
      const { user_id, id } = request.params;
      return inEnvironment(db, environmentId, async (tx) => {
        await requireUser(tx, environmentId, user_id);
        const sets = await store.listUserPreferenceSets(tx, environmentId, user_id);
        return toPreferenceSet(id, sets.find((s) => s.set_id === id)?.settings);
      });
    });

    app.put('/users/:user_id/preferences/:id', {
      schema: {
        tags,
        summary: 'Set a preference set',
        description: "Replaces the set unless `__persistence_strategy__` is `merge`.",
        params: SetParams,
        body: PreferenceSetRequest,
        response: { 200: PreferenceSet },
      },
    }, async (request) => {
      const { environmentId } = request.apiKey;
      const { user_id, id } = request.params;
      return inEnvironment(db, environmentId, async (tx) => {
        await requireUser(tx, environmentId, user_id);
        return writeUserPreferenceSet(tx, environmentId, user_id, id, request.body, 'replace');
      });
    });

    app.delete('/users/:user_id/preferences/:id', {
      schema: { tags, summary: 'Delete a preference set', params: SetParams, response: { 204: Type.Null() } },
    }, async (request, reply) => {
      const { environmentId } = request.apiKey;
      const { user_id, id } = request.params;
      await inEnvironment(db, environmentId, async (tx) => {
        await requireUser(tx, environmentId, user_id);
        if (!(await store.deleteUserPreferenceSet(tx, environmentId, user_id, id))) throw new NotFound('Preference set', id);
      });
      return reply.status(204).send(null);
    });
  };
}
