import { type ChildProcess, spawn } from 'node:child_process';
import { MASTER_UUID } from './emu.js';
import { FAMFS_BIN, hostEnv } from './run.js';

/** A running `famfs console`, and the URL it printed. */
export interface RunningConsole {
  proc: ChildProcess;
  /** The URL as printed (with ?token= when it has one). */
  url: string;
  /** The generated token, when it printed one. */
  generatedToken?: string;
  stop(): Promise<void>;
}

const START_TIMEOUT_MS = 15_000;
const consoles = new Set<ChildProcess>();

/** Starts `famfs console <args>` as `host` and waits for the lines naming its URL. */
export function startConsole(args: string[], host = MASTER_UUID): Promise<RunningConsole> {
  const proc = spawn(process.execPath, [FAMFS_BIN, 'console', ...args], {
    env: hostEnv(host),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  consoles.add(proc);
  const stop = async (): Promise<void> => {
    if (proc.exitCode === null && proc.signalCode === null) {
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await exited;
    }
    consoles.delete(proc);
  };
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => reject(new Error(`famfs console did not start: ${out}${err}`)), START_TIMEOUT_MS);
    proc.stderr!.on('data', (b: Buffer) => (err += b.toString()));
    proc.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      if (!/serving .* read-only/.test(out)) return;
      clearTimeout(timer);
      const url = /famfs console: (http:\/\/\S+)/.exec(out)![1]!;
      const generated = /token (\S+) \(generated/.exec(out)?.[1];
      resolve({ proc, url, stop, ...(generated ? { generatedToken: generated } : {}) });
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`famfs console exited (${code}): ${err.trim()}`));
    });
  });
}

// Nothing left running when a test fails.
process.on('exit', () => {
  for (const p of consoles) p.kill('SIGKILL');
});
