import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { HttpDeps } from '../../http/app.ts';
import { ListMessagesQuery, ListMessagesResponse } from '../../messages/schema.ts';
import * as messages from '../../messages/service.ts';
import { callerOf } from '../../messages/routes.ts';
import { ChannelData, ChannelDataRequest } from '../channel-data/schema.ts';
import type { ChannelDataValue } from '../channel-data/store.ts';
import { PreferenceSet, PreferenceSetRequest } from '../preferences/schema.ts';
import * as objects from './service.ts';
import {
  CollectionParams,
  ObjectChannelDataParams,
  ObjectPreferenceSetParams,
  DeleteSubscriptionsRequest,
  KnockObject,
  ListObjectSubscriptionsQuery,
  ListObjectsQuery,
  ListObjectsResponse,
  ListSubscriptionsResponse,
  ListUserSubscriptionsQuery,
  ObjectParams,
  ObjectSubscriptionParams,
  SetObjectRequest,
  SubscriptionsResponse,
  UpsertSubscriptionsRequest,
  UserSubscriptionParams,
} from './schema.ts';

const tags = ['Objects'];
const subscriptionTags = ['Subscriptions'];
const channelDataTags = ['Channel data', 'Objects'];
const preferenceTags = ['Objects', 'Preferences'];

/** Data API routes for objects and their subscriptions. */
export function objectRoutes({ db, accountId }: HttpDeps): FastifyPluginAsync {
  return async (root) => {
    const app = root.withTypeProvider<TypeBoxTypeProvider>();

    app.put('/objects/:collection/:id', {
      schema: { tags, summary: 'Set an object', params: ObjectParams, body: SetObjectRequest, response: { 200: KnockObject } },
    }, async (request) => objects.setObject(db, request.apiKey.environmentId, request.params.collection, request.params.id, request.body as objects.SetObjectBody));

    app.get('/objects/:collection/:id', {
      schema: { tags, summary: 'Get an object', params: ObjectParams, response: { 200: KnockObject } },
    }, async (request) => objects.getObject(db, request.apiKey.environmentId, request.params.collection, request.params.id));

    app.delete('/objects/:collection/:id', {
      schema: { tags, summary: 'Delete an object', params: ObjectParams, response: { 204: Type.Null() } },
    }, async (request, reply) => {
      await objects.deleteObject(db, request.apiKey.environmentId, request.params.collection, request.params.id);
      return reply.status(204).send(null);
    });

    app.get('/objects/:collection', {
      schema: { tags, summary: 'List objects in a collection', params: CollectionParams, querystring: ListObjectsQuery, response: { 200: ListObjectsResponse } },
    }, async (request) => objects.listObjects(db, request.apiKey.environmentId, request.params.collection, request.query));

    app.put('/objects/:collection/:object_id/channel_data/:channel_id', {
      schema: {
        tags: channelDataTags,
        summary: "Set an object's channel data (creating the object if needed)",
        params: ObjectChannelDataParams,
        body: ChannelDataRequest,
        response: { 200: ChannelData },
      },
    }, async (request) => {
      const { collection, object_id, channel_id } = request.params;
      return objects.setObjectChannelData(db, request.apiKey.environmentId, collection, object_id, channel_id, request.body.data as ChannelDataValue);
    });

    app.get('/objects/:collection/:object_id/channel_data/:channel_id', {
      schema: { tags: channelDataTags, summary: "Get an object's channel data", params: ObjectChannelDataParams, response: { 200: ChannelData } },
    }, async (request) => {
      const { collection, object_id, channel_id } = request.params;
      return objects.getObjectChannelData(db, request.apiKey.environmentId, collection, object_id, channel_id);
    });

    app.delete('/objects/:collection/:object_id/channel_data/:channel_id', {
      schema: { tags: channelDataTags, summary: "Unset an object's channel data", params: ObjectChannelDataParams, response: { 204: Type.Null() } },
    }, async (request, reply) => {
      const { collection, object_id, channel_id } = request.params;
      await objects.unsetObjectChannelData(db, request.apiKey.environmentId, collection, object_id, channel_id);
      return reply.status(204).send(null);
    });

    app.get('/objects/:collection/:object_id/preferences', {
      schema: { tags: preferenceTags, summary: "List an object's preference sets", params: ObjectSubscriptionParams, response: { 200: Type.Array(PreferenceSet) } },
    }, async (request) => objects.listObjectPreferences(db, request.apiKey.environmentId, request.params.collection, request.params.object_id));

    app.get('/objects/:collection/:object_id/preferences/:id', {
      schema: { tags: preferenceTags, summary: "Get an object's preference set (empty if never set)", params: ObjectPreferenceSetParams, response: { 200: PreferenceSet } },
    }, async (request) => {
      const { collection, object_id, id } = request.params;
      return objects.getObjectPreferences(db, request.apiKey.environmentId, collection, object_id, id);
    });

    app.put('/objects/:collection/:object_id/preferences/:id', {
      schema: {
        tags: preferenceTags,
        summary: "Set an object's preference set (creating the object if needed)",
        description: 'Replaces the set unless `__persistence_strategy__` is `merge`.',
        params: ObjectPreferenceSetParams,
        body: PreferenceSetRequest,
        response: { 200: PreferenceSet },
      },
    }, async (request) => {
      const { collection, object_id, id } = request.params;
      return objects.setObjectPreferences(db, request.apiKey.environmentId, collection, object_id, id, request.body);
    });

    app.delete('/objects/:collection/:object_id/preferences/:id', {
      schema: { tags: preferenceTags, summary: "Delete an object's preference set", params: ObjectPreferenceSetParams, response: { 204: Type.Null() } },
    }, async (request, reply) => {
      const { collection, object_id, id } = request.params;
      await objects.unsetObjectPreferences(db, request.apiKey.environmentId, collection, object_id, id);
      return reply.status(204).send(null);
    });

    app.get('/objects/:collection/:id/messages', {
      schema: {
        tags: [...tags, 'Messages'],
        summary: 'List messages of an object',
        params: ObjectParams,
        querystring: ListMessagesQuery,
        response: { 200: ListMessagesResponse },
      },
    }, async (request) => {
      const { collection, id } = request.params;
      objects.checkCollection(collection);
      return messages.listMessages(db, callerOf(request, accountId), request.query as messages.ListMessagesQuery, { id, collection });
    });

    app.get('/objects/:collection/:object_id/subscriptions', {
      schema: {
        tags: subscriptionTags,
        summary: 'List subscriptions of an object',
        params: ObjectSubscriptionParams,
        querystring: ListObjectSubscriptionsQuery,
        response: { 200: ListSubscriptionsResponse },
      },
    }, async (request) =>
      objects.listObjectSubscriptions(db, request.apiKey.environmentId, request.params.collection, request.params.object_id, request.query));

    app.post('/objects/:collection/:object_id/subscriptions', {
      schema: {
        tags: subscriptionTags,
        summary: 'Add subscriptions (up to 100 recipients)',
        params: ObjectSubscriptionParams,
        body: UpsertSubscriptionsRequest,
        response: { 200: SubscriptionsResponse },
      },
    }, async (request) =>
      objects.addSubscriptions(db, request.apiKey.environmentId, request.params.collection, request.params.object_id, request.body as Parameters<typeof objects.addSubscriptions>[4]));

    app.delete('/objects/:collection/:object_id/subscriptions', {
      schema: {
        tags: subscriptionTags,
        summary: 'Delete subscriptions (up to 100 recipients)',
        params: ObjectSubscriptionParams,
        body: DeleteSubscriptionsRequest,
        response: { 200: SubscriptionsResponse },
      },
    }, async (request) =>
      objects.deleteSubscriptions(db, request.apiKey.environmentId, request.params.collection, request.params.object_id, request.body.recipients));

    app.get('/users/:user_id/subscriptions', {
      schema: {
        tags: subscriptionTags,
        summary: "List a user's subscriptions",
        params: UserSubscriptionParams,
        querystring: ListUserSubscriptionsQuery,
        response: { 200: ListSubscriptionsResponse },
      },
    }, async (request) => objects.listUserSubscriptions(db, request.apiKey.environmentId, request.params.user_id, request.query));
  };
}
