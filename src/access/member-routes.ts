import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { HttpDeps } from '../http/app.ts';
import { Invalid, NotFound } from '../errors.ts';
import { ASSIGNABLE_ROLES } from './permissions.ts';
import { auditContextOf, recordAuditEvent } from './audit.ts';
import { acceptInvite, changeMemberRole, findMember, inviteMember, listMembers, presentMember, removeMember } from './members.ts';
import { clearSessionCookies, revokeSession, setSessionCookies, signIn, SignInThrottle } from './sessions.ts';

const tags = ['Members'];
const Role = Type.Union(ASSIGNABLE_ROLES.map((r) => Type.Literal(r)));
const PermissionGroupId = Type.Optional(Type.String({ format: 'uuid', description: 'Herald: the permission group of a member with role `custom` (required with it, refused with any other role).' }));
const IdParams = Type.Object({ id: Type.String({ format: 'uuid' }) });
const Email = Type.String({ format: 'email', maxLength: 320 });

/** Members (Knock mgmt: list, get, remove; Herald: invite, change role) and sign-out. */
export function memberRoutes({ db, accountId }: HttpDeps): FastifyPluginAsync {
  return async (root) => {
    const app = root.withTypeProvider<TypeBoxTypeProvider>();

    app.get('/members', {
      schema: {
        tags,
        summary: 'List members',
        querystring: Type.Object({
          role: Type.Optional(Role),
          email: Type.Optional(Type.String({ maxLength: 320 })),
          after: Type.Optional(Type.String({ format: 'uuid', description: 'The cursor to fetch entries after.' })),
          before: Type.Optional(Type.String({ maxLength: 200, description: 'Not supported yet: pages go forwards only.' })),
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 50 })),
        }),
      },
    }, async (request) => {
      const limit = request.query.limit ?? 50;
      const { entries, after } = await listMembers(db, accountId, { ...request.query, limit });
      return { entries, page_info: { __typename: 'PageInfo', after, before: null, page_size: limit } };
    });

    app.get('/members/:id', { schema: { tags, summary: 'Get a member', params: IdParams } }, async (request) => {
      const member = await findMember(db, accountId, request.params.id);
      if (!member) throw new NotFound('Member', request.params.id);
      return presentMember(member);
    });

    app.post('/members', {
      schema: {
        tags,
        summary: 'Invite a member (Herald)',
        description:
          'Returns the member and a one-time `invite_token` (valid 7 days) to pass to `POST /members/accept`. Admins cannot invite owners or billing members. Role `custom` takes its permissions from `permission_group_id`.',
        body: Type.Object({ email: Email, role: Role, permission_group_id: PermissionGroupId }, { additionalProperties: false }),
      },
    }, async (request, reply) => {
      const { member, inviteToken, expiresAt } = await inviteMember(db, accountId, request.principal, request.body, auditContextOf(request));
      return reply.status(201).send({ ...member, invite_token: inviteToken, invite_expires_at: expiresAt.toISOString() });
    });

    app.patch('/members/:id', {
      schema: {
        tags,
        summary: "Change a member's role or permission group (Herald)",
        params: IdParams,
        body: Type.Object({ role: Role, permission_group_id: PermissionGroupId }, { additionalProperties: false }),
      },
    }, async (request) => changeMemberRole(db, accountId, request.principal, request.params.id, request.body, auditContextOf(request)));

    app.delete('/members/:id', {
      schema: { tags, summary: 'Remove a member (or revoke an invitation)', params: IdParams },
    }, async (request, reply) => {
      await removeMember(db, accountId, request.principal, request.params.id, auditContextOf(request));
      return reply.status(204).send();
    });

    app.delete('/sessions/current', {
      schema: { tags: ['Sessions'], summary: 'Sign out (Herald): revokes the current session' },
    }, async (request, reply) => {
      const { principal } = request;
      if (principal.type !== 'member') throw new Invalid('Only a sign-in session can sign out; revoke a service token with DELETE /service_tokens/{id}', [], 'not_a_session');
      await db.transaction().execute(async (tx) => {
        await revokeSession(tx, principal.tokenId);
        await recordAuditEvent(tx, { ...auditContextOf(request), accountId, action: 'member.signed_out', environmentId: null, target: { type: 'session', id: principal.tokenId } });
      });
      clearSessionCookies(request, reply);
      return reply.status(204).send();
    });
  };
}

/** Routes that need no token: accepting an invitation and signing in. Mounted outside the auth hook. */
export function publicAccessRoutes({ db, accountId }: HttpDeps): FastifyPluginAsync {
  return async (root) => {
    const app = root.withTypeProvider<TypeBoxTypeProvider>();
    const throttle = new SignInThrottle();

    app.post('/members/accept', {
      schema: {
        tags,
        summary: 'Accept an invitation (Herald, no authentication)',
        security: [],
        body: Type.Object(
          {
            invite_token: Type.String({ minLength: 1, maxLength: 200 }),
            password: Type.String({ minLength: 10, maxLength: 1024 }),
            name: Type.String({ minLength: 1, maxLength: 200 }),
          },
          { additionalProperties: false },
        ),
      },
    }, async (request) => acceptInvite(db, { inviteToken: request.body.invite_token, password: request.body.password, name: request.body.name }, request.id));

    app.post('/sessions', {
      schema: {
        tags: ['Sessions'],
        summary: 'Sign in (Herald, no authentication)',
        description:
          'Returns a session token (use it as `Authorization: Bearer <token>`) and sets an HttpOnly session cookie plus a `herald_csrf` cookie; cookie-authenticated writes must send that value in `x-csrf-token`. At most 5 failed attempts per email and per IP in 15 minutes.',
        security: [],
        body: Type.Object({ email: Type.String({ minLength: 1, maxLength: 320 }), password: Type.String({ minLength: 1, maxLength: 1024 }) }, { additionalProperties: false }),
      },
    }, async (request, reply) => {
      const session = await signIn(db, accountId, throttle, { ...request.body, ip: request.ip, requestId: request.id }, reply);
      setSessionCookies(request, reply, session);
      return reply.status(201).send({ token: session.token, csrf_token: session.csrfToken, expires_at: session.expiresAt.toISOString(), member: session.member });
    });
  };
}
