import type { EnvTx } from '../../db/scoped.ts';
import type { PreferenceSettings } from './schema.ts';

export interface StoredPreferenceSet {
  set_id: string;
  settings: PreferenceSettings;
}

export async function listUserPreferenceSets(tx: EnvTx, environmentId: string, userId: string): Promise<StoredPreferenceSet[]> {
  const rows = await tx
    .selectFrom('user_preference_sets')
    .select(['set_id', 'settings'])
    .where('environment_id', '=', environmentId)
    .where('user_id', '=', userId)
    .orderBy('set_id')
    .execute();
  return rows as unknown as StoredPreferenceSet[];
}

/** One set, locked for the rest of the transaction so merges do not race. */
export async function findUserPreferenceSetForUpdate(tx: EnvTx, environmentId: string, userId: string, setId: string): Promise<PreferenceSettings | undefined> {
  const row = await tx
    .selectFrom('user_preference_sets')
    .select('settings')
    .where('environment_id', '=', environmentId)
    .where('user_id', '=', userId)
    .where('set_id', '=', setId)
    .forUpdate()
    .executeTakeFirst();
  return row?.settings as PreferenceSettings | undefined;
}

export async function upsertUserPreferenceSet(tx: EnvTx, environmentId: string, userId: string, setId: string, settings: PreferenceSettings): Promise<void> {
  const json = JSON.stringify(settings);
  await tx
    .insertInto('user_preference_sets')
    .values({ environment_id: environmentId, user_id: userId, set_id: setId, settings: json })
    .onConflict((oc) => oc.columns(['environment_id', 'user_id', 'set_id']).doUpdateSet({ settings: json, updated_at: new Date() }))
    .execute();
}

export async function deleteUserPreferenceSet(tx: EnvTx, environmentId: string, userId: string, setId: string): Promise<boolean> {
  const result = await tx
    .deleteFrom('user_preference_sets')
    .where('environment_id', '=', environmentId)
    .where('user_id', '=', userId)
    .where('set_id', '=', setId)
    .executeTakeFirst();
  return result.numDeletedRows > 0n;
}
