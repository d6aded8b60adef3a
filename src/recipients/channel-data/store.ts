import type { EnvTx } from '../../db/scoped.ts';

export type ChannelDataValue = Record<string, unknown>;

export async function findUserChannelData(tx: EnvTx, environmentId: string, userId: string, channelId: string): Promise<ChannelDataValue | undefined> {
  const row = await tx
    .selectFrom('user_channel_data')
    .select('data')
    .where('environment_id', '=', environmentId)
    .where('user_id', '=', userId)
    .where('channel_id', '=', channelId)
    .executeTakeFirst();
  return row?.data;
}

export async function listUserChannelData(tx: EnvTx, environmentId: string, userId: string): Promise<Array<{ channel_id: string; data: ChannelDataValue }>> {
  return tx
    .selectFrom('user_channel_data')
    .select(['channel_id', 'data'])
    .where('environment_id', '=', environmentId)
    .where('user_id', '=', userId)
    .orderBy('channel_id')
    .execute();
}

/** Sets a user's data for one channel, replacing what was there. */
export async function upsertUserChannelData(tx: EnvTx, environmentId: string, userId: string, channelId: string, data: ChannelDataValue): Promise<void> {
  const json = JSON.stringify(data);
  await tx
    .insertInto('user_channel_data')
    .values({ environment_id: environmentId, user_id: userId, channel_id: channelId, data: json })
    .onConflict((oc) => oc.columns(['environment_id', 'user_id', 'channel_id']).doUpdateSet({ data: json, updated_at: new Date() }))
    .execute();
}

export async function deleteUserChannelData(tx: EnvTx, environmentId: string, userId: string, channelId: string): Promise<boolean> {
  const result = await tx
    .deleteFrom('user_channel_data')
    .where('environment_id', '=', environmentId)
    .where('user_id', '=', userId)
    .where('channel_id', '=', channelId)
    .executeTakeFirst();
  return result.numDeletedRows > 0n;
}
