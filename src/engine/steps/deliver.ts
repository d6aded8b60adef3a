import { sql } from 'kysely';
import type { SendingChannel } from '../../channels/config/store.ts';
import { DeliveryError, type DeliverableChannelType, type OutboundMessage } from '../../channels/provider.ts';
import { getProvider } from '../../channels/providers/index.ts';
import type { Db } from '../../db/database.ts';
import type { MessageStatus } from '../../db/schema.ts';
import { inEnvironment } from '../../db/scoped.ts';
import { findUserChannelData } from '../../recipients/channel-data/store.ts';
import { findObjectChannelData } from '../../recipients/objects/store.ts';
import { backoffMs, pauseRunWithin, saveStepState, type RunContext, type Step, type StepOutcome } from '../run-context.ts';

/** The recipient's (a user's or an object's) channel data for `channelId` (push tokens, chat connections), if any. */
export async function loadChannelData(ctx: RunContext, channelId: string): Promise<Record<string, unknown> | null> {
  const { id, collection } = ctx.recipientRef;
  const data = await inEnvironment(ctx.deps.db, ctx.environmentId, (tx) =>
    collection
      ? findObjectChannelData(tx, ctx.environmentId, collection, id, channelId)
      : findUserChannelData(tx, ctx.environmentId, id, channelId));
  return data ?? null;
}

/**
 * Sends a queued message through its channel's provider. Each attempt is written
 * (`pending`) before the provider is called and completed after, so a worker killed
 * mid-send leaves a trace: the next try marks that attempt `interrupted` and sends
 * again with the same Message-ID / idempotency key (at-least-once for that one message,
 * deduplicable by the receiver; every other message is sent exactly once). Retryable
 * failures wait with exponential backoff and jitter; after the last try the message is
 * `undelivered` with the error recorded, and the run goes on.
 */
export async function deliverMessage(ctx: RunContext, step: Step, messageId: string, channel?: SendingChannel, channelData?: Record<string, unknown> | null): Promise<StepOutcome> {
  const sending = channel ?? (await ctx.cache.channel(step.channel_key ?? ''));
  if (!sending) throw new Error(`The channel "${step.channel_key}" does not exist`);
  const provider = getProvider(sending.provider);
  if (!provider) throw new Error(`The provider "${sending.provider}" is not supported`);
  const data = channelData !== undefined ? channelData : sending.type === 'push' || sending.type === 'chat' ? await loadChannelData(ctx, sending.id) : null;

  const attempt = await inEnvironment(ctx.deps.db, ctx.environmentId, async (tx) => {
    const message = await tx.selectFrom('messages').select(['status', 'delivery_attempts', 'content']).where('environment_id', '=', ctx.environmentId).where('id', '=', messageId).forUpdate().executeTakeFirstOrThrow();
    if (message.status !== 'queued' && message.status !== 'delivery_attempted') return undefined;
    const latest = await tx.selectFrom('message_delivery_logs').select(['attempt', 'status']).where('environment_id', '=', ctx.environmentId).where('message_id', '=', messageId).orderBy('attempt', 'desc').limit(1).executeTakeFirst();
    // The provider accepted it and that was recorded, but the run stopped before finishing: don't send again.
    if (latest?.status === 'succeeded') return { n: latest.attempt, content: message.content, alreadySent: true };
    const n = message.delivery_attempts + 1;
    await tx.updateTable('message_delivery_logs').set({ status: 'interrupted', completed_at: new Date() }).where('environment_id', '=', ctx.environmentId).where('message_id', '=', messageId).where('status', '=', 'pending').execute();
    await tx.insertInto('message_delivery_logs').values({ environment_id: ctx.environmentId, message_id: messageId, attempt: n, provider: provider.name, status: 'pending', request: null, response: null, error: null }).execute();
    await tx.updateTable('messages').set({ delivery_attempts: n, updated_at: new Date() }).where('environment_id', '=', ctx.environmentId).where('id', '=', messageId).execute();
    return { n, content: message.content, alreadySent: false };
  });
  if (!attempt) {
    await inEnvironment(ctx.deps.db, ctx.environmentId, (tx) => saveStepState(tx, ctx, step.ref, { status: 'done', message_id: messageId }));
    return { kind: 'next' };
  }

  const recipient = ctx.scope.recipient as Record<string, unknown>;
  const outbound: OutboundMessage = {
    messageId,
    channelType: sending.type as DeliverableChannelType,
    recipient: { id: ctx.recipientRef.id, email: recipient.email as string | undefined, name: recipient.name as string | undefined, phone_number: recipient.phone_number as string | undefined },
    channelData: data,
    content: toProviderContent(sending.type, attempt.content as Record<string, unknown>),
  };
  let outcome: { status: MessageStatus; logs: unknown[]; error?: string; retryAt?: Date };
  try {
    if (attempt.alreadySent) {
      outcome = { status: 'sent', logs: [] };
    } else {
      const result = await provider.deliver(sending.settings, outbound);
      // Recorded at once, in one round trip: the window in which a crash leaves a send unrecorded stays small.
      await markAttemptSucceeded(ctx.deps.db, ctx.environmentId, messageId, attempt.n);
      outcome = { status: result.status, logs: result.logs };
    }
  } catch (error) {
    const failure = error instanceof DeliveryError ? error : new DeliveryError(error instanceof Error ? error.message : String(error), true);
    const retry = failure.retryable && attempt.n < ctx.deps.config.deliveryMaxAttempts;
    const wait = Math.max(backoffMs(ctx.deps.config.deliveryRetryBaseMs, attempt.n), failure.retryAfterMs ?? 0);
    outcome = retry
      ? { status: 'delivery_attempted', logs: failure.logs, error: failure.message, retryAt: new Date(Date.now() + wait) }
      : { status: failure.name === 'MissingChannelData' ? 'not_sent' : 'undelivered', logs: failure.logs, error: failure.message };
  }

  return inEnvironment(ctx.deps.db, ctx.environmentId, async (tx) => {
    const last = outcome.logs.at(-1) as { request?: unknown; response?: unknown } | undefined;
    if (!attempt.alreadySent) await tx.updateTable('message_delivery_logs')
      .set({ status: outcome.error ? 'failed' : 'succeeded', request: last?.request === undefined ? null : JSON.stringify(last.request), response: last?.response === undefined ? null : JSON.stringify(last.response), error: outcome.error ?? null, completed_at: new Date() })
      .where('environment_id', '=', ctx.environmentId).where('message_id', '=', messageId).where('attempt', '=', attempt.n)
      .execute();
    await tx.updateTable('messages').set({ status: outcome.status, updated_at: new Date() }).where('environment_id', '=', ctx.environmentId).where('id', '=', messageId).execute();
    await tx.insertInto('message_events').values({ environment_id: ctx.environmentId, message_id: messageId, type: `message.${outcome.status}`, data: outcome.error ? JSON.stringify({ error: outcome.error, attempt: attempt.n }) : null }).execute();
    if (outcome.retryAt) {
      return pauseRunWithin(tx, ctx, step.ref, { status: 'delivering', message_id: messageId, attempt: attempt.n }, outcome.retryAt);
    }
    await saveStepState(tx, ctx, step.ref, { status: 'done', message_id: messageId, output: { delivery_status: outcome.status, message_id: messageId } });
    return { kind: 'next' } as StepOutcome;
  });
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Marks a delivery attempt succeeded in a single round trip: one simple-protocol query
 * whose statements run as one implicit transaction, the environment set for row-level
 * security first. Ids are checked UUIDs and the attempt an integer, so inlining is safe.
 */
async function markAttemptSucceeded(db: Db, environmentId: string, messageId: string, attempt: number): Promise<void> {
  if (!UUID.test(environmentId) || !UUID.test(messageId) || !Number.isInteger(attempt)) throw new Error('invalid delivery attempt reference');
  await sql.raw(`SELECT set_config('herald.environment_id', '${environmentId}', true);
    UPDATE message_delivery_logs SET status = 'succeeded', completed_at = clock_timestamp()
    WHERE environment_id = '${environmentId}' AND message_id = '${messageId}' AND attempt = ${attempt} AND status = 'pending'`).execute(db);
}

/** The rendered message (spec content shapes) as the provider interface takes it. */
function toProviderContent(type: string, rendered: Record<string, unknown>): OutboundMessage['content'] {
  const text = (rendered.text_body ?? rendered.body ?? rendered.summary ?? '') as string;
  switch (type) {
    case 'email':
      return {
        subject: String(rendered.subject_line ?? ''),
        html_body: String(rendered.html_body ?? ''),
        text_body: rendered.text_body as string | undefined,
        from: rendered.from as string | undefined,
        reply_to: rendered.reply_to as string | undefined,
        cc: rendered.cc as string | undefined,
        bcc: rendered.bcc as string | undefined,
      };
    case 'sms':
      return { text_body: text, to_number: rendered.to_number as string | undefined };
    case 'push':
      return { title: rendered.title as string | undefined, text_body: text, data: rendered.data as Record<string, unknown> | undefined };
    case 'chat': {
      const chat = (rendered.template ?? rendered) as { summary?: string; json_content?: unknown; blocks?: Array<{ content?: string }> | null };
      const markdown = chat.blocks?.map((block) => block.content ?? '').join('\n\n') || chat.summary || undefined;
      return { markdown_body: markdown, text_body: chat.summary ?? markdown, json_body: chat.json_content ?? undefined };
    }
    default:
      return rendered as unknown as OutboundMessage['content'];
  }
}
