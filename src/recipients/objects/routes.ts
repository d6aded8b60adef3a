import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { HttpDeps } from '../../http/app.ts';
import * as objects from './service.ts';
import {
  CollectionParams,
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

/** Data API routes for objects and their subscriptions. */
export function objectRoutes({ db }: HttpDeps): FastifyPluginAsync {
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
