/**
 * Conformance: the real Knock CLI (`@knocklabs/cli`) run as a child process against a
 * Herald listening on a real port, pointed at it with `--api-origin <url>/mgmt`.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHerald, type TestHerald } from '../support/herald.ts';

const run = promisify(execFile);
const KNOCK_BIN = resolve(import.meta.dirname, '../../node_modules/.bin/knock');
/** The CLI takes ~2 s to start; each test runs it once or twice. */
const CLI_TIMEOUT_MS = 60_000;

let herald: TestHerald;
/** An empty HOME / XDG tree and working directory: the CLI reads and writes no user config or knock.json. */
let sandbox: string;

beforeAll(async () => {
  herald = await startTestHerald();
  sandbox = await mkdtemp(join(tmpdir(), 'herald-knock-cli-'));
});
afterAll(async () => {
  await herald?.close();
  if (sandbox) await rm(sandbox, { recursive: true, force: true });
});

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `knock <args>` with an isolated environment (no inherited KNOCK_* variables or user config). */
async function knock(args: string[]): Promise<CliResult> {
  const env: NodeJS.ProcessEnv = {
    // The bin's `#!/usr/bin/env node` must find the Node running these tests.
    PATH: [dirname(process.execPath), process.env.PATH ?? ''].join(delimiter),
    HOME: sandbox,
    XDG_CONFIG_HOME: join(sandbox, 'config'),
    XDG_DATA_HOME: join(sandbox, 'data'),
    XDG_CACHE_HOME: join(sandbox, 'cache'),
    XDG_STATE_HOME: join(sandbox, 'state'),
    NO_COLOR: '1',
    FORCE_COLOR: '0',
    TERM: 'dumb',
    COLUMNS: '200',
  };
  try {
    const { stdout, stderr } = await run(KNOCK_BIN, args, { env, cwd: sandbox, timeout: CLI_TIMEOUT_MS, maxBuffer: 10 * 1024 * 1024 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number | string; stdout?: string; stderr?: string; killed?: boolean };
    if (e.killed || typeof e.code !== 'number') throw error;
    return { code: e.code, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

function connection(token = herald.secrets.service_token): string[] {
  return ['--api-origin', `${herald.url}/mgmt`, '--service-token', token];
}

interface CliEnvironment {
  slug: string;
  name: string;
  order: number;
  owner: string;
  created_at: string;
  updated_at: string;
}

/** `knock environment list --json`, parsed. */
async function listJson(): Promise<CliEnvironment[]> {
  const result = await knock(['environment', 'list', ...connection(), '--json']);
  expect(result, result.stderr).toMatchObject({ code: 0 });
  return JSON.parse(result.stdout) as CliEnvironment[];
}

/** The table rows of `knock environment list`: [slug, name, order, owner] per environment, in printed order. */
async function listTable(): Promise<{ output: string; rows: string[][] }> {
  const result = await knock(['environment', 'list', ...connection()]);
  expect(result, result.stderr).toMatchObject({ code: 0 });
  const lines = result.stdout.split('\n').map((line) => line.trim()).filter(Boolean);
  const header = lines.findIndex((line) => /^Slug\s+Name\s+Order\s+Owner\s+Updated at$/.test(line));
  expect(header, result.stdout).toBeGreaterThanOrEqual(0);
  // Skip the header and its ─── underline.
  const rows = lines.slice(header + 2).map((line) => line.split(/\s{1,}/).slice(0, 4));
  return { output: result.stdout, rows };
}

describe('knock CLI against Herald', () => {
  it('environment list --json prints the environments in order', async () => {
    const environments = await listJson();
    expect(environments.map((e) => e.slug)).toEqual(['development', 'production']);
    expect(environments[0]).toMatchObject({ slug: 'development', name: 'Development', owner: 'system', order: 0 });
    expect(environments[1]).toMatchObject({ slug: 'production', name: 'Production', owner: 'system' });
    for (const environment of environments) {
      expect(Number.isNaN(Date.parse(environment.created_at))).toBe(false);
      expect(Number.isNaN(Date.parse(environment.updated_at))).toBe(false);
    }
  }, CLI_TIMEOUT_MS);

  it('environment list prints a table of the environments in order', async () => {
    const { output, rows } = await listTable();
    expect(output).toContain('Showing 2 environments');
    expect(rows).toEqual([
      ['development', 'Development', '0', 'system'],
      ['production', 'Production', '1', 'system'],
    ]);
  }, CLI_TIMEOUT_MS);

  it('lists a created environment between development and production, in both forms', async () => {
    const created = await fetch(`${herald.url}/mgmt/v1/environments`, {
      method: 'POST',
      headers: { authorization: `Bearer ${herald.secrets.service_token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Staging', slug: 'staging', insert_after: 'development' }),
    });
    expect(created.status).toBe(201);

    const [json, table] = await Promise.all([listJson(), listTable()]);
    expect(json.map((e) => e.slug)).toEqual(['development', 'staging', 'production']);
    expect(json[1]).toMatchObject({ slug: 'staging', name: 'Staging', owner: 'user' });
    expect(table.output).toContain('Showing 3 environments');
    expect(table.rows.map((row) => row[0])).toEqual(['development', 'staging', 'production']);
    expect(table.rows[1]).toEqual(['staging', 'Staging', String(json[1].order), 'user']);
  }, CLI_TIMEOUT_MS);

  it('whoami authenticates with the service token', async () => {
    const result = await knock(['whoami', ...connection()]);
    expect(result, result.stderr).toMatchObject({ code: 0 });
    expect(result.stdout).toContain('Successfully authenticated');
    expect(result.stdout).toContain('Account name: Herald');
    expect(result.stdout).toContain('Service token name: Owner bootstrap token');
  }, CLI_TIMEOUT_MS);

  it('fails with the 401 message for a bad service token', async () => {
    const result = await knock(['environment', 'list', ...connection('not-a-real-token')]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/Error: 401\b/);
    expect(result.stdout).not.toContain('development');
  }, CLI_TIMEOUT_MS);
});
