import { Type } from 'typebox';
import { PageInfo, PageQuery } from '../../http/pagination.ts';
import { InlineChannelDataRequest } from '../channel-data/schema.ts';
import { InlinePreferenceSetRequest } from '../preferences/schema.ts';

const NullableString = Type.Union([Type.String({ maxLength: 10_000 }), Type.Null()]);

/** Knock: user ids are at most 256 characters. */
export const UserId = Type.String({ minLength: 1, maxLength: 256 });

const IdentifyFields = {
  name: Type.Optional(NullableString),
  email: Type.Optional(NullableString),
  phone_number: Type.Optional(NullableString),
  avatar: Type.Optional(NullableString),
  timezone: Type.Optional(NullableString),
  locale: Type.Optional(NullableString),
  created_at: Type.Optional(Type.Union([Type.String({ format: 'date-time' }), Type.Null()])),
  channel_data: Type.Optional(Type.Union([InlineChannelDataRequest, Type.Null()])),
  preferences: Type.Optional(Type.Union([InlinePreferenceSetRequest, Type.Null()])),
};

/** Any other property is a custom property of the user. */
export const IdentifyUserRequest = Type.Object(IdentifyFields, { additionalProperties: true, title: 'IdentifyUserRequest' });
export const InlineIdentifyUserRequest = Type.Object({ id: UserId, ...IdentifyFields }, { additionalProperties: true, title: 'InlineIdentifyUserRequest' });

export const User = Type.Object(
  {
    __typename: Type.Literal('User'),
    id: Type.String(),
    name: NullableString,
    email: NullableString,
    phone_number: NullableString,
    avatar: NullableString,
    timezone: NullableString,
    created_at: NullableString,
    updated_at: Type.String({ format: 'date-time' }),
  },
  { additionalProperties: true, title: 'User' },
);

export const UserParams = Type.Object({ user_id: UserId });

export const ListUsersQuery = Type.Object({
  ...PageQuery,
  include: Type.Optional(Type.Array(Type.Literal('preferences'), { maxItems: 5 })),
});

export const ListUsersResponse = Type.Object({ entries: Type.Array(User), page_info: PageInfo }, { title: 'ListUsersResponse' });

export const BulkIdentifyUsersRequest = Type.Object(
  { users: Type.Array(InlineIdentifyUserRequest, { minItems: 1, maxItems: 1000 }) },
  { additionalProperties: false },
);
export const BulkDeleteUsersRequest = Type.Object(
  { user_ids: Type.Array(UserId, { minItems: 1, maxItems: 1000 }) },
  { additionalProperties: false },
);
export const MergeUserRequest = Type.Object({ from_user_id: UserId }, { additionalProperties: false });

export const BulkOperation = Type.Object(
  {
    __typename: Type.Literal('BulkOperation'),
    id: Type.String({ format: 'uuid' }),
    name: Type.String(),
    status: Type.Union([Type.Literal('queued'), Type.Literal('processing'), Type.Literal('completed'), Type.Literal('failed')]),
    estimated_total_rows: Type.Integer(),
    processed_rows: Type.Integer(),
    success_count: Type.Integer(),
    error_count: Type.Integer(),
    error_items: Type.Array(Type.Object({ id: Type.String(), collection: Type.Union([Type.String(), Type.Null()]) })),
    progress_path: Type.String(),
    inserted_at: Type.String({ format: 'date-time' }),
    started_at: Type.Union([Type.String(), Type.Null()]),
    completed_at: Type.Union([Type.String(), Type.Null()]),
    failed_at: Type.Union([Type.String(), Type.Null()]),
    updated_at: Type.String({ format: 'date-time' }),
  },
  { title: 'BulkOperation' },
);
