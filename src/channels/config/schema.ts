import { Type } from 'typebox';
import { Nullable } from '../../workflows/typebox-nullable.ts';

/** Channel types Herald delivers (the mgmt spec's `Channel.type`, less the ones Herald has no engine for). */
export const CHANNEL_TYPES = ['email', 'in_app_feed', 'sms', 'push', 'chat', 'http'] as const;
export type ChannelType = (typeof CHANNEL_TYPES)[number];

export const CHANNEL_KEY_PATTERN = '^[a-z0-9][a-z0-9_-]{0,127}$';

const DateTime = Type.String({ format: 'date-time' });

/** The mgmt spec's `ChannelEnvironmentSettings`: secret provider settings are masked. */
export const ChannelEnvironmentSettings = Type.Object({
  id: Type.String({ format: 'uuid' }),
  is_valid: Type.Boolean(),
  is_sandbox: Type.Boolean(),
  channel_settings: Nullable(Type.Record(Type.String(), Type.Unknown())),
  provider_settings: Nullable(Type.Record(Type.String(), Type.Unknown(), { description: 'Secret values (passwords, tokens, private keys) are masked.' })),
});

/** The mgmt spec's `Channel`. */
export const Channel = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    key: Type.String(),
    name: Type.String(),
    type: Type.String(),
    provider: Type.String(),
    description: Nullable(Type.String()),
    custom_icon_url: Type.Null(),
    visible_in: Type.Array(Type.String()),
    archived_at: Nullable(DateTime),
    created_at: DateTime,
    updated_at: DateTime,
    environment_settings: Type.Optional(Type.Record(Type.String(), ChannelEnvironmentSettings)),
  },
  { $id: 'Channel', title: 'Channel' },
);

export const CreateChannelBody = Type.Object(
  {
    key: Type.String({ pattern: CHANNEL_KEY_PATTERN, description: 'Unique in the account, the same in every environment; immutable.' }),
    name: Type.String({ minLength: 1, maxLength: 200 }),
    type: Type.Union([Type.Literal('email'), Type.Literal('in_app_feed'), Type.Literal('sms'), Type.Literal('push'), Type.Literal('chat'), Type.Literal('http')]),
    provider: Type.String({
      minLength: 1,
      maxLength: 50,
      description: 'Must suit the type: email → smtp, sms → twilio, push → fcm, chat → slack, http → webhook, in_app_feed → herald.',
    }),
    description: Type.Optional(Nullable(Type.String({ maxLength: 2000 }))),
  },
  { additionalProperties: false },
);

export const ChannelKeyParams = Type.Object({ channel_key: Type.String({ minLength: 1, maxLength: 255 }) });
export const EnvironmentChannelParams = Type.Object({
  environment_slug: Type.String({ maxLength: 100 }),
  channel_key: Type.String({ minLength: 1, maxLength: 255 }),
});

/** Herald: one channel's configuration in one environment, as reads show it. */
export const EnvironmentChannel = Type.Object({
  id: Type.String({ format: 'uuid', description: "The channel's id (the same in every environment)." }),
  key: Type.String(),
  name: Type.String(),
  type: Type.String(),
  provider: Type.String(),
  description: Nullable(Type.String()),
  environment: Type.String({ description: 'Environment slug.' }),
  configured: Type.Boolean({ description: 'Settings have been saved in this environment.' }),
  is_valid: Type.Boolean({ description: "The settings pass the provider's checks: the channel can send here." }),
  sandbox_mode: Type.Boolean({ description: 'Messages are not sent (status not_sent).' }),
  settings: Type.Record(Type.String(), Type.Unknown(), { description: 'Provider settings; secret values are masked and never returned.' }),
  secret_fields: Type.Array(Type.String(), { description: 'Settings holding a secret (masked above), as dotted paths.' }),
  updated_at: Nullable(DateTime),
});

export const UpdateEnvironmentChannelBody = Type.Object(
  {
    settings: Type.Optional(Type.Record(Type.String(), Type.Unknown(), {
      description: 'Provider settings (replaces the stored ones). A secret sent back as the mask keeps its stored value.',
    })),
    sandbox_mode: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false, minProperties: 1 },
);
