import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { HttpDeps } from '../http/app.ts';
import { decodeCursor, encodeCursor } from '../http/pagination.ts';
import { Invalid, NotFound } from '../errors.ts';
import { RESOURCE_KINDS } from '../workflows/kinds.ts';
import { translationKey } from '../workflows/translation.ts';
import { annotate, stripLocalFileReferences } from './annotations.ts';
import { auditContextOf } from '../access/audit.ts';
import { commitDiff, getCommit, listCommits, presentCommit, environmentSlugs } from './commits-view.ts';
import { commitChanges } from './commit.ts';
import { contentSha } from './content-hash.ts';
import type { PlanResult } from './plan.ts';
import { promoteAll, promoteOne } from './promote.ts';
import { claimPendingRequest, decideRequest, listPromotionRequests, presentPromotionRequest } from './approval.ts';
import { RESOURCE_TYPES, type ResourceKind, type ResourceType } from './resource-kind.ts';
import { environmentBySlug, getResource, listResources, setResourceActive, upsertResource, validateResource } from './resources.ts';
import { revertCommit } from './revert.ts';
import { rollbackEnvironment } from './rollback.ts';
import * as store from './store.ts';

const Bool = Type.Optional(Type.Boolean());
const Environment = Type.Optional(Type.String({ maxLength: 100, default: 'development', description: 'Environment slug (default development).' }));
const Page = {
  after: Type.Optional(Type.String({ maxLength: 500 })),
  before: Type.Optional(Type.String({ maxLength: 500 })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 50 })),
};
/** The CLI sends `resource_type[]=…`; the SDK sends `resource_type=a,b`. */
const ResourceTypes = Type.Optional(Type.Union([Type.String({ maxLength: 200 }), Type.Array(Type.String({ maxLength: 50 }), { maxItems: 10 })]));

function resourceTypes(value: string | string[] | undefined): ResourceType[] | undefined {
  if (value === undefined) return undefined;
  const types = (Array.isArray(value) ? value : value.split(',')).map((t) => t.trim()).filter(Boolean);
  for (const type of types) {
    if (!(RESOURCE_TYPES as readonly string[]).includes(type)) throw Invalid.field('resource_type', `must be one of ${RESOURCE_TYPES.join(', ')}`);
  }
  return types as ResourceType[];
}

const likeLiteral = (value: string) => value.replace(/[\\%_]/g, '\\$&');

/**
 * LIKE patterns of the translation keys (`locale` or `locale/namespace`) matching a list's
 * locale_code and namespace filters (blank = no filter), so that filtering happens before
 * paging: a page is never emptied by the filter while later pages still match.
 */
function translationKeyPatterns(localeCode: string | undefined, namespace: string | undefined): string[] | undefined {
  if (!localeCode && !namespace) return undefined;
  const locale = localeCode ? likeLiteral(localeCode) : '%';
  if (namespace) return [translationKey(locale, likeLiteral(namespace))];
  return [locale, translationKey(locale, '%')];
}

/** The SDK retries 409s; a refused promotion is final, so tell it not to. */
function noRetry(reply: FastifyReply): void {
  reply.header('x-should-retry', 'false');
}

function planResponse(result: PlanResult, slugs: Map<string, string>) {
  if (result.dry_run) return { result: 'dry_run', dry_run: true, changes: result.changes };
  if ('pending' in result) return { result: 'pending_approval', dry_run: false, promotion_request: result.pending };
  return { result: 'success', dry_run: false, commits: result.commits.map((c) => presentCommit(c, slugs.get(c.environment_id) ?? '')) };
}

/** List/get/upsert/validate routes of one resource kind. */
function resourceRoutes(deps: HttpDeps, kind: ResourceKind): FastifyPluginAsync {
  const isTranslation = kind.type === 'translation';
  const keyParam = isTranslation ? 'locale_code' : `${kind.wrapper}_key`;
  const tags = [kind.collection];
  const Params = Type.Object({ [keyParam]: Type.String({ minLength: 1, maxLength: 255 }) });
  const keyOf = (params: Record<string, string>, namespace?: string) => (isTranslation ? translationKey(params[keyParam], namespace || null) : params[keyParam]);
  /**
   * The key a write addresses and the content it carries. A translation's locale comes from
   * the path and its namespace from the query (the SDK: body without either) or the body
   * (the CLI sends both): the content always holds the ones of the key, so the same strings
   * are the same version whichever client sent them.
   */
  const writeOf = (params: Record<string, string>, queryNamespace: string | undefined, wrapped: unknown) => {
    const body = stripLocalFileReferences(wrapped) as Record<string, unknown>;
    if (!isTranslation) return { key: keyOf(params), body };
    const namespace = queryNamespace ?? (typeof body.namespace === 'string' ? body.namespace : undefined);
    return { key: keyOf(params, namespace), body: { ...body, locale_code: params[keyParam], namespace: namespace || null } };
  };
  const Body = Type.Object({ [kind.wrapper]: Type.Record(Type.String(), Type.Unknown()) });
  const present = (resource: Record<string, unknown>, annotated: boolean | undefined) => (annotated ? annotate(kind.type, resource) : resource);

  return async (root) => {
    const app = root.withTypeProvider<TypeBoxTypeProvider>();
    const { db, accountId } = deps;

    app.get(`/${kind.collection}`, {
      schema: {
        tags,
        summary: `List ${kind.collection}`,
        querystring: Type.Object({
          environment: Environment,
          annotate: Bool,
          hide_uncommitted_changes: Bool,
          locale_code: Type.Optional(Type.String({ maxLength: 255 })),
          namespace: Type.Optional(Type.String({ maxLength: 255 })),
          format: Type.Optional(Type.String()),
          ...Page,
        }),
      },
    }, async (request) => {
      const q = request.query;
      const limit = q.limit ?? 50;
      const page = { after: q.after ? decodeCursor(q.after, 'after') : undefined, before: q.before ? decodeCursor(q.before, 'before') : undefined, limit };
      const keyLike = isTranslation ? translationKeyPatterns(q.locale_code, q.namespace) : undefined;
      const { rows, present: shape } = await listResources(db, accountId, kind, q.environment ?? 'development', page, q.hide_uncommitted_changes ?? false, keyLike);
      const backwards = page.before !== undefined && page.after === undefined;
      const hasMore = rows.length > limit;
      const pageRows = rows.slice(0, limit);
      if (backwards) pageRows.reverse();
      const entries = pageRows.map((row) => present(shape(row), q.annotate));
      return {
        entries,
        page_info: {
          after: (backwards || hasMore) && pageRows.length ? encodeCursor(pageRows[pageRows.length - 1].resource_key) : null,
          before: (backwards ? hasMore : page.after !== undefined) && pageRows.length ? encodeCursor(pageRows[0].resource_key) : null,
          page_size: limit,
        },
      };
    });

    app.get(`/${kind.collection}/:${keyParam}`, {
      schema: {
        tags,
        summary: `Get a ${kind.wrapper.replace('_', ' ')} (working copy unless hide_uncommitted_changes)`,
        params: Params,
        querystring: Type.Object({ environment: Environment, annotate: Bool, hide_uncommitted_changes: Bool, namespace: Type.Optional(Type.String()), format: Type.Optional(Type.String()) }),
      },
    }, async (request) => {
      const q = request.query;
      const resource = await getResource(db, accountId, kind, keyOf(request.params, q.namespace), q.environment ?? 'development', q.hide_uncommitted_changes ?? false);
      // The spec wraps a translation; the Knock CLI reads it bare: answer both ways.
      return isTranslation ? { ...resource, [kind.wrapper]: resource } : present(resource, q.annotate);
    });

    app.put(`/${kind.collection}/:${keyParam}`, {
      schema: {
        tags,
        summary: `Create or update a ${kind.wrapper.replace('_', ' ')} (development only unless production write access is on)`,
        params: Params,
        querystring: Type.Object({
          environment: Environment,
          annotate: Bool,
          commit: Bool,
          commit_message: Type.Optional(Type.String({ maxLength: 2000 })),
          force: Bool,
          allow_empty: Bool,
          namespace: Type.Optional(Type.String()),
        }),
        body: Body,
      },
    }, async (request) => {
      const q = request.query;
      const { key, body } = writeOf(request.params, q.namespace, request.body[kind.wrapper]);
      const resource = await upsertResource(db, accountId, kind, key, body, {
        environment: q.environment ?? 'development',
        commit: q.commit ?? false,
        commitMessage: q.commit_message,
        allowEmpty: q.allow_empty ?? false,
        audit: auditContextOf(request),
      });
      return { [kind.wrapper]: present(resource, q.annotate) };
    });

    app.put(`/${kind.collection}/:${keyParam}/validate`, {
      schema: { tags, summary: `Validate a ${kind.wrapper.replace('_', ' ')} without saving it`, params: Params, querystring: Type.Object({ environment: Environment, namespace: Type.Optional(Type.String()) }), body: Body },
    }, async (request) => {
      const q = request.query;
      const { key, body } = writeOf(request.params, q.namespace, request.body[kind.wrapper]);
      const { environment, content } = await validateResource(db, accountId, kind, key, body, q.environment ?? 'development');
      const now = new Date().toISOString();
      // The sha the content would have once saved.
      return { [kind.wrapper]: kind.present(content, { key, environment: environment.slug, active: false, created_at: now, updated_at: now, sha: contentSha(content) }) };
    });

    if (kind.type === 'workflow') {
      app.put(`/${kind.collection}/:${keyParam}/activate`, {
        schema: {
          tags,
          summary: 'Activate or deactivate a workflow in one environment (not versioned)',
          params: Params,
          querystring: Type.Object({ environment: Environment, status: Bool }),
          body: Type.Optional(Type.Object({ status: Type.Optional(Type.Boolean()) })),
        },
      }, async (request) => {
        const status = request.body?.status ?? request.query.status;
        if (status === undefined) throw Invalid.field('status', 'is required (true or false)');
        const resource = await setResourceActive(db, accountId, kind, keyOf(request.params), request.query.environment ?? 'development', status, auditContextOf(request));
        return { [kind.wrapper]: resource };
      });
    }
  };
}

const CommitParams = Type.Object({ id: Type.String({ format: 'uuid' }) });

/** Commit, promote, revert, rollback and history routes. */
function commitRoutes(deps: HttpDeps): FastifyPluginAsync {
  return async (root) => {
    const app = root.withTypeProvider<TypeBoxTypeProvider>();
    const { db, accountId } = deps;
    const tags = ['Commits'];

    /** Promote-one and revert answer `{commit}` (the new commit), or the plan on a dry run. */
    const singleCommitResponse = async (result: PlanResult) => {
      if (result.dry_run || 'pending' in result) return planResponse(result, new Map());
      const slugs = await environmentSlugs(db, accountId);
      return { commit: presentCommit(result.commits[0], slugs.get(result.commits[0].environment_id) ?? '') };
    };

    app.get('/commits', {
      schema: {
        tags,
        summary: 'List commits, newest first',
        querystring: Type.Object({ environment: Type.Optional(Type.String()), promoted: Bool, resource_type: ResourceTypes, resource_id: Type.Optional(Type.String()), ...Page }),
      },
    }, async (request) => {
      const q = request.query;
      const limit = q.limit ?? 50;
      const seqOf = (cursor: string | undefined, field: 'after' | 'before') => {
        if (!cursor) return undefined;
        const seq = decodeCursor(cursor, field);
        if (!/^\d{1,18}$/.test(seq)) throw Invalid.field(field, 'is not a valid cursor');
        return seq;
      };
      const { entries, after, before } = await listCommits(db, accountId, {
        environment: q.environment,
        promoted: q.promoted,
        resource_type: resourceTypes(q.resource_type),
        resource_id: q.resource_id,
        after: seqOf(q.after, 'after'),
        before: seqOf(q.before, 'before'),
        limit,
      });
      return { entries, page_info: { after: after && encodeCursor(after), before: before && encodeCursor(before), page_size: limit } };
    });

    app.get('/commits/:id', { schema: { tags, summary: 'Get a commit', params: CommitParams } }, async (request) => getCommit(db, accountId, request.params.id));

    app.get('/commits/:id/diff', {
      schema: { tags, summary: 'The change a commit made (Herald): content before and after, and a JSON Patch', params: CommitParams },
    }, async (request) => commitDiff(db, accountId, request.params.id));

    app.put('/commits', {
      schema: {
        tags,
        summary: 'Commit changes (all, one type, or one resource)',
        querystring: Type.Object({ environment: Environment, commit_message: Type.Optional(Type.String({ maxLength: 2000 })), allow_empty: Bool, resource_type: ResourceTypes, resource_id: Type.Optional(Type.String()) }),
      },
    }, async (request) => {
      const q = request.query;
      const commits = await db.transaction().execute(async (tx) => {
        await store.lockVersioning(tx, accountId);
        const environment = await environmentBySlug(tx, accountId, q.environment ?? 'development');
        return commitChanges(tx, accountId, environment, auditContextOf(request), {
          types: resourceTypes(q.resource_type),
          key: q.resource_id,
          message: q.commit_message ?? '',
          allowEmpty: q.allow_empty ?? false,
        });
      });
      const slugs = await environmentSlugs(db, accountId);
      return { result: 'success', commits: commits.map((c) => presentCommit(c, slugs.get(c.environment_id) ?? '')) };
    });

    app.put('/commits/promote', {
      schema: {
        tags,
        summary: 'Promote everything waiting in the environment directly below to_environment',
        querystring: Type.Object({ to_environment: Type.String({ minLength: 1 }), resource_type: ResourceTypes, resource_id: Type.Optional(Type.String()), dry_run: Bool, branch: Type.Optional(Type.String()) }),
      },
    }, async (request, reply) => {
      const q = request.query;
      const result = await promoteAll(db, accountId, q.to_environment, auditContextOf(request), { types: resourceTypes(q.resource_type), key: q.resource_id, dryRun: q.dry_run ?? false });
      if ('pending' in result) reply.status(202);
      return planResponse(result, await environmentSlugs(db, accountId));
    });

    app.put('/commits/:id/promote', {
      schema: { tags, summary: 'Promote one commit to the next environment', params: CommitParams, querystring: Type.Object({ dry_run: Bool }) },
    }, async (request, reply) => {
      noRetry(reply);
      const result = await promoteOne(db, accountId, request.params.id, auditContextOf(request), { dryRun: request.query.dry_run ?? false });
      if ('pending' in result) reply.status(202);
      return singleCommitResponse(result);
    });

    app.get('/promotion_requests', {
      schema: {
        tags: ['Promotion approval'],
        summary: 'Promotions waiting for (or decided by) a second member (Herald)',
        querystring: Type.Object({
          status: Type.Optional(Type.Union([Type.Literal('pending'), Type.Literal('applied'), Type.Literal('rejected')])),
          environment: Type.Optional(Type.String({ maxLength: 100 })),
        }),
      },
    }, async (request) => ({ entries: await listPromotionRequests(db, accountId, request.query) }));

    app.post('/promotion_requests/:id/approve', {
      schema: {
        tags: ['Promotion approval'],
        summary: 'Approve a pending promotion (a different member than the requester); it is applied at once, atomically',
        params: CommitParams,
      },
    }, async (request) => {
      const pending = await db.selectFrom('promotion_requests').selectAll().where('account_id', '=', accountId).where('id', '=', request.params.id).executeTakeFirst();
      if (!pending) throw new NotFound('Promotion request', request.params.id);
      const audit = auditContextOf(request);
      const slugs = await environmentSlugs(db, accountId);
      const result = pending.commit_id
        ? await promoteOne(db, accountId, pending.commit_id, audit, { dryRun: false, approvedRequestId: pending.id })
        : await promoteAll(db, accountId, slugs.get(pending.environment_id) ?? '', audit, {
          types: (pending.resource_types ?? undefined) as ResourceType[] | undefined,
          key: pending.resource_key ?? undefined,
          dryRun: false,
          approvedRequestId: pending.id,
        });
      const decided = (await listPromotionRequests(db, accountId, { environment: slugs.get(pending.environment_id) })).find((r) => r.id === pending.id);
      return { promotion_request: decided, ...planResponse(result, slugs) };
    });

    app.post('/promotion_requests/:id/reject', {
      schema: { tags: ['Promotion approval'], summary: 'Reject a pending promotion', params: CommitParams },
    }, async (request) => {
      const audit = auditContextOf(request);
      const row = await db.transaction().execute(async (tx) => {
        await claimPendingRequest(tx, accountId, request.params.id, audit);
        return decideRequest(tx, request.params.id, 'rejected', audit);
      });
      return { promotion_request: presentPromotionRequest(row, await environmentSlugs(db, accountId)) };
    });

    app.put('/commits/:id/revert', {
      schema: {
        tags,
        summary: 'Revert a commit (Herald): a new commit restoring the state before it, in the same environment',
        params: CommitParams,
        querystring: Type.Object({ dry_run: Bool }),
      },
    }, async (request) => {
      const result = await revertCommit(db, accountId, request.params.id, auditContextOf(request), { dryRun: request.query.dry_run ?? false });
      return singleCommitResponse(result);
    });

    app.put('/environments/:environment_slug/rollback', {
      schema: {
        tags,
        summary: "Roll an environment back to its state right after one of its own commits (Herald)",
        description: 'Atomic; recorded as new commits with rollback_of. Only versions the environment had can come back.',
        params: Type.Object({ environment_slug: Type.String({ maxLength: 100 }) }),
        querystring: Type.Object({ to_commit: Type.String({ format: 'uuid' }), resource_type: ResourceTypes, resource_id: Type.Optional(Type.String()), dry_run: Bool }),
      },
    }, async (request) => {
      const q = request.query;
      const result = await rollbackEnvironment(db, accountId, request.params.environment_slug, q.to_commit, auditContextOf(request), {
        types: resourceTypes(q.resource_type),
        key: q.resource_id,
        dryRun: q.dry_run ?? false,
      });
      const slugs = await environmentSlugs(db, accountId);
      return {
        result: result.dry_run ? 'dry_run' : 'success',
        dry_run: result.dry_run,
        restored: result.changes,
        unchanged_newer: result.unchanged_newer,
        commits: result.commits.map((c) => presentCommit(c, slugs.get(c.environment_id) ?? '')),
      };
    });
  };
}

/** Every versioning route of the management API. */
export function versioningRoutes(deps: HttpDeps): FastifyPluginAsync {
  return async (app) => {
    for (const kind of Object.values(RESOURCE_KINDS)) await app.register(resourceRoutes(deps, kind));
    await app.register(commitRoutes(deps));
  };
}
