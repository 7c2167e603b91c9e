/**
 * The daemon's log: one line per event on stderr (which `famfs mount` points at the mount's log
 * file), filtered by upstream's syslog-style levels. The level can be read and changed at run time
 * through the diagnostics socket's /log_level, as upstream's famfs_fused allows.
 */

/** Upstream's famfs_log levels (syslog's numbering). */
export const LogLevel = {
  EMERG: 0, ALERT: 1, CRIT: 2, ERR: 3, WARNING: 4, NOTICE: 5, INFO: 6, DEBUG: 7,
} as const;

const LEVEL_NAMES = Object.keys(LogLevel) as (keyof typeof LogLevel)[];

/** Upstream starts at NOTICE. */
let current: number = LogLevel.NOTICE;

export function logLevel(): number {
  return current;
}

/** Upstream's name for a level (FAMFS_LOG_NOTICE, …). */
export function logLevelName(level: number): string {
  return `FAMFS_LOG_${LEVEL_NAMES[level] ?? 'UNKNOWN'}`;
}

/** Sets the level; false (and no change) for a number outside EMERG..DEBUG, as upstream. */
export function setLogLevel(level: number): boolean {
  if (!Number.isInteger(level) || level < LogLevel.EMERG || level > LogLevel.DEBUG) return false;
  current = level;
  return true;
}

/** The mount point this daemon serves, named on every line (set once its configuration is read). */
let mountpoint = '';

export function setLogMountpoint(path: string): void {
  mountpoint = path;
}

/** Writes `msg` if `level` passes the current filter. */
export function daemonLog(level: number, msg: string): void {
  if (level > current) return;
  process.stderr.write(`${new Date().toISOString()} famfs daemon[${process.pid}] ${mountpoint}: ${msg}\n`);
}
