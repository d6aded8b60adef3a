import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { HttpDeps } from '../../http/app.ts';
import type { Db } from '../../db/database.ts';
import type { EnvironmentRow } from '../../db/schema.ts';
import type { Principal } from '../../access/service-tokens.ts';
import { auditContextOf } from '../../access/audit.ts';
import { decide } from '../../access/permissions.ts';
import { Invalid } from '../../errors.ts';
import { decodeCursor, encodeCursor } from '../../http/pagination.ts';
import { getEnvironment } from '../../environments/service.ts';
import { listEnvironments } from '../../environments/store.ts';
import { Channel, ChannelKeyParams, CreateChannelBody, EnvironmentChannel, EnvironmentChannelParams, UpdateEnvironmentChannelBody } from './schema.ts';
import { createChannel, getChannel, toChannelView, toEnvironmentChannelView, updateChannelSettings, withEnvironmentSettings } from './service.ts';
import * as store from './store.ts';

const tags = ['Channels'];

/** `include=environment_settings` (the SDK sends a comma-separated list, other clients `include[]=`). */
const Include = Type.Optional(Type.Union([Type.String({ maxLength: 200 }), Type.Array(Type.String({ maxLength: 50 }), { maxItems: 10 })]));

function includes(value: string | string[] | undefined): string[] {
  if (value === undefined) return [];
  const items = (Array.isArray(value) ? value : value.split(',')).map((v) => v.trim()).filter(Boolean);
  for (const item of items) if (item !== 'environment_settings') throw Invalid.field('include', 'may only be "environment_settings"');
  return items;
}

/** The environments whose channel settings the principal may read (capability `api_keys.read` there). */
async function readableEnvironments(db: Db, accountId: string, principal: Principal): Promise<EnvironmentRow[]> {
  const account = await db.selectFrom('accounts').select('production_write_access').where('id', '=', accountId).executeTakeFirstOrThrow();
  const environments = await listEnvironments(db, accountId);
  return environments.filter((env) => decide(principal, 'api_keys.read', env, { productionWriteAccess: account.production_write_access }).allowed);
}

/**
 * Channels (account-level, the same key in every environment) and their configuration
 * per environment. Secret provider settings are never returned by any read.
 */
export function channelConfigRoutes(deps: HttpDeps): FastifyPluginAsync {
  return async (root) => {
    const app = root.withTypeProvider<TypeBoxTypeProvider>();
    const { db, accountId } = deps;

    app.get('/channels', {
      schema: {
        tags,
        summary: 'List channels',
        description: 'Across the whole account, not one environment. `include=environment_settings` adds each environment\'s settings (secrets masked) for the environments the caller may read.',
        querystring: Type.Object({
          id: Type.Optional(Type.String({ format: 'uuid' })),
          include: Include,
          after: Type.Optional(Type.String({ maxLength: 500 })),
          before: Type.Optional(Type.String({ maxLength: 500 })),
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 50 })),
        }),
        response: { 200: Type.Object({ entries: Type.Array(Channel), page_info: Type.Any() }) },
      },
    }, async (request) => {
      const q = request.query;
      const withSettings = includes(q.include).length > 0;
      const limit = q.limit ?? 50;
      const after = q.after ? decodeCursor(q.after, 'after') : undefined;
      const before = q.before ? decodeCursor(q.before, 'before') : undefined;
      const rows = await store.listChannels(db, accountId, { after, before, limit, id: q.id });
      const backwards = before !== undefined && after === undefined;
      const hasMore = rows.length > limit;
      const page = rows.slice(0, limit);
      if (backwards) page.reverse();
      const entries = withSettings ? await withEnvironmentSettings(db, page, await readableEnvironments(db, accountId, request.principal)) : page.map(toChannelView);
      return {
        entries,
        page_info: {
          __typename: 'PageInfo',
          after: (backwards || hasMore) && page.length ? encodeCursor(page[page.length - 1].key) : null,
          before: (backwards ? hasMore : after !== undefined) && page.length ? encodeCursor(page[0].key) : null,
          page_size: limit,
        },
      };
    });

    app.get('/channels/:channel_key', {
      schema: {
        tags,
        summary: 'Get a channel',
        description: "With each environment's settings (secrets masked), for the environments the caller may read.",
        params: ChannelKeyParams,
        response: { 200: Channel },
      },
    }, async (request) => {
      const channel = await getChannel(db, accountId, request.params.channel_key);
      const [view] = await withEnvironmentSettings(db, [channel], await readableEnvironments(db, accountId, request.principal));
      return view;
    });

    app.post('/channels', {
      schema: {
        tags,
        summary: 'Create a channel (Herald)',
        description: 'The channel exists at once in every environment, unconfigured; configure it per environment with PUT /environments/{slug}/channels/{key}.',
        body: CreateChannelBody,
        response: { 201: Channel },
      },
    }, async (request, reply) => {
      const channel = await createChannel(db, accountId, request.body, auditContextOf(request));
      return reply.status(201).send(toChannelView(channel));
    });

    app.get('/environments/:environment_slug/channels/:channel_key', {
      schema: {
        tags,
        summary: "A channel's configuration in one environment (Herald)",
        description: 'Secret settings (passwords, tokens, private keys) are masked: never returned.',
        params: EnvironmentChannelParams,
        response: { 200: EnvironmentChannel },
      },
    }, async (request) => {
      const environment = await getEnvironment(db, accountId, request.params.environment_slug);
      const channel = await getChannel(db, accountId, request.params.channel_key);
      const settings = await store.findChannelSettings(db, channel.id, environment.id);
      return toEnvironmentChannelView(channel, environment, settings);
    });

    app.put('/environments/:environment_slug/channels/:channel_key', {
      schema: {
        tags,
        summary: 'Configure a channel in one environment (Herald)',
        description: "Provider settings are checked (422 listing every problem). Each environment has its own settings: development's never send through production's. Audited.",
        params: EnvironmentChannelParams,
        body: UpdateEnvironmentChannelBody,
        response: { 200: EnvironmentChannel },
      },
    }, async (request) => {
      const environment = await getEnvironment(db, accountId, request.params.environment_slug);
      const { channel, settings } = await updateChannelSettings(db, accountId, environment, request.params.channel_key, request.body, auditContextOf(request));
      return toEnvironmentChannelView(channel, environment, settings);
    });
  };
}
