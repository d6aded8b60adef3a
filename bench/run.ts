/**
 * `npm run bench`: runs every scenario in bench/ (each `bench/<name>.ts` that exports
 * `scenario`), one after another, prints one summary line per scenario and appends one
 * section to bench/RESULTS.md. `npm run bench -- identify` runs only the named ones.
 * Exits 1 if any scenario errs or misses its target.
 */
import { readdir } from 'node:fs/promises';
import { runAsMain, type Scenario } from './lib/scenario.ts';

const here = new URL('./', import.meta.url);
const wanted = process.argv.slice(2);
const scenarios: Scenario[] = [];
for (const file of (await readdir(here)).filter((f) => f.endsWith('.ts') && f !== 'run.ts').sort()) {
  const module = (await import(new URL(file, here).href)) as { scenario?: Scenario };
  if (module.scenario && (wanted.length === 0 || wanted.includes(module.scenario.name))) scenarios.push(module.scenario);
}
const unknown = wanted.filter((name) => !scenarios.some((s) => s.name === name));
if (unknown.length) {
  console.error(`unknown scenario(s): ${unknown.join(', ')}`);
  process.exit(2);
}
await runAsMain(scenarios, ['npm run bench', ...wanted].join(' '));
