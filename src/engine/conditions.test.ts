import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Static } from 'typebox';
import { CONDITION_OPERATORS, type ConditionGroupSchema } from '../workflows/conditions.ts';
import {
  evaluateCondition,
  evaluateConditions,
  resolveArgument,
  resolvePath,
  type Condition,
  type ConditionContext,
} from './conditions.ts';

const NOW = Date.parse('2025-06-15T12:00:00Z');
const DAY = 86_400_000;

const context: ConditionContext = {
  recipient: {
    id: 'u1',
    plan: 'pro',
    email: 'ada@acme.com',
    age: 21,
    tags: ['vip', 'beta'],
    roles: ['admin', 'editor', 'viewer'],
    name: '',
    nothing: null,
    list: [],
    trial_ends_at: new Date(NOW + 5 * DAY).toISOString(),
    created_at: '2025-06-15',
    unix_seconds: Math.floor((NOW - DAY) / 1000),
  },
  actor: { id: 'a1', is_active: true },
  data: { count: 7, count_text: '7', threshold: 5, items: [{ name: 'first' }], page_id: 'p2', flag: 'true', window: ['2025-01-01', '2025-12-31'] },
  tenant: { id: 't1', settings: { preferences: { commercial_subscribed: false } } },
  vars: { region: 'eu' },
  refs: {
    fetch_1: { body: { x: 3 } },
    email_1: { delivery_status: 'delivered', engagement_status: ['seen'] },
    in_app_1: { delivery_status: 'sent', engagement_status: ['seen', 'read'] },
    push_1: { delivery_status: 'skipped' },
  },
  workflow: { key: 'welcome', categories: ['marketing'] },
};

const check = (variable: string, operator: string, argument?: string | null): boolean =>
  evaluateCondition({ variable, operator, argument }, context, { now: NOW });

describe('resolvePath', () => {
  it.each([
    ['recipient.plan', 'pro'],
    ['data.items.0.name', 'first'],
    ['data.items[0].name', 'first'],
    ['refs.fetch_1.body.x', 3],
    ['recipient.missing', undefined],
    ['recipient.plan.deeper', undefined],
    ['recipient.constructor', undefined],
    ['recipient.__proto__', undefined],
    ['', context],
  ])('finds %s by dot path, undefined when absent', (path, expected) => {
    expect(resolvePath(context, path)).toEqual(expected);
  });
});

describe('resolveArgument', () => {
  it.each<[string | null, unknown]>([
    ['10', 10],
    ['"pro"', 'pro'],
    ['true', true],
    ['null', null],
    ['["a",1]', ['a', 1]],
    ['data.threshold', 5],
    ['recipient.email', 'ada@acme.com'],
    ['{{ recipient.plan }}', 'pro'],
    ['pro', 'pro'],
    ['acme.com', 'acme.com'],
    ['data.not_there', 'data.not_there'],
    [null, null],
  ])('argument %j: static JSON, else a resolving <scope>.<path>, else the text itself', (argument, expected) => {
    expect(resolveArgument(argument, context)).toEqual(expected);
  });
});

describe('evaluateCondition: each operator with Knock semantics', () => {
  it.each<[string, string, string | null, boolean]>([
    // equality; a number or boolean matches its string spelling
    ['recipient.plan', 'equal_to', '"pro"', true],
    ['recipient.plan', 'equal_to', 'pro', true],
    ['recipient.plan', 'equal_to', 'free', false],
    ['data.count_text', 'equal_to', '7', true],
    ['data.flag', 'equal_to', 'true', true],
    ['actor.is_active', 'equal_to', 'true', true],
    ['recipient.plan', 'not_equal_to', '"free"', true],
    ['recipient.plan', 'not_equal_to', '"pro"', false],
    // a missing variable reads as ""
    ['recipient.missing', 'equal_to', '""', true],
    ['recipient.missing', 'not_equal_to', '"pro"', true],
    // ordering
    ['recipient.age', 'greater_than', '18', true],
    ['recipient.age', 'greater_than', '21', false],
    ['recipient.age', 'greater_than_or_equal_to', '21', true],
    ['recipient.age', 'less_than', '21', false],
    ['recipient.age', 'less_than_or_equal_to', '21', true],
    ['data.count', 'greater_than', 'data.threshold', true],
    ['data.count_text', 'greater_than', '10', false],
    ['recipient.plan', 'greater_than', '"abc"', true],
    ['recipient.tags', 'greater_than', '1', false],
    ['recipient.missing', 'greater_than', '1', false],
    // contains: substring, membership either way, lists sharing an item
    ['recipient.email', 'contains', '@acme.com', true],
    ['recipient.email', 'contains', 'acme.com', true],
    ['recipient.email', 'contains', 'other.com', false],
    ['recipient.tags', 'contains', '"vip"', true],
    ['recipient.tags', 'contains', 'vip', true],
    ['recipient.tags', 'contains', '"gold"', false],
    ['recipient.plan', 'contains', '["pro","team"]', true],
    ['recipient.tags', 'contains', '["gold","beta"]', true],
    ['recipient.tags', 'contains', '["gold"]', false],
    ['recipient.tags', 'not_contains', '"gold"', true],
    ['recipient.tags', 'not_contains', '"vip"', false],
    ['recipient.tags', 'not_contains', 'data.page_id', true],
    ['recipient.email', 'not_contains', 'acme', false],
    // contains_all: lists only
    ['recipient.roles', 'contains_all', '["admin","editor"]', true],
    ['recipient.roles', 'contains_all', '["admin","owner"]', false],
    ['recipient.plan', 'contains_all', '["pro"]', false],
    ['recipient.roles', 'not_contains_all', '["admin","owner"]', true],
    ['recipient.roles', 'not_contains_all', '["admin","editor"]', false],
    // is_between: inclusive numeric bounds, as [low, high] or "low,high"
    ['data.count', 'is_between', '[5, 10]', true],
    ['data.count', 'is_between', '[7, 7]', true],
    ['data.count', 'is_between', '[8, 10]', false],
    ['data.count', 'is_between', '1,7', true],
    ['recipient.plan', 'is_between', '[1, 10]', false],
    // presence
    ['recipient.name', 'empty', null, true],
    ['recipient.nothing', 'empty', null, true],
    ['recipient.list', 'empty', null, true],
    ['recipient.missing', 'empty', null, true],
    ['recipient.plan', 'empty', null, false],
    ['recipient.plan', 'not_empty', null, true],
    ['recipient.name', 'not_empty', null, false],
    ['recipient.plan', 'exists', null, true],
    ['recipient.name', 'exists', null, true],
    ['recipient.list', 'exists', null, true],
    ['recipient.nothing', 'exists', null, false],
    ['recipient.missing', 'exists', null, false],
    ['recipient.nothing', 'not_exists', null, true],
    ['recipient.name', 'not_exists', null, false],
    // timestamps: ISO-8601, unix seconds, relative text, dynamic paths
    ['recipient.trial_ends_at', 'is_timestamp', null, true],
    ['recipient.unix_seconds', 'is_timestamp', null, true],
    ['recipient.plan', 'is_timestamp', null, false],
    ['recipient.plan', 'is_not_timestamp', null, true],
    ['recipient.trial_ends_at', 'is_timestamp_before', '"7 days from now"', true],
    ['recipient.trial_ends_at', 'is_timestamp_before', '3 days from now', false],
    ['recipient.trial_ends_at', 'is_timestamp_on_or_after', '"2025-06-20T12:00:00Z"', true],
    ['recipient.unix_seconds', 'is_timestamp_on_or_after', '30 days ago', true],
    ['recipient.unix_seconds', 'is_timestamp_before', 'recipient.trial_ends_at', true],
    ['recipient.unix_seconds', 'is_timestamp_before', '{{ recipient.trial_ends_at }}', true],
    ['recipient.created_at', 'is_timestamp_between', '["2025-01-01", "2025-12-31"]', true],
    ['recipient.created_at', 'is_timestamp_between', '["2024-01-01", "2024-12-31"]', false],
    ['recipient.created_at', 'is_timestamp_between', 'data.window', true],
    ['recipient.created_at', 'is_timestamp_before_date', '"2025-06-16T00:30:00Z"', true],
    ['recipient.trial_ends_at', 'is_timestamp_before_date', '"2025-06-20T23:00:00Z"', false],
    ['recipient.trial_ends_at', 'is_timestamp_on_or_after_date', '"2025-06-20T23:00:00Z"', true],
    ['recipient.unix_seconds', 'is_timestamp_before_now', null, true],
    ['recipient.trial_ends_at', 'is_timestamp_before_now', null, false],
    ['recipient.trial_ends_at', 'is_timestamp_on_or_after_now', null, true],
    ['recipient.plan', 'is_timestamp_on_or_after_now', null, false],
    // Herald has no audiences: nobody is a member
    ['recipient.id', 'is_audience_member', '"beta-testers"', false],
    ['recipient.id', 'is_not_audience_member', '"beta-testers"', true],
    // an unknown operator never holds
    ['recipient.plan', 'looks_like', '"pro"', false],
  ])('%s %s %s → %s', (variable, operator, argument, expected) => {
    expect(check(variable, operator, argument)).toBe(expected);
  });

  it.each<[string, string, string, boolean]>([
    ['refs.email_1.delivery_status', 'greater_than_or_equal_to', '$message.sent', true],
    ['refs.email_1.delivery_status', 'less_than', '$message.delivered', false],
    ['refs.in_app_1.delivery_status', 'less_than', '$message.delivered', true],
    ['refs.push_1.delivery_status', 'equal_to', '$message.skipped', true],
    ['refs.push_1.delivery_status', 'greater_than_or_equal_to', '$message.sent', false],
    ['refs.push_1.delivery_status', 'less_than', '$message.sent', true],
    ['refs.never_ran.delivery_status', 'equal_to', '$message.skipped', true],
    ['refs.email_1.delivery_status', 'not_equal_to', '$message.skipped', true],
    ['refs.email_1.engagement_status', 'contains', '$message.seen', true],
    ['refs.email_1.engagement_status', 'not_contains', '$message.read', true],
    ['refs.email_1.engagement_status', 'contains', '$message.seen_not_read', true],
    ['refs.in_app_1.engagement_status', 'contains', '$message.seen_not_read', false],
    ['refs.in_app_1.engagement_status', 'contains', '$message.read_not_link_clicked', true],
  ])('message status condition: %s %s %s → %s', (variable, operator, argument, expected) => {
    expect(check(variable, operator, argument)).toBe(expected);
  });

  it('covers every operator the workflow validator accepts', () => {
    for (const operator of CONDITION_OPERATORS) {
      expect(typeof check('recipient.plan', operator, '"pro"')).toBe('boolean');
    }
  });

  it('measures *_now operators and relative times against the injected clock', () => {
    const condition: Condition = { variable: 'recipient.trial_ends_at', operator: 'is_timestamp_before_now' };
    expect(evaluateCondition(condition, context, { now: NOW })).toBe(false);
    expect(evaluateCondition(condition, context, { now: new Date(NOW + 6 * DAY) })).toBe(true);
  });
});

describe('evaluateConditions: groups', () => {
  const yes: Condition = { variable: 'recipient.plan', operator: 'equal_to', argument: '"pro"' };
  const no: Condition = { variable: 'recipient.plan', operator: 'equal_to', argument: '"free"' };

  it.each([
    ['no group always holds', null, true],
    ['an absent group always holds', undefined, true],
    ['an empty all holds', { all: [] }, true],
    ['an empty any holds', { any: [] }, true],
    ['all needs every condition', { all: [yes, no] }, false],
    ['all of true conditions holds', { all: [yes, yes] }, true],
    ['any needs one condition', { any: [no, yes] }, true],
    ['any of false conditions fails', { any: [no, no] }, false],
    ['any holds when a nested all holds', { any: [no, { all: [yes, yes] }] }, true],
    ['any fails when every nested all fails', { any: [no, { all: [yes, no] }] }, false],
  ])('%s', (_title, group, expected) => {
    expect(evaluateConditions(group, context, { now: NOW })).toBe(expected);
  });

  const arbitraryValue = fc.jsonValue({ maxDepth: 2 });
  const negations: [string, string][] = [
    ['equal_to', 'not_equal_to'],
    ['contains', 'not_contains'],
    ['contains_all', 'not_contains_all'],
    ['empty', 'not_empty'],
    ['exists', 'not_exists'],
    ['is_timestamp', 'is_not_timestamp'],
    ['is_audience_member', 'is_not_audience_member'],
  ];

  it('a not_ operator is the exact negation of its positive operator, for any data', () => {
    fc.assert(
      fc.property(fc.option(arbitraryValue, { nil: undefined }), arbitraryValue, fc.constantFrom(...negations), (value, arg, [pos, neg]) => {
        const ctx = { data: { v: value } };
        const argument = JSON.stringify(arg);
        const positive = evaluateCondition({ variable: 'data.v', operator: pos, argument }, ctx, { now: NOW });
        const negative = evaluateCondition({ variable: 'data.v', operator: neg, argument }, ctx, { now: NOW });
        expect(negative).toBe(!positive);
      }),
    );
  });

  it('all holds exactly when every item holds, any when one does', () => {
    fc.assert(
      fc.property(fc.array(fc.boolean(), { minLength: 1, maxLength: 6 }), (truths) => {
        const items = truths.map((t) => (t ? yes : no));
        expect(evaluateConditions({ all: items }, context)).toBe(truths.every(Boolean));
        expect(evaluateConditions({ any: items }, context)).toBe(truths.some(Boolean));
      }),
    );
  });

  it('equal_to with the JSON of the variable\'s own value always holds', () => {
    fc.assert(
      fc.property(arbitraryValue, (value) => {
        const ctx = { data: { v: value } };
        expect(evaluateCondition({ variable: 'data.v', operator: 'equal_to', argument: JSON.stringify(value) }, ctx)).toBe(true);
      }),
    );
  });
});

describe('evaluateConditions: stored shapes', () => {
  it('accepts a step group as the workflow schema stores it, and a malformed item never holds', () => {
    const stored: Static<typeof ConditionGroupSchema> = { any: [{ variable: 'recipient.plan', operator: 'equal_to', argument: '"pro"' }] };
    expect(evaluateConditions(stored, context)).toBe(true);
    expect(evaluateConditions({ all: ['recipient.plan', { operator: 'exists' }] }, context)).toBe(false);
  });
});
