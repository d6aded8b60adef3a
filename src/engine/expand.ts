import { sql } from 'kysely';
import { inEnvironment, type EnvTx } from '../db/scoped.ts';
import { HeraldError } from '../errors.ts';
import { identifyProperties, identifyWithin, type IdentifyBody } from '../recipients/users/service.ts';
import { identifyObjectWithin, objectProperties, type SetObjectBody } from '../recipients/objects/service.ts';
import { deepMerge } from '../recipients/properties.ts';
import { findTenant, saveTenant } from '../recipients/tenants/store.ts';
import { createRecipientRuns } from './recipient-runs.ts';
import { inlinePropertiesOf, recipientKey, recipientReference, refOf, type RecipientInput, type RecipientRef } from './recipients.ts';
import type { EngineDeps } from './tasks.ts';

/** Objects subscribed to objects fan out too, this many levels deep. */
const MAX_SUBSCRIPTION_DEPTH = 3;

interface Recipient {
  ref: RecipientRef;
  /** Properties of the subscription that brought this recipient in (`recipient.subscription`). */
  subscription?: Record<string, unknown> | null;
}

/**
 * Expands a trigger into one run per unique recipient, in one transaction: inline
 * identifications are written, objects fan out to their subscribers (deduplicated, as
 * Knock does), the runs and their jobs are inserted and the trigger is marked processed.
 * A retry after a crash finds either nothing done or everything done.
 */
export async function expandTrigger(deps: EngineDeps, environmentId: string, workflowRunId: string): Promise<void> {
  try {
    await expand(deps, environmentId, workflowRunId);
  } catch (error) {
    // Bad inline data can never succeed: record it on the trigger instead of retrying for days.
    // Anything else (the database going away) is thrown for the queue to retry.
    if (!(error instanceof HeraldError)) throw error;
    await inEnvironment(deps.db, environmentId, (tx) =>
      tx.updateTable('workflow_runs')
        .set({ status: 'failed', error: JSON.stringify({ code: error.code, message: error.message, errors: error.errors ?? [] }), updated_at: sql`now()` })
        .where('environment_id', '=', environmentId).where('id', '=', workflowRunId).where('status', '=', 'queued')
        .execute());
  }
}

async function expand(deps: EngineDeps, environmentId: string, workflowRunId: string): Promise<void> {
  await inEnvironment(deps.db, environmentId, async (tx) => {
    const run = await tx
      .selectFrom('workflow_runs')
      .selectAll()
      .where('environment_id', '=', environmentId)
      .where('id', '=', workflowRunId)
      .forUpdate()
      .executeTakeFirst();
    if (!run || run.status !== 'queued') return;

    const inputs = (run.recipients ?? []) as RecipientInput[];
    for (const input of inputs) await identifyInline(tx, environmentId, input);
    if (run.actor) await identifyInline(tx, environmentId, run.actor as RecipientInput);
    const tenantId = run.tenant ? await identifyTenant(tx, environmentId, run.tenant as string | ({ id: string } & Record<string, unknown>)) : null;

    const recipients = await fanOut(tx, environmentId, inputs.map((input) => ({ ref: refOf(input) })));
    const cancelled = new Set(run.cancelled_recipient_keys);
    const actor = run.actor ? recipientReference(refOf(run.actor as RecipientInput)) : null;
    await createRecipientRuns(tx, environmentId, recipients.map((recipient) => ({
      workflowRunId: run.id,
      workflowKey: run.workflow_key,
      versionId: run.version_id,
      recipient: recipient.ref,
      subscription: recipient.subscription,
      actor,
      tenant: tenantId,
      data: run.data,
      settings: run.settings,
      cancellationKey: run.cancellation_key,
      cancelled: cancelled.has(recipientKey(recipient.ref)),
    })));
    await tx.updateTable('workflow_runs').set({ status: 'processed', updated_at: sql`now()` }).where('environment_id', '=', environmentId).where('id', '=', run.id).execute();
  });
}

/** Identifies a user or object given inline (`{id, ...properties}`); references are left alone. */
async function identifyInline(tx: EnvTx, environmentId: string, input: RecipientInput): Promise<void> {
  const inline = inlinePropertiesOf(input);
  if (!inline || typeof input === 'string') return;
  if (input.collection) {
    // Properties deep-merge; inline channel_data and preferences are the object's own (like a user's).
    const body = inline as SetObjectBody;
    await identifyObjectWithin(tx, environmentId, input.collection, input.id, body, objectProperties(body));
    return;
  }
  const body = inline as IdentifyBody;
  await identifyWithin(tx, environmentId, input.id, body, identifyProperties(body));
}

/** The tenant's id, after identifying it when given inline. */
async function identifyTenant(tx: EnvTx, environmentId: string, tenant: string | ({ id: string } & Record<string, unknown>)): Promise<string> {
  if (typeof tenant === 'string') return tenant;
  const { id, settings: _settings, channel_data: _channelData, ...properties } = tenant;
  const existing = await findTenant(tx, environmentId, id, true);
  await saveTenant(tx, environmentId, id, {
    properties: deepMerge(existing?.properties ?? {}, properties),
    settings: existing?.settings ?? {},
    channel_data: (existing?.channel_data ?? {}) as Record<string, Record<string, unknown>>,
  });
  return id;
}

/**
 * The trigger's recipients plus the subscribers of every object among them (and of
 * objects subscribed to those, a few levels deep), each recipient once: a recipient named
 * directly keeps no subscription; otherwise the first subscription found wins.
 */
async function fanOut(tx: EnvTx, environmentId: string, direct: Recipient[]): Promise<Recipient[]> {
  const byKey = new Map<string, Recipient>();
  for (const recipient of direct) if (!byKey.has(recipientKey(recipient.ref))) byKey.set(recipientKey(recipient.ref), recipient);
  let frontier = [...byKey.values()].filter((r) => r.ref.collection);
  for (let depth = 0; depth < MAX_SUBSCRIPTION_DEPTH && frontier.length > 0; depth++) {
    const rows = await tx
      .selectFrom('object_subscriptions')
      .select(['recipient_collection', 'recipient_id', 'properties', 'collection', 'object_id'])
      .where('environment_id', '=', environmentId)
      .where((eb) => eb.or(frontier.map((r) => eb.and([eb('collection', '=', r.ref.collection!), eb('object_id', '=', r.ref.id)]))))
      .orderBy('inserted_at')
      .execute();
    const next: Recipient[] = [];
    for (const row of rows) {
      const ref: RecipientRef = row.recipient_collection === '$users' ? { id: row.recipient_id } : { id: row.recipient_id, collection: row.recipient_collection };
      const key = recipientKey(ref);
      if (byKey.has(key)) continue;
      const recipient = { ref, subscription: (row.properties as Record<string, unknown> | null) ?? {} };
      byKey.set(key, recipient);
      if (ref.collection) next.push(recipient);
    }
    frontier = next;
  }
  return [...byKey.values()];
}
