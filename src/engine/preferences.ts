/**
 * Whether a recipient's preferences let a channel step send (Knock docs
 * `preferences_overview.mdx`, "Merging preferences" and "Preference evaluation rules").
 * Pure: the caller loads the sets, in priority order, and passes them in.
 */
import { evaluateConditions, type ConditionContext, type ConditionGroup } from './conditions.ts';

/** Where a set comes from; only needed to rank `commercial_subscribed` (see `mergePreferenceSets`). */
export type PreferenceLevel = 'recipient_tenant' | 'tenant_default' | 'recipient_default' | 'environment_default';

/**
 * A stored preference set as read from the database (the `PreferenceSettings` shape of
 * `recipients/preferences/schema.ts`). Values are typed loosely and narrowed while
 * evaluating, so stored JSON of any age cannot make the check throw.
 */
export interface PreferenceSetInput {
  workflows?: Readonly<Record<string, unknown>> | null;
  categories?: Readonly<Record<string, unknown>> | null;
  channel_types?: Readonly<Record<string, unknown>> | null;
  channels?: Readonly<Record<string, unknown>> | null;
  commercial_subscribed?: unknown;
  level?: PreferenceLevel;
}

/** The one set that results from merging; what the check reads. */
export type MergedPreferences = Omit<PreferenceSetInput, 'level'>;

export interface PreferenceCheckInput {
  /** Highest priority first: recipient's tenant set, tenant default, recipient default, environment default. */
  sets: readonly PreferenceSetInput[];
  workflowKey: string;
  categories: readonly string[];
  /** `email`, `in_app_feed`, `sms`, `push`, `chat` or `http`. */
  channelType: string;
  /** The key the channel has in `channels` settings. */
  channelId: string;
  /** What preference conditions read: `recipient`, `actor`, `data`, `tenant`, ... */
  conditionContext: ConditionContext;
  /** The workflow's `settings.override_preferences`. */
  overridePreferences?: boolean;
  /** The workflow's `settings.is_commercial`: only commercial workflows honour `commercial_subscribed`. */
  isCommercial?: boolean;
  /** Clock for timestamp conditions. */
  now?: Date | number;
}

export interface PreferenceDecision {
  allowed: boolean;
  /** Why the step may not send, for the recipient run's record. */
  reason?: string;
}

const MAP_FIELDS = ['workflows', 'categories', 'channel_types', 'channels'] as const;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `map[key]` when `map` is an object that has that key itself (never an inherited `constructor`). */
function ownValue(map: unknown, key: string): unknown {
  return isRecord(map) && Object.hasOwn(map, key) ? map[key] : undefined;
}

/**
 * One value over a lower-priority one: unset (absent or null) falls through; two objects
 * merge key by key; otherwise the higher value wins whole (booleans, condition lists).
 * A lower object marked `__strategy__: "replace"` wins instead — Knock's way for a tenant
 * default to override the recipient's own choice.
 */
function mergeValue(high: unknown, low: unknown): unknown {
  if (high === undefined || high === null) return low ?? undefined;
  if (low === undefined || low === null) return high;
  if (isRecord(low) && low.__strategy__ === 'replace') return low;
  if (!isRecord(high) || !isRecord(low)) return high;
  const entries: [string, unknown][] = [];
  for (const key of new Set([...Object.keys(low), ...Object.keys(high)])) {
    const value = mergeValue(ownValue(high, key), ownValue(low, key));
    if (value !== undefined) entries.push([key, value]);
  }
  // fromEntries defines own properties, so a key such as `__proto__` stays a plain key.
  return Object.fromEntries(entries);
}

/**
 * Merges sets given highest priority first into one. Per leaf key: for each path
 * (`categories.marketing.channel_types.email`, `channels.<id>`, ...) the first set that
 * sets it wins; objects on both sides merge deeper; a boolean or condition list is a leaf.
 * `commercial_subscribed` is a single leaf, except that the recipient's own default set
 * (`level: "recipient_default"`) outranks tenant and environment sets for it
 * (`commercial-unsubscribe`: the recipient-level preference takes precedence).
 */
export function mergePreferenceSets(sets: readonly PreferenceSetInput[]): MergedPreferences {
  const merged: Record<string, unknown> = {};
  for (const field of MAP_FIELDS) {
    const value = sets.reduceRight<unknown>((low, set) => mergeValue(set[field], low), undefined);
    if (value !== undefined) merged[field] = value;
  }
  const own = sets.find((s) => s.level === 'recipient_default' && s.commercial_subscribed != null);
  const commercial = own?.commercial_subscribed ?? sets.find((s) => s.commercial_subscribed != null)?.commercial_subscribed;
  if (commercial !== undefined) merged.commercial_subscribed = commercial;
  return merged as MergedPreferences;
}

/** Decides whether the step may send: every applicable setting must be on. */
export function isAllowedByPreferences(input: PreferenceCheckInput): PreferenceDecision {
  if (input.overridePreferences) return { allowed: true };
  const reason = blockingReason(mergePreferenceSets(input.sets), input);
  return reason === undefined ? { allowed: true } : { allowed: false, reason };
}

/**
 * The first setting that is off, checked in this order: commercial subscription (commercial
 * workflows only), the workflow, each category, then the top-level channel settings. Each
 * scope is checked on its own, so a false category blocks whatever the channels say.
 */
function blockingReason(prefs: MergedPreferences, input: PreferenceCheckInput): string | undefined {
  const holds = (conditions: unknown): boolean => {
    // A preference's condition list must all hold (`preference-conditions`: sent only if all evaluate to true).
    const group: ConditionGroup | undefined = Array.isArray(conditions) ? { all: conditions } : isRecord(conditions) ? conditions : undefined;
    return evaluateConditions(group, input.conditionContext, { now: input.now });
  };

  /** A leaf: `false` is off; `{conditions}` is on when they all hold; anything else is on. */
  const leaf = (label: string, value: unknown, scope = ''): string | undefined => {
    if (value === false) return `${label} is off${scope}`;
    if (isRecord(value) && value.conditions != null && !holds(value.conditions)) return `${label} conditions are not met${scope}`;
    return undefined;
  };

  /** `channels` is more specific than `channel_types`, so when it sets this channel, it alone decides. */
  const channel = (channelTypes: unknown, channels: unknown, scope: string): string | undefined => {
    const byChannel = ownValue(channels, input.channelId);
    if (byChannel !== undefined && byChannel !== null) return leaf(`channel "${input.channelId}"`, byChannel, scope);
    const byType = ownValue(channelTypes, input.channelType);
    return leaf(`channel type "${input.channelType}"`, byType, scope);
  };

  /** A workflow or category: a leaf, or nested conditions and channel settings that must all be on. */
  const scoped = (label: string, setting: unknown): string | undefined => {
    if (!isRecord(setting)) return leaf(label, setting);
    return leaf(label, setting) ?? channel(setting.channel_types, setting.channels, ` for ${label}`);
  };

  if (input.isCommercial) {
    const off = leaf('commercial_subscribed', prefs.commercial_subscribed);
    if (off) return `recipient is unsubscribed from commercial messages (${off})`;
  }
  const workflow = scoped(`workflow "${input.workflowKey}"`, ownValue(prefs.workflows, input.workflowKey));
  if (workflow) return workflow;
  for (const category of input.categories) {
    const off = scoped(`category "${category}"`, ownValue(prefs.categories, category));
    if (off) return off;
  }
  return channel(prefs.channel_types, prefs.channels, '');
}
