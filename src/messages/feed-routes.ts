import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { HttpDeps } from '../http/app.ts';
import { BulkOperation } from '../recipients/users/schema.ts';
import { getFeed, requireFeedUser, type FeedQuery as FeedQueryShape } from './feed.ts';
import { callerOf, forUsersNoBody, optionalBody } from './routes.ts';
import { ChannelBulkParams, ChannelBulkRequest, FeedParams, FeedQuery, FeedResponse, FeedSettingsResponse } from './schema.ts';
import { bulkUpdateChannel, type ChannelBulkBody } from './service.ts';

/** Routes a public key (with a signed user token) may use, for that user only. */
const forUsers = { allowPublicKey: true };

/** Data API: a user's in-app feed, and bulk status changes on a channel (what `@knocklabs/client` calls). */
export function feedRoutes({ db, accountId }: HttpDeps): FastifyPluginAsync {
  return async (root) => {
    const app = root.withTypeProvider<TypeBoxTypeProvider>();

    app.get('/users/:user_id/feeds/:channel_id', {
      config: forUsers,
      schema: {
        tags: ['Feeds'],
        summary: 'List a user\'s in-app feed items',
        description: 'The user\'s messages on an in-app channel, newest first, with badge counts (`meta`) and the environment\'s public variables (`vars`). `channel_id` may also be the channel\'s key.',
        params: FeedParams,
        querystring: FeedQuery,
        response: { 200: FeedResponse },
      },
    }, async (request) => getFeed(db, callerOf(request, accountId), request.params.user_id, request.params.channel_id, request.query as FeedQueryShape));

    app.get('/users/:user_id/feeds/:channel_id/settings', {
      config: forUsers,
      schema: { tags: ['Feeds'], summary: 'Get a user\'s feed settings', params: FeedParams, response: { 200: FeedSettingsResponse } },
    }, async (request) => {
      requireFeedUser(callerOf(request, accountId), request.params.user_id);
      return { features: { branding_required: false } };
    });

    app.post('/channels/:channel_id/messages/bulk/:action', {
      config: forUsersNoBody,
      preValidation: optionalBody,
      schema: {
        tags: ['Channels'],
        summary: 'Bulk update the messages of a channel',
        description: 'Applied atomically: answers a completed bulk operation. With a public key, only the token user\'s messages (`user_ids`/`recipient_ids` may name only that user), and never `delete`.',
        params: ChannelBulkParams,
        body: ChannelBulkRequest,
        response: { 200: BulkOperation },
      },
    }, async (request) => bulkUpdateChannel(db, callerOf(request, accountId), request.params.channel_id, request.params.action, request.body as ChannelBulkBody | null));
  };
}
