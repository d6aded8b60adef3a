/**
 * A mergeable latency histogram: load rounds run in separate processes, and the
 * percentiles of a target are taken over all of its rounds together, not averaged.
 * Buckets keep about three significant digits (0.01 ms below 10 ms, 0.1 ms below
 * 100 ms, 1 ms above), which is finer than the noise of this machine.
 */
export class LatencyHistogram {
  /** Bucket (in units of 0.01 ms) → count. */
  readonly buckets = new Map<number, number>();
  count = 0;

  static bucketOf(ms: number): number {
    if (ms < 10) return Math.round(ms * 100);
    if (ms < 100) return Math.round(ms * 10) * 10;
    return Math.round(ms) * 100;
  }

  static fromJSON(json: Record<string, number>): LatencyHistogram {
    const histogram = new LatencyHistogram();
    for (const [bucket, count] of Object.entries(json)) histogram.add(Number(bucket), count);
    return histogram;
  }

  record(ms: number): void {
    this.add(LatencyHistogram.bucketOf(ms), 1);
  }

  merge(other: LatencyHistogram): this {
    for (const [bucket, count] of other.buckets) this.add(bucket, count);
    return this;
  }

  /** The latency (ms) at or below which `p` percent of the recorded values fall. */
  percentile(p: number): number {
    if (this.count === 0) return NaN;
    const rank = Math.max(1, Math.ceil((p / 100) * this.count));
    let seen = 0;
    for (const bucket of [...this.buckets.keys()].sort((a, b) => a - b)) {
      seen += this.buckets.get(bucket)!;
      if (seen >= rank) return bucket / 100;
    }
    return NaN;
  }

  toJSON(): Record<string, number> {
    return Object.fromEntries(this.buckets);
  }

  private add(bucket: number, count: number): void {
    this.buckets.set(bucket, (this.buckets.get(bucket) ?? 0) + count);
    this.count += count;
  }
}
