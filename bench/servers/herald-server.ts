/**
 * Herald in its own process for benchmarks: configured from the environment like
 * `herald serve` (DATABASE_URL, PORT, HERALD_DB_POOL_SIZE, LOG_LEVEL, …); announces
 * `{url, secretKey, serviceToken}` once it accepts requests; shuts down on SIGTERM.
 * Needs a fresh database, since the development key is only revealed on first start.
 */
import { loadConfig } from '../../src/config.ts';
import { startHerald } from '../../src/main.ts';
import { announceReady, closeOnSignal } from './ready-line.ts';

const config = loadConfig(process.env);
// startHerald does not apply config.logLevel by itself; pass it so LOG_LEVEL takes effect.
const herald = await startHerald(config, { print: () => {}, logLevel: config.logLevel });
closeOnSignal(() => herald.close());

const secretKey = herald.secrets?.environments.development?.secret_key;
if (!herald.url || !secretKey) {
  process.stderr.write('herald-server: no URL or no development secret key (is the database fresh?)\n');
  await herald.close();
  process.exit(1);
}
announceReady({ url: herald.url, secretKey, serviceToken: herald.secrets?.service_token ?? '' });
