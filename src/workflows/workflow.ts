import { Type } from 'typebox';
import type { FieldError } from '../errors.ts';
import type { Content, ResourceKind, ResourceMeta } from '../versioning/resource-kind.ts';
import { canonicalContent, withSortedKeys } from './canonical-content.ts';
import { ConditionGroupSchema, checkConditionGroup } from './conditions.ts';
import { FieldChecks, isRecord, type Json } from './field-checks.ts';
import { triggerDataSchemaErrors } from './trigger-data-schema.ts';
import { Nullable } from './typebox-nullable.ts';
import { rememberValidity } from './validity-cache.ts';
import { WorkflowStepSchema, checkWorkflowSteps, mapStepTree } from './workflow-steps.ts';

export const TRIGGER_FREQUENCIES = ['every_trigger', 'once_per_recipient', 'once_per_recipient_per_tenant'] as const;

/** The fields of Knock's `WorkflowRequest`: all that a workflow's content holds. */
const REQUEST_FIELDS = [
  'name',
  'description',
  'steps',
  'categories',
  'conditions',
  'settings',
  'tags',
  'trigger_data_json_schema',
  'trigger_frequency',
  'goal_attachment',
] as const;

export const WorkflowRequestSchema = Type.Object(
  {
    name: Type.String({ description: 'A name for the workflow; at most 255 characters.' }),
    steps: Type.Array(WorkflowStepSchema),
    description: Type.Optional(Nullable(Type.String({ description: 'Internal notes; at most 280 characters.' }))),
    categories: Type.Optional(Type.Array(Type.String())),
    conditions: Type.Optional(ConditionGroupSchema),
    settings: Type.Optional(
      Nullable(
        Type.Object({
          is_commercial: Type.Optional(Type.Boolean()),
          override_preferences: Type.Optional(Type.Boolean()),
        }),
      ),
    ),
    tags: Type.Optional(Type.Array(Type.String())),
    trigger_data_json_schema: Type.Optional(Nullable(Type.Record(Type.String(), Type.Unknown(), { description: 'A JSON Schema for trigger `data`.' }))),
    trigger_frequency: Type.Optional(Type.String({ description: `One of: ${TRIGGER_FREQUENCIES.join(', ')}. Defaults to every_trigger.` })),
    goal_attachment: Type.Optional(Nullable(Type.Object({ goal_key: Type.String(), attribution_window_days: Type.Optional(Type.Integer()) }))),
  },
  {
    title: 'WorkflowRequest',
    description: 'Read-only fields the Knock CLI sends back (key, sha, active, valid, environment, timestamps, annotations) are accepted and ignored.',
  },
);

const DEFAULT_SETTINGS = { is_commercial: false, override_preferences: false };

/** Experiment percentages are numbers in requests and decimal strings in responses (spec `WorkflowRandomCohortStepBranch`). */
function mapCohortPercentages(steps: unknown, convert: (percentage: unknown) => unknown): unknown {
  return mapStepTree(steps, (step) => {
    if (step.type !== 'random_cohort' || !Array.isArray(step.cohort_branches)) return step;
    const cohorts = step.cohort_branches.map((cohort) =>
      isRecord(cohort) && cohort.percentage !== undefined ? { ...cohort, percentage: convert(cohort.percentage) } : cohort,
    );
    return { ...step, cohort_branches: cohorts };
  });
}

function percentageNumber(value: unknown): unknown {
  return typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value)) ? Number(value) : value;
}

function percentageString(value: unknown): unknown {
  return typeof value === 'number' ? String(value) : value;
}

function normalize(input: Record<string, unknown>): Content {
  const content: Json = {};
  for (const field of REQUEST_FIELDS) {
    if (input[field] !== undefined && input[field] !== null) content[field] = input[field];
  }
  content.categories ??= [];
  content.tags ??= [];
  content.trigger_frequency ??= 'every_trigger';
  content.settings = isRecord(content.settings) ? { ...DEFAULT_SETTINGS, ...content.settings } : (content.settings ?? DEFAULT_SETTINGS);
  content.steps = mapCohortPercentages(content.steps, percentageNumber);
  // The trigger data schema is kept as sent (a `null` or `__x` in a JSON Schema means something); `{}` is no schema.
  const schema = content.trigger_data_json_schema;
  delete content.trigger_data_json_schema;
  const canonical = canonicalContent(content) as Content;
  if (schema !== undefined && !(isRecord(schema) && Object.keys(schema).length === 0)) {
    canonical.trigger_data_json_schema = withSortedKeys(schema);
  }
  return Object.fromEntries(Object.keys(canonical).sort().map((key) => [key, canonical[key]]));
}

function validate(content: Content): FieldError[] {
  const checks = new FieldChecks();
  checks.string(content, '', 'name', { required: true, nonBlank: true, maxLength: 255 });
  checks.string(content, '', 'description', { maxLength: 280 });
  const steps = checks.array(content, '', 'steps', { required: true });
  if (steps) checkWorkflowSteps(checks, steps, 'steps');
  checks.stringArray(content, '', 'categories');
  checks.stringArray(content, '', 'tags');
  checkConditionGroup(checks, content.conditions, 'conditions');
  const settings = checks.object(content, '', 'settings');
  if (settings) {
    checks.boolean(settings, 'settings', 'is_commercial');
    checks.boolean(settings, 'settings', 'override_preferences');
  }
  checks.addAll(triggerDataSchemaErrors('trigger_data_json_schema', content.trigger_data_json_schema));
  checks.oneOf(content, '', 'trigger_frequency', TRIGGER_FREQUENCIES);
  const goal = checks.object(content, '', 'goal_attachment');
  if (goal) {
    checks.string(goal, 'goal_attachment', 'goal_key', { required: true, nonBlank: true });
    checks.integer(goal, 'goal_attachment', 'attribution_window_days', { min: 1 });
  }
  return checks.errors;
}

function present(content: Content, meta: ResourceMeta): Record<string, unknown> {
  return {
    key: meta.key,
    name: content.name,
    ...(typeof content.description === 'string' ? { description: content.description } : {}),
    steps: mapCohortPercentages(content.steps ?? [], percentageString),
    active: meta.active,
    valid: rememberValidity('workflow', meta.sha, () => validate(content).length === 0),
    environment: meta.environment,
    created_at: meta.created_at,
    updated_at: meta.updated_at,
    sha: meta.sha,
    categories: content.categories ?? [],
    conditions: content.conditions ?? null,
    settings: content.settings ?? { ...DEFAULT_SETTINGS },
    tags: content.tags ?? [],
    trigger_data_json_schema: content.trigger_data_json_schema ?? {},
    trigger_frequency: content.trigger_frequency ?? 'every_trigger',
    ...(content.goal_attachment !== undefined ? { goal_attachment: content.goal_attachment } : {}),
  };
}

/** Workflows: steps, templates and trigger settings, versioned per environment. */
export const workflowKind: ResourceKind = {
  type: 'workflow',
  collection: 'workflows',
  wrapper: 'workflow',
  requestSchema: WorkflowRequestSchema,
  normalize,
  validate,
  present,
};
