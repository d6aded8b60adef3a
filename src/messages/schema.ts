import { Type } from 'typebox';
import { PageInfo, PageQuery } from '../http/pagination.ts';
import { UserId } from '../recipients/users/schema.ts';

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) => Type.Union([schema, Type.Null()]);
const NullableDateTime = Nullable(Type.String({ format: 'date-time' }));
const AnyObject = Type.Record(Type.String(), Type.Unknown());
const Key = Type.String({ minLength: 1, maxLength: 256 });

export const DELIVERY_STATUSES = ['queued', 'sent', 'delivered', 'delivery_attempted', 'undelivered', 'not_sent', 'bounced'] as const;
export const ENGAGEMENT_FILTERS = ['seen', 'unseen', 'read', 'unread', 'archived', 'unarchived', 'link_clicked', 'interacted'] as const;

export const DeliveryStatus = Type.Enum(DELIVERY_STATUSES);
export const EngagementStatusFilter = Type.Enum(ENGAGEMENT_FILTERS);

/** Date filters on `inserted_at`, as Knock names them. */
const InsertedAtQuery = {
  'inserted_at.gt': Type.Optional(Type.String({ format: 'date-time', description: 'Limits the results to items inserted after the given date.' })),
  'inserted_at.gte': Type.Optional(Type.String({ format: 'date-time', description: 'Limits the results to items inserted after or on the given date.' })),
  'inserted_at.lt': Type.Optional(Type.String({ format: 'date-time', description: 'Limits the results to items inserted before the given date.' })),
  'inserted_at.lte': Type.Optional(Type.String({ format: 'date-time', description: 'Limits the results to items inserted before or on the given date.' })),
};

const TriggerDataQuery = Type.Optional(Type.String({ maxLength: 10_000, description: 'Only messages generated with the given data (a JSON object of flat key-value pairs).' }));

export const ListMessagesQuery = Type.Object({
  ...PageQuery,
  tenant: Type.Optional(Key),
  channel_id: Type.Optional(Key),
  status: Type.Optional(Type.Array(DeliveryStatus, { maxItems: 10 })),
  engagement_status: Type.Optional(Type.Array(EngagementStatusFilter, { maxItems: 10 })),
  message_ids: Type.Optional(Type.Array(Key, { maxItems: 50 })),
  workflow_categories: Type.Optional(Type.Array(Key, { maxItems: 50 })),
  source: Type.Optional(Key),
  workflow_run_id: Type.Optional(Type.String({ format: 'uuid' })),
  workflow_recipient_run_id: Type.Optional(Type.String({ format: 'uuid' })),
  trigger_data: TriggerDataQuery,
  ...InsertedAtQuery,
});

export const MessageParams = Type.Object({ message_id: Key });
export const UserMessagesParams = Type.Object({ user_id: UserId });

const RecipientReference = Type.Union([Type.String(), Type.Object({ id: Type.String(), collection: Type.String() })], { title: 'RecipientReference' });

export const Message = Type.Object(
  {
    __typename: Type.Literal('Message'),
    id: Type.String(),
    channel_id: Type.String({ format: 'uuid' }),
    channel: Type.Object({
      id: Type.String(),
      key: Nullable(Type.String()),
      name: Nullable(Type.String()),
      type: Type.String(),
      provider: Type.String(),
      created_at: Type.String(),
      updated_at: Type.String(),
    }),
    recipient: RecipientReference,
    actors: Type.Array(RecipientReference),
    status: DeliveryStatus,
    engagement_statuses: Type.Array(Type.Enum(['seen', 'read', 'interacted', 'link_clicked', 'archived'] as const)),
    seen_at: NullableDateTime,
    read_at: NullableDateTime,
    interacted_at: NullableDateTime,
    link_clicked_at: NullableDateTime,
    clicked_at: NullableDateTime,
    archived_at: NullableDateTime,
    scheduled_at: NullableDateTime,
    inserted_at: Type.String({ format: 'date-time' }),
    updated_at: Type.String({ format: 'date-time' }),
    data: Nullable(AnyObject),
    metadata: Nullable(AnyObject),
    source: Type.Object({
      __typename: Type.Literal('NotificationSource'),
      type: Type.Literal('workflow'),
      key: Type.String(),
      version_id: Nullable(Type.String()),
      step_ref: Nullable(Type.String()),
      workflow_run_id: Nullable(Type.String()),
      workflow_recipient_run_id: Nullable(Type.String()),
      categories: Type.Array(Type.String()),
    }),
    tenant: Nullable(Type.String()),
    workflow: Nullable(Type.String()),
  },
  { title: 'Message', additionalProperties: true },
);

export const ListMessagesResponse = Type.Object({ items: Type.Array(Message), page_info: PageInfo }, { title: 'ListMessagesResponse' });

export const MessageContents = Type.Object(
  {
    __typename: Type.Literal('MessageContent'),
    message_id: Type.String(),
    inserted_at: Type.String({ format: 'date-time' }),
    data: AnyObject,
  },
  { title: 'MessageContents' },
);

export const BatchContentQuery = Type.Object({ message_ids: Type.Array(Key, { minItems: 1, maxItems: 50 }) });

export const MessageEvent = Type.Object(
  {
    __typename: Type.Literal('MessageEvent'),
    id: Type.String(),
    type: Type.String(),
    recipient: RecipientReference,
    data: Nullable(AnyObject),
    inserted_at: Type.String({ format: 'date-time' }),
  },
  { title: 'MessageEvent' },
);
export const ListMessageEventsResponse = Type.Object({ items: Type.Array(MessageEvent), page_info: PageInfo }, { title: 'ListMessageEventsResponse' });

export const MessageDeliveryLog = Type.Object(
  {
    __typename: Type.Literal('MessageDeliveryLog'),
    id: Type.String(),
    environment_id: Type.String({ format: 'uuid' }),
    service_name: Type.String(),
    request: AnyObject,
    response: AnyObject,
    inserted_at: Type.String(),
  },
  { title: 'MessageDeliveryLog', additionalProperties: true },
);
export const ListMessageDeliveryLogsResponse = Type.Object({ items: Type.Array(MessageDeliveryLog), page_info: PageInfo }, { title: 'ListMessageDeliveryLogsResponse' });

export const Activity = Type.Object(
  {
    __typename: Type.Literal('Activity'),
    id: Type.String(),
    actor: Nullable(AnyObject),
    recipient: AnyObject,
    data: Nullable(AnyObject),
    inserted_at: Type.String(),
    updated_at: Type.String(),
  },
  { title: 'Activity' },
);
export const ListActivitiesQuery = Type.Object({ ...PageQuery, trigger_data: TriggerDataQuery });
export const ListActivitiesResponse = Type.Object({ items: Type.Array(Activity), page_info: PageInfo }, { title: 'ListActivitiesResponse' });

/** Interaction metadata: at most 5 flat key-value pairs. */
const InteractionMetadata = Type.Record(Type.String({ maxLength: 256 }), Type.Unknown(), { maxProperties: 5 });

export const MessageInteractedRequest = Type.Union([Type.Object({ metadata: Type.Optional(Nullable(InteractionMetadata)) }), Type.Null()], { title: 'MessageInteractedRequest' });

const MessageIds = Type.Array(Key, { minItems: 1, maxItems: 1000 });
export const BatchMessagesRequest = Type.Object(
  { message_ids: MessageIds, metadata: Type.Optional(Nullable(InteractionMetadata)) },
  { title: 'BatchMessagesStatusRequest' },
);
export const BatchActionParams = Type.Object({ action: Type.Enum(['seen', 'unseen', 'read', 'unread', 'archived', 'unarchived', 'interacted'] as const) });
export const BatchMessagesResponse = Type.Array(Message, { title: 'BatchMessagesResponse' });

export const CHANNEL_BULK_ACTIONS = ['seen', 'unseen', 'read', 'unread', 'archived', 'unarchived', 'interacted', 'archive', 'unarchive', 'delete'] as const;
export const ChannelBulkParams = Type.Object({ channel_id: Key, action: Type.Enum(CHANNEL_BULK_ACTIONS) });
export const ChannelBulkRequest = Type.Union(
  [
    Type.Object({
      user_ids: Type.Optional(Type.Array(UserId, { maxItems: 1000, description: 'Sent by Knock\'s feed client; the same as `recipient_ids`.' })),
      recipient_ids: Type.Optional(Type.Array(UserId, { maxItems: 1000 })),
      engagement_status: Type.Optional(EngagementStatusFilter),
      delivery_status: Type.Optional(DeliveryStatus),
      archived: Type.Optional(Type.Enum(['exclude', 'include', 'only'] as const)),
      has_tenant: Type.Optional(Type.Boolean()),
      tenants: Type.Optional(Type.Array(Key, { maxItems: 100 })),
      trigger_data: Type.Optional(Type.String({ maxLength: 10_000 })),
      workflows: Type.Optional(Type.Array(Key, { maxItems: 100 })),
      newer_than: Type.Optional(Type.String({ format: 'date-time' })),
      older_than: Type.Optional(Type.String({ format: 'date-time' })),
    }),
    Type.Null(),
  ],
  { title: 'BulkUpdateMessagesForChannelRequest' },
);

export const FEED_STATUSES = ['unread', 'read', 'unseen', 'seen', 'all'] as const;
export const FEED_ARCHIVED = ['exclude', 'include', 'only'] as const;

export const FeedParams = Type.Object({ user_id: UserId, channel_id: Key });
export const FeedQuery = Type.Object({
  ...PageQuery,
  status: Type.Optional(Type.Enum(FEED_STATUSES)),
  archived: Type.Optional(Type.Enum(FEED_ARCHIVED)),
  source: Type.Optional(Key),
  tenant: Type.Optional(Key),
  has_tenant: Type.Optional(Type.Boolean()),
  workflow_categories: Type.Optional(Type.Array(Key, { maxItems: 50 })),
  trigger_data: TriggerDataQuery,
  locale: Type.Optional(Type.String({ maxLength: 64 })),
  exclude: Type.Optional(Type.String({ maxLength: 1000, description: 'Comma-separated field paths to leave out (e.g. `entries.archived_at`).' })),
  mode: Type.Optional(Type.Enum(['compact', 'rich'] as const)),
  ...InsertedAtQuery,
});

export const FeedMetadata = Type.Object({
  __typename: Type.Literal('FeedMetadata'),
  total_count: Type.Integer(),
  unread_count: Type.Integer(),
  unseen_count: Type.Integer(),
});

export const FeedItem = Type.Object(
  {
    __typename: Type.Literal('FeedItem'),
    __cursor: Type.String(),
    id: Type.String(),
    actors: Type.Array(AnyObject),
    activities: Type.Optional(Type.Array(Activity)),
    blocks: Type.Array(AnyObject),
    data: Nullable(AnyObject),
    inserted_at: Type.String(),
    updated_at: Type.String(),
    read_at: NullableDateTime,
    seen_at: NullableDateTime,
    archived_at: NullableDateTime,
    interacted_at: NullableDateTime,
    link_clicked_at: NullableDateTime,
    clicked_at: NullableDateTime,
    source: Type.Object({ __typename: Type.Literal('NotificationSource'), key: Type.String(), version_id: Nullable(Type.String()), categories: Type.Array(Type.String()) }),
    tenant: Nullable(Type.String()),
    total_activities: Type.Optional(Type.Integer()),
    total_actors: Type.Integer(),
  },
  { title: 'FeedItem', additionalProperties: true },
);

export const FeedResponse = Type.Object(
  { entries: Type.Array(FeedItem), meta: FeedMetadata, page_info: PageInfo, vars: AnyObject },
  { title: 'UserInAppFeedResponse' },
);

export const FeedSettingsResponse = Type.Object({ features: Type.Object({ branding_required: Type.Boolean() }) }, { title: 'UserInAppFeedSettingsResponse' });
