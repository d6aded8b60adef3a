#!/usr/bin/env node
import { Command, Option } from 'commander';
import { ConfigError, loadConfig } from '../config.ts';
import { startHerald } from '../main.ts';
import { openDatabase } from '../db/database.ts';
import { migrateToLatest } from '../db/migrate.ts';

const program = new Command()
  .name('herald')
  .description('Herald: self-hostable notification infrastructure with environments (Knock-compatible API)')
  .showHelpAfterError();

program
  .command('serve')
  .description('Run Herald: the HTTP API and the workers (or one of them with --role)')
  .option('-p, --port <port>', 'HTTP port (env PORT, default 3000)')
  .option('--host <host>', 'address to listen on (env HOST, default 127.0.0.1)')
  .addOption(new Option('--role <role>', 'which parts to run (env HERALD_ROLE)').choices(['all', 'api', 'worker']).default(undefined))
  .option('--bootstrap-json <file>', 'on first start, also write the generated secrets to FILE, mode 0600 (env HERALD_BOOTSTRAP_JSON)')
  .addHelpText(
    'after',
    `
Environment:
  DATABASE_URL            PostgreSQL to use (owner role; runs migrations). Unset: embedded PostgreSQL.
  HERALD_APP_DATABASE_URL optional separate login for the application role (default: DATABASE_URL acting as herald_app)
  HERALD_DATA_DIR         data directory of the embedded PostgreSQL (default ./.herald)
  HERALD_PG_PORT          port of the embedded PostgreSQL (default: a free port)
  HERALD_OWNER_EMAIL      email of the owner created at first start (default owner@herald.local)
  HERALD_DB_POOL_SIZE     application connection pool size (default 20)
  PORT, HOST, HERALD_ROLE, HERALD_BOOTSTRAP_JSON, LOG_LEVEL`,
  )
  .action(async (flags: { port?: string; host?: string; role?: string; bootstrapJson?: string }) => {
    const herald = await startHerald(loadConfig(process.env, flags));
    if (herald.url) herald.app?.log.info(`Herald listening on ${herald.url}`);
    let stopping = false;
    const stop = async (signal: string) => {
      if (stopping) return;
      stopping = true;
      herald.app?.log.info(`${signal}: shutting down`);
      await herald.close();
      process.exit(0);
    };
    process.on('SIGINT', () => void stop('SIGINT'));
    process.on('SIGTERM', () => void stop('SIGTERM'));
  });

program
  .command('migrate')
  .description('Apply database migrations to DATABASE_URL and exit')
  .action(async () => {
    const config = loadConfig();
    if (!config.databaseUrl) throw new ConfigError('migrate needs DATABASE_URL (serve migrates the embedded database itself)');
    const db = openDatabase({ url: config.databaseUrl, poolSize: 1 });
    try {
      const applied = await migrateToLatest(db);
      console.log(applied.length ? `applied: ${applied.join(', ')}` : 'already up to date');
    } finally {
      await db.destroy();
    }
  });

program.parseAsync().catch((error: unknown) => {
  console.error(error instanceof ConfigError ? `herald: ${error.message}` : error);
  process.exit(1);
});
