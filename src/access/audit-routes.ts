import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { HttpDeps } from '../http/app.ts';
import { decodeCursor, encodeCursor } from '../http/pagination.ts';
import { Invalid } from '../errors.ts';
import { AUDIT_ACTIONS, listAuditEvents } from './audit.ts';

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);

export const AuditEvent = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    action: Type.String({ description: `What happened: ${AUDIT_ACTIONS.join(', ')}.` }),
    actor: Type.Object({
      type: Type.Union([Type.Literal('member'), Type.Literal('service_token'), Type.Literal('system')]),
      id: Nullable(Type.String({ description: 'The member or service token id (null for Herald itself).' })),
      email: Nullable(Type.String({ description: "The member's email; for a service token, its creator's." })),
      name: Nullable(Type.String()),
    }),
    environment: Nullable(Type.String({ description: 'Slug of the environment acted in; null for account-level actions.' })),
    target: Type.Object({ type: Type.String(), id: Nullable(Type.String()) }),
    data: Type.Record(Type.String(), Type.Unknown(), { description: 'Small details (before/after settings, ids); never secrets or recipient data.' }),
    request_id: Nullable(Type.String({ description: 'The id of the request that made the change (as in the access log).' })),
    created_at: Type.String({ format: 'date-time' }),
  },
  { $id: 'AuditEvent', title: 'AuditEvent' },
);

const AuditQuery = Type.Object({
  actor: Type.Optional(Type.String({ minLength: 1, maxLength: 320, description: 'A member or service token id, or an email.' })),
  action: Type.Optional(Type.String({ minLength: 1, maxLength: 1000, description: 'An action, or several separated by commas.' })),
  environment: Type.Optional(Type.String({ minLength: 1, maxLength: 100, description: 'Environment slug.' })),
  from: Type.Optional(Type.String({ format: 'date-time', description: 'Events at or after this time (ISO 8601).' })),
  to: Type.Optional(Type.String({ format: 'date-time', description: 'Events before this time (ISO 8601).' })),
  after: Type.Optional(Type.String({ maxLength: 200, description: 'Cursor: the next (older) page.' })),
  before: Type.Optional(Type.String({ maxLength: 200, description: 'Cursor: the previous (newer) page.' })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 50 })),
});

function seqCursor(cursor: string | undefined, field: 'after' | 'before'): string | undefined {
  if (!cursor) return undefined;
  const seq = decodeCursor(cursor, field);
  if (!/^\d{1,18}$/.test(seq)) throw Invalid.field(field, 'is not a valid cursor');
  return seq;
}

/** `GET /audit_events`: the account's audit log, newest first (owners and admins). */
export function auditRoutes({ db, accountId }: HttpDeps): FastifyPluginAsync {
  return async (root) => {
    const app = root.withTypeProvider<TypeBoxTypeProvider>();

    app.get('/audit_events', {
      schema: {
        tags: ['Audit log'],
        summary: 'List audit events, newest first (Herald)',
        description:
          'Append-only record of member, token, API key, environment and content changes, with actor, environment, target, time and request id. Readable by owners and admins.',
        querystring: AuditQuery,
        response: {
          200: Type.Object({
            entries: Type.Array(AuditEvent),
            page_info: Type.Object({ after: Nullable(Type.String()), before: Nullable(Type.String()), page_size: Type.Integer() }),
          }),
        },
      },
    }, async (request) => {
      const q = request.query;
      const limit = q.limit ?? 50;
      const actions = q.action?.split(',').map((a) => a.trim()).filter(Boolean);
      const { entries, after, before } = await listAuditEvents(db, accountId, {
        actor: q.actor,
        actions,
        environment: q.environment,
        from: q.from,
        to: q.to,
        after: seqCursor(q.after, 'after'),
        before: seqCursor(q.before, 'before'),
        limit,
      });
      return { entries, page_info: { after: after && encodeCursor(after), before: before && encodeCursor(before), page_size: limit } };
    });
  };
}
