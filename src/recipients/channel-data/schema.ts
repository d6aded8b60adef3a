import { Type } from 'typebox';

const Str = Type.String({ maxLength: 4096 });
const Tokens = Type.Array(Str, { maxItems: 1000 });
const Devices = Type.Array(
  Type.Object({ token: Str, locale: Type.Optional(Type.Union([Str, Type.Null()])), timezone: Type.Optional(Type.Union([Str, Type.Null()])) }),
  { maxItems: 1000 },
);

/**
 * Channel data as Knock accepts it: push tokens or devices, AWS SNS target ARNs,
 * OneSignal player ids, Slack / Microsoft Teams / Discord connections.
 */
export const ChannelDataPayload = Type.Union(
  [
    Type.Object({ tokens: Tokens }),
    Type.Object({ devices: Devices }),
    Type.Object({ target_arns: Tokens }),
    Type.Object({ player_ids: Tokens }),
    Type.Object({ connections: Type.Array(Type.Record(Type.String(), Type.Unknown()), { maxItems: 1000 }) }),
  ],
  { description: 'Push tokens/devices, AWS SNS target_arns, OneSignal player_ids, or chat connections.' },
);

export const ChannelDataRequest = Type.Object({ data: ChannelDataPayload }, { additionalProperties: false, title: 'ChannelDataRequest' });

/** Channel id → channel data. (A Record's key schema is not validated: `propertyNames` checks the ids.) */
export const InlineChannelDataRequest = Type.Record(Type.String({ format: 'uuid' }), ChannelDataPayload, {
  propertyNames: { type: 'string', format: 'uuid' },
});

export const ChannelData = Type.Object(
  {
    __typename: Type.Literal('ChannelData'),
    channel_id: Type.String({ format: 'uuid' }),
    data: Type.Record(Type.String(), Type.Unknown()),
  },
  { title: 'ChannelData' },
);

export const ChannelDataParams = Type.Object({
  user_id: Type.String({ minLength: 1, maxLength: 256 }),
  channel_id: Type.String({ format: 'uuid' }),
});
