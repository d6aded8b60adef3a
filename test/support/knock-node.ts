import Knock from '@knocklabs/node';
import type { TestHerald } from './herald.ts';

/** `@knocklabs/node` clients of a test Herald: development's and production's secret keys, no retries. */
export function knockClients(herald: TestHerald): { knock: Knock; prod: Knock } {
  const client = (apiKey: string) => new Knock({ apiKey, baseURL: herald.url, maxRetries: 0 });
  return { knock: client(herald.secrets.environments.development.secret_key), prod: client(herald.secrets.environments.production.secret_key) };
}
