import { DeliveryError, type DeliveryAttemptLog, type DeliveryResult } from './provider.ts';

/** What one send to one of a recipient's addresses (push token, chat connection) produced. */
export interface SendOutcome {
  providerMessageId?: string;
  logs: DeliveryAttemptLog[];
}

const CONCURRENCY = 8;

/**
 * Sends to every target, a few at a time. The message counts as sent when at least one
 * target accepted it: retrying would repeat it to those that did, so failures beside a
 * success are kept in the logs only. When every target failed, the error is retryable if
 * any failure was.
 */
export async function sendToEach<T>(targets: readonly T[], send: (target: T) => Promise<SendOutcome>): Promise<DeliveryResult> {
  const outcomes: Array<SendOutcome | DeliveryError> = new Array(targets.length);
  let next = 0;
  const worker = async () => {
    while (next < targets.length) {
      const i = next++;
      try {
        outcomes[i] = await send(targets[i]);
      } catch (error) {
        outcomes[i] = error instanceof DeliveryError ? error : new DeliveryError(String(error), true);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, targets.length) }, worker));

  const logs = outcomes.flatMap((o) => o.logs);
  const successes = outcomes.filter((o): o is SendOutcome => !(o instanceof DeliveryError));
  if (successes.length > 0) {
    return { status: 'sent', providerMessageId: successes.find((s) => s.providerMessageId)?.providerMessageId, logs };
  }
  const failures = outcomes as DeliveryError[];
  const retryable = failures.some((f) => f.retryable);
  const waits = failures.map((f) => f.retryAfterMs).filter((ms): ms is number => ms !== undefined);
  const message = failures.length === 1 ? failures[0].message : `all ${failures.length} sends failed; first: ${failures[0].message}`;
  throw new DeliveryError(message, retryable, logs, waits.length > 0 ? Math.max(...waits) : undefined);
}
