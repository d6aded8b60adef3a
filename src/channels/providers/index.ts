import type { DeliverableChannelType, Provider } from '../provider.ts';
import { fcmProvider } from './fcm.ts';
import { slackProvider } from './slack.ts';
import { smtpProvider } from './smtp.ts';
import { twilioProvider } from './twilio.ts';
import { webhookProvider } from './webhook.ts';

export { closeSmtpTransports } from './smtp.ts';

/** Every provider Herald can deliver through. */
export const PROVIDERS: readonly Provider[] = [smtpProvider, twilioProvider, fcmProvider, slackProvider, webhookProvider];

export type ProviderName = 'smtp' | 'twilio' | 'fcm' | 'slack' | 'webhook';

const byName = new Map(PROVIDERS.map((p) => [p.name, p]));

/** The provider called `name` (a channel's `provider`), or undefined when Herald has none by that name. */
export function getProvider(name: string): Provider | undefined {
  return byName.get(name);
}

/** The providers that deliver a channel type. */
export function providersFor(channelType: DeliverableChannelType): Provider[] {
  return PROVIDERS.filter((p) => p.channelType === channelType);
}
