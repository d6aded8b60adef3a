/** bench/RESULTS.md: one appended section per benchmark run, with date, commit and machine. */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { appendFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import type { Outcome } from './scenario.ts';

const RESULTS = fileURLToPath(new URL('../RESULTS.md', import.meta.url));
const REPO = fileURLToPath(new URL('../..', import.meta.url));

const HEADER = `# Benchmark results

Appended by \`npm run bench\` (all scenarios) and \`node bench/<scenario>.ts\` (one).
Machines here are shared and noisy: judge a scenario by its ratio to the baseline
measured in the same run; absolute numbers are context.
`;

function git(args: string[]): string {
  try {
    return execFileSync('git', args, { cwd: REPO, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return '';
  }
}

/** Short commit, marked when the working tree differs from it (RESULTS.md aside). */
export function commitLabel(): string {
  const commit = git(['rev-parse', '--short', 'HEAD']) || 'unknown';
  const dirty = git(['status', '--porcelain', '--', '.', ':(exclude)bench/RESULTS.md']);
  return dirty ? `${commit} + uncommitted changes` : commit;
}

export function machineLabel(extra: Record<string, string>, loadAverage: number[]): string {
  const cpus = os.cpus();
  const parts = [
    `${cpus[0]?.model.trim() ?? 'unknown CPU'}, ${cpus.length} cores`,
    `${(os.totalmem() / 2 ** 30).toFixed(1)} GiB RAM`,
    `${os.type()} ${os.release()}`,
    `Node ${process.version}`,
    ...Object.entries(extra).map(([name, value]) => `${name} ${value}`),
    `load average at start ${loadAverage.map((l) => l.toFixed(2)).join(' ')}`,
  ];
  return parts.join(' · ');
}

function table({ columns, rows }: { columns: string[]; rows: string[][] }): string {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(columns), line(columns.map(() => '---')), ...rows.map(line)].join('\n');
}

export interface RunInfo {
  startedAt: Date;
  /** os.loadavg() before the first scenario: how busy the shared machine already was. */
  loadAverage: number[];
  /** The command, e.g. `npm run bench`. */
  invokedAs: string;
}

/** Appends one section for this run; returns the file's path. */
export async function appendResults(outcomes: Outcome[], run: RunInfo): Promise<string> {
  const { startedAt, loadAverage, invokedAs } = run;
  const environment: Record<string, string> = {};
  for (const o of outcomes) if ('result' in o) Object.assign(environment, o.result.environment);
  const date = startedAt.toISOString().slice(0, 16).replace('T', ' ');
  const parts = [`\n## ${date} UTC · ${commitLabel()} · \`${invokedAs}\`\n`, `Machine: ${machineLabel(environment, loadAverage)}\n`];
  for (const o of outcomes) {
    if ('error' in o) {
      parts.push(`### ${o.name} — ERROR\n`, '```', o.error.message, '```\n');
      continue;
    }
    const { result } = o;
    parts.push(`### ${o.name} — ${result.passed ? 'PASS' : 'FAIL'}\n`, `${result.summary}\n`, `${table(result.table)}\n`);
    if (result.notes.length) parts.push(`${result.notes.map((n) => `- ${n}`).join('\n')}\n`);
  }
  if (!existsSync(RESULTS)) await writeFile(RESULTS, HEADER);
  await appendFile(RESULTS, parts.join('\n'));
  return RESULTS;
}
