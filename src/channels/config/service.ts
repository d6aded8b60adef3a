import { createHash } from 'node:crypto';
import type { Db } from '../../db/database.ts';
import type { ChannelRow, EnvironmentRow } from '../../db/schema.ts';
import { recordAuditEvent, type AuditContext } from '../../access/audit.ts';
import { MASK } from '../../access/obfuscation.ts';
import { Conflict, Invalid, NotFound, type FieldError } from '../../errors.ts';
import { getProvider } from '../providers/index.ts';
import type { ChannelType } from './schema.ts';
import * as store from './store.ts';

/** The provider each channel type sends through. In-app feeds are delivered by Herald itself. */
export const PROVIDER_FOR_TYPE: Record<ChannelType, readonly string[]> = {
  email: ['smtp'],
  sms: ['twilio'],
  push: ['fcm'],
  chat: ['slack'],
  http: ['webhook'],
  // `knock`: Knock's name for its in-app feed provider, accepted for configurations brought from Knock.
  in_app_feed: ['herald', 'knock'],
};

/** The in-app feed channel every account has, ready in every environment. */
export const DEFAULT_IN_APP_CHANNEL = {
  key: 'in-app-feed',
  name: 'In-app feed',
  type: 'in_app_feed',
  provider: 'herald',
  description: 'The in-app feed Herald serves (feeds API and realtime socket).',
} as const;

/** Settings larger than this (as JSON) are refused: provider settings are a few fields. */
const MAX_SETTINGS_BYTES = 64 * 1024;

/**
 * Setting names that hold a credential, at any depth (`password`, `auth_token`,
 * `service_account.private_key`, `access_token`, `api_key`, `client_secret`,
 * `authorization` headers, ...). Their values are never returned by any read.
 * Not `token_uri` or `from_number`: only names ending in a credential word.
 */
const SECRET_SETTING = /(password|passwd|secret|token|private_key|api_key|apikey|credentials?|authorization|signing_key)$/i;

export function isSecretSetting(name: string): boolean {
  return SECRET_SETTING.test(name);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Entries of an object, or of an array by index, so that secrets inside lists are found too. */
function entriesOf(value: unknown): Array<[string, unknown]> | undefined {
  if (Array.isArray(value)) return value.map((item, index) => [String(index), item]);
  return isRecord(value) ? Object.entries(value) : undefined;
}

const isUnset = (value: unknown) => value === null || value === undefined || value === '';

/** Dotted paths of the secret settings that hold a value. */
export function secretPaths(settings: unknown, base = ''): string[] {
  return (entriesOf(settings) ?? []).flatMap(([key, value]) => {
    const path = base === '' ? key : `${base}.${key}`;
    if (isSecretSetting(key)) return isUnset(value) ? [] : [path];
    return secretPaths(value, path);
  });
}

/** A copy of the settings with every secret value replaced by the mask (nulls and empty strings stay as they are). */
export function maskSettings(settings: unknown): Record<string, unknown> {
  const mask = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(mask);
    if (!isRecord(value)) return value;
    return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, isSecretSetting(key) && !isUnset(inner) ? MASK : mask(inner)]));
  };
  return isRecord(settings) ? (mask(settings) as Record<string, unknown>) : {};
}

/**
 * New settings with every secret sent back as the mask replaced by the stored value at
 * the same path, so a client can read settings, change one field and write them back.
 * Reports a mask where nothing is stored.
 */
function restoreMaskedSecrets(next: unknown, stored: unknown, base: string, problems: FieldError[]): unknown {
  const entries = entriesOf(next);
  if (!entries) return next;
  const before = new Map(entriesOf(stored) ?? []);
  const restored = entries.map(([key, value]): [string, unknown] => {
    const path = base === '' ? key : `${base}.${key}`;
    const old = before.get(key);
    if (isSecretSetting(key) && value === MASK) {
      if (isUnset(old) || old === MASK) {
        problems.push({ field: `settings.${path}`, message: 'is the mask of a secret, but no secret is stored here: give the value itself', type: 'masked_secret' });
      }
      return [key, old];
    }
    return [key, restoreMaskedSecrets(value, old, path, problems)];
  });
  return Array.isArray(next) ? restored.map(([, value]) => value) : Object.fromEntries(restored);
}

/** Whether `provider` may deliver channels of `type`. */
export function providerSuits(type: ChannelType, provider: string): boolean {
  if (!PROVIDER_FOR_TYPE[type].includes(provider)) return false;
  if (type === 'in_app_feed') return true;
  return getProvider(provider)?.channelType === type;
}

/** Problems with a channel's settings, named `settings.<field>`. */
export function checkChannelSettings(channel: Pick<ChannelRow, 'type' | 'provider'>, settings: Record<string, unknown>): FieldError[] {
  if (channel.type === 'in_app_feed') return [];
  const provider = getProvider(channel.provider);
  if (!provider) return [{ field: 'settings', message: `provider "${channel.provider}" is not one Herald can send through`, type: 'provider' }];
  return provider.checkSettings(settings).map((problem) => ({
    ...problem,
    field: problem.field === 'settings' ? 'settings' : `settings.${problem.field}`,
  }));
}

/** The mgmt spec's `Channel`. */
export interface ChannelView {
  id: string;
  key: string;
  name: string;
  type: string;
  provider: string;
  description: string | null;
  custom_icon_url: null;
  visible_in: string[];
  archived_at: string | null;
  created_at: string;
  updated_at: string;
  environment_settings?: Record<string, ChannelEnvironmentSettingsView>;
}

/** The mgmt spec's `ChannelEnvironmentSettings`. */
export interface ChannelEnvironmentSettingsView {
  id: string;
  is_valid: boolean;
  is_sandbox: boolean;
  channel_settings: Record<string, unknown> | null;
  provider_settings: Record<string, unknown> | null;
}

export function toChannelView(row: ChannelRow): ChannelView {
  return {
    id: row.id,
    key: row.key,
    name: row.name,
    type: row.type,
    provider: row.provider,
    description: row.description,
    custom_icon_url: null,
    visible_in: ['workflow'],
    archived_at: row.archived_at?.toISOString() ?? null,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}

/** A stable id for the settings of one channel in one environment (the table is keyed by the pair). */
function settingsId(channelId: string, environmentId: string): string {
  const hex = createHash('sha256').update(`${channelId}:${environmentId}`).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(13, 16)}-${((parseInt(hex[16], 16) & 0x3) | 0x8).toString(16)}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

function isValid(channel: ChannelRow, settings: store.ChannelSettingsRow | undefined): boolean {
  if (channel.type === 'in_app_feed') return true;
  return settings !== undefined && checkChannelSettings(channel, settings.settings).length === 0;
}

export function toEnvironmentSettingsView(channel: ChannelRow, environmentId: string, settings: store.ChannelSettingsRow | undefined): ChannelEnvironmentSettingsView {
  return {
    id: settingsId(channel.id, environmentId),
    is_valid: isValid(channel, settings),
    is_sandbox: settings?.sandbox ?? false,
    channel_settings: null,
    provider_settings: settings ? maskSettings(settings.settings) : null,
  };
}

/**
 * Channels with their per-environment settings (masked), keyed by environment slug,
 * for the environments the caller may read channel settings in.
 */
export async function withEnvironmentSettings(db: Db, channels: ChannelRow[], environments: Pick<EnvironmentRow, 'id' | 'slug'>[]): Promise<ChannelView[]> {
  const settings = await store.listChannelSettings(db, channels.map((c) => c.id));
  const byPair = new Map(settings.map((s) => [`${s.channel_id}:${s.environment_id}`, s]));
  return channels.map((channel) => ({
    ...toChannelView(channel),
    environment_settings: Object.fromEntries(
      environments.map((env) => [env.slug, toEnvironmentSettingsView(channel, env.id, byPair.get(`${channel.id}:${env.id}`))]),
    ),
  }));
}

/** Herald's view of one channel in one environment: secrets masked, never returned. */
export interface EnvironmentChannelView {
  id: string;
  key: string;
  name: string;
  type: string;
  provider: string;
  description: string | null;
  environment: string;
  configured: boolean;
  is_valid: boolean;
  sandbox_mode: boolean;
  settings: Record<string, unknown>;
  secret_fields: string[];
  updated_at: string | null;
}

export function toEnvironmentChannelView(channel: ChannelRow, environment: Pick<EnvironmentRow, 'slug'>, settings: store.ChannelSettingsRow | undefined): EnvironmentChannelView {
  return {
    id: channel.id,
    key: channel.key,
    name: channel.name,
    type: channel.type,
    provider: channel.provider,
    description: channel.description,
    environment: environment.slug,
    configured: settings !== undefined,
    is_valid: isValid(channel, settings),
    sandbox_mode: settings?.sandbox ?? false,
    settings: settings ? maskSettings(settings.settings) : {},
    secret_fields: settings ? secretPaths(settings.settings) : [],
    updated_at: settings?.updated_at.toISOString() ?? null,
  };
}

export async function getChannel(db: Db, accountId: string, key: string): Promise<ChannelRow> {
  const channel = await store.findChannelByKey(db, accountId, key);
  if (!channel) throw new NotFound('Channel', key);
  return channel;
}

export interface CreateChannelInput {
  key: string;
  name: string;
  type: ChannelType;
  provider: string;
  description?: string | null;
}

/** Creates a channel of the account: it exists at once in every environment, unconfigured. Audited. */
export async function createChannel(db: Db, accountId: string, input: CreateChannelInput, audit: AuditContext): Promise<ChannelRow> {
  if (!providerSuits(input.type, input.provider)) {
    throw Invalid.field('provider', `must be ${PROVIDER_FOR_TYPE[input.type].map((p) => `"${p}"`).join(' or ')} for a channel of type "${input.type}"`);
  }
  return db.transaction().execute(async (tx) => {
    const channel = await store.insertChannel(tx, {
      account_id: accountId,
      key: input.key,
      name: input.name,
      type: input.type,
      provider: input.provider,
      description: input.description ?? null,
    });
    if (!channel) throw new Conflict(`A channel with key "${input.key}" already exists`, 'channel_key_taken');
    await recordAuditEvent(tx, {
      ...audit,
      accountId,
      action: 'channel.created',
      environmentId: null,
      target: { type: 'channel', id: channel.key },
      data: { id: channel.id, name: channel.name, type: channel.type, provider: channel.provider },
    });
    return channel;
  });
}

export interface UpdateChannelSettingsInput {
  settings?: Record<string, unknown>;
  sandbox_mode?: boolean;
}

/** Top-level settings whose value changed (names only: values may be secrets). */
function changedSettings(before: Record<string, unknown>, after: Record<string, unknown>): string[] {
  const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
  return [...keys].filter((key) => JSON.stringify(before[key]) !== JSON.stringify(after[key])).sort();
}

/**
 * Configures a channel in one environment: the provider's checks must pass (422 listing
 * every problem). Settings given replace the stored ones; omitted, they stay. Audited
 * with the names of the settings changed, never their values.
 */
export async function updateChannelSettings(
  db: Db,
  accountId: string,
  environment: EnvironmentRow,
  key: string,
  input: UpdateChannelSettingsInput,
  audit: AuditContext,
): Promise<{ channel: ChannelRow; settings: store.ChannelSettingsRow }> {
  return db.transaction().execute(async (tx) => {
    const channel = await getChannel(tx, accountId, key);
    const before = await store.findChannelSettings(tx, channel.id, environment.id, { forUpdate: true });
    const stored = before?.settings ?? {};
    let settings = stored;
    if (input.settings !== undefined) {
      const problems: FieldError[] = [];
      settings = restoreMaskedSecrets(input.settings, stored, '', problems) as Record<string, unknown>;
      if (problems.length === 0 && JSON.stringify(settings).length > MAX_SETTINGS_BYTES) {
        problems.push({ field: 'settings', message: `must be at most ${MAX_SETTINGS_BYTES} bytes as JSON`, type: 'max_size' });
      }
      if (problems.length === 0) problems.push(...checkChannelSettings(channel, settings));
      if (problems.length > 0) {
        throw new Invalid(`The ${channel.provider} settings of channel "${channel.key}" are invalid: ${problems.map((p) => `${p.field} ${p.message}`).join('; ')}`, problems);
      }
    }
    const sandbox = input.sandbox_mode ?? before?.sandbox ?? false;
    const after = await store.upsertChannelSettings(tx, channel.id, environment.id, settings, sandbox);
    await recordAuditEvent(tx, {
      ...audit,
      accountId,
      action: 'channel.settings_changed',
      environmentId: environment.id,
      target: { type: 'channel', id: channel.key },
      data: {
        provider: channel.provider,
        changed_settings: changedSettings(stored, settings),
        sandbox_mode: { before: before?.sandbox ?? false, after: sandbox },
        configured_before: before !== undefined,
      },
    });
    return { channel, settings: after };
  });
}

/**
 * Makes sure the account has its default channels (the `in-app-feed` channel), creating
 * any that are missing. Idempotent: run at every start. Channels are account-level, so
 * one row serves every environment, including ones created later. Like the rest of the
 * first-start setup that is not a credential, this is not an audited change.
 */
export async function ensureDefaultChannels(db: Db, accountId: string): Promise<void> {
  await store.insertChannel(db, { account_id: accountId, ...DEFAULT_IN_APP_CHANNEL });
}
