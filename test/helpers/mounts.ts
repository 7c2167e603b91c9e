import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmdirSync } from 'node:fs';
import { famfs } from './run.js';

/**
 * Mounts made by a test file; cleanupMounts() (in `after`) unmounts them even when a test failed.
 * The value is the pid serving the mount when the test started it itself (a non-famfs FUSE server),
 * so cleanup can also make sure that process is gone.
 */
const made = new Map<string, number | undefined>();

/** Mount `dev` as host `host` on a fresh directory; throws with the daemon's message on failure. */
export function mountFamfs(dev: string, host: string, args: string[] = []): string {
  const mnt = mkdtempSync('/tmp/famfs-test-mnt-');
  made.set(mnt, undefined);
  const r = famfs(['mount', ...args, dev, mnt], host);
  if (r.status !== 0) throw new Error(`famfs mount failed (${r.status}): ${r.stderr}`);
  return mnt;
}

/** A fresh directory for a mount the test makes itself; cleanupMounts() unmounts and removes it. */
export function trackedMountpoint(): string {
  const mnt = mkdtempSync('/tmp/famfs-test-mnt-');
  made.set(mnt, undefined);
  return mnt;
}

/** Record the process serving `mnt`, so cleanup kills it if unmounting did not end it. */
export function trackServer(mnt: string, pid: number): void {
  made.set(mnt, pid);
}

export function umountFamfs(mnt: string): void {
  const r = famfs(['umount', mnt]);
  if (r.status !== 0 && isMounted(mnt)) throw new Error(`famfs umount ${mnt} failed: ${r.stderr}`);
}

export function isMounted(mnt: string): boolean {
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((l) => l.split(' ')[4] === mnt);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export function cleanupMounts(): void {
  for (const [mnt, pid] of made) {
    if (isMounted(mnt)) {
      // famfs umount also recovers a famfs mount whose daemon died; any other FUSE mount is detached.
      famfs(['umount', mnt]);
      if (isMounted(mnt)) spawnSync('umount', ['-l', mnt]);
    }
    if (pid !== undefined && alive(pid)) process.kill(pid, 'SIGKILL');
    try {
      rmdirSync(mnt);
    } catch {
      // Still busy or already gone; the next run's directories have new names.
    }
  }
  made.clear();
}

// First among the exit hooks: unmount before emu.ts removes the run directory the daemons log to.
process.prependListener('exit', cleanupMounts);
