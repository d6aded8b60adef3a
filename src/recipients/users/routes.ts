import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { HttpDeps } from '../../http/app.ts';
import { inEnvironment } from '../../db/scoped.ts';
import { NotFound } from '../../errors.ts';
import { findBulkOperation, toBulkOperation } from '../bulk-operations/store.ts';
import * as users from './service.ts';
import {
  BulkDeleteUsersRequest,
  BulkIdentifyUsersRequest,
  BulkOperation,
  IdentifyUserRequest,
  ListUsersQuery,
  ListUsersResponse,
  MergeUserRequest,
  User,
  UserParams,
} from './schema.ts';

const tags = ['Users'];

/** Data API routes for users and bulk operations. */
export function userRoutes({ db, identify }: HttpDeps): FastifyPluginAsync {
  return async (root) => {
    const app = root.withTypeProvider<TypeBoxTypeProvider>();

    app.put('/users/:user_id', {
      schema: { tags, summary: 'Identify a user', params: UserParams, body: IdentifyUserRequest, response: { 200: User } },
    }, async (request) => users.identifyUser(db, identify, request.apiKey.environmentId, request.params.user_id, request.body as users.IdentifyBody));

    app.get('/users/:user_id', {
      schema: { tags, summary: 'Get a user', params: UserParams, response: { 200: User } },
    }, async (request) => users.getUser(db, request.apiKey.environmentId, request.params.user_id));

    app.delete('/users/:user_id', {
      schema: { tags, summary: 'Delete a user', params: UserParams, response: { 204: Type.Null() } },
    }, async (request, reply) => {
      await users.deleteUser(db, request.apiKey.environmentId, request.params.user_id);
      return reply.status(204).send(null);
    });

    app.get('/users', {
      schema: { tags, summary: 'List users', querystring: ListUsersQuery, response: { 200: ListUsersResponse } },
    }, async (request) => users.listUsers(db, request.apiKey.environmentId, request.query));

    app.post('/users/bulk/identify', {
      schema: { tags, summary: 'Bulk identify users (up to 1,000, atomically)', body: BulkIdentifyUsersRequest, response: { 200: BulkOperation } },
    }, async (request) => users.bulkIdentifyUsers(db, request.apiKey.environmentId, request.body.users as Array<users.IdentifyBody & { id: string }>));

    app.post('/users/bulk/delete', {
      schema: { tags, summary: 'Bulk delete users (up to 1,000, atomically)', body: BulkDeleteUsersRequest, response: { 200: BulkOperation } },
    }, async (request) => users.bulkDeleteUsers(db, request.apiKey.environmentId, request.body.user_ids));

    app.post('/users/:user_id/merge', {
      schema: { tags, summary: 'Merge two users', params: UserParams, body: MergeUserRequest, response: { 200: User } },
    }, async (request) => users.mergeUsers(db, request.apiKey.environmentId, request.params.user_id, request.body.from_user_id));

    app.get('/bulk_operations/:id', {
      schema: { tags: ['Bulk operations'], summary: 'Get a bulk operation', params: Type.Object({ id: Type.String({ format: 'uuid' }) }), response: { 200: BulkOperation } },
    }, async (request) => {
      const { environmentId } = request.apiKey;
      const row = await inEnvironment(db, environmentId, (tx) => findBulkOperation(tx, environmentId, request.params.id));
      if (!row) throw new NotFound('Bulk operation', request.params.id);
      return toBulkOperation(row);
    });
  };
}
