/** How a bench server tells its parent it accepts requests: one stdout line, then JSON. */
export const READY_PREFIX = 'BENCH_READY ';

export function announceReady(info: { url: string } & Record<string, string>): void {
  process.stdout.write(`${READY_PREFIX}${JSON.stringify(info)}\n`);
}

/** Runs `close` once on SIGTERM or SIGINT, then exits. */
export function closeOnSignal(close: () => Promise<void>): void {
  let closing = false;
  const stop = () => {
    if (closing) return;
    closing = true;
    close().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`close failed: ${(error as Error).stack ?? error}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
