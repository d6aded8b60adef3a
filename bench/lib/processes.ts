import { fileURLToPath } from 'node:url';
/**
 * Child processes of a benchmark: servers that announce readiness with a line, and
 * one-shot scripts. Every child is tracked so that, however the benchmark ends (error,
 * Ctrl-C, crash), none outlives it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { READY_PREFIX } from '../servers/ready-line.ts';
import { onProcessExit } from './teardown.ts';

const children = new Set<ChildProcess>();

onProcessExit(() => {
  for (const child of children) child.kill('SIGKILL');
});

function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** Resolves with the exit code (or signal name) once the child has exited. */
function exited(child: ChildProcess): Promise<number | string> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode ?? child.signalCode!);
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
}

/** Signals the child and waits for it to exit, killing it if it takes longer than `graceMs`. */
export async function stopChild(child: ChildProcess, graceMs = 10_000): Promise<number | string> {
  const done = exited(child);
  if (child.exitCode === null && child.signalCode === null) {
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    try {
      return await done;
    } finally {
      clearTimeout(timer);
    }
  }
  return done;
}

export interface ServerProcess {
  name: string;
  pid: number;
  /** What the server announced: at least `url`. */
  ready: { url: string } & Record<string, string>;
  /** Everything the server printed besides its ready line (its warnings and errors). */
  output: string[];
  /** Set once the server has exited (a crash, if before `stop`). */
  exit?: number | string;
  stop(): Promise<void>;
}

const MAX_OUTPUT_LINES = 500;

/** Starts `node [nodeArgs] script` and waits for its ready line. */
export async function startServer(
  name: string,
  script: string,
  env: NodeJS.ProcessEnv,
  options: { nodeArgs?: string[]; readyTimeoutMs?: number } = {},
): Promise<ServerProcess> {
  const child = track(spawn(process.execPath, [...(options.nodeArgs ?? []), script], { env, stdio: ['ignore', 'pipe', 'pipe'] }));
  const output: string[] = [];
  const keep = (line: string) => {
    if (output.length < MAX_OUTPUT_LINES) output.push(line);
  };
  createInterface({ input: child.stderr! }).on('line', keep);
  const server: ServerProcess = {
    name,
    pid: child.pid!,
    ready: { url: '' },
    output,
    async stop() {
      await stopChild(child);
    },
  };
  void exited(child).then((code) => (server.exit = code));

  server.ready = await new Promise<ServerProcess['ready']>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} was not ready within ${options.readyTimeoutMs ?? 60_000} ms`)), options.readyTimeoutMs ?? 60_000);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (!line.startsWith(READY_PREFIX)) return keep(line);
      clearTimeout(timer);
      resolve(JSON.parse(line.slice(READY_PREFIX.length)));
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited (${code ?? signal}) before it was ready:\n${output.slice(-20).join('\n')}`));
    });
  }).catch(async (error: unknown) => {
    await stopChild(child);
    throw error;
  });
  return server;
}

/** Runs `node script ...args` to completion and returns its stdout; rejects on a non-zero exit. */
export async function runScript(script: string, args: string[], timeoutMs: number): Promise<string> {
  const child = track(spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] }));
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk) => (stdout += chunk));
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const code = await exited(child);
  clearTimeout(timer);
  if (code !== 0) throw new Error(`${script} exited with ${code}: ${stderr.trim().slice(-2000)}`);
  return stdout;
}

// Linux reports process times in clock ticks of 1/100 s (USER_HZ) on every common platform.
const CLOCK_TICKS = 100;

/** The fields of /proc/<pid>/stat after the command name (field 3, the state, is index 0). */
function statFields(pid: number | string): string[] {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** CPU time (user + system, seconds) a process has used so far, from /proc; 0 where unavailable. */
export function cpuSeconds(pid: number): number {
  try {
    const fields = statFields(pid);
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return 0;
  }
}

/**
 * CPU time of a process and its children, living or exited (a postmaster and its
 * backends: pools close idle connections, and an exited backend's time moves into the
 * postmaster's cutime/cstime once reaped).
 */
export function treeCpuSeconds(pid: number): number {
  let total = 0;
  try {
    const fields = statFields(pid);
    total = (Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14])) / CLOCK_TICKS;
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        if (Number(statFields(entry)[1]) === pid) total += cpuSeconds(Number(entry));
      } catch {
        // The process ended while we looked.
      }
    }
  } catch {
    // No /proc, or the process is gone.
  }
  return total;
}

/** Machine-wide CPU time so far (seconds summed over all cores), from /proc/stat. */
export function machineCpuSeconds(): { busy: number; iowait: number } {
  try {
    const [user, nice, system, , iowait, irq, softirq, steal] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.split(/\s+/).slice(1).map(Number);
    return { busy: (user! + nice! + system! + irq! + softirq! + steal!) / CLOCK_TICKS, iowait: iowait! / CLOCK_TICKS };
  } catch {
    return { busy: 0, iowait: 0 };
  }
}

/** Path of a bench server script (bench/servers/<name>.ts). */
export function serverScript(name: string): string {
  return fileURLToPath(new URL(`../servers/${name}.ts`, import.meta.url));
}

/** The parent's environment without anything that would point a server elsewhere, plus `extra`. */
export function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!/^(HERALD_|DATABASE_URL$|PORT$|HOST$|LOG_LEVEL$|POOL_SIZE$|NODE_OPTIONS$)/.test(name)) env[name] = value;
  }
  return { ...env, ...extra };
}
