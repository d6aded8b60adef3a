import { Type } from 'typebox';
import { CHANNEL_TYPES, HTTP_METHODS, checkKeyValuePairs, checkTemplate } from './channel-templates.ts';
import { ConditionGroupSchema, checkCondition, checkConditionGroup } from './conditions.ts';
import { FieldChecks, at, isRecord, type Json } from './field-checks.ts';
import { liquidErrors, liquidErrorsDeep } from './liquid.ts';
import { Nullable } from './typebox-nullable.ts';

/** Function step types of Knock's spec (`WorkflowStep`), besides `channel`. */
export const FUNCTION_STEP_TYPES = [
  'delay',
  'batch',
  'branch',
  'throttle',
  'http_fetch',
  'trigger_workflow',
  'ai_agent',
  'wait_for_event',
  'random_cohort',
  'update_data',
  'update_object',
  'update_tenant',
  'update_user',
] as const;

export const STEP_TYPES = ['channel', ...FUNCTION_STEP_TYPES] as const;
export type StepType = (typeof STEP_TYPES)[number];

/** Knock's limits on branch functions ("maximum depth for branches is 5", "10 branches, including the default"). */
export const MAX_BRANCH_DEPTH = 5;
export const MAX_BRANCHES = 10;

/** Units of a duration: the spec's, plus `seconds`, which Knock's docs and CLI scaffolds use. */
const DURATION_UNITS = ['seconds', 'minutes', 'hours', 'days', 'weeks', 'months'] as const;
const WEEKDAYS = ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'] as const;
const TIME_OF_DAY = /^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d)?$/;
const WAIT_EVENT_TYPES = ['integration_source', 'message', 'workflow', 'audience', 'recipient'] as const;
const MESSAGE_EVENTS = [
  'created',
  'queued',
  'sent',
  'not_sent',
  'delivered',
  'delivery_attempted',
  'undelivered',
  'bounced',
  'read',
  'unread',
  'seen',
  'unseen',
  'archived',
  'unarchived',
  'interacted',
  'link_clicked',
] as const;

export const WorkflowStepSchema = Type.Object(
  {
    // Required, but checked by validate() so that every problem in the tree is reported at once.
    type: Type.Optional(Type.String({ description: `Required. One of: ${STEP_TYPES.join(', ')}.` })),
    ref: Type.Optional(Type.String({ description: 'Required. The reference key of the step; unique within the workflow, branches included.' })),
    name: Type.Optional(Nullable(Type.String())),
    description: Type.Optional(Nullable(Type.String())),
    conditions: Type.Optional(ConditionGroupSchema),
    channel_key: Type.Optional(Nullable(Type.String())),
    channel_group_key: Type.Optional(Nullable(Type.String())),
    channel_type: Type.Optional(Nullable(Type.String())),
    template: Type.Optional(Nullable(Type.Record(Type.String(), Type.Unknown(), { description: 'The channel template: its fields depend on the channel type.' }))),
    settings: Type.Optional(Nullable(Type.Record(Type.String(), Type.Unknown()))),
    branches: Type.Optional(Type.Array(Type.Unknown(), { description: 'Branch steps: `{name, conditions, steps, terminates}`; the last is the default.' })),
  },
  { title: 'WorkflowStep', description: 'A channel step or a function step; fields beyond the shared ones depend on `type`.' },
);

/** The state of one walk over a workflow's steps. */
interface Walk {
  checks: FieldChecks;
  /** Path of the first step using each ref, to report duplicates anywhere in the tree. */
  refs: Map<string, string>;
}

/**
 * Checks a workflow's steps at `base` (`steps`), recursing into branches: every step's
 * shared fields, its type's settings or template, and refs unique across the whole tree.
 */
export function checkWorkflowSteps(checks: FieldChecks, steps: unknown[], base: string): void {
  checkSteps({ checks, refs: new Map() }, steps, base, 0);
}

function checkSteps(walk: Walk, steps: unknown[], base: string, depth: number): void {
  steps.forEach((step, i) => checkStep(walk, step, at(base, i), depth));
}

function checkStep(walk: Walk, step: unknown, base: string, depth: number): void {
  const { checks } = walk;
  if (!isRecord(step)) {
    checks.add(base, 'must be a step object', 'type');
    return;
  }
  const ref = checks.string(step, base, 'ref', { required: true, nonBlank: true, maxLength: 255 });
  if (ref !== undefined && ref.trim() !== '') {
    const first = walk.refs.get(ref);
    if (first === undefined) walk.refs.set(ref, base);
    else checks.add(at(base, 'ref'), `duplicates the ref "${ref}" of ${first}; refs must be unique within the workflow`, 'duplicate');
  }
  checks.string(step, base, 'name');
  checks.string(step, base, 'description');
  const type = checks.string(step, base, 'type', { required: true });
  if (type === undefined) return;
  if (!(STEP_TYPES as readonly string[]).includes(type)) {
    checks.add(at(base, 'type'), `is not a known step type ("${type}"); expected one of: ${STEP_TYPES.join(', ')}`, 'enum');
    return;
  }
  if (type === 'branch') {
    if (step.conditions !== undefined && step.conditions !== null) {
      checks.add(at(base, 'conditions'), 'is not allowed on a branch step: put conditions on its branches', 'invalid');
    }
  } else {
    checkConditionGroup(checks, step.conditions, at(base, 'conditions'));
  }
  STEP_CHECKS[type as StepType](walk, step, base, depth);
}

type StepCheck = (walk: Walk, step: Json, base: string, depth: number) => void;

/** A `{unit, value}` duration at `obj[key]`. */
function checkDuration(checks: FieldChecks, obj: Json, base: string, key: string): void {
  const duration = checks.object(obj, base, key);
  if (!duration) return;
  const path = at(base, key);
  checks.oneOf(duration, path, 'unit', DURATION_UNITS, { required: true });
  checks.integer(duration, path, 'value', { required: true, min: 1 });
}

type SettingsCheck = (checks: FieldChecks, settings: Json, path: string) => void;

/** The check of a function step whose rules are all about its (required) `settings` object. */
function settingsCheck(check: SettingsCheck): StepCheck {
  return ({ checks }, step, base) => {
    const settings = checks.object(step, base, 'settings', { required: true });
    if (settings) check(checks, settings, at(base, 'settings'));
  };
}

/** Requires one of two alternative fields, reported on the first. */
function requireEither(checks: FieldChecks, obj: Json, base: string, first: string, second: string): void {
  if (obj[first] == null && obj[second] == null) {
    checks.add(at(base, first), `is required unless ${second} is set`, 'required');
  }
}

const checkChannel: StepCheck = ({ checks }, step, base) => {
  const channelType = checks.oneOf(step, base, 'channel_type', CHANNEL_TYPES);
  checks.string(step, base, 'channel_key', { nonBlank: true });
  checks.string(step, base, 'channel_group_key', { nonBlank: true });
  if (step.channel_key == null && step.channel_group_key == null) {
    checks.add(at(base, 'channel_key'), 'is required unless channel_group_key is set: a channel step sends through a channel or channel group', 'required');
  }
  const overrides = checks.object(step, base, 'channel_overrides');
  if (overrides) checks.addAll(liquidErrorsDeep(at(base, 'channel_overrides'), overrides));
  for (const [window, path] of checks.objectArray(step, base, 'send_windows') ?? []) {
    checks.oneOf(window, path, 'day', WEEKDAYS, { required: true });
    checks.oneOf(window, path, 'type', ['send', 'do_not_send'], { required: true });
    for (const key of ['from', 'until']) {
      const time = checks.string(window, path, key);
      if (time !== undefined && !TIME_OF_DAY.test(time)) checks.add(at(path, key), 'must be a time of day such as 09:00', 'format');
    }
  }
  if (channelType === 'in_app_guide') {
    checks.string(step, base, 'guide_key');
    return;
  }
  const template = checks.object(step, base, 'template', { required: true });
  if (template) checkTemplate(checks, template, at(base, 'template'), channelType);
};

const checkDelay = settingsCheck((checks, settings, path) => {
  checkDuration(checks, settings, path, 'delay_for');
  checks.string(settings, path, 'delay_until_field_path', { nonBlank: true });
  requireEither(checks, settings, path, 'delay_for', 'delay_until_field_path');
});

const checkBatch = settingsCheck((checks, settings, path) => {
  checkDuration(checks, settings, path, 'batch_window');
  checks.string(settings, path, 'batch_until_field_path', { nonBlank: true });
  requireEither(checks, settings, path, 'batch_window', 'batch_until_field_path');
  checks.oneOf(settings, path, 'batch_window_type', ['fixed', 'sliding']);
  checkDuration(checks, settings, path, 'batch_window_extension_limit');
  checks.string(settings, path, 'batch_key');
  checks.oneOf(settings, path, 'batch_order', ['asc', 'desc']);
  checks.oneOf(settings, path, 'batch_execution_mode', ['accumulate', 'flush_leading']);
  checks.oneOf(settings, path, 'workflow_version_mode', ['pinned', 'latest']);
  checks.integer(settings, path, 'batch_items_max_limit', { min: 2, max: 1000 });
  checks.integer(settings, path, 'batch_items_render_limit', { min: 1, max: 100 });
});

const checkThrottle = settingsCheck((checks, settings, path) => {
  checkDuration(checks, settings, path, 'throttle_window');
  checks.string(settings, path, 'throttle_window_field_path', { nonBlank: true });
  requireEither(checks, settings, path, 'throttle_window', 'throttle_window_field_path');
  checks.string(settings, path, 'throttle_key');
  checks.integer(settings, path, 'throttle_limit', { min: 1 });
});

const checkFetch = settingsCheck((checks, settings, path) => {
  checks.addAll(liquidErrorsDeep(path, settings));
  checks.oneOf(settings, path, 'method', HTTP_METHODS, { required: true });
  checks.string(settings, path, 'url', { required: true, nonBlank: true });
  checks.string(settings, path, 'body');
  // A fetch's headers and query params are either a Liquid template or a list of pairs.
  for (const key of ['headers', 'query_params']) {
    if (typeof settings[key] !== 'string') checkKeyValuePairs(checks, settings, path, key);
  }
});

const checkTriggerWorkflow = settingsCheck((checks, settings, path) => {
  checks.string(settings, path, 'workflow_key', { required: true, nonBlank: true });
  for (const key of ['actor', 'cancellation_key', 'data', 'recipients', 'tenant']) checks.string(settings, path, key);
  checks.addAll(liquidErrorsDeep(path, settings));
});

const checkAiAgent = settingsCheck((checks, settings, path) => {
  checks.string(settings, path, 'model', { required: true, nonBlank: true });
  const prompt = checks.string(settings, path, 'request_prompt', { required: true, nonBlank: true });
  checks.addAll(liquidErrors(at(path, 'request_prompt'), prompt));
  checks.oneOf(settings, path, 'response_type', ['text', 'json'], { required: true });
  checks.string(settings, path, 'response_schema');
  checks.boolean(settings, path, 'halt_on_error');
  checks.boolean(settings, path, 'web_search_enabled');
});

const checkWaitForEvent = settingsCheck((checks, settings, path) => {
  const event = checks.object(settings, path, 'event', { required: true });
  let eventType: (typeof WAIT_EVENT_TYPES)[number] | undefined;
  if (event) {
    const eventPath = at(path, 'event');
    eventType = checks.oneOf(event, eventPath, 'event_type', WAIT_EVENT_TYPES, { required: true });
    switch (eventType) {
      case 'integration_source':
        checks.string(event, eventPath, 'event_key', { required: true, nonBlank: true });
        checks.string(event, eventPath, 'integration_source_key', { required: true, nonBlank: true });
        break;
      case 'message':
        checks.oneOf(event, eventPath, 'event_key', MESSAGE_EVENTS, { required: true });
        checks.string(event, eventPath, 'source_key', { required: true, nonBlank: true });
        checks.oneOf(event, eventPath, 'source_type', ['workflow', 'broadcast', 'guide'], { required: true });
        break;
      case 'workflow':
        checks.oneOf(event, eventPath, 'event_key', ['started', 'completed'], { required: true });
        checks.string(event, eventPath, 'source_key', { required: true, nonBlank: true });
        break;
      case 'audience':
        checks.oneOf(event, eventPath, 'event_key', ['enter', 'exit'], { required: true });
        checks.string(event, eventPath, 'audience_key', { required: true, nonBlank: true });
        break;
      case 'recipient':
        checks.oneOf(event, eventPath, 'event_key', ['updated']);
        break;
      default:
        break;
    }
  }
  const matchRequired = eventType === 'message' || eventType === 'workflow';
  for (const [match, matchPath] of checks.objectArray(settings, path, 'match_conditions', { required: matchRequired }) ?? []) {
    checks.oneOf(match, matchPath, 'operator', ['and']);
    const conditions = checks.array(match, matchPath, 'conditions');
    conditions?.forEach((condition, i) => checkCondition(checks, condition, at(at(matchPath, 'conditions'), i)));
  }
  checkDuration(checks, settings, path, 'expires_after');
  checks.oneOf(settings, path, 'on_match', ['continue', 'halt']);
  checks.oneOf(settings, path, 'on_timeout', ['continue', 'halt']);
});

const checkUpdateData = settingsCheck((checks, settings, path) => {
  const data = checks.string(settings, path, 'data', { required: true });
  checks.addAll(liquidErrors(at(path, 'data'), data));
});

const checkUpdateObject = settingsCheck((checks, settings, path) => {
  checks.string(settings, path, 'recipient_gid', { required: true, nonBlank: true });
  checks.string(settings, path, 'update_properties', { required: true });
  checks.addAll(liquidErrorsDeep(path, settings));
});

/** update_user and update_tenant: the current recipient (or tenant), or one referenced by `recipient_gid`. */
const checkUpdateRecipient = settingsCheck((checks, settings, path) => {
  const mode = checks.oneOf(settings, path, 'recipient_mode', ['current', 'reference'], { required: true });
  checks.string(settings, path, 'recipient_gid', { required: mode === 'reference', nonBlank: mode === 'reference' });
  checks.string(settings, path, 'update_properties', { required: true });
  checks.addAll(liquidErrorsDeep(path, settings));
});

/** Steps nested in a branch step's branches or an experiment's cohorts. */
function checkNestedSteps(walk: Walk, branch: Json, base: string, depth: number): void {
  const steps = walk.checks.array(branch, base, 'steps');
  if (steps) checkSteps(walk, steps, at(base, 'steps'), depth);
}

function checkBranchDepth(checks: FieldChecks, base: string, depth: number): boolean {
  if (depth < MAX_BRANCH_DEPTH) return true;
  checks.add(base, `nests branches deeper than ${MAX_BRANCH_DEPTH} levels`, 'max_depth');
  return false;
}

const checkBranch: StepCheck = (walk, step, base, depth) => {
  const { checks } = walk;
  if (!checkBranchDepth(checks, base, depth)) return;
  const branches = checks.objectArray(step, base, 'branches', { required: true });
  if (!branches) return;
  if (branches.length === 0) checks.add(at(base, 'branches'), 'must include the default branch', 'required');
  if (branches.length > MAX_BRANCHES) checks.add(at(base, 'branches'), `must have at most ${MAX_BRANCHES} branches, including the default`, 'maxItems');
  branches.forEach(([branch, path], i) => {
    checks.string(branch, path, 'name');
    checks.boolean(branch, path, 'terminates');
    const problemsBefore = checks.errors.length;
    const count = checkConditionGroup(checks, branch.conditions, at(path, 'conditions'));
    const isDefault = i === branches.length - 1;
    if (isDefault && count > 0) {
      checks.add(at(path, 'conditions'), 'must be empty: the last branch is the default branch, taken when no other matches', 'invalid');
    } else if (!isDefault && count === 0 && checks.errors.length === problemsBefore) {
      checks.add(at(path, 'conditions'), 'must hold at least one condition (only the last, default branch has none)', 'required');
    }
    checkNestedSteps(walk, branch, path, depth + 1);
  });
};

const checkRandomCohort: StepCheck = (walk, step, base, depth) => {
  const { checks } = walk;
  if (!checkBranchDepth(checks, base, depth)) return;
  checks.string(step, base, 'cohort_key');
  const cohorts = checks.objectArray(step, base, 'cohort_branches', { required: true });
  if (!cohorts) return;
  if (cohorts.length < 2 || cohorts.length > 10) checks.add(at(base, 'cohort_branches'), 'must have between 2 and 10 cohorts', 'range');
  let tenths = 0;
  let allCounted = true;
  for (const [cohort, path] of cohorts) {
    checks.string(cohort, path, 'name');
    checks.boolean(cohort, path, 'terminates');
    const percentage = checks.numeric(cohort, path, 'percentage', { required: true, min: 0, max: 100 });
    if (percentage === undefined) {
      allCounted = false;
    } else if (Math.abs(percentage * 10 - Math.round(percentage * 10)) > 1e-9) {
      checks.add(at(path, 'percentage'), 'must have at most 1 decimal place', 'format');
      allCounted = false;
    } else {
      tenths += Math.round(percentage * 10);
    }
    checkNestedSteps(walk, cohort, path, depth + 1);
  }
  if (allCounted && cohorts.length > 0 && tenths !== 1000) {
    checks.add(at(base, 'cohort_branches'), `percentages must add up to 100 (they add up to ${tenths / 10})`, 'invalid');
  }
};

const STEP_CHECKS: Record<StepType, StepCheck> = {
  channel: checkChannel,
  delay: checkDelay,
  batch: checkBatch,
  branch: checkBranch,
  throttle: checkThrottle,
  http_fetch: checkFetch,
  trigger_workflow: checkTriggerWorkflow,
  ai_agent: checkAiAgent,
  wait_for_event: checkWaitForEvent,
  random_cohort: checkRandomCohort,
  update_data: checkUpdateData,
  update_object: checkUpdateObject,
  update_tenant: checkUpdateRecipient,
  update_user: checkUpdateRecipient,
};

/** The steps nested directly in a step: its branches' or cohorts' steps. */
const NESTING_KEYS = { branch: 'branches', random_cohort: 'cohort_branches' } as const;

/**
 * `steps` with `fn` applied to every step in the tree, nested steps first. Values that are
 * not step arrays or step objects pass through untouched.
 */
export function mapStepTree(steps: unknown, fn: (step: Json) => Json): unknown {
  if (!Array.isArray(steps)) return steps;
  return steps.map((step) => {
    if (!isRecord(step)) return step;
    const nestingKey: string | undefined = NESTING_KEYS[step.type as keyof typeof NESTING_KEYS];
    const branches = nestingKey === undefined ? undefined : step[nestingKey];
    if (nestingKey === undefined || !Array.isArray(branches)) return fn(step);
    const mapped = branches.map((branch) => (isRecord(branch) && Array.isArray(branch.steps) ? { ...branch, steps: mapStepTree(branch.steps, fn) } : branch));
    return fn({ ...step, [nestingKey]: mapped });
  });
}
