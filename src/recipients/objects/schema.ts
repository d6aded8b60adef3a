import { Type } from 'typebox';
import { PageInfo, PageQuery } from '../../http/pagination.ts';
import { InlineChannelDataRequest } from '../channel-data/schema.ts';
import { InlinePreferenceSetRequest } from '../preferences/schema.ts';
import { InlineIdentifyUserRequest, User, UserId } from '../users/schema.ts';

const NullableString = Type.Union([Type.String({ maxLength: 10_000 }), Type.Null()]);
const NullableDateTime = Type.Union([Type.String({ format: 'date-time' }), Type.Null()]);

/** A collection name; those starting with `$` are reserved (checked by the service, for a clear 422). */
export const Collection = Type.String({ minLength: 1, maxLength: 256 });
export const ObjectId = Type.String({ minLength: 1, maxLength: 256 });

/** Fields of an object request Knock names; any other key is a custom property. */
const ObjectFields = {
  name: Type.Optional(NullableString),
  locale: Type.Optional(NullableString),
  timezone: Type.Optional(NullableString),
  created_at: Type.Optional(NullableDateTime),
  channel_data: Type.Optional(Type.Union([InlineChannelDataRequest, Type.Null()])),
  preferences: Type.Optional(Type.Union([InlinePreferenceSetRequest, Type.Null()])),
};

export const SetObjectRequest = Type.Object(ObjectFields, { additionalProperties: true, title: 'SetObjectRequest' });

/** An object given inline (`{id, collection, ...properties}`): identified (upserted) first. */
export const InlineIdentifyObjectRequest = Type.Object(
  { id: ObjectId, collection: Collection, ...ObjectFields },
  { additionalProperties: true, title: 'InlineIdentifyObjectRequest' },
);

export const KnockObject = Type.Object(
  {
    __typename: Type.Literal('Object'),
    id: Type.String(),
    collection: Type.String(),
    created_at: NullableDateTime,
    properties: Type.Record(Type.String(), Type.Unknown()),
    updated_at: Type.String({ format: 'date-time' }),
  },
  { title: 'Object' },
);

/** `{id, collection}`: an object. */
export const ObjectReference = Type.Object({ id: ObjectId, collection: Collection }, { additionalProperties: false, title: 'ObjectReference' });

/** A user id, or `{id, collection}` for an object. */
export const RecipientReference = Type.Union([UserId, ObjectReference], { title: 'RecipientReference' });

/** A user id, an inline user (`{id, ...}`), or an inline object (`{id, collection, ...}`). */
export const RecipientRequest = Type.Union([UserId, InlineIdentifyUserRequest, InlineIdentifyObjectRequest], { title: 'RecipientRequest' });

const SubscriptionProperties = Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()]);

export const UpsertSubscriptionsRequest = Type.Object(
  {
    recipients: Type.Array(RecipientRequest, { minItems: 1, maxItems: 100, description: 'Up to 100 recipients at a time.' }),
    properties: Type.Optional(SubscriptionProperties),
  },
  { additionalProperties: false, title: 'UpsertSubscriptionsRequest' },
);

export const DeleteSubscriptionsRequest = Type.Object(
  { recipients: Type.Array(RecipientReference, { minItems: 1, maxItems: 100, description: 'Up to 100 recipients at a time.' }) },
  { additionalProperties: false, title: 'DeleteSubscriptionsRequest' },
);

export const Subscription = Type.Object(
  {
    __typename: Type.Literal('Subscription'),
    object: KnockObject,
    recipient: Type.Union([User, KnockObject]),
    properties: SubscriptionProperties,
    inserted_at: Type.String({ format: 'date-time' }),
    updated_at: Type.String({ format: 'date-time' }),
  },
  { title: 'Subscription' },
);

export const SubscriptionsResponse = Type.Array(Subscription, { title: 'SubscriptionsResponse' });

export const ObjectParams = Type.Object({ collection: Collection, id: ObjectId });
export const ObjectSubscriptionParams = Type.Object({ collection: Collection, object_id: ObjectId });
export const CollectionParams = Type.Object({ collection: Collection });
export const ObjectChannelDataParams = Type.Object({ collection: Collection, object_id: ObjectId, channel_id: Type.String({ format: 'uuid' }) });
export const ObjectPreferenceSetParams = Type.Object({
  collection: Collection,
  object_id: ObjectId,
  id: Type.String({ minLength: 1, maxLength: 256, description: '`default` or a tenant id' }),
});
export const UserSubscriptionParams = Type.Object({ user_id: UserId });

const Include = Type.Optional(
  Type.Array(Type.Literal('preferences'), { maxItems: 5, description: 'Accepted for compatibility; preferences are not included yet.' }),
);

export const ListObjectsQuery = Type.Object({ ...PageQuery, include: Include });

export const ListObjectsResponse = Type.Object({ entries: Type.Array(KnockObject), page_info: PageInfo }, { title: 'ListObjectsResponse' });

export const ListObjectSubscriptionsQuery = Type.Object({
  ...PageQuery,
  mode: Type.Optional(
    Type.Union([Type.Literal('object'), Type.Literal('recipient')], {
      default: 'object',
      description: '`object`: the recipients subscribed to this object; `recipient`: the objects this object is subscribed to.',
    }),
  ),
  include: Include,
  recipients: Type.Optional(Type.Array(RecipientReference, { maxItems: 100, description: 'Recipients to filter by (mode `object`).' })),
  objects: Type.Optional(Type.Array(ObjectReference, { maxItems: 100, description: 'Objects to filter by (mode `recipient`).' })),
});

export const ListUserSubscriptionsQuery = Type.Object({
  ...PageQuery,
  include: Include,
  objects: Type.Optional(Type.Array(ObjectReference, { maxItems: 100, description: 'Only subscriptions to these objects.' })),
});

export const ListSubscriptionsResponse = Type.Object({ entries: Type.Array(Subscription), page_info: PageInfo }, { title: 'ListSubscriptionsResponse' });
