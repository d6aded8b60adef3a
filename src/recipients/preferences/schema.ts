import { Type, type Static } from 'typebox';

const CONDITION_OPERATORS = [
  'equal_to', 'not_equal_to', 'greater_than', 'less_than', 'greater_than_or_equal_to', 'less_than_or_equal_to',
  'contains', 'not_contains', 'empty', 'not_empty', 'exists', 'not_exists', 'contains_all', 'not_contains_all',
  'is_timestamp', 'is_not_timestamp', 'is_timestamp_on_or_after', 'is_timestamp_before', 'is_timestamp_on_or_after_date',
  'is_timestamp_before_date', 'is_timestamp_between', 'is_between', 'is_audience_member', 'is_not_audience_member',
] as const;

export const Condition = Type.Object(
  {
    variable: Type.String({ minLength: 1, maxLength: 1000 }),
    operator: Type.Union(CONDITION_OPERATORS.map((op) => Type.Literal(op))),
    argument: Type.Union([Type.String({ maxLength: 10_000 }), Type.Null()]),
  },
  { additionalProperties: false },
);

const ConditionsSetting = Type.Object({ conditions: Type.Array(Condition, { maxItems: 100 }) }, { additionalProperties: false });
/** A channel-type or channel setting: a boolean, or conditions. */
const ChannelSetting = Type.Union([Type.Boolean(), ConditionsSetting]);

export const CHANNEL_TYPES = ['chat', 'email', 'http', 'in_app_feed', 'push', 'sms'] as const;
export const ChannelTypes = Type.Object(
  Object.fromEntries(CHANNEL_TYPES.map((t) => [t, Type.Optional(ChannelSetting)])) as Record<(typeof CHANNEL_TYPES)[number], ReturnType<typeof Type.Optional<typeof ChannelSetting>>>,
  { additionalProperties: false },
);
/** Channel id → setting. (A Record's key schema is not validated: `propertyNames` checks the ids.) */
export const Channels = Type.Record(Type.String({ format: 'uuid' }), ChannelSetting, { propertyNames: { type: 'string', format: 'uuid' } });

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);

/** A workflow or category setting: a boolean, or nested channel settings and conditions. */
export const WorkflowCategorySetting = Type.Union([
  Type.Boolean(),
  Type.Object(
    {
      channel_types: Type.Optional(Nullable(ChannelTypes)),
      channels: Type.Optional(Nullable(Channels)),
      conditions: Type.Optional(Nullable(Type.Array(Condition, { maxItems: 100 }))),
    },
    { additionalProperties: false },
  ),
]);

const SettingsMap = Type.Record(Type.String({ minLength: 1, maxLength: 256 }), WorkflowCategorySetting);

const PreferenceFields = {
  workflows: Type.Optional(Nullable(SettingsMap)),
  categories: Type.Optional(Nullable(SettingsMap)),
  channel_types: Type.Optional(Nullable(ChannelTypes)),
  channels: Type.Optional(Nullable(Channels)),
  commercial_subscribed: Type.Optional(Nullable(Type.Union([Type.Boolean(), ConditionsSetting]))),
};

export const PreferenceSetRequest = Type.Object(
  {
    __persistence_strategy__: Type.Optional(Type.Union([Type.Literal('merge'), Type.Literal('replace')])),
    ...PreferenceFields,
  },
  { additionalProperties: false, title: 'PreferenceSetRequest' },
);
export type PreferenceSetRequestShape = Static<typeof PreferenceSetRequest>;

/** Preferences set inline when identifying: set id → set. */
export const InlinePreferenceSetRequest = Type.Record(Type.String({ minLength: 1, maxLength: 256 }), PreferenceSetRequest);

export const PreferenceSet = Type.Object(
  {
    __typename: Type.Literal('PreferenceSet'),
    id: Type.String(),
    workflows: Nullable(SettingsMap),
    categories: Nullable(SettingsMap),
    channel_types: Nullable(ChannelTypes),
    channels: Nullable(Channels),
    commercial_subscribed: Nullable(Type.Union([Type.Boolean(), ConditionsSetting])),
  },
  { title: 'PreferenceSet' },
);
export type PreferenceSetShape = Static<typeof PreferenceSet>;

/** The stored part of a set: everything but its id. */
export type PreferenceSettings = Omit<PreferenceSetShape, '__typename' | 'id'>;
