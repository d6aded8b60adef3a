import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { HttpDeps } from '../../http/app.ts';
import { inEnvironment } from '../../db/scoped.ts';
import { NotFound } from '../../errors.ts';
import { requireUser } from '../users/service.ts';
import { ensureUser } from '../users/store.ts';
import { ChannelData, ChannelDataParams, ChannelDataRequest } from './schema.ts';
import * as store from './store.ts';

const tags = ['Channel data'];

/** The ChannelData shape; push and SNS data always carry both of their lists (Knock's full shapes). */
export function toChannelData(channelId: string, data: store.ChannelDataValue) {
  const full: store.ChannelDataValue = { ...data };
  if ('tokens' in full || ('devices' in full && !('target_arns' in full))) {
    full.tokens ??= [];
    full.devices ??= [];
  } else if ('target_arns' in full) {
    full.devices ??= [];
  }
  return { __typename: 'ChannelData' as const, channel_id: channelId, data: full };
}

/** Data API routes for a user's per-channel data (push tokens, chat connections). */
export function channelDataRoutes({ db }: HttpDeps): FastifyPluginAsync {
  return async (root) => {
    const app = root.withTypeProvider<TypeBoxTypeProvider>();

    app.put('/users/:user_id/channel_data/:channel_id', {
      schema: { tags, summary: "Set a user's channel data (creating the user if needed)", params: ChannelDataParams, body: ChannelDataRequest, response: { 200: ChannelData } },
    }, async (request) => {
      const { environmentId } = request.apiKey;
      const { user_id, channel_id } = request.params;
      const data = request.body.data as store.ChannelDataValue;
      await inEnvironment(db, environmentId, async (tx) => {
        await ensureUser(tx, environmentId, user_id);
        await store.upsertUserChannelData(tx, environmentId, user_id, channel_id, data);
      });
      return toChannelData(channel_id, data);
    });

    app.get('/users/:user_id/channel_data/:channel_id', {
      schema: { tags, summary: "Get a user's channel data", params: ChannelDataParams, response: { 200: ChannelData } },
    }, async (request) => {
      const { environmentId } = request.apiKey;
      const { user_id, channel_id } = request.params;
      const data = await inEnvironment(db, environmentId, async (tx) => {
        await requireUser(tx, environmentId, user_id);
        return store.findUserChannelData(tx, environmentId, user_id, channel_id);
      });
      if (!data) throw new NotFound('Channel data for channel', channel_id);
      return toChannelData(channel_id, data);
    });

    app.delete('/users/:user_id/channel_data/:channel_id', {
      schema: { tags, summary: "Unset a user's channel data", params: ChannelDataParams, response: { 204: Type.Null() } },
    }, async (request, reply) => {
      const { environmentId } = request.apiKey;
      const { user_id, channel_id } = request.params;
      await inEnvironment(db, environmentId, async (tx) => {
        await requireUser(tx, environmentId, user_id);
        if (!(await store.deleteUserChannelData(tx, environmentId, user_id, channel_id))) throw new NotFound('Channel data for channel', channel_id);
      });
      return reply.status(204).send(null);
    });
  };
}
