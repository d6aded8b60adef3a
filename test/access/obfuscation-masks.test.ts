import { describe, expect, it } from 'vitest';
import { contentView, diagnosticView, MASK, maskRecord, recipientView } from '../../src/access/obfuscation.ts';

const BOTH = { hide_pii_data: true, hide_message_content: true };
const PII = { hide_pii_data: true, hide_message_content: false };
const CONTENT = { hide_pii_data: false, hide_message_content: true };
const NONE = { hide_pii_data: false, hide_message_content: false };

/** The masks themselves: only identifiers the server put there survive, never look-alikes in custom data. */
describe('masks', () => {
  it('a record keeps its own ids and timestamps, not fields named like them deeper down or holding data', () => {
    const masked = maskRecord({
      __typename: 'User',
      id: 'u1',
      updated_at: '2024-01-01T00:00:00.000Z',
      created_at: 'secret-not-a-date',
      collection: 'secret-on-a-user',
      address: { id: 'secret-nested-id', channel_id: 'secret' },
      channel_data: [{ __typename: 'ChannelData', channel_id: 'c1', data: { tokens: ['secret'], channel_id: 'secret' } }],
    });
    expect(JSON.stringify(masked)).not.toContain('secret');
    expect(masked).toMatchObject({ id: 'u1', __typename: 'User', updated_at: '2024-01-01T00:00:00.000Z', obfuscated: true, channel_data: [{ channel_id: 'c1' }] });
    expect(maskRecord({ __typename: 'Object', id: 'p1', collection: 'projects', properties: { a: 'secret' } })).toMatchObject({ collection: 'projects', properties: { a: MASK } });
    expect(recipientView({ id: 'u1', name: 'secret' }, CONTENT)).toEqual({ id: 'u1', name: 'secret', obfuscated: false });
  });

  it('content is masked whole with hide_message_content, its addresses with hide_pii_data alone', () => {
    const email = { __typename: 'MessageEmailContent', subject_line: 'secret', to: 'a@example.com', nested: { __typename: 'secret' } };
    expect(JSON.stringify(contentView(email, CONTENT))).not.toMatch(/secret|example/);
    expect(contentView(email, CONTENT)).toMatchObject({ __typename: 'MessageEmailContent' });
    expect(contentView(email, PII)).toEqual({ ...email, to: MASK });
    expect(contentView(email, NONE)).toBe(email);
    expect(contentView(null, BOTH)).toBeNull();
  });

  it('diagnostics keep only their own structural scalars when anything is hidden', () => {
    const request = { method: 'POST', host: 'secret.example.com', body: { method: 'secret' } };
    expect(diagnosticView(request, PII, new Set(['method']))).toEqual({ method: 'POST', host: MASK, body: { method: MASK } });
    expect(diagnosticView('an error quoting secret', CONTENT)).toBe(MASK);
    expect(diagnosticView(request, NONE, new Set())).toBe(request);
  });
});
