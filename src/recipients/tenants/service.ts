import type { Static } from 'typebox';
import type { Db } from '../../db/database.ts';
import type { Tenant } from './schema.ts';
import type { TenantRow } from '../../db/schema.ts';
import { inEnvironment } from '../../db/scoped.ts';
import { NotFound } from '../../errors.ts';
import { pageRequest, toPage, type PageInfoShape } from '../../http/pagination.ts';
import type { PreferenceSetRequestShape, PreferenceSettings } from '../preferences/schema.ts';
import { applyPreferenceRequest, toPreferenceSet } from '../preferences/service.ts';
import { checkPropertiesSize, deepMerge } from '../properties.ts';
import * as store from './store.ts';

export interface SetTenantBody {
  name?: string | null;
  channel_data?: Record<string, Record<string, unknown>> | null;
  settings?: { branding?: Record<string, unknown> | null; preference_set?: PreferenceSetRequestShape | null };
  [property: string]: unknown;
}

const NOT_PROPERTIES = new Set(['id', '__typename', 'settings', 'channel_data', 'updated_at', 'inserted_at']);

export type TenantView = Static<typeof Tenant> & Record<string, unknown>;

/** The Knock `Tenant` shape. */
export function toTenant(row: TenantRow): TenantView {
  const settings = row.settings as { branding?: Record<string, unknown> | null; preference_set?: PreferenceSettings | null };
  return {
    ...row.properties,
    name: (row.properties.name as string | null | undefined) ?? null,
    __typename: 'Tenant',
    id: row.id,
    settings: {
      branding: settings.branding ?? null,
      preference_set: settings.preference_set ? toPreferenceSet('default', settings.preference_set) : null,
    },
  };
}

/** Upserts a tenant: properties deep-merge (given values win); settings given replace those stored. */
export async function setTenant(db: Db, environmentId: string, id: string, body: SetTenantBody): Promise<TenantView> {
  const properties: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(body)) if (!NOT_PROPERTIES.has(key)) properties[key] = value;
  checkPropertiesSize(properties);
  const row = await inEnvironment(db, environmentId, async (tx) => {
    const existing = await store.findTenant(tx, environmentId, id, true);
    const settings: Record<string, unknown> = { ...(existing?.settings ?? {}) };
    if (body.settings?.branding !== undefined) settings.branding = body.settings.branding;
    if (body.settings?.preference_set !== undefined) {
      settings.preference_set = body.settings.preference_set === null
        ? null
        : applyPreferenceRequest(settings.preference_set as PreferenceSettings | undefined, body.settings.preference_set, 'replace');
    }
    return store.saveTenant(tx, environmentId, id, {
      properties: deepMerge(existing?.properties ?? {}, properties),
      settings,
      channel_data: { ...(existing?.channel_data ?? {}), ...(body.channel_data ?? {}) },
    });
  });
  return toTenant(row);
}

export async function getTenant(db: Db, environmentId: string, id: string): Promise<TenantView> {
  const row = await inEnvironment(db, environmentId, (tx) => store.findTenant(tx, environmentId, id));
  if (!row) throw new NotFound('Tenant', id);
  return toTenant(row);
}

export async function deleteTenant(db: Db, environmentId: string, id: string): Promise<void> {
  const deleted = await inEnvironment(db, environmentId, (tx) => store.deleteTenant(tx, environmentId, id));
  if (!deleted) throw new NotFound('Tenant', id);
}

export async function listTenants(
  db: Db,
  environmentId: string,
  query: { after?: string; before?: string; page_size?: number; tenant_id?: string; name?: string },
): Promise<{ entries: TenantView[]; page_info: PageInfoShape }> {
  const request = pageRequest(query);
  const rows = await inEnvironment(db, environmentId, (tx) => store.listTenants(tx, environmentId, request, query));
  const { rows: page, pageInfo } = toPage(rows, request, (row) => row.id);
  return { entries: page.map(toTenant), page_info: pageInfo };
}
