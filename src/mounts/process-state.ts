import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/** Fields of /proc/<pid>/stat after the ")" that closes the command name, up to the state letter. */
const STAT_STATE_AFTER_NAME = 2;
/** starttime is field 22 of /proc/<pid>/stat; the fields after the name start at field 3. */
const STAT_STARTTIME_FIELD = 22;
const STAT_FIRST_FIELD_AFTER_NAME = 3;

function readStat(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
}

/**
 * Running, as opposed to gone or a zombie. A daemon that exited stays a zombie until its parent
 * reaps it (pid 1, once `famfs mount` is gone, which can take seconds; or a Node parent busy in
 * synchronous code), and kill(pid, 0) still succeeds on a zombie, so the state letter is read.
 */
export function processAlive(pid: number): boolean {
  const stat = readStat(pid);
  return stat !== undefined && stat.slice(stat.lastIndexOf(')') + STAT_STATE_AFTER_NAME)[0] !== 'Z';
}

/**
 * When the process started (clock ticks since boot, as text), or undefined if there is none. A pid
 * is reused once its process is gone; a pid with its start time names one process for good.
 */
export function processStartTime(pid: number): string | undefined {
  const stat = readStat(pid);
  if (stat === undefined) return undefined;
  return stat.slice(stat.lastIndexOf(')') + STAT_STATE_AFTER_NAME).split(' ')[STAT_STARTTIME_FIELD - STAT_FIRST_FIELD_AFTER_NAME];
}

/** The process `pid` that started at `startTime` is running: the same process, not a reuse of its pid. */
export function sameProcessAlive(pid: number, startTime: string): boolean {
  return processAlive(pid) && processStartTime(pid) === startTime;
}

/** Waits up to `ms` for the process to be gone (or a zombie, or its pid reused); true if it is. */
export async function waitProcessGone(pid: number, ms: number, pollMs: number, startTime?: string): Promise<boolean> {
  const alive = (): boolean => (startTime === undefined ? processAlive(pid) : sameProcessAlive(pid, startTime));
  for (const end = Date.now() + ms; Date.now() < end;) {
    if (!alive()) return true;
    await new Promise((r) => setTimeout(r, pollMs));
  }
  return !alive();
}

export interface PathHolder {
  readonly pid: number;
  /** The command name (/proc/<pid>/comm). */
  readonly command: string;
}

/**
 * Processes holding something at or under `dir`, as fuser -m would find them: a working or root
 * directory, an open file, or a mapped file there. Links are read, never followed, so a wedged
 * mount cannot hang the search. Processes that vanish meanwhile, or that this user may not
 * inspect, are skipped.
 */
export function processesUsing(dir: string): PathHolder[] {
  const inside = (p: string): boolean => p === dir || p.startsWith(dir.endsWith('/') ? dir : `${dir}/`);
  const link = (p: string): string => {
    try {
      return readlinkSync(p);
    } catch {
      return '';
    }
  };
  const out: PathHolder[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    if (pid === process.pid) continue;
    const base = `/proc/${name}`;
    let holds = inside(link(`${base}/cwd`)) || inside(link(`${base}/root`));
    if (!holds) {
      try {
        holds = readdirSync(`${base}/fd`).some((fd) => inside(link(`${base}/fd/${fd}`)));
      } catch {
        // Gone, or not ours to inspect.
      }
    }
    if (!holds) {
      try {
        holds = readFileSync(`${base}/maps`, 'utf8').split('\n').some((l) => {
          const at = l.indexOf('/');
          return at >= 0 && inside(l.slice(at));
        });
      } catch {
        // Gone, or not ours to inspect.
      }
    }
    if (!holds) continue;
    let command = '?';
    try {
      command = readFileSync(`${base}/comm`, 'utf8').trim();
    } catch {
      // Gone since: still worth naming by pid.
    }
    out.push({ pid, command });
  }
  return out;
}
