import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { HttpDeps } from '../http/app.ts';
import { PageQuery } from '../http/pagination.ts';
import type { EngagementAction } from './engagement.ts';
import {
  BatchActionParams,
  BatchContentQuery,
  BatchMessagesRequest,
  BatchMessagesResponse,
  ListActivitiesQuery,
  ListActivitiesResponse,
  ListMessageDeliveryLogsResponse,
  ListMessageEventsResponse,
  ListMessagesQuery,
  ListMessagesResponse,
  Message,
  MessageContents,
  MessageInteractedRequest,
  MessageParams,
  UserMessagesParams,
} from './schema.ts';
import * as messages from './service.ts';

const tags = ['Messages'];

/** Routes a public key (with a signed user token) may use, for that user's messages only. */
const forUsers = { allowPublicKey: true };
/** The same, with an optional body (Knock's feed client may send a JSON content type and no body). */
export const forUsersNoBody = { allowPublicKey: true, optionalBody: true };

/** Who is calling: the environment of the key, and with a public key the token's user. */
export function callerOf(request: FastifyRequest, accountId: string): messages.Caller {
  return { environmentId: request.apiKey.environmentId, accountId, onlyUser: request.tokenUserId };
}

/**
 * Bodies are optional on engagement routes; Knock's feed client sends
 * `Content-Type: application/json` with no body at all.
 */
export async function optionalBody(request: FastifyRequest): Promise<void> {
  if (request.body === undefined) request.body = null;
}

/** PUT sets a status; DELETE clears it (Knock also names the cleared status in the path: DELETE …/unread). */
const PUT_ACTIONS: Array<{ path: string; action: EngagementAction; summary: string }> = [
  { path: 'seen', action: 'seen', summary: 'Mark message as seen' },
  { path: 'read', action: 'read', summary: 'Mark message as read' },
  { path: 'archived', action: 'archived', summary: 'Archive message' },
];
const DELETE_ACTIONS: Array<{ path: string; action: EngagementAction; summary: string }> = [
  { path: 'seen', action: 'unseen', summary: 'Mark message as unseen' },
  { path: 'unseen', action: 'unseen', summary: 'Mark message as unseen' },
  { path: 'read', action: 'unread', summary: 'Mark message as unread' },
  { path: 'unread', action: 'unread', summary: 'Mark message as unread' },
  { path: 'archived', action: 'unarchived', summary: 'Unarchive message' },
  { path: 'unarchived', action: 'unarchived', summary: 'Unarchive message' },
];

/** Data API: messages, their content, events, activities, delivery logs and engagement. */
export function messageRoutes({ db, accountId }: HttpDeps): FastifyPluginAsync {
  return async (root) => {
    const app = root.withTypeProvider<TypeBoxTypeProvider>();

    app.get('/messages', {
      schema: { tags, summary: 'List messages', querystring: ListMessagesQuery, response: { 200: ListMessagesResponse } },
    }, async (request) => messages.listMessages(db, callerOf(request, accountId), request.query as messages.ListMessagesQuery));

    app.get('/users/:user_id/messages', {
      config: forUsers,
      schema: { tags: ['Users', ...tags], summary: 'List messages of a user', params: UserMessagesParams, querystring: ListMessagesQuery, response: { 200: ListMessagesResponse } },
    }, async (request) => messages.listMessages(db, callerOf(request, accountId), request.query as messages.ListMessagesQuery, { id: request.params.user_id }));

    app.get('/messages/batch/content', {
      config: forUsers,
      schema: { tags, summary: 'Batch get message contents', querystring: BatchContentQuery, response: { 200: Type.Array(MessageContents) } },
    }, async (request) => messages.batchGetContent(db, callerOf(request, accountId), request.query.message_ids));

    app.post('/messages/batch/:action', {
      config: forUsersNoBody,
      preValidation: optionalBody,
      schema: { tags, summary: 'Change the engagement status of messages', params: BatchActionParams, body: BatchMessagesRequest, response: { 200: BatchMessagesResponse } },
    }, async (request) =>
      messages.batchUpdateEngagement(db, callerOf(request, accountId), request.body.message_ids, request.params.action, request.body.metadata as Record<string, unknown> | null | undefined));

    app.get('/messages/:message_id', {
      config: forUsers,
      schema: { tags, summary: 'Get a message', params: MessageParams, response: { 200: Message } },
    }, async (request) => messages.getMessage(db, callerOf(request, accountId), request.params.message_id));

    app.get('/messages/:message_id/content', {
      config: forUsers,
      schema: { tags, summary: 'Get message content', params: MessageParams, response: { 200: MessageContents } },
    }, async (request) => messages.getContent(db, callerOf(request, accountId), request.params.message_id));

    app.get('/messages/:message_id/events', {
      schema: { tags, summary: 'List message events', params: MessageParams, querystring: Type.Object(PageQuery), response: { 200: ListMessageEventsResponse } },
    }, async (request) => messages.listEvents(db, callerOf(request, accountId), request.params.message_id, request.query));

    app.get('/messages/:message_id/activities', {
      config: forUsers,
      schema: { tags, summary: 'List message activities', params: MessageParams, querystring: ListActivitiesQuery, response: { 200: ListActivitiesResponse } },
    }, async (request) => messages.listActivities(db, callerOf(request, accountId), request.params.message_id, request.query));

    app.get('/messages/:message_id/delivery_logs', {
      schema: { tags, summary: 'List message delivery logs', params: MessageParams, querystring: Type.Object(PageQuery), response: { 200: ListMessageDeliveryLogsResponse } },
    }, async (request) => messages.listDeliveryLogs(db, callerOf(request, accountId), request.params.message_id, request.query));

    for (const { path, action, summary } of PUT_ACTIONS) {
      app.put(`/messages/:message_id/${path}`, {
        config: forUsersNoBody,
        preValidation: optionalBody,
        schema: { tags, summary, params: MessageParams, response: { 200: Message } },
      }, async (request) => messages.updateEngagement(db, callerOf(request, accountId), request.params.message_id, action));
    }
    for (const { path, action, summary } of DELETE_ACTIONS) {
      app.delete(`/messages/:message_id/${path}`, {
        config: forUsersNoBody,
        preValidation: optionalBody,
        schema: { tags, summary, params: MessageParams, response: { 200: Message } },
      }, async (request) => messages.updateEngagement(db, callerOf(request, accountId), request.params.message_id, action));
    }

    app.put('/messages/:message_id/interacted', {
      config: forUsersNoBody,
      preValidation: optionalBody,
      schema: { tags, summary: 'Mark message as interacted', params: MessageParams, body: MessageInteractedRequest, response: { 200: Message } },
    }, async (request) =>
      messages.updateEngagement(db, callerOf(request, accountId), request.params.message_id, 'interacted', (request.body?.metadata ?? null) as Record<string, unknown> | null));
  };
}
