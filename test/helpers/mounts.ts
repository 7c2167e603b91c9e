import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmdirSync } from 'node:fs';
import { famfs } from './emu.js';

/** Mounts made by a test file; cleanupMounts() (in `after`) unmounts them even when a test failed. */
const made = new Set<string>();

/** Mount `dev` as host `host` on a fresh directory; throws with the daemon's message on failure. */
export function mountFamfs(dev: string, host: string, args: string[] = []): string {
  const mnt = mkdtempSync('/tmp/famfs-test-mnt-');
  made.add(mnt);
  const r = famfs(['mount', ...args, dev, mnt], host);
  if (r.status !== 0) throw new Error(`famfs mount failed (${r.status}): ${r.stderr}`);
  return mnt;
}

export function umountFamfs(mnt: string): void {
  const r = famfs(['umount', mnt]);
  if (r.status !== 0 && isMounted(mnt)) throw new Error(`famfs umount ${mnt} failed: ${r.stderr}`);
}

export function isMounted(mnt: string): boolean {
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((l) => l.split(' ')[4] === mnt);
}

export function cleanupMounts(): void {
  for (const mnt of made) {
    if (isMounted(mnt)) {
      famfs(['umount', mnt]);
      if (isMounted(mnt)) spawnSync('umount', ['-l', mnt]);
    }
    try {
      rmdirSync(mnt);
    } catch {
      // Still busy or already gone; the next run's directories have new names.
    }
  }
  made.clear();
}

process.on('exit', cleanupMounts);
