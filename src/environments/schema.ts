import { Type } from 'typebox';
import { SLUG_PATTERN } from './service.ts';

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);

export const Environment = Type.Object(
  {
    slug: Type.String(),
    name: Type.String(),
    order: Type.Integer(),
    owner: Type.Union([Type.Literal('system'), Type.Literal('user')]),
    label_color: Nullable(Type.String()),
    hide_pii_data: Type.Boolean(),
    hide_message_content: Type.Boolean(),
    require_promotion_approval: Type.Boolean({ description: 'Herald: promotions into this environment wait for approval by a second member.' }),
    last_commit_at: Nullable(Type.String({ format: 'date-time' })),
    created_at: Type.String({ format: 'date-time' }),
    updated_at: Type.String({ format: 'date-time' }),
    deleted_at: Nullable(Type.String({ format: 'date-time' })),
  },
  { $id: 'Environment', title: 'Environment' },
);

export const SlugParams = Type.Object({ environment_slug: Type.String({ maxLength: 100 }) });

export const CreateEnvironmentBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 100 }),
    slug: Type.String({ pattern: SLUG_PATTERN }),
    insert_after: Type.Optional(Type.String({ description: 'Slug of the environment the new one goes directly after (default: just below production).' })),
    label_color: Type.Optional(Nullable(Type.String({ maxLength: 32 }))),
  },
  { additionalProperties: false },
);

export const UpdateEnvironmentBody = Type.Object(
  {
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
    label_color: Type.Optional(Nullable(Type.String({ maxLength: 32 }))),
    hide_pii_data: Type.Optional(Type.Boolean()),
    hide_message_content: Type.Optional(Type.Boolean()),
    require_promotion_approval: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false, minProperties: 1 },
);

export const ApiKey = Type.Object({
  id: Type.String({ format: 'uuid' }),
  kind: Type.Union([Type.Literal('public'), Type.Literal('secret')]),
  name: Nullable(Type.String()),
  prefix: Type.String({ description: 'The first characters of the key, to recognise it.' }),
  key: Type.Optional(Type.String({ description: 'The key itself: returned only when it is created.' })),
  created_at: Type.String({ format: 'date-time' }),
  revoked_at: Nullable(Type.String({ format: 'date-time' })),
});

export const CreateApiKeysBody = Type.Object(
  {
    name: Type.Optional(Type.String({ maxLength: 100 })),
    kind: Type.Optional(Type.Union([Type.Literal('public'), Type.Literal('secret')], { description: 'Omit to create a public/secret pair.' })),
  },
  { additionalProperties: false },
);
