/**
 * One bounded autocannon run, in its own process so the load generator never shares
 * an event loop with a server. Reads a LoadPlan (JSON) from argv[2]; writes one
 * LoadRound (JSON) line to stdout. User ids are drawn at random from a fixed set, so
 * requests mix inserts and updates as a real identify stream would.
 */
import autocannon from 'autocannon';
import { LatencyHistogram } from './latency-histogram.ts';
import type { LoadPlan, LoadRound } from './load.ts';

const plan = JSON.parse(process.argv[2] ?? '') as LoadPlan;
const histogram = new LatencyHistogram();
const cpuStart = process.cpuUsage();
const bodyParts = plan.bodyIdToken ? plan.body.split(plan.bodyIdToken) : undefined;

const instance = autocannon(
  {
    url: plan.url,
    connections: plan.connections,
    duration: plan.durationSeconds,
    timeout: 10,
    requests: [
      {
        method: plan.method,
        headers: plan.headers,
        body: plan.body,
        setupRequest: (request) => {
          const id = `${plan.idPrefix}${Math.floor(Math.random() * plan.idCount)}`;
          const path = plan.fixedPath ? `${plan.pathPrefix}${plan.pathSuffix ?? ''}` : `${plan.pathPrefix}${id}${plan.pathSuffix ?? ''}`;
          return bodyParts ? { ...request, path, body: bodyParts.join(id) } : { ...request, path };
        },
      },
    ],
  },
  (error, result) => {
    if (error) {
      process.stderr.write(`${error.stack ?? error}\n`);
      process.exit(1);
    }
    const cpu = process.cpuUsage(cpuStart);
    const statusCounts: Record<string, number> = {};
    for (const [status, { count }] of Object.entries(result.statusCodeStats)) statusCounts[status] = count;
    const round: LoadRound = {
      elapsedSeconds: result.duration,
      responses: result.requests.total,
      non2xx: result.non2xx,
      statusCounts,
      errors: result.errors,
      timeouts: result.timeouts,
      resets: result.resets,
      histogram: histogram.toJSON(),
      loadgenCpuSeconds: (cpu.user + cpu.system) / 1e6,
    };
    process.stdout.write(`${JSON.stringify(round)}\n`);
  },
);

// Only successful responses count towards latency, as in autocannon's own figures.
instance.on('response', (_client, statusCode, _bytes, responseTime) => {
  if (statusCode >= 200 && statusCode < 300) histogram.record(responseTime);
});
