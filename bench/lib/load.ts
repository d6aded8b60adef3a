/**
 * Drives HTTP load with autocannon in a separate process (bench/lib/load-worker.ts) and
 * sums rounds per target: throughput over all measured seconds, latency percentiles over
 * all responses.
 */
import { fileURLToPath } from 'node:url';
import { LatencyHistogram } from './latency-histogram.ts';
import { runScript } from './processes.ts';

/** What one load-worker run does. */
export interface LoadPlan {
  url: string;
  method: string;
  /** Request path = pathPrefix + idPrefix + a random integer below idCount (+ pathSuffix). */
  pathPrefix: string;
  idPrefix: string;
  idCount: number;
  /** Appended to the path after the id; with `fixedPath`, the path is pathPrefix + pathSuffix. */
  pathSuffix?: string;
  /** The path carries no id (the id, if any, goes into the body through bodyIdToken). */
  fixedPath?: boolean;
  headers: Record<string, string>;
  body: string;
  /** Every occurrence of this string in `body` is replaced by the request's id (idPrefix + number). */
  bodyIdToken?: string;
  connections: number;
  durationSeconds: number;
}

/** What one load-worker run measured. */
export interface LoadRound {
  elapsedSeconds: number;
  /** Completed responses of any status. */
  responses: number;
  non2xx: number;
  statusCounts: Record<string, number>;
  /** Connection errors (resets, refused) and timeouts, as autocannon counts them. */
  errors: number;
  timeouts: number;
  resets: number;
  /** Latencies of 2xx responses. */
  histogram: Record<string, number>;
  loadgenCpuSeconds: number;
}

const WORKER = fileURLToPath(new URL('./load-worker.ts', import.meta.url));

export async function runLoad(plan: LoadPlan): Promise<LoadRound> {
  const stdout = await runScript(WORKER, [JSON.stringify(plan)], (plan.durationSeconds + 60) * 1000);
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as LoadRound;
}

/** The measured rounds of one target, summed. */
export class TargetTotals {
  seconds = 0;
  ok = 0;
  non2xx = 0;
  errors = 0;
  timeouts = 0;
  statusCounts: Record<string, number> = {};
  readonly latency = new LatencyHistogram();
  /** CPU seconds used during the measured rounds, by process. */
  readonly cpu: Record<string, number> = {};

  add(round: LoadRound, cpu: Record<string, number>): void {
    this.seconds += round.elapsedSeconds;
    this.ok += round.responses - round.non2xx;
    this.non2xx += round.non2xx;
    this.errors += round.errors;
    this.timeouts += round.timeouts;
    for (const [status, count] of Object.entries(round.statusCounts)) this.statusCounts[status] = (this.statusCounts[status] ?? 0) + count;
    this.latency.merge(LatencyHistogram.fromJSON(round.histogram));
    for (const [name, seconds] of Object.entries(cpu)) this.cpu[name] = (this.cpu[name] ?? 0) + seconds;
  }

  /** Successful responses per second. */
  get rps(): number {
    return this.ok / this.seconds;
  }

  /** CPU milliseconds a process spent per successful response. */
  cpuMsPerRequest(name: string): number {
    return ((this.cpu[name] ?? 0) * 1000) / this.ok;
  }

  /** Average cores a process kept busy while this target was measured. */
  cores(name: string): number {
    return (this.cpu[name] ?? 0) / this.seconds;
  }
}
