import { sql } from 'kysely';
import type { EnvTx } from '../../db/scoped.ts';
import type { TenantRow } from '../../db/schema.ts';
import { isBackwards, type PageRequest } from '../../http/pagination.ts';

export function findTenant(tx: EnvTx, environmentId: string, id: string, lock = false): Promise<TenantRow | undefined> {
  let query = tx.selectFrom('tenants').selectAll().where('environment_id', '=', environmentId).where('id', '=', id);
  if (lock) query = query.forUpdate();
  return query.executeTakeFirst();
}

/** Creates or replaces a tenant row with already-merged values. */
export function saveTenant(
  tx: EnvTx,
  environmentId: string,
  id: string,
  values: { properties: Record<string, unknown>; settings: Record<string, unknown>; channel_data: Record<string, Record<string, unknown>> },
): Promise<TenantRow> {
  const row = {
    properties: JSON.stringify(values.properties),
    settings: JSON.stringify(values.settings),
    channel_data: JSON.stringify(values.channel_data),
  };
  return tx
    .insertInto('tenants')
    .values({ environment_id: environmentId, id, ...row })
    .onConflict((oc) => oc.columns(['environment_id', 'id']).doUpdateSet({ ...row, updated_at: sql`now()` }))
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function deleteTenant(tx: EnvTx, environmentId: string, id: string): Promise<boolean> {
  const result = await tx.deleteFrom('tenants').where('environment_id', '=', environmentId).where('id', '=', id).executeTakeFirst();
  return result.numDeletedRows > 0n;
}

/** One page of tenants in id order, optionally filtered by id or exact name. */
export function listTenants(tx: EnvTx, environmentId: string, page: PageRequest, filter: { tenant_id?: string; name?: string }): Promise<TenantRow[]> {
  let query = tx.selectFrom('tenants').selectAll().where('environment_id', '=', environmentId);
  if (filter.tenant_id !== undefined) query = query.where('id', '=', filter.tenant_id);
  if (filter.name !== undefined) query = query.where(sql<string>`properties->>'name'`, '=', filter.name);
  if (page.after !== undefined) query = query.where('id', '>', page.after);
  if (page.before !== undefined) query = query.where('id', '<', page.before);
  return query.orderBy('id', isBackwards(page) ? 'desc' : 'asc').limit(page.size + 1).execute();
}
