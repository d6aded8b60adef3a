import { Type } from 'typebox';
import { Nullable } from '../workflows/typebox-nullable.ts';

/** A key templates can reach as `vars.<key>`. */
export const VARIABLE_KEY_PATTERN = '^[A-Za-z_][A-Za-z0-9_]{0,127}$';
export const MAX_VARIABLE_VALUE_LENGTH = 10_000;

const VariableType = Type.Union([Type.Literal('public'), Type.Literal('secret')]);

/** The mgmt spec's `Variable`: secret values are masked. */
export const Variable = Type.Object(
  {
    key: Type.String(),
    type: VariableType,
    description: Nullable(Type.String()),
    value: Nullable(Type.String({ description: "The value in the environment asked for (null when unset or when no environment was named); secret values are masked." })),
    environment_values: Type.Optional(Type.Record(Type.String(), Nullable(Type.String()), {
      description: 'Every environment\'s value by slug (null when unset; secret values masked). Only when no environment was named.',
    })),
    inserted_at: Type.String({ format: 'date-time' }),
    updated_at: Type.String({ format: 'date-time' }),
  },
  { $id: 'Variable', title: 'Variable' },
);

export const VariableKeyParams = Type.Object({ key: Type.String({ minLength: 1, maxLength: 255 }) });
export const VariableWriteParams = Type.Object({ key: Type.String({ pattern: VARIABLE_KEY_PATTERN }) });

export const EnvironmentQuery = Type.Optional(Type.String({
  maxLength: 100,
  description: 'Environment slug: answer (or act on) that environment only. Without it, every environment (callers limited to some environments must name one).',
}));

export const ListVariablesQuery = Type.Object({
  environment: EnvironmentQuery,
  type: Type.Optional(VariableType),
  after: Type.Optional(Type.String({ maxLength: 500 })),
  before: Type.Optional(Type.String({ maxLength: 500 })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 50 })),
});

export const PutVariableBody = Type.Object(
  {
    type: Type.Optional(Type.Union([Type.Literal('public'), Type.Literal('secret')], { description: 'public (default) or secret; a secret value is never returned.' })),
    description: Type.Optional(Nullable(Type.String({ maxLength: 2000 }))),
    values: Type.Optional(Type.Record(Type.String({ maxLength: 100 }), Nullable(Type.String({ maxLength: MAX_VARIABLE_VALUE_LENGTH })), {
      description: 'Values by environment slug; null removes that environment\'s value. Environments not named keep theirs.',
      maxProperties: 100,
    })),
  },
  { additionalProperties: false },
);
