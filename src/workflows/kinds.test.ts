import { describe, expect, it } from 'vitest';
import { RESOURCE_TYPES } from '../versioning/resource-kind.ts';
import { RESOURCE_KINDS, kindOfCollection } from './kinds.ts';

describe('RESOURCE_KINDS', () => {
  it('has one kind per versioned resource type, each under its own type, collection and wrapper', () => {
    expect(Object.keys(RESOURCE_KINDS).sort()).toEqual([...RESOURCE_TYPES].sort());
    for (const type of RESOURCE_TYPES) expect(RESOURCE_KINDS[type].type).toBe(type);
    expect(Object.values(RESOURCE_KINDS).map((k) => [k.collection, k.wrapper])).toEqual([
      ['workflows', 'workflow'],
      ['email_layouts', 'email_layout'],
      ['partials', 'partial'],
      ['translations', 'translation'],
    ]);
  });
});

describe('kindOfCollection', () => {
  it('finds the kind served under a route segment', () => {
    expect(kindOfCollection('email_layouts')?.type).toBe('email_layout');
    expect(kindOfCollection('translations')?.type).toBe('translation');
    expect(kindOfCollection('channels')).toBeUndefined();
  });
});
