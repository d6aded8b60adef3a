import type { FastifyInstance } from 'fastify';
import pg from 'pg';
import type { HeraldConfig } from './config.ts';
import { isReachable, openAppDatabase, openDatabase, type Db } from './db/database.ts';
import { startEmbeddedPostgres, type EmbeddedDatabase } from './db/embedded.ts';
import { migrateToLatest } from './db/migrate.ts';
import { ApiKeyAuthenticator } from './environments/api-keys.ts';
import { bootstrap, formatBootstrapBanner, writeBootstrapJson, type BootstrapSecrets } from './bootstrap.ts';
import { buildApp, type AppOptions } from './http/app.ts';
import { createIdentifyCommitter } from './recipients/users/identify-batch.ts';
import { installQueue, startWorkers, type Workers } from './engine/queue.ts';
import { createTriggerCommitter } from './engine/trigger/ingest.ts';
import { engineTasks } from './engine/tasks.ts';
import { FeedHub, MessageListener } from './messages/realtime.ts';

/** A running Herald process. */
export interface Herald {
  /** Base URL of the HTTP server (undefined for worker-only processes). */
  url?: string;
  app?: FastifyInstance;
  db: Db;
  accountId: string;
  /** Present only on the very first start of a database. */
  secrets?: BootstrapSecrets;
  close(): Promise<void>;
}

export interface StartOptions extends AppOptions {
  /** Where the first-start banner goes (default: stdout). */
  print?: (text: string) => void;
}

const EMBEDDED_DATABASE = 'herald';

/** Creates the named database on a server if it is missing. */
async function ensureDatabase(serverUrl: string, name: string): Promise<string> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (found.rowCount === 0) await client.query(`CREATE DATABASE "${name}"`);
  } finally {
    await client.end();
  }
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/**
 * Composition root: database (embedded or DATABASE_URL) → migrations → bootstrap →
 * HTTP server and workers, by role. Resolves once the process is ready.
 */
export async function startHerald(config: HeraldConfig, options: StartOptions = {}): Promise<Herald> {
  let embedded: EmbeddedDatabase | undefined;
  let ownerUrl = config.databaseUrl;
  if (!ownerUrl) {
    embedded = await startEmbeddedPostgres(config.dataDir, { port: config.embeddedPgPort });
    ownerUrl = await ensureDatabase(embedded.url, EMBEDDED_DATABASE);
  }

  const ownerDb = openDatabase({ url: ownerUrl, poolSize: 1, applicationName: 'herald-migrate' });
  try {
    await migrateToLatest(ownerDb);
  } finally {
    await ownerDb.destroy();
  }
  await installQueue(ownerUrl);

  const db = openAppDatabase(ownerUrl, config.appDatabaseUrl, config.poolSize);
  const { accountId, secrets } = await bootstrap(db, config.ownerEmail);
  if (secrets) {
    (options.print ?? ((text) => process.stdout.write(text)))(formatBootstrapBanner(secrets));
    if (config.bootstrapJsonPath) await writeBootstrapJson(config.bootstrapJsonPath, secrets);
  }

  const keys = new ApiKeyAuthenticator(db, config.appDatabaseUrl ?? ownerUrl);
  await keys.start();

  let ready = false;
  let app: FastifyInstance | undefined;
  let url: string | undefined;
  let feedListener: MessageListener | undefined;
  if (config.role !== 'worker') {
    // Realtime feeds: this process's one LISTEN connection for new messages.
    const feedHub = new FeedHub();
    feedListener = new MessageListener(config.appDatabaseUrl ?? ownerUrl, feedHub, { onError: (error) => app?.log.warn({ err: error }, 'feed listener connection lost; reconnecting') });
    await feedListener.start();
    app = buildApp({ db, accountId, keys, feedHub, identify: createIdentifyCommitter(db), triggers: createTriggerCommitter(db), isReady: async () => ready && (await isReachable(db)) }, { logLevel: config.logLevel, rateLimits: config.rateLimits, ...options });
    url = await app.listen({ host: config.host, port: config.port });
  }
  let workers: Workers | undefined;
  if (config.role !== 'api') {
    workers = await startWorkers({
      ownerUrl,
      concurrency: config.workerConcurrency,
      tasks: engineTasks({ db, accountId, config: config.engine }),
      onError: (error) => app?.log.warn({ err: error }, 'job failed; it will be retried'),
    });
  }
  ready = true;

  return {
    url,
    app,
    db,
    accountId,
    secrets,
    async close() {
      ready = false;
      await app?.close();
      await feedListener?.stop();
      await workers?.stop();
      await keys.stop();
      await db.destroy();
      await embedded?.stop();
    },
  };
}
