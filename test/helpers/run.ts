import { spawn, spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MASTER_UUID } from './emu.js';

/**
 * The one way tests run a program: the project's commands (and any Node script, such as a README
 * example) as a given host, and the Python programs under test/independent/. A command runs with
 * FAMFS_SYSTEM_UUID set to its host and FAMFS_DEVICE cleared, so neither the developer's own
 * settings nor another test's leak in; importing emu.ts first gives every child the test
 * process's private run directory. These return what the program did; the tests assert on it.
 */

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const FAMFS_BIN = join(root, 'bin', 'famfs.cjs');
export const MKFS_BIN = join(root, 'bin', 'mkfs.famfs.cjs');
export const PCQ_BIN = join(root, 'bin', 'pcq.cjs');
export const FUSED_BIN = join(root, 'bin', 'famfs_fused.cjs');
/** Programs written from the spec or from man pages alone, sharing no code with src/ (run from the source tree). */
const INDEPENDENT = join(root, '..', 'test', 'independent');

/** The environment of a command run as `host`: FAMFS_DEVICE cleared, then `extra` on top. */
export function hostEnv(host = MASTER_UUID, extra: Readonly<Record<string, string>> = {}): NodeJS.ProcessEnv {
  return { ...process.env, FAMFS_SYSTEM_UUID: host, FAMFS_DEVICE: '', ...extra };
}

export interface RunOptions {
  /** The system UUID a command runs as (default: the master's). */
  readonly host?: string;
  /** Variables on top of hostEnv(host), e.g. FAMFS_DEVICE. */
  readonly env?: Readonly<Record<string, string>>;
  readonly cwd?: string;
  /** SIGKILL the program after this long (a hang then shows as signal 'SIGKILL'). */
  readonly killAfterMs?: number;
}

/** How a program ended and what it printed. */
export interface RunResult {
  readonly status: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Largest output a program may print (the independent reader's JSON of a full log). */
const MAX_OUTPUT_BYTES = 64 * 1024 * 1024;

function runSync(cmd: string, argv: readonly string[], opts: RunOptions): RunResult {
  const r = spawnSync(cmd, argv, {
    encoding: 'utf8', env: hostEnv(opts.host, opts.env), maxBuffer: MAX_OUTPUT_BYTES, killSignal: 'SIGKILL',
    ...(opts.cwd === undefined ? {} : { cwd: opts.cwd }), ...(opts.killAfterMs === undefined ? {} : { timeout: opts.killAfterMs }),
  });
  // A timeout is an outcome (signal SIGKILL); failing to start at all is not.
  if (r.error && r.signal === null) throw r.error;
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

function runAsync(cmd: string, argv: readonly string[], opts: RunOptions): Promise<RunResult & { readonly ms: number }> {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    const child = spawn(cmd, argv, {
      env: hostEnv(opts.host, opts.env), stdio: ['ignore', 'pipe', 'pipe'], ...(opts.cwd === undefined ? {} : { cwd: opts.cwd }),
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    const timer = opts.killAfterMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), opts.killAfterMs);
    child.on('error', reject);
    child.on('close', (status, signal) => {
      if (timer) clearTimeout(timer);
      resolve({ status, signal, stdout, stderr, ms: Number(process.hrtime.bigint() - start) / 1e6 });
    });
  });
}

/** `node script args` to completion. */
export function runCli(script: string, args: readonly string[], opts: RunOptions = {}): RunResult {
  return runSync(process.execPath, [script, ...args], opts);
}

/** The same without blocking the event loop (several at once, or one to kill part-way); also how long it ran. */
export function runCliAsync(script: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult & { readonly ms: number }> {
  return runAsync(process.execPath, [script, ...args], opts);
}

/** `famfs <args>` as `host`. */
export const famfs = (args: readonly string[], host = MASTER_UUID, env: Readonly<Record<string, string>> = {}): RunResult => runCli(FAMFS_BIN, args, { host, env });
/** `mkfs.famfs <args>` as `host`. */
export const mkfsCli = (args: readonly string[], host = MASTER_UUID): RunResult => runCli(MKFS_BIN, args, { host });

/** The path of test/independent/<name>. */
const independent = (name: string): string => join(INDEPENDENT, name);

/** `python3 test/independent/<name> args` to completion. */
export function runPython(name: string, args: readonly string[], opts: RunOptions = {}): RunResult {
  return runSync('python3', [independent(name), ...args], opts);
}

/** The same without blocking the event loop. */
export function runPythonAsync(name: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult & { readonly ms: number }> {
  return runAsync('python3', [independent(name), ...args], opts);
}
