import { readFileSync } from 'node:fs';

/** Fields of /proc/<pid>/stat after the ")" that closes the command name, up to the state letter. */
const STAT_STATE_AFTER_NAME = 2;

/**
 * Running, as opposed to gone or a zombie. A daemon that exited stays a zombie until its parent
 * reaps it (pid 1, once `famfs mount` is gone, which can take seconds; or a Node parent busy in
 * synchronous code), and kill(pid, 0) still succeeds on a zombie, so the state letter is read.
 */
export function processAlive(pid: number): boolean {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return false;
  }
  return stat.slice(stat.lastIndexOf(')') + STAT_STATE_AFTER_NAME)[0] !== 'Z';
}

/** Waits up to `ms` for the process to be gone (or a zombie); true if it is. */
export async function waitProcessGone(pid: number, ms: number, pollMs: number): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end;) {
    if (!processAlive(pid)) return true;
    await new Promise((r) => setTimeout(r, pollMs));
  }
  return !processAlive(pid);
}
