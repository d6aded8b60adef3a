import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const node = process.execPath;

describe('herald command line', () => {
  it('--help documents every command', async () => {
    const { stdout } = await run(node, ['src/cli/herald.ts', '--help']);
    expect(stdout).toContain('serve');
    expect(stdout).toContain('migrate');
  });

  it('serve --help documents its flags and environment variables', async () => {
    const { stdout } = await run(node, ['src/cli/herald.ts', 'serve', '--help']);
    for (const text of ['--port', '--host', '--role', '--bootstrap-json', 'DATABASE_URL', 'HERALD_DATA_DIR', 'HERALD_OWNER_EMAIL', 'PORT', 'HOST']) {
      expect(stdout).toContain(text);
    }
  });

  it('rejects an invalid port with a clear message and exit code 1', async () => {
    const failed = await run(node, ['src/cli/herald.ts', 'serve', '--port', 'abc']).catch((error) => error);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain('port must be an integer');
  });
});
