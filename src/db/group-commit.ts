/**
 * Group commit: concurrent writes that share a key (an environment) are gathered and
 * written by one `flush` call — one transaction — instead of one transaction each.
 * There is no timer: a flush takes whatever arrived while the previous one ran, so a
 * lone request is written at once and batches grow only under load. Every caller's
 * promise settles after the flush that carried its item has committed, so nothing is
 * acknowledged before it is durable.
 */
export class GroupCommit<Item, Result> {
  private readonly queues = new Map<string, Array<Pending<Item, Result>>>();
  private readonly inFlight = new Map<string, number>();
  private readonly flush: (key: string, items: Item[]) => Promise<Array<Result | Error>>;
  private readonly maxBatch: number;
  private readonly maxInFlight: number;
  private readonly conflictKey?: (item: Item) => string;

  constructor(options: {
    /** Writes the items in one transaction; returns one result (or Error) per item, in order. */
    flush: (key: string, items: Item[]) => Promise<Array<Result | Error>>;
    maxBatch?: number;
    /** Flushes of one key allowed at the same time (each on its own connection). */
    maxInFlight?: number;
    /** Items with the same conflict key never share a batch (they are written in arrival order). */
    conflictKey?: (item: Item) => string;
  }) {
    this.flush = options.flush;
    this.maxBatch = options.maxBatch ?? 500;
    this.maxInFlight = options.maxInFlight ?? 2;
    this.conflictKey = options.conflictKey;
  }

  /** Queues an item; resolves with its result once its batch has committed. */
  submit(key: string, item: Item): Promise<Result> {
    return new Promise((resolve, reject) => {
      let queue = this.queues.get(key);
      if (!queue) this.queues.set(key, (queue = []));
      queue.push({ item, resolve, reject });
      this.drain(key);
    });
  }

  private drain(key: string): void {
    const running = this.inFlight.get(key) ?? 0;
    const queue = this.queues.get(key);
    if (!queue || queue.length === 0 || running >= this.maxInFlight) return;
    const batch = this.take(queue);
    if (queue.length === 0) this.queues.delete(key);
    this.inFlight.set(key, running + 1);
    this.flush(key, batch.map((p) => p.item)).then(
      (results) => batch.forEach((p, i) => {
        const result = results[i];
        if (result instanceof Error) p.reject(result);
        else p.resolve(result);
      }),
      (error: unknown) => batch.forEach((p) => p.reject(error)),
    ).finally(() => {
      const left = (this.inFlight.get(key) ?? 1) - 1;
      if (left === 0) this.inFlight.delete(key);
      else this.inFlight.set(key, left);
      this.drain(key);
    });
  }

  /** Takes up to maxBatch items from the front, skipping (and keeping queued) repeats of a conflict key. */
  private take(queue: Array<Pending<Item, Result>>): Array<Pending<Item, Result>> {
    if (!this.conflictKey) return queue.splice(0, this.maxBatch);
    const seen = new Set<string>();
    const batch: Array<Pending<Item, Result>> = [];
    const rest: Array<Pending<Item, Result>> = [];
    for (const pending of queue) {
      const k = this.conflictKey(pending.item);
      // Once an item is held back, later items with the same key must wait too (order).
      if (batch.length < this.maxBatch && !seen.has(k)) batch.push(pending);
      else rest.push(pending);
      seen.add(k);
    }
    queue.splice(0, queue.length, ...rest);
    return batch;
  }
}

interface Pending<Item, Result> {
  item: Item;
  resolve: (result: Result) => void;
  reject: (error: unknown) => void;
}
