import type { Db } from '../../db/database.ts';
import { inEnvironment } from '../../db/scoped.ts';
import { recipientKey, refOf, type RecipientInput } from '../recipients.ts';

/**
 * Cancels the runs of workflow `key` triggered with `cancellationKey` (optionally only for
 * some recipients) that have not finished: queued or paused at a delay or batch. Triggers
 * not yet expanded into recipient runs are cancelled too, so a cancel right after a
 * trigger never loses the race. Returns how many recipient runs were cancelled.
 */
export async function cancelWorkflow(db: Db, environmentId: string, key: string, cancellationKey: string, recipients?: RecipientInput[] | null): Promise<number> {
  const keys = recipients && recipients.length > 0 ? recipients.map((r) => recipientKey(refOf(r))) : undefined;
  return inEnvironment(db, environmentId, async (tx) => {
    const pending = tx
      .updateTable('workflow_runs')
      .where('environment_id', '=', environmentId)
      .where('workflow_key', '=', key)
      .where('cancellation_key', '=', cancellationKey)
      .where('status', '=', 'queued');
    if (keys) {
      await pending.set((eb) => ({ cancelled_recipient_keys: eb.fn('array_cat', [eb.ref('cancelled_recipient_keys'), eb.val(keys)]), updated_at: new Date() })).execute();
    } else {
      await pending.set({ status: 'cancelled', updated_at: new Date() }).execute();
    }
    let runs = tx
      .updateTable('workflow_recipient_runs')
      .set({ status: 'cancelled', updated_at: new Date(), completed_at: new Date() })
      .where('environment_id', '=', environmentId)
      .where('workflow_key', '=', key)
      .where('cancellation_key', '=', cancellationKey)
      .where('status', 'in', ['queued', 'paused']);
    if (keys) runs = runs.where('recipient_key', 'in', keys);
    const result = await runs.executeTakeFirst();
    return Number(result.numUpdatedRows);
  });
}
