import type { ColumnType, Generated, Insertable, Selectable } from 'kysely';

/** A timestamp with a database default: optional on insert, a Date when read. */
type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;
type Json<T = Record<string, unknown>> = ColumnType<T, string | T, string | T>;

export interface AccountsTable {
  id: Generated<string>;
  name: string;
  slug: string;
  production_write_access: Generated<boolean>;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface EnvironmentsTable {
  id: Generated<string>;
  account_id: string;
  slug: string;
  name: string;
  position: number;
  owner: 'system' | 'user';
  label_color: string | null;
  hide_pii_data: Generated<boolean>;
  hide_message_content: Generated<boolean>;
  require_promotion_approval: Generated<boolean>;
  last_commit_at: Date | null;
  created_at: Timestamp;
  updated_at: Timestamp;
  deleted_at: Date | null;
}

export interface MembersTable {
  id: Generated<string>;
  account_id: string;
  email: string;
  name: string | null;
  role: string;
  password_hash: string | null;
  /** SHA-256 of a pending invitation's one-time token; null once accepted or revoked. */
  invite_token_hash: Buffer | null;
  invite_expires_at: Date | null;
  invited_by_member_id: string | null;
  removed_at: Date | null;
  /** With role `custom`: the permission group (Herald); null otherwise. */
  permission_group_id: Generated<string | null>;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface MemberSessionsTable {
  id: Generated<string>;
  account_id: string;
  member_id: string;
  token_hash: Buffer;
  csrf_token_hash: Buffer;
  created_at: Timestamp;
  expires_at: Date;
  last_used_at: Date | null;
  revoked_at: Date | null;
}

export interface ServiceTokensTable {
  id: Generated<string>;
  account_id: string;
  name: string;
  token_hash: Buffer;
  token_prefix: string;
  role: string;
  created_by_member_id: string | null;
  environment_ids: string[] | null;
  /** With role `custom`: the permission group (Herald); null otherwise. */
  permission_group_id: Generated<string | null>;
  created_at: Timestamp;
  last_used_at: Date | null;
  revoked_at: Date | null;
}

export interface PermissionGroupsTable {
  id: Generated<string>;
  account_id: string;
  name: string;
  description: string | null;
  created_at: Timestamp;
  updated_at: Timestamp;
  deleted_at: Date | null;
}

/** A permission group's levels in one environment; an environment without a row is `none`. */
export interface PermissionGroupEnvironmentsTable {
  permission_group_id: string;
  environment_id: string;
  access: 'none' | 'view' | 'manage';
  release: 'none' | 'commit' | 'manage';
}

export interface ApiKeysTable {
  id: Generated<string>;
  environment_id: string;
  kind: 'public' | 'secret';
  name: string | null;
  key_hash: Buffer;
  key_prefix: string;
  created_at: Timestamp;
  revoked_at: Date | null;
}

export interface UsersTable {
  environment_id: string;
  id: string;
  properties: Json;
  inserted_at: Timestamp;
  updated_at: Timestamp;
}

export interface UserPreferenceSetsTable {
  environment_id: string;
  user_id: string;
  set_id: string;
  settings: Json;
  inserted_at: Timestamp;
  updated_at: Timestamp;
}

export interface UserChannelDataTable {
  environment_id: string;
  user_id: string;
  channel_id: string;
  data: Json;
  inserted_at: Timestamp;
  updated_at: Timestamp;
}

export interface TenantsTable {
  environment_id: string;
  id: string;
  properties: Json;
  settings: Json;
  channel_data: Json<Record<string, Record<string, unknown>>>;
  inserted_at: Timestamp;
  updated_at: Timestamp;
}

export interface BulkOperationsTable {
  environment_id: string;
  id: Generated<string>;
  name: string;
  status: 'queued' | 'processing' | 'completed' | 'failed';
  estimated_total_rows: number;
  processed_rows: number;
  success_count: number;
  error_count: number;
  error_items: Json<Array<{ id: string; collection?: string | null }>>;
  inserted_at: Timestamp;
  started_at: Date | null;
  completed_at: Date | null;
  failed_at: Date | null;
  updated_at: Timestamp;
}

export interface ResourcesTable {
  account_id: string;
  resource_type: string;
  resource_key: string;
  origin_environment_id: string;
  created_at: Timestamp;
}

export interface ResourceVersionsTable {
  id: Generated<string>;
  account_id: string;
  resource_type: string;
  resource_key: string;
  content: Json;
  sha: string;
  created_at: Timestamp;
}

export interface EnvironmentResourcesTable {
  environment_id: string;
  resource_type: string;
  resource_key: string;
  committed_version_id: string | null;
  working_content: Json | null;
  working_sha: string | null;
  active: Generated<boolean>;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface CommitsTable {
  id: Generated<string>;
  seq: Generated<string>;
  environment_id: string;
  resource_type: string;
  resource_key: string;
  version_id: string;
  parent_version_id: string | null;
  kind: 'commit' | 'promote' | 'seed' | 'revert' | 'rollback';
  source_commit_id: string | null;
  commit_message: string;
  author_kind: 'member' | 'service_token' | 'system';
  author_id: string | null;
  author_email: string;
  author_name: string | null;
  created_at: Timestamp;
}

/** Append-only: the application role may read and insert, never update or delete. */
export interface AuditEventsTable {
  id: Generated<string>;
  seq: Generated<string>;
  account_id: string;
  actor_kind: 'member' | 'service_token' | 'system';
  actor_id: string | null;
  actor_email: string | null;
  actor_name: string | null;
  action: string;
  environment_id: string | null;
  target_type: string;
  target_id: string | null;
  data: Json;
  request_id: string | null;
  created_at: Timestamp;
}

export interface PromotionRequestsTable {
  id: Generated<string>;
  account_id: string;
  environment_id: string;
  commit_id: string | null;
  resource_types: string[] | null;
  resource_key: string | null;
  status: 'pending' | 'applied' | 'rejected';
  requested_by_email: string;
  requested_by_name: string | null;
  decided_by_email: string | null;
  decided_by_name: string | null;
  created_at: Timestamp;
  decided_at: Date | null;
}

export interface ObjectsTable {
  environment_id: string;
  collection: string;
  id: string;
  properties: Json;
  inserted_at: Timestamp;
  updated_at: Timestamp;
}

export interface ObjectChannelDataTable {
  environment_id: string;
  collection: string;
  object_id: string;
  channel_id: string;
  data: Json;
  inserted_at: Timestamp;
  updated_at: Timestamp;
}

export interface ObjectPreferenceSetsTable {
  environment_id: string;
  collection: string;
  object_id: string;
  set_id: string;
  settings: Json;
  inserted_at: Timestamp;
  updated_at: Timestamp;
}

export interface ObjectSubscriptionsTable {
  environment_id: string;
  collection: string;
  object_id: string;
  /** `$users` for a user recipient, else the recipient object's collection. */
  recipient_collection: Generated<string>;
  recipient_id: string;
  properties: Json | null;
  inserted_at: Timestamp;
  updated_at: Timestamp;
}

export type RunStatus = 'queued' | 'processing' | 'paused' | 'completed' | 'cancelled' | 'halted' | 'error' | 'batched';
export type MessageStatus = 'queued' | 'sent' | 'delivered' | 'delivery_attempted' | 'undelivered' | 'not_sent' | 'bounced';

export interface WorkflowRunsTable {
  environment_id: string;
  id: string;
  workflow_key: string;
  version_id: string | null;
  recipients: Json<unknown[]>;
  actor: Json<unknown> | null;
  tenant: Json<unknown> | null;
  data: Json | null;
  settings: Json | null;
  cancellation_key: string | null;
  idempotency_key: string | null;
  request_hash: string | null;
  status: Generated<'queued' | 'processed' | 'failed' | 'cancelled'>;
  cancelled_recipient_keys: Generated<string[]>;
  error: Json | null;
  inserted_at: Timestamp;
  updated_at: Timestamp;
}

export interface WorkflowRecipientRunsTable {
  environment_id: string;
  id: Generated<string>;
  workflow_run_id: string;
  workflow_key: string;
  version_id: string | null;
  recipient: Json;
  recipient_key: string;
  actor: Json | null;
  tenant: string | null;
  data: Json | null;
  settings: Json | null;
  cancellation_key: string | null;
  status: RunStatus;
  refs: Json;
  error: Json | null;
  inserted_at: Timestamp;
  updated_at: Timestamp;
  completed_at: Date | null;
}

export interface MessagesTable {
  environment_id: string;
  id: string;
  workflow_recipient_run_id: string;
  workflow_run_id: string;
  workflow_key: string;
  version_id: string | null;
  step_ref: string;
  channel_id: string;
  channel_type: string;
  recipient: Json;
  recipient_key: string;
  actors: Json<unknown[]>;
  tenant: string | null;
  status: MessageStatus;
  data: Json | null;
  content: Json | null;
  metadata: Json | null;
  delivery_attempts: Generated<number>;
  seen_at: Date | null;
  read_at: Date | null;
  interacted_at: Date | null;
  link_clicked_at: Date | null;
  archived_at: Date | null;
  inserted_at: Timestamp;
  updated_at: Timestamp;
}

export interface MessageEventsTable {
  environment_id: string;
  id: Generated<string>;
  message_id: string;
  type: string;
  data: Json | null;
  inserted_at: Timestamp;
}

export interface MessageDeliveryLogsTable {
  environment_id: string;
  id: Generated<string>;
  message_id: string;
  attempt: number;
  provider: string;
  status: 'pending' | 'succeeded' | 'failed' | 'interrupted';
  request: Json<unknown> | null;
  response: Json<unknown> | null;
  error: string | null;
  inserted_at: Timestamp;
  completed_at: Date | null;
}

export interface StepBatchesTable {
  environment_id: string;
  id: Generated<string>;
  scope: string;
  owner_run_id: string;
  closes_at: Date;
  activities: Json<unknown[]>;
  status: 'open' | 'closed';
  inserted_at: Timestamp;
}

export interface ThrottleHitsTable {
  environment_id: string;
  scope: string;
  run_id: string;
  at: Timestamp;
}

export interface ChannelsTable {
  id: Generated<string>;
  account_id: string;
  key: string;
  name: string;
  type: string;
  provider: string;
  description: string | null;
  created_at: Timestamp;
  updated_at: Timestamp;
  archived_at: Date | null;
}

export interface ChannelEnvironmentSettingsTable {
  channel_id: string;
  environment_id: string;
  settings: Json;
  sandbox: Generated<boolean>;
  updated_at: Timestamp;
}

export interface VariablesTable {
  id: Generated<string>;
  account_id: string;
  key: string;
  type: 'public' | 'secret';
  description: string | null;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface VariableValuesTable {
  variable_id: string;
  environment_id: string;
  value: string;
  updated_at: Timestamp;
}

export interface SigningKeysTable {
  id: Generated<string>;
  environment_id: string;
  public_key_pem: string;
  key_prefix: string;
  created_at: Timestamp;
  revoked_at: Date | null;
}

export interface WorkerProcessesTable {
  id: string;
  lock_key: number;
  worker_ids: Generated<string[]>;
  hostname: string | null;
  pid: number | null;
  started_at: Timestamp;
}

/** Every table Herald's application role reads and writes. */
export interface Database {
  accounts: AccountsTable;
  environments: EnvironmentsTable;
  members: MembersTable;
  member_sessions: MemberSessionsTable;
  service_tokens: ServiceTokensTable;
  permission_groups: PermissionGroupsTable;
  permission_group_environments: PermissionGroupEnvironmentsTable;
  api_keys: ApiKeysTable;
  users: UsersTable;
  user_preference_sets: UserPreferenceSetsTable;
  user_channel_data: UserChannelDataTable;
  tenants: TenantsTable;
  bulk_operations: BulkOperationsTable;
  resources: ResourcesTable;
  resource_versions: ResourceVersionsTable;
  environment_resources: EnvironmentResourcesTable;
  commits: CommitsTable;
  promotion_requests: PromotionRequestsTable;
  audit_events: AuditEventsTable;
  objects: ObjectsTable;
  object_subscriptions: ObjectSubscriptionsTable;
  object_channel_data: ObjectChannelDataTable;
  object_preference_sets: ObjectPreferenceSetsTable;
  workflow_runs: WorkflowRunsTable;
  workflow_recipient_runs: WorkflowRecipientRunsTable;
  messages: MessagesTable;
  message_events: MessageEventsTable;
  message_delivery_logs: MessageDeliveryLogsTable;
  step_batches: StepBatchesTable;
  throttle_hits: ThrottleHitsTable;
  channels: ChannelsTable;
  channel_environment_settings: ChannelEnvironmentSettingsTable;
  variables: VariablesTable;
  variable_values: VariableValuesTable;
  signing_keys: SigningKeysTable;
  worker_processes: WorkerProcessesTable;
}

export type CommitRow = Selectable<CommitsTable>;
export type AuditEventRow = Selectable<AuditEventsTable>;

export type EnvironmentRow = Selectable<EnvironmentsTable>;
export type UserRow = Selectable<UsersTable>;
export type TenantRow = Selectable<TenantsTable>;
export type NewEnvironment = Insertable<EnvironmentsTable>;
export type MessageRow = Selectable<MessagesTable>;
export type RecipientRunRow = Selectable<WorkflowRecipientRunsTable>;
export type ChannelRow = Selectable<ChannelsTable>;
