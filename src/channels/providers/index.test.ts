import { describe, expect, it } from 'vitest';
import { PROVIDERS, getProvider, providersFor } from './index.ts';

describe('provider registry', () => {
  it('names each provider with the channel type it delivers', () => {
    expect(PROVIDERS.map((p) => [p.name, p.channelType])).toEqual([
      ['smtp', 'email'],
      ['twilio', 'sms'],
      ['fcm', 'push'],
      ['slack', 'chat'],
      ['webhook', 'http'],
    ]);
  });

  it('looks providers up by name and channel type', () => {
    expect(getProvider('twilio')?.channelType).toBe('sms');
    expect(getProvider('postmark')).toBeUndefined();
    expect(providersFor('push').map((p) => p.name)).toEqual(['fcm']);
  });
});
