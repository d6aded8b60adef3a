import { Type } from 'typebox';
import { FieldChecks, at, isRecord } from './field-checks.ts';
import { Nullable } from './typebox-nullable.ts';

/** The operators of Knock's conditions model (spec `Condition.operator`). */
export const CONDITION_OPERATORS = [
  'equal_to',
  'not_equal_to',
  'greater_than',
  'less_than',
  'greater_than_or_equal_to',
  'less_than_or_equal_to',
  'contains',
  'not_contains',
  'contains_all',
  'not_contains_all',
  'is_timestamp_before',
  'is_timestamp_on_or_after',
  'is_timestamp_between',
  'is_between',
  'empty',
  'not_empty',
  'exists',
  'not_exists',
  'is_timestamp',
  'is_timestamp_before_now',
  'is_timestamp_on_or_after_now',
  'is_audience_member',
  'is_not_audience_member',
] as const;

export type ConditionOperator = (typeof CONDITION_OPERATORS)[number];

/** Operators that test the variable alone ("No argument needed" in Knock's docs). */
const UNARY_OPERATORS: ReadonlySet<string> = new Set<ConditionOperator>([
  'empty',
  'not_empty',
  'exists',
  'not_exists',
  'is_timestamp',
  'is_timestamp_before_now',
  'is_timestamp_on_or_after_now',
]);

export const ConditionSchema = Type.Object(
  {
    variable: Type.String({ description: 'What is tested, e.g. `recipient.plan`, `data.count`, `refs.email_1.delivery_status`.' }),
    operator: Type.String({ description: `One of: ${CONDITION_OPERATORS.join(', ')}.` }),
    argument: Type.Optional(Nullable(Type.String({ description: 'A JSON-encoded static value or a dynamic property path.' }))),
  },
  { title: 'Condition' },
);

export const ConditionGroupSchema = Type.Union(
  [
    Type.Object(
      {
        all: Type.Optional(Type.Array(Type.Unknown(), { description: 'Conditions that must all hold.' })),
        any: Type.Optional(Type.Array(Type.Unknown(), { description: 'Conditions (or `{all: [...]}` groups) of which one must hold.' })),
      },
      { title: 'ConditionGroup' },
    ),
    Type.Null(),
  ],
  { description: 'Either `{all: [conditions]}` or `{any: [conditions or {all: [...]} groups]}`.' },
);

/** Checks one `{variable, operator, argument}` condition at `base`. */
export function checkCondition(checks: FieldChecks, value: unknown, base: string): void {
  if (!isRecord(value)) {
    checks.add(base, 'must be a condition object with variable, operator and argument', 'type');
    return;
  }
  checks.string(value, base, 'variable', { required: true, nonBlank: true });
  const operator = checks.oneOf(value, base, 'operator', CONDITION_OPERATORS, { required: true });
  const argument = value.argument;
  if (argument !== undefined && argument !== null && typeof argument !== 'string') {
    checks.add(at(base, 'argument'), 'must be a string (static values are JSON-encoded, e.g. "5" or "true")', 'type');
  }
  if (operator !== undefined && !UNARY_OPERATORS.has(operator) && (argument === undefined || argument === null)) {
    checks.add(at(base, 'argument'), `is required with the operator ${operator}`, 'required');
  }
}

/**
 * Checks a condition group at `base`: `{all: [...]}` (every condition holds) or
 * `{any: [...]}` (one holds; items may be conditions or nested `{all: [...]}` groups).
 * Absent or null is no conditions. Returns how many conditions the group holds.
 */
export function checkConditionGroup(checks: FieldChecks, value: unknown, base: string): number {
  if (value === undefined || value === null) return 0;
  if (!isRecord(value)) {
    checks.add(base, 'must be a condition group: {"all": [...]} or {"any": [...]}', 'type');
    return 0;
  }
  const modes = ['all', 'any'].filter((mode) => value[mode] !== undefined && value[mode] !== null);
  if (modes.length !== 1) checks.add(base, 'must have exactly one of "all" or "any"', modes.length === 0 ? 'required' : 'invalid');
  for (const key of Object.keys(value)) {
    if (key !== 'all' && key !== 'any') checks.add(at(base, key), 'is not allowed in a condition group (use "all" or "any")', 'additionalProperties');
  }
  if (modes.length !== 1) return 0;
  const mode = modes[0];
  const items = checks.array(value, base, mode);
  if (items === undefined) return 0;
  let count = 0;
  items.forEach((item, i) => {
    const path = at(at(base, mode), i);
    if (mode === 'any' && isRecord(item) && 'all' in item) {
      count += checkAllGroup(checks, item, path);
    } else {
      checkCondition(checks, item, path);
      count += 1;
    }
  });
  return count;
}

/** A nested `{all: [...]}` inside an `any` group: conditions only, no further nesting. */
function checkAllGroup(checks: FieldChecks, group: Record<string, unknown>, base: string): number {
  for (const key of Object.keys(group)) {
    if (key !== 'all') checks.add(at(base, key), 'is not allowed in a nested condition group (only "all")', 'additionalProperties');
  }
  const items = checks.array(group, base, 'all', { required: true });
  items?.forEach((item, i) => checkCondition(checks, item, at(at(base, 'all'), i)));
  return items?.length ?? 0;
}
