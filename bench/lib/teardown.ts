/**
 * Cleaning up after a benchmark, on every path: the normal one (steps run in reverse
 * order of setup), Ctrl-C / SIGTERM (the same steps, then exit), and a crash (last-resort
 * synchronous hooks on process exit that kill children and delete temp dirs).
 */

const exitHooks: Array<() => void> = [];

/** Registers a synchronous hook for process exit; it must be idempotent and must not throw. */
export function onProcessExit(hook: () => void): void {
  if (exitHooks.length === 0) {
    process.on('exit', () => {
      for (const run of exitHooks) {
        try {
          run();
        } catch {
          // Best effort: the process is going away.
        }
      }
    });
  }
  exitHooks.push(hook);
}

/** Steps that undo a benchmark's setup, run last-in first-out. */
export class Teardown {
  private readonly steps: Array<{ name: string; run: () => Promise<void> }> = [];
  private running: Promise<Error[]> | undefined;

  add(name: string, run: () => Promise<void>): void {
    this.steps.push({ name, run });
  }

  /** Runs every step once (even if some fail); returns the failures. */
  run(): Promise<Error[]> {
    this.running ??= (async () => {
      const failures: Error[] = [];
      for (const step of this.steps.reverse()) {
        try {
          await step.run();
        } catch (error) {
          failures.push(new Error(`teardown "${step.name}" failed: ${(error as Error).message}`));
        }
      }
      return failures;
    })();
    return this.running;
  }
}

/** Runs `work`, then its teardown — also when the process is interrupted meanwhile. */
export async function withTeardown<T>(work: (teardown: Teardown) => Promise<T>): Promise<T> {
  const teardown = new Teardown();
  const interrupted = (signal: NodeJS.Signals) => {
    process.stderr.write(`\n${signal}: cleaning up…\n`);
    void teardown.run().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  try {
    return await work(teardown);
  } finally {
    const failures = await teardown.run();
    process.off('SIGINT', interrupted);
    process.off('SIGTERM', interrupted);
    for (const failure of failures) process.stderr.write(`${failure.message}\n`);
  }
}
