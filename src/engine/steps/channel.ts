import { randomUUID } from 'node:crypto';
import type { MessageRow } from '../../db/schema.ts';
import { inEnvironment, type EnvTx } from '../../db/scoped.ts';
import { sql } from 'kysely';
import { MESSAGES_CHANNEL } from '../../messages/notify.ts';
import { getProvider } from '../../channels/providers/index.ts';
import type { SendingChannel } from '../../channels/config/store.ts';
import { isAllowedByPreferences, type PreferenceSetInput } from '../preferences.ts';
import { renderTemplate } from '../render.ts';
import { recipientReference } from '../recipients.ts';
import { isLastStep, saveStep, saveStepState, type RunContext, type Step, type StepOutcome } from '../run-context.ts';
import { committedTemplateSources } from '../template-sources.ts';
import { deliverMessage, loadChannelData } from './deliver.ts';

/**
 * A channel step, checked in Knock's order: step conditions (done by the walker) →
 * the recipient can be reached on the channel → preferences → render → create the
 * message → deliver. In-app messages are delivered by being written (and announced to
 * open feeds); everything else goes to the channel's provider as configured in the
 * run's environment.
 */
export async function runChannelStep(ctx: RunContext, step: Step): Promise<StepOutcome> {
  const state = ctx.refs[step.ref];
  if (state?.message_id) {
    // A send was under way when the run stopped (crash, retry wait): continue it.
    return deliverMessage(ctx, step, String(state.message_id));
  }
  const channelKey = step.channel_key ?? '';
  const channel = await ctx.cache.channel(channelKey);
  if (!channel) throw new Error(`The channel "${channelKey}" does not exist`);

  // Only push and chat address recipients through channel data.
  const channelData = channel.type === 'push' || channel.type === 'chat' ? await loadChannelData(ctx, channel.id) : null;
  const unreachable = unreachableReason(ctx, channel, channelData);
  if (unreachable) {
    await saveStep(ctx, step.ref, { status: 'skipped', reason: unreachable, output: { delivery_status: 'skipped' } });
    return { kind: 'next' };
  }
  const blocked = await preferenceBlock(ctx, channel);
  if (blocked) {
    await saveStep(ctx, step.ref, { status: 'skipped', reason: blocked, output: { delivery_status: 'skipped' } });
    return { kind: 'next' };
  }

  const recipient = ctx.scope.recipient as Record<string, unknown>;
  const content = await renderTemplate(channel.type as never, step.template ?? {}, ctx.scope as never, committedTemplateSources(ctx.deps.db, ctx.environmentId), {
    locale: typeof recipient.locale === 'string' ? recipient.locale : undefined,
    emailSettings: channel.type === 'email' ? {
      from_address: channel.settings.from_address as string | undefined,
      from_name: channel.settings.from_name as string | undefined,
      reply_to_address: channel.settings.reply_to as string | undefined,
    } : undefined,
  });

  if (channel.type === 'in_app_feed') {
    await inEnvironment(ctx.deps.db, ctx.environmentId, async (tx) => {
      const messageId = await createMessage(tx, ctx, step, channel, content, 'delivered');
      await saveStepState(tx, ctx, step.ref, { status: 'done', message_id: messageId, output: { delivery_status: 'delivered', message_id: messageId } }, { completesRun: isLastStep(ctx, step) });
    });
    return { kind: 'next' };
  }

  const sandboxed = channel.sandbox || ctx.settings.sandbox_mode === true;
  const messageId = await inEnvironment(ctx.deps.db, ctx.environmentId, async (tx) => {
    const id = await createMessage(tx, ctx, step, channel, content, sandboxed ? 'not_sent' : 'queued');
    if (sandboxed) {
      await saveStepState(tx, ctx, step.ref, { status: 'done', message_id: id, output: { delivery_status: 'not_sent', message_id: id } }, { completesRun: isLastStep(ctx, step) });
    } else {
      await saveStepState(tx, ctx, step.ref, { status: 'delivering', message_id: id });
    }
    return id;
  });
  if (sandboxed) return { kind: 'next' };
  return deliverMessage(ctx, step, messageId, channel, channelData);
}

/** Why the recipient can't be reached on this channel (no email, phone, token, connection), if so. */
function unreachableReason(ctx: RunContext, channel: SendingChannel, channelData: Record<string, unknown> | null): string | undefined {
  if (channel.type === 'in_app_feed') return undefined;
  const provider = getProvider(channel.provider);
  if (!provider) return `the channel's provider "${channel.provider}" is not supported`;
  const recipient = ctx.scope.recipient as Record<string, unknown>;
  const addresses = provider.addresses({
    recipient: { id: ctx.recipientRef.id, email: recipient.email as string | undefined, name: recipient.name as string | undefined, phone_number: recipient.phone_number as string | undefined },
    channelData,
  });
  return addresses.length === 0 ? `the recipient has no ${channel.type === 'email' ? 'email address' : channel.type === 'sms' ? 'phone number' : 'channel data'} for this channel` : undefined;
}

/**
 * Preferences, merged in order: the recipient's set for the run's tenant, the tenant's
 * default set, the recipient's default set — for users and objects alike. The workflow's
 * `override_preferences` skips the check.
 */
async function preferenceBlock(ctx: RunContext, channel: SendingChannel): Promise<string | undefined> {
  if (ctx.workflow.settings?.override_preferences) return undefined;
  const tenant = ctx.run.tenant;
  const rows = ctx.preferenceSets;
  const byId = new Map(rows.map((row) => [row.set_id, row.settings as PreferenceSetInput]));
  const sets: PreferenceSetInput[] = [];
  if (tenant && byId.has(tenant)) sets.push({ ...byId.get(tenant)!, level: 'recipient_tenant' });
  const tenantDefault = (ctx.scope.tenantSettings as { preference_set?: PreferenceSetInput } | null)?.preference_set;
  if (tenantDefault) sets.push({ ...tenantDefault, level: 'tenant_default' });
  if (byId.has('default')) sets.push({ ...byId.get('default')!, level: 'recipient_default' });
  if (sets.length === 0) return undefined;
  const decision = isAllowedByPreferences({
    sets,
    workflowKey: ctx.run.workflow_key,
    categories: ctx.workflow.categories ?? [],
    channelType: channel.type,
    channelId: channel.id,
    conditionContext: ctx.scope,
    isCommercial: (ctx.workflow.settings as { is_commercial?: boolean } | null)?.is_commercial === true,
  });
  return decision.allowed ? undefined : `preferences: ${decision.reason ?? 'opted out'}`;
}

/**
 * Writes the step's message once — a retry finds the one already written (unique per run
 * and step) — with its first event and, for feeds, the announcement to open sockets: one
 * statement, so a feed message costs one round trip.
 */
async function createMessage(tx: EnvTx, ctx: RunContext, step: Step, channel: SendingChannel, content: unknown, status: MessageRow['status']): Promise<string> {
  const batch = ctx.scope.activities !== undefined;
  const actor = ctx.run.actor;
  const activities = batch
    ? (ctx.scope.activities as unknown[])
    : [{ id: ctx.run.id, actor, recipient: recipientReference(ctx.recipientRef), data: ctx.scope.data, inserted_at: ctx.run.inserted_at.toISOString() }];
  const actors = batch ? (ctx.scope.actors as unknown[]) : actor ? [actor] : [];
  const metadata = {
    categories: ctx.workflow.categories ?? [],
    activities,
    total_activities: batch ? ctx.scope.total_activities : 1,
    total_actors: batch ? ctx.scope.total_actors : actors.length,
  };
  const event = status === 'queued' ? null : `message.${status}`;
  const announce = channel.type === 'in_app_feed';
  const inserted = await sql<{ id: string }>`
    WITH m AS (
      INSERT INTO messages (environment_id, id, workflow_recipient_run_id, workflow_run_id, workflow_key, version_id, step_ref,
                            channel_id, channel_type, recipient, recipient_key, actors, tenant, status, data, content, metadata)
      VALUES (${ctx.environmentId}, ${randomUUID()}, ${ctx.run.id}, ${ctx.run.workflow_run_id}, ${ctx.run.workflow_key}, ${ctx.run.version_id}, ${step.ref},
              ${channel.id}, ${channel.type}, ${JSON.stringify(recipientReference(ctx.recipientRef))}::jsonb, ${ctx.run.recipient_key},
              ${JSON.stringify(actors)}::jsonb, ${ctx.run.tenant}, ${status}, ${JSON.stringify(ctx.scope.data)}::jsonb,
              ${JSON.stringify(content)}::jsonb, ${JSON.stringify(metadata)}::jsonb)
      ON CONFLICT (environment_id, workflow_recipient_run_id, step_ref) DO NOTHING
      RETURNING environment_id, id, channel_id, recipient_key
    ), e AS (
      INSERT INTO message_events (environment_id, message_id, type)
      SELECT environment_id, id, ${event}::text FROM m WHERE ${event}::text IS NOT NULL
    ), n AS (
      SELECT pg_notify(${MESSAGES_CHANNEL}, json_build_object('e', environment_id, 'c', channel_id, 'r', recipient_key, 'm', id)::text)
      FROM m WHERE ${announce}::boolean
    )
    SELECT id, (SELECT count(*) FROM n) AS announced FROM m`.execute(tx);
  const id = inserted.rows[0]?.id;
  if (id) return id;
  const existing = await tx.selectFrom('messages').select('id').where('environment_id', '=', ctx.environmentId).where('workflow_recipient_run_id', '=', ctx.run.id).where('step_ref', '=', step.ref).executeTakeFirstOrThrow();
  return existing.id;
}
