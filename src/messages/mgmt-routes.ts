import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { HttpDeps } from '../http/app.ts';
import type { EnvironmentRow } from '../db/schema.ts';
import { Invalid } from '../errors.ts';
import { PageQuery } from '../http/pagination.ts';
import { EnvironmentSlug, recipientExpander, recordReveal, RevealBody, VIEW_TAGS, viewEnvironment } from '../access/data-views.ts';
import { contentView, diagnosticView, hidesAnything, type DataControls } from '../access/obfuscation.ts';
import { ListMessagesQuery } from './schema.ts';
import * as messages from './service.ts';

const tags = VIEW_TAGS;
const Key = Type.String({ minLength: 1, maxLength: 256 });
const Params = Type.Object({ environment_slug: EnvironmentSlug });
const MessageParams = Type.Object({ environment_slug: EnvironmentSlug, message_id: Key });
const ListQuery = Type.Object({
  ...ListMessagesQuery.properties,
  workflow: Type.Optional(Type.String({ minLength: 1, maxLength: 256, description: 'Only messages of this workflow (the same as `source`).' })),
  recipient: Type.Optional(Type.String({ minLength: 1, maxLength: 256, description: 'Only messages to this recipient: a user id, or an object id with `recipient_collection`.' })),
  recipient_collection: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
});

/** Delivery-log fields kept when the environment hides anything: the call's method and the answer's status. */
const LOG_REQUEST_KEEP: ReadonlySet<string> = new Set(['method']);
const LOG_RESPONSE_KEEP: ReadonlySet<string> = new Set(['status']);
const EVENT_DATA_KEEP: ReadonlySet<string> = new Set(['status', 'attempt']);

/**
 * A filter on message data would answer questions about hidden content one guess at a
 * time: refused where the environment hides it.
 */
function checkFilters(query: { trigger_data?: string }, controls: DataControls): void {
  if (query.trigger_data !== undefined && controls.hide_message_content) {
    throw Invalid.field('trigger_data', 'cannot be filtered on in an environment that hides message content');
  }
}

type Expand = Awaited<ReturnType<typeof recipientExpander>>;

/** A message as a team member may see it: recipient and actors expanded (masked with `hide_pii_data`), payloads masked with `hide_message_content`. */
function messageView(message: messages.MessageView, expand: Expand, controls: DataControls) {
  const at = new Date(message.inserted_at);
  return {
    ...message,
    recipient: expand(message.recipient, at),
    actors: message.actors.map((actor) => expand(actor, at)),
    data: contentView(message.data, controls) as Record<string, unknown> | null,
    metadata: contentView(message.metadata, controls) as Record<string, unknown> | null,
    obfuscated: hidesAnything(controls),
  };
}

async function messageViews(deps: HttpDeps, environment: EnvironmentRow, found: messages.MessageView[]) {
  const expand = await recipientExpander(deps.db, environment, found.flatMap((m) => [m.recipient, ...m.actors]));
  return found.map((message) => messageView(message, expand, environment));
}

type DeliveryLogs = Awaited<ReturnType<typeof messages.listDeliveryLogs>>;

function deliveryLogsView(logs: DeliveryLogs, controls: DataControls) {
  return {
    items: logs.items.map((log) => ({
      ...log,
      request: diagnosticView(log.request, controls, LOG_REQUEST_KEEP) as Record<string, unknown>,
      response: diagnosticView(log.response, controls, LOG_RESPONSE_KEEP) as Record<string, unknown>,
      error: diagnosticView(log.error, controls) as string | null,
      obfuscated: hidesAnything(controls),
    })),
    page_info: logs.page_info,
  };
}

/**
 * The dashboard's read views of an environment's messages (Herald), through the
 * management API: recipients masked where the environment hides PII, content, data and
 * delivery-log bodies where it hides message content; an owner or admin may reveal one
 * message with a stated reason (audited).
 */
export function messageViewRoutes(deps: HttpDeps): FastifyPluginAsync {
  const { db, accountId } = deps;
  return async (root) => {
    const app = root.withTypeProvider<TypeBoxTypeProvider>();
    const callerIn = (environment: EnvironmentRow): messages.Caller => ({ environmentId: environment.id, accountId });

    app.get('/environments/:environment_slug/messages', {
      schema: { tags, summary: "An environment's messages, newest first (masked as the environment's data controls say)", params: Params, querystring: ListQuery },
    }, async (request) => {
      const environment = await viewEnvironment(db, accountId, request.params.environment_slug);
      const { workflow, recipient, recipient_collection: collection, ...query } = request.query;
      checkFilters(query, environment);
      const page = await messages.listMessages(
        db,
        callerIn(environment),
        { ...(query as messages.ListMessagesQuery), source: query.source ?? workflow },
        recipient !== undefined ? { id: recipient, collection } : undefined,
      );
      return { items: await messageViews(deps, environment, page.items), page_info: page.page_info };
    });

    app.get('/environments/:environment_slug/messages/:message_id', {
      schema: { tags, summary: 'One message (masked as the environment\'s data controls say)', params: MessageParams },
    }, async (request) => {
      const environment = await viewEnvironment(db, accountId, request.params.environment_slug);
      const [view] = await messageViews(deps, environment, [await messages.getMessage(db, callerIn(environment), request.params.message_id)]);
      return view;
    });

    app.get('/environments/:environment_slug/messages/:message_id/content', {
      schema: { tags, summary: 'A message\'s rendered content (masked where the environment hides message content)', params: MessageParams },
    }, async (request) => {
      const environment = await viewEnvironment(db, accountId, request.params.environment_slug);
      const content = await messages.getContent(db, callerIn(environment), request.params.message_id);
      return { ...content, data: contentView(content.data, environment), obfuscated: hidesAnything(environment) };
    });

    app.get('/environments/:environment_slug/messages/:message_id/events', {
      schema: { tags, summary: 'A message\'s events (their data masked where the environment hides anything)', params: MessageParams, querystring: Type.Object(PageQuery) },
    }, async (request) => {
      const environment = await viewEnvironment(db, accountId, request.params.environment_slug);
      const events = await messages.listEvents(db, callerIn(environment), request.params.message_id, request.query);
      return {
        items: events.items.map((event) => ({ ...event, data: diagnosticView(event.data, environment, EVENT_DATA_KEEP), obfuscated: hidesAnything(environment) })),
        page_info: events.page_info,
      };
    });

    app.get('/environments/:environment_slug/messages/:message_id/delivery_logs', {
      schema: { tags, summary: 'A message\'s delivery logs (bodies, headers and errors masked where the environment hides anything)', params: MessageParams, querystring: Type.Object(PageQuery) },
    }, async (request) => {
      const environment = await viewEnvironment(db, accountId, request.params.environment_slug);
      return deliveryLogsView(await messages.listDeliveryLogs(db, callerIn(environment), request.params.message_id, request.query), environment);
    });

    app.post('/environments/:environment_slug/messages/:message_id/reveal', {
      schema: { tags, summary: 'Reveal one masked message with its content and delivery logs (owner/admin), with a reason that is audited', params: MessageParams, body: RevealBody },
    }, async (request) => {
      const environment = await viewEnvironment(db, accountId, request.params.environment_slug);
      const caller = callerIn(environment);
      const message = await messages.getMessage(db, caller, request.params.message_id);
      const content = await messages.getContent(db, caller, message.id);
      const logs = await messages.listDeliveryLogs(db, caller, message.id, {});
      // The reveal is on the record before any data leaves.
      await recordReveal(db, request, accountId, environment.id, { type: 'message', id: message.id }, request.body.reason);
      const open: DataControls = { hide_pii_data: false, hide_message_content: false };
      const [view] = await messageViews(deps, { ...environment, ...open }, [message]);
      return { ...view, content: content.data, delivery_logs: logs.items, obfuscated: false };
    });
  };
}
