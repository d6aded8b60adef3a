import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { PreferenceSettings } from '../recipients/preferences/schema.ts';
import {
  isAllowedByPreferences,
  mergePreferenceSets,
  type PreferenceCheckInput,
  type PreferenceSetInput,
} from './preferences.ts';

const EMAIL_CHANNEL = '550e8400-e29b-41d4-a716-446655440000';
const OTHER_CHANNEL = '6ba7b810-9dad-11d1-80b4-00c04fd430c8';

const mutedDinos = [{ variable: 'recipient.muted_dinos', operator: 'not_contains', argument: 'data.dino' }];

function decide(sets: PreferenceSetInput[], overrides: Partial<PreferenceCheckInput> = {}) {
  return isAllowedByPreferences({
    sets,
    workflowKey: 'new-comment',
    categories: ['collaboration', 'marketing'],
    channelType: 'email',
    channelId: EMAIL_CHANNEL,
    conditionContext: { recipient: { id: 'u1', muted_dinos: ['rex'] }, data: { dino: 'rex' } },
    ...overrides,
  });
}

describe('isAllowedByPreferences', () => {
  it.each<[string, PreferenceSetInput[], Partial<PreferenceCheckInput>, boolean, string?]>([
    ['unset means opted in', [], {}, true],
    ['an empty set opts in', [{}], {}, true],
    ['null fields are unset', [{ workflows: null, categories: null, channel_types: null, channels: null, commercial_subscribed: null }], {}, true],
    ['a false workflow blocks', [{ workflows: { 'new-comment': false } }], {}, false, 'workflow "new-comment" is off'],
    ['another workflow being off does not block', [{ workflows: { mention: false } }], {}, true],
    ['a false category blocks', [{ categories: { marketing: false } }], {}, false, 'category "marketing" is off'],
    [
      'a false category blocks even when the channel type and channel are on',
      [{ categories: { marketing: false }, channel_types: { email: true }, channels: { [EMAIL_CHANNEL]: true } }],
      {},
      false,
      'category "marketing" is off',
    ],
    ['a category the workflow is not in does not block', [{ categories: { admin: false } }], {}, true],
    ['a false channel type blocks', [{ channel_types: { email: false } }], {}, false, 'channel type "email" is off'],
    ['another channel type being off does not block', [{ channel_types: { sms: false } }], {}, true],
    ['a false channel blocks', [{ channels: { [EMAIL_CHANNEL]: false } }], {}, false, `channel "${EMAIL_CHANNEL}" is off`],
    ['channels overrides channel_types: channel on, type off → sends', [{ channel_types: { email: false }, channels: { [EMAIL_CHANNEL]: true } }], {}, true],
    [
      'channels overrides channel_types: channel off, type on → blocked',
      [{ channel_types: { email: true }, channels: { [EMAIL_CHANNEL]: false } }],
      {},
      false,
      `channel "${EMAIL_CHANNEL}" is off`,
    ],
    ['another channel being on does not rescue a false type', [{ channel_types: { email: false }, channels: { [OTHER_CHANNEL]: true } }], {}, false],
    [
      'a workflow-level channel type setting blocks that channel type',
      [{ workflows: { 'new-comment': { channel_types: { email: false, in_app_feed: true } } } }],
      {},
      false,
      'channel type "email" is off for workflow "new-comment"',
    ],
    ['a workflow-level channel type setting leaves other channel types alone', [{ workflows: { 'new-comment': { channel_types: { email: false } } } }], { channelType: 'sms', channelId: OTHER_CHANNEL }, true],
    [
      'a category-level channel overrides the category-level channel type',
      [{ categories: { collaboration: { channel_types: { email: false }, channels: { [EMAIL_CHANNEL]: true } } } }],
      {},
      true,
    ],
    [
      'every scope must be on: top-level type off blocks despite a category-level type on',
      [{ channel_types: { email: false }, categories: { collaboration: { channel_types: { email: true } } } }],
      {},
      false,
      'channel type "email" is off',
    ],
    ['workflow conditions that fail block', [{ workflows: { 'new-comment': { conditions: mutedDinos } } }], {}, false, 'workflow "new-comment" conditions are not met'],
    [
      'workflow conditions that hold allow',
      [{ workflows: { 'new-comment': { conditions: mutedDinos } } }],
      { conditionContext: { recipient: { muted_dinos: ['rex'] }, data: { dino: 'raptor' } } },
      true,
    ],
    [
      'channel type conditions are evaluated with the context',
      [{ channel_types: { email: { conditions: [{ variable: 'tenant.id', operator: 'equal_to', argument: '"acme"' }] } } }],
      { conditionContext: { tenant: { id: 'other' } } },
      false,
      'channel type "email" conditions are not met',
    ],
    ['commercial_subscribed false blocks a commercial workflow', [{ commercial_subscribed: false }], { isCommercial: true }, false, 'recipient is unsubscribed from commercial messages (commercial_subscribed is off)'],
    ['commercial_subscribed false does not block a transactional workflow', [{ commercial_subscribed: false }], { isCommercial: false }, true],
    [
      'commercial_subscribed conditions are evaluated',
      [{ commercial_subscribed: { conditions: [{ variable: 'tenant.settings.preferences.commercial_subscribed', operator: 'not_equal_to', argument: 'false' }] } }],
      { isCommercial: true, conditionContext: { tenant: { settings: { preferences: { commercial_subscribed: false } } } } },
      false,
    ],
    ['override_preferences allows whatever the sets say', [{ workflows: { 'new-comment': false }, channel_types: { email: false } }], { overridePreferences: true }, true],
  ])('%s', (_rule, sets, overrides, allowed, reason) => {
    const decision = decide(sets, overrides);
    expect(decision.allowed).toBe(allowed);
    if (reason !== undefined) expect(decision.reason).toBe(reason);
    if (allowed) expect(decision.reason).toBeUndefined();
    else expect(decision.reason).toEqual(expect.any(String));
  });

  it('a higher-priority set re-enables what a lower one turned off', () => {
    const recipient: PreferenceSetInput = { channel_types: { sms: true } };
    const environment: PreferenceSetInput = { channel_types: { sms: false } };
    expect(decide([recipient, environment], { channelType: 'sms' }).allowed).toBe(true);
    expect(decide([environment, recipient], { channelType: 'sms' }).allowed).toBe(false);
  });

  it('a key such as constructor or __proto__ is just an unset preference', () => {
    expect(decide([{}], { workflowKey: 'constructor', categories: ['__proto__', 'toString'] }).allowed).toBe(true);
  });
});

describe('mergePreferenceSets', () => {
  it('merges per leaf key, earlier sets winning, deep inside workflows and categories', () => {
    const recipientTenant: PreferenceSetInput = { categories: { collaboration: { channel_types: { email: true } } } };
    const tenantDefault: PreferenceSetInput = {
      categories: { collaboration: { channel_types: { email: false, sms: false } }, reminders: true },
      channel_types: { push: false },
    };
    const environment: PreferenceSetInput = { categories: { reminders: false, digest: false }, channel_types: { push: true, sms: false } };
    expect(mergePreferenceSets([recipientTenant, tenantDefault, environment])).toEqual({
      categories: { collaboration: { channel_types: { email: true, sms: false } }, reminders: true, digest: false },
      channel_types: { push: false, sms: false },
    });
  });

  it('a boolean or condition list is a leaf: the higher one replaces a lower object whole', () => {
    const conditions = [{ variable: 'data.x', operator: 'exists', argument: null }];
    expect(
      mergePreferenceSets([
        { workflows: { a: false, b: { conditions } } },
        { workflows: { a: { channel_types: { email: true } }, b: { conditions: [], channel_types: { sms: false } } } },
      ]),
    ).toEqual({ workflows: { a: false, b: { conditions, channel_types: { sms: false } } } });
  });

  it('a lower set\'s "__strategy__": "replace" overrides the higher set for that preference', () => {
    const merged = mergePreferenceSets([
      { categories: { collaboration: { channel_types: { email: true } }, 'project-updates': { channel_types: { email: true } } } },
      {
        categories: {
          collaboration: { __strategy__: 'replace', channel_types: { email: false } },
          'project-updates': { channel_types: { email: false } },
        },
      },
    ]);
    expect(merged.categories).toEqual({
      collaboration: { __strategy__: 'replace', channel_types: { email: false } },
      'project-updates': { channel_types: { email: true } },
    });
  });

  it('commercial_subscribed from the recipient default set outranks tenant and environment sets', () => {
    const sets: PreferenceSetInput[] = [
      { level: 'recipient_tenant' },
      { level: 'tenant_default', commercial_subscribed: true },
      { level: 'recipient_default', commercial_subscribed: false },
      { level: 'environment_default', commercial_subscribed: true },
    ];
    expect(mergePreferenceSets(sets).commercial_subscribed).toBe(false);
    expect(mergePreferenceSets(sets.map(({ level: _, ...rest }) => rest)).commercial_subscribed).toBe(true);
  });

  it('accepts the stored preference settings shape', () => {
    const stored: PreferenceSettings = { workflows: { a: true }, categories: null, channel_types: { email: false }, channels: null, commercial_subscribed: null };
    expect(mergePreferenceSets([stored])).toEqual({ workflows: { a: true }, channel_types: { email: false } });
  });
});

describe('preference rules hold for any settings', () => {
  const setting = fc.oneof(fc.boolean(), fc.constant(undefined));
  const channelTypes = fc.record({ email: setting, sms: setting, push: setting }, { requiredKeys: [] });
  const channels = fc.record({ [EMAIL_CHANNEL]: setting, [OTHER_CHANNEL]: setting }, { requiredKeys: [] });
  const scoped = fc.oneof(fc.boolean(), fc.record({ channel_types: channelTypes, channels }, { requiredKeys: [] }));
  const preferenceSet: fc.Arbitrary<PreferenceSetInput> = fc.record(
    {
      workflows: fc.dictionary(fc.constantFrom('new-comment', 'mention'), scoped),
      categories: fc.dictionary(fc.constantFrom('collaboration', 'marketing', 'admin'), scoped),
      channel_types: channelTypes,
      channels,
      commercial_subscribed: fc.boolean(),
    },
    { requiredKeys: [] },
  );
  const sets = fc.array(preferenceSet, { maxLength: 4 });

  it('a false category always blocks, whatever the channel settings', () => {
    fc.assert(
      fc.property(preferenceSet, sets, (top, rest) => {
        const blocking = { ...top, categories: { ...top.categories, marketing: false } };
        expect(decide([blocking, ...rest]).allowed).toBe(false);
      }),
    );
  });

  it('override_preferences always allows', () => {
    fc.assert(fc.property(sets, fc.boolean(), (anySets, isCommercial) => {
      expect(decide(anySets, { overridePreferences: true, isCommercial })).toEqual({ allowed: true });
    }));
  });

  it('channels overrides channel_types: the channel setting alone decides when set', () => {
    fc.assert(
      fc.property(fc.boolean(), fc.boolean(), (channelOn, typeOn) => {
        const result = decide([{ channel_types: { email: typeOn }, channels: { [EMAIL_CHANNEL]: channelOn } }]);
        expect(result.allowed).toBe(channelOn);
      }),
    );
  });

  it('merging puts the first set that sets a leaf in charge of it', () => {
    fc.assert(
      fc.property(fc.array(channelTypes, { maxLength: 4 }), (types) => {
        const merged = mergePreferenceSets(types.map((channel_types) => ({ channel_types })));
        for (const key of ['email', 'sms', 'push'] as const) {
          const first = types.map((t) => t[key]).find((v) => v !== undefined);
          expect(merged.channel_types?.[key]).toBe(first);
        }
      }),
    );
  });

  it('merging is idempotent: a merged set merges to itself', () => {
    fc.assert(
      fc.property(sets, (anySets) => {
        const merged = mergePreferenceSets(anySets);
        expect(mergePreferenceSets([merged])).toEqual(merged);
      }),
    );
  });
});
