import type { Db } from '../db/database.ts';
import { recordAuditEvent, recordAuditEvents, type AuditContext, type AuditEvent } from '../access/audit.ts';
import type { EnvironmentRow } from '../db/schema.ts';
import { Conflict, Invalid, NotFound } from '../errors.ts';
import { createApiKeys, type CreatedApiKey } from './api-keys.ts';
import * as store from './store.ts';
import { seedEnvironment } from '../versioning/seed.ts';
import { ensureDefaultChannels } from '../channels/config/service.ts';

/** The mgmt spec's `Environment` shape. */
export interface EnvironmentView {
  slug: string;
  name: string;
  order: number;
  owner: 'system' | 'user';
  label_color: string | null;
  hide_pii_data: boolean;
  hide_message_content: boolean;
  require_promotion_approval: boolean;
  last_commit_at: string | null;
  created_at: string;
  updated_at: string;
  deleted_at: string | null;
}

export function toEnvironmentView(row: EnvironmentRow): EnvironmentView {
  return {
    slug: row.slug,
    name: row.name,
    order: row.position,
    owner: row.owner,
    label_color: row.label_color,
    hide_pii_data: row.hide_pii_data,
    hide_message_content: row.hide_message_content,
    require_promotion_approval: row.require_promotion_approval,
    last_commit_at: row.last_commit_at?.toISOString() ?? null,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
    deleted_at: row.deleted_at?.toISOString() ?? null,
  };
}

export const SLUG_PATTERN = '^[a-z0-9][a-z0-9_-]{0,62}$';
const SLUG = new RegExp(SLUG_PATTERN);

/** Production hides recipient details and message content by default; other environments do not. */
export function defaultDataControls(slug: string): { hide_pii_data: boolean; hide_message_content: boolean } {
  const production = slug === 'production';
  return { hide_pii_data: production, hide_message_content: production };
}

export async function getEnvironment(db: Db, accountId: string, slug: string): Promise<EnvironmentRow> {
  const environment = await store.findEnvironmentBySlug(db, accountId, slug);
  if (!environment) throw new NotFound('Environment', slug);
  return environment;
}

export interface CreateEnvironmentInput {
  name: string;
  slug: string;
  /** Slug of the environment the new one goes directly after; default: just below production. */
  insert_after?: string;
  label_color?: string | null;
}

/**
 * Inserts an environment between development and production (never above production,
 * never below development), with a fresh API key pair, seeded with the latest committed
 * version of every resource of the environment directly below. Environments are never
 * reordered otherwise: the later ones move down one place.
 */
export async function createEnvironment(
  db: Db,
  accountId: string,
  input: CreateEnvironmentInput,
  audit: AuditContext,
): Promise<{ environment: EnvironmentRow; apiKeys: CreatedApiKey[] }> {
  if (!SLUG.test(input.slug)) throw Invalid.field('slug', 'must be lowercase letters, digits, "-" or "_" (at most 63)');
  return db.transaction().execute(async (tx) => {
    await store.lockEnvironmentList(tx, accountId);
    const list = await store.listEnvironments(tx, accountId);
    if (list.some((e) => e.slug === input.slug)) throw new Conflict(`An environment with slug "${input.slug}" already exists`, 'slug_taken');
    const last = list[list.length - 1];
    const after = input.insert_after === undefined ? list[list.length - 2] : list.find((e) => e.slug === input.insert_after);
    if (!after) throw Invalid.field('insert_after', `names no environment ("${input.insert_after}")`);
    if (after.id === last.id) throw Invalid.field('insert_after', 'cannot be the last environment: nothing goes below production');
    const position = after.position + 1;
    await store.shiftPositionsFrom(tx, accountId, position);
    const environment = await store.insertEnvironment(tx, {
      account_id: accountId,
      slug: input.slug,
      name: input.name,
      position,
      owner: 'user',
      label_color: input.label_color ?? null,
      ...defaultDataControls(input.slug),
    });
    const seeded = await seedEnvironment(tx, accountId, environment, after);
    await recordAuditEvent(tx, {
      ...audit,
      accountId,
      action: 'environment.created',
      environmentId: environment.id,
      target: { type: 'environment', id: environment.slug },
      data: { name: environment.name, order: position, insert_after: after.slug, seeded_resources: seeded },
    });
    const apiKeys = await createApiKeys(tx, environment, ['public', 'secret'], null, audit);
    // Channels are account-level: the in-app feed already serves the new environment (unconfigured channels need no row).
    await ensureDefaultChannels(tx, accountId);
    return { environment, apiKeys };
  });
}

export interface EnvironmentSettings {
  name?: string;
  label_color?: string | null;
  hide_pii_data?: boolean;
  hide_message_content?: boolean;
  require_promotion_approval?: boolean;
}

/** Settings audited as `environment.settings_changed`, and data controls (obfuscation), audited on their own. */
const GENERAL_SETTINGS = ['name', 'label_color', 'require_promotion_approval'] as const;
const DATA_CONTROLS = ['hide_pii_data', 'hide_message_content'] as const;

/** One audit event per group of settings that really changed, with the values before and after. */
function settingsChanges(before: EnvironmentRow, after: EnvironmentRow, audit: AuditContext): AuditEvent[] {
  const groups = [
    { action: 'environment.settings_changed', keys: GENERAL_SETTINGS },
    { action: 'environment.data_controls_changed', keys: DATA_CONTROLS },
  ] as const;
  return groups.flatMap(({ action, keys }) => {
    const changed = keys.filter((key) => before[key] !== after[key]);
    if (changed.length === 0) return [];
    return [{
      ...audit,
      accountId: after.account_id,
      action,
      environmentId: after.id,
      target: { type: 'environment', id: after.slug },
      data: {
        before: Object.fromEntries(changed.map((key) => [key, before[key]])),
        after: Object.fromEntries(changed.map((key) => [key, after[key]])),
      },
    }];
  });
}

/** Changes an environment's name, colour or data controls, audited in the same transaction. */
export async function updateEnvironmentSettings(db: Db, accountId: string, slug: string, settings: EnvironmentSettings, audit: AuditContext): Promise<EnvironmentRow> {
  return db.transaction().execute(async (tx) => {
    // Locked, so the "before" values audited are the ones this change replaced.
    const before = await store.findEnvironmentBySlug(tx, accountId, slug, { forUpdate: true });
    if (!before) throw new NotFound('Environment', slug);
    const after = await store.updateEnvironment(tx, before.id, settings);
    await recordAuditEvents(tx, settingsChanges(before, after, audit));
    return after;
  });
}
