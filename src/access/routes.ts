import type { FastifyPluginAsync } from 'fastify';
import type { HttpDeps } from '../http/app.ts';

/** Features this Herald account has, in the shape of Knock's `account_features`. */
const ACCOUNT_FEATURES = {
  batch_items_render_limit_allowed: true,
  custom_branding_allowed: true,
  data_retention_days: null,
  data_warehouse_extension_allowed: false,
  datadog_extension_allowed: false,
  dsync_allowed: false,
  guides_monthly_notified_recipients_limit: null,
  guides_per_tenant_scope_allowed: false,
  heap_extension_allowed: false,
  knock_branding_required: false,
  litmus_email_preview_allowed: false,
  message_sent_limit: null,
  new_relic_extension_allowed: false,
  permission_groups_allowed: true,
  segment_extension_allowed: false,
  self_serve_allowed: true,
  sso_allowed: false,
  tenant_preferences_allowed: true,
  translations_allowed: true,
};

/** `GET /whoami`: the account and the caller behind the token. */
export function accessRoutes(deps: HttpDeps): FastifyPluginAsync {
  return async (app) => {
    app.get('/whoami', { schema: { tags: ['Accounts'], summary: 'Verify scope' } }, async (request) => {
      const account = await deps.db.selectFrom('accounts').select(['name', 'slug']).where('id', '=', deps.accountId).executeTakeFirstOrThrow();
      const member = request.principal.memberId
        ? await deps.db.selectFrom('members').select(['id', 'email', 'name']).where('id', '=', request.principal.memberId).executeTakeFirst()
        : undefined;
      return {
        account_name: account.name,
        account_slug: account.slug,
        // A signed-in member is a user context (Knock's `oauth_context`), not a token.
        type: request.principal.type === 'member' ? 'oauth_context' : 'service_token',
        service_token_name: request.principal.type === 'member' ? null : request.principal.name,
        user_id: member?.id ?? null,
        user_email: member?.email ?? null,
        user_name: member?.name ?? null,
        account_features: ACCOUNT_FEATURES,
      };
    });
  };
}
