import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { HttpDeps } from '../../http/app.ts';
import { inEnvironment } from '../../db/scoped.ts';
import { NotFound } from '../../errors.ts';
import { PageQuery } from '../../http/pagination.ts';
import { EnvironmentSlug, recordReveal, RevealBody, VIEW_TAGS, viewEnvironment } from '../../access/data-views.ts';
import { recipientView } from '../../access/obfuscation.ts';
import { listUserChannelData } from '../channel-data/store.ts';
import { listUserPreferenceSets } from '../preferences/store.ts';
import { toPreferenceSet } from '../preferences/service.ts';
import { findUser } from './store.ts';
import { listUsers, toUser } from './service.ts';
import { UserId } from './schema.ts';

const tags = VIEW_TAGS;
const Params = Type.Object({ environment_slug: EnvironmentSlug });
const UserParams = Type.Object({ environment_slug: EnvironmentSlug, user_id: UserId });

/**
 * The dashboard's read views of an environment's users (Herald), through the management
 * API: recipient details are masked when the environment hides PII, unless an owner or
 * admin reveals one record with a stated reason (audited).
 */
export function userViewRoutes({ db, accountId }: HttpDeps): FastifyPluginAsync {
  return async (root) => {
    const app = root.withTypeProvider<TypeBoxTypeProvider>();
    const environmentOf = (slug: string) => viewEnvironment(db, accountId, slug);

    /** A user with channel data and preference sets; unmasked. */
    const userDetail = async (environmentId: string, userId: string) => {
      const detail = await inEnvironment(db, environmentId, async (tx) => {
        const row = await findUser(tx, environmentId, userId);
        if (!row) return undefined;
        const channelData = await listUserChannelData(tx, environmentId, userId);
        const sets = await listUserPreferenceSets(tx, environmentId, userId);
        return { row, channelData, sets };
      });
      if (!detail) throw new NotFound('User', userId);
      return {
        ...toUser(detail.row),
        channel_data: detail.channelData.map((c) => ({ __typename: 'ChannelData', channel_id: c.channel_id, data: c.data })),
        preferences: detail.sets.map((s) => toPreferenceSet(s.set_id, s.settings)),
      };
    };

    app.get('/environments/:environment_slug/users', {
      schema: { tags, summary: "An environment's users (masked where the environment hides PII)", params: Params, querystring: Type.Object(PageQuery) },
    }, async (request) => {
      const environment = await environmentOf(request.params.environment_slug);
      const page = await listUsers(db, environment.id, request.query);
      return { entries: page.entries.map((user) => recipientView(user, environment)), page_info: page.page_info };
    });

    app.get('/environments/:environment_slug/users/:user_id', {
      schema: { tags, summary: 'One user with channel data and preferences (masked where the environment hides PII)', params: UserParams },
    }, async (request) => {
      const environment = await environmentOf(request.params.environment_slug);
      const { preferences, ...user } = await userDetail(environment.id, request.params.user_id);
      return { ...recipientView(user, environment), preferences };
    });

    app.post('/environments/:environment_slug/users/:user_id/reveal', {
      schema: {
        tags,
        summary: 'Reveal one masked user (owner/admin), with a reason that is audited',
        params: UserParams,
        body: RevealBody,
      },
    }, async (request) => {
      const environment = await environmentOf(request.params.environment_slug);
      const detail = await userDetail(environment.id, request.params.user_id);
      // The reveal is on the record before any data leaves.
      await recordReveal(db, request, accountId, environment.id, { type: 'user', id: request.params.user_id }, request.body.reason);
      return { ...detail, obfuscated: false };
    });
  };
}
