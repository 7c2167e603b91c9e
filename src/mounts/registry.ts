import { mkdirSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { nodeCrypto } from '../lazy-crypto.js';

/**
 * Which famfs mounts this machine has, and as which host each was made. The kernel's mount
 * table names only the device (fsname); the host identity (system UUID) and the daemon's pid
 * live here, one small JSON file per mount, written by the daemon once it serves and removed
 * when it stops. A record whose mount point is no longer a famfs mount is stale and ignored.
 */
export const RUN_DIR_ENV = 'FAMFS_RUN_DIR';
const DEFAULT_RUN_DIR = '/run/famfs/mounts';
/** The fstype our mounts carry in /proc/self/mountinfo. */
export const FUSE_FSTYPE = 'fuse.famfs';

export interface MountRecord {
  mountpoint: string;
  device: string;
  systemUuid: string;
  fsUuid: string;
  role: 'master' | 'client';
  pid: number;
  startedAt: string;
  /** The daemon publishes fmaps to pinned BPF maps (`-o bpf-fmap`): umount removes them if it died. */
  bpfFmap?: boolean;
  /** upstream's shadow directory of the mount (the `user.famfs.shadow` attribute). */
  shadowPath?: string;
}

export function runDir(): string {
  return process.env[RUN_DIR_ENV] || DEFAULT_RUN_DIR;
}

/** A mount's file in the run directory: its record (json) or its daemon's log (log). */
export function mountFile(mountpoint: string, ext: 'json' | 'log'): string {
  return join(runDir(), `${nodeCrypto().createHash('sha1').update(mountpoint).digest('hex')}.${ext}`);
}

function recordPath(mountpoint: string): string {
  return mountFile(mountpoint, 'json');
}

export function writeRecord(r: MountRecord): void {
  mkdirSync(runDir(), { recursive: true, mode: 0o755 });
  const path = recordPath(r.mountpoint);
  writeFileSync(`${path}.tmp`, JSON.stringify(r));
  renameSync(`${path}.tmp`, path);
}

export function removeRecord(mountpoint: string): void {
  rmSync(recordPath(mountpoint), { force: true });
}

/** Mount points of live famfs FUSE mounts, from the kernel's table (octal escapes decoded). */
export function liveFamfsMounts(): Set<string> {
  const out = new Set<string>();
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const dash = line.indexOf(' - ');
    if (dash < 0) continue;
    const fstype = line.slice(dash + 3).split(' ')[0];
    if (fstype !== FUSE_FSTYPE) continue;
    const mnt = line.split(' ')[4];
    if (mnt) out.add(mnt.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8))));
  }
  return out;
}

export function readRecord(mountpoint: string): MountRecord | undefined {
  try {
    return JSON.parse(readFileSync(recordPath(mountpoint), 'utf8')) as MountRecord;
  } catch {
    return undefined;
  }
}

/** Records of mounts that are live now. */
export function liveRecords(): MountRecord[] {
  const live = liveFamfsMounts();
  let names: string[];
  try {
    names = readdirSync(runDir()).filter((n) => n.endsWith('.json'));
  } catch {
    return [];
  }
  const out: MountRecord[] = [];
  for (const n of names) {
    try {
      const r = JSON.parse(readFileSync(join(runDir(), n), 'utf8')) as MountRecord;
      if (live.has(r.mountpoint)) out.push(r);
    } catch {
      // A record being replaced or removed right now: not a mount to report.
    }
  }
  return out;
}

/** The live mount holding `path` (a host path) and the famfs-relative path inside it. */
export function mountOf(path: string): { record: MountRecord; relpath: string } | undefined {
  let real: string;
  try {
    real = realpathSync(path);
  } catch {
    // A file that does not exist yet: resolve its parent.
    const cut = path.replace(/\/+$/, '').lastIndexOf('/');
    if (cut < 0) return mountOf('.') && withLeaf(mountOf('.')!, path);
    const parent = mountOf(path.slice(0, cut) || '/');
    return parent && withLeaf(parent, path.slice(cut + 1));
  }
  let best: MountRecord | undefined;
  for (const r of liveRecords()) {
    if (real === r.mountpoint || real.startsWith(r.mountpoint.endsWith(sep) ? r.mountpoint : r.mountpoint + sep)) {
      if (!best || r.mountpoint.length > best.mountpoint.length) best = r;
    }
  }
  return best && { record: best, relpath: relative(best.mountpoint, real) };
}

function withLeaf(m: { record: MountRecord; relpath: string }, leaf: string): { record: MountRecord; relpath: string } {
  return { record: m.record, relpath: m.relpath ? `${m.relpath}/${leaf}` : leaf };
}
