import { statSync } from 'node:fs';
import { resolve, sep } from 'node:path';
import { FsError } from '../errors.js';
import { isFuseType } from '../fuse/index.js';
import { readMountinfo } from '../mountinfo.js';

/**
 * Refuses, with the next step in one line, a path in a FUSE mount whose daemon is gone (killed or
 * crashed: the kernel answers ENOTCONN for everything in it), instead of letting the command
 * report that path as missing or unreachable.
 */
export function refuseDeadMounts(paths: readonly string[]): void {
  const fuse = readMountinfo().filter((m) => isFuseType(m.fstype));
  if (fuse.length === 0) return;
  for (const p of paths) {
    const abs = resolve(p);
    const holding = fuse
      .filter((m) => abs === m.mountpoint || abs.startsWith(m.mountpoint.endsWith(sep) ? m.mountpoint : m.mountpoint + sep))
      .sort((a, b) => b.mountpoint.length - a.mountpoint.length)[0];
    if (!holding) continue;
    try {
      statSync(holding.mountpoint);
    } catch (err) {
      // ECANCELED: on the io_uring transport, a request that reached the dead daemon's ring before
      // the kernel tore it down is cancelled; later ones get ENOTCONN.
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOTCONN' && code !== 'ECANCELED') throw err;
      throw new FsError('ENOTCONN', `${holding.mountpoint}: the daemon serving this mount is gone; run \`famfs umount ${holding.mountpoint}\``);
    }
  }
}
