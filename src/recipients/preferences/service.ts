import type { EnvTx } from '../../db/scoped.ts';
import type { PreferenceSetRequestShape, PreferenceSetShape, PreferenceSettings } from './schema.ts';
import * as store from './store.ts';

const MAP_FIELDS = ['workflows', 'categories', 'channel_types', 'channels'] as const;

export const EMPTY_SETTINGS: PreferenceSettings = {
  workflows: null,
  categories: null,
  channel_types: null,
  channels: null,
  commercial_subscribed: null,
};

/** The PreferenceSet response shape. */
export function toPreferenceSet(id: string, settings: PreferenceSettings = EMPTY_SETTINGS): PreferenceSetShape {
  return { __typename: 'PreferenceSet', id, ...EMPTY_SETTINGS, ...settings };
}

/**
 * Applies a set request to what is stored. `replace` (the default for PUT) takes the
 * request as the whole set; `merge` keeps stored entries and overwrites those given,
 * key by key inside workflows, categories, channel_types and channels.
 */
export function applyPreferenceRequest(
  existing: PreferenceSettings | undefined,
  request: PreferenceSetRequestShape,
  defaultStrategy: 'merge' | 'replace',
): PreferenceSettings {
  const { __persistence_strategy__: strategy = defaultStrategy, ...given } = request;
  if (strategy === 'replace' || !existing) return { ...EMPTY_SETTINGS, ...given } as PreferenceSettings;
  const merged: Record<string, unknown> = { ...EMPTY_SETTINGS, ...existing };
  for (const field of MAP_FIELDS) {
    const value = given[field];
    if (value === undefined) continue;
    merged[field] = value === null ? null : { ...((existing[field] as object | null) ?? {}), ...value };
  }
  if (given.commercial_subscribed !== undefined) merged.commercial_subscribed = given.commercial_subscribed;
  return merged as PreferenceSettings;
}

/** Writes one set of a user within the caller's transaction; returns the stored result. */
export async function writeUserPreferenceSet(
  tx: EnvTx,
  environmentId: string,
  userId: string,
  setId: string,
  request: PreferenceSetRequestShape,
  defaultStrategy: 'merge' | 'replace',
): Promise<PreferenceSetShape> {
  const existing = await store.findUserPreferenceSetForUpdate(tx, environmentId, userId, setId);
  const settings = applyPreferenceRequest(existing, request, defaultStrategy);
  await store.upsertUserPreferenceSet(tx, environmentId, userId, setId, settings);
  return toPreferenceSet(setId, settings);
}
