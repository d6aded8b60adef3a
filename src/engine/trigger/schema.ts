import { Type } from 'typebox';
import { InlineIdentifyObjectRequest } from '../../recipients/objects/schema.ts';
import { InlineIdentifyUserRequest } from '../../recipients/users/schema.ts';

const Id = Type.String({ minLength: 1, maxLength: 256 });

/** A recipient of a trigger: a user id, an inline-identified user, or an object (reference or inline). */
export const RecipientRequest = Type.Union([
  Id,
  InlineIdentifyObjectRequest,
  InlineIdentifyUserRequest,
], { title: 'RecipientRequest' });

export const InlineTenantRequest = Type.Union([
  Id,
  Type.Object({ id: Id }, { additionalProperties: true }),
], { title: 'InlineTenantRequest' });

export const TriggerWorkflowRequest = Type.Object(
  {
    recipients: Type.Optional(Type.Array(RecipientRequest, { maxItems: 1000, description: 'Up to 1,000 recipients.' })),
    actor: Type.Optional(Type.Union([RecipientRequest, Type.Null()])),
    data: Type.Optional(Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()])),
    tenant: Type.Optional(Type.Union([InlineTenantRequest, Type.Null()])),
    cancellation_key: Type.Optional(Type.Union([Type.String({ minLength: 1, maxLength: 256 }), Type.Null()])),
    settings: Type.Optional(Type.Union([
      Type.Object({
        sandbox_mode: Type.Optional(Type.Boolean()),
        skip_delay: Type.Optional(Type.Boolean()),
      }, { additionalProperties: false }),
      Type.Null(),
    ])),
  },
  { additionalProperties: false, title: 'TriggerWorkflowRequest' },
);

export const TriggerWorkflowResponse = Type.Object(
  { workflow_run_id: Type.String({ format: 'uuid' }) },
  { title: 'TriggerWorkflowResponse' },
);

export const CancelWorkflowRequest = Type.Object(
  {
    cancellation_key: Type.String({ minLength: 1, maxLength: 256 }),
    recipients: Type.Optional(Type.Union([Type.Array(RecipientRequest, { maxItems: 1000 }), Type.Null()])),
  },
  { additionalProperties: false, title: 'CancelWorkflowRequest' },
);

export const WorkflowKeyParams = Type.Object({ key: Type.String({ minLength: 1, maxLength: 256 }) });
