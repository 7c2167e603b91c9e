import { chmodSync, closeSync, mkdirSync, openSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { loadNative } from '../addon.js';
import { readMountinfo, type MountInfo } from '../mountinfo.js';
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
const FUSE_FSTYPE = 'fuse.famfs';

export interface MountRecord {
  mountpoint: string;
  device: string;
  systemUuid: string;
  fsUuid: string;
  role: 'master' | 'client';
  pid: number;
  /** The daemon's start time from /proc/<pid>/stat: with the pid it names the daemon, never a later process given the same pid. */
  pidStart: string;
  startedAt: string;
  /** The daemon publishes fmaps to pinned BPF maps (`-o bpf-fmap`): umount removes them if it died. */
  bpfFmap?: boolean;
  /** upstream's shadow directory of the mount (the `user.famfs.shadow` attribute). */
  shadowPath?: string;
  /** What the mount made there and removes when it ends (the temporary directory, or a -S root); umount removes it if the daemon died. */
  shadowMade?: string;
  /** The daemon's diagnostics socket (HTTP: /status, /metrics, upstream's /icache_stats, …). */
  diagSocket?: string;
}

/**
 * Records and daemon logs name devices, mount points and, in logs, files: root's only. The
 * directory is 0700 and each file in it 0600.
 */
const RUN_DIR_MODE = 0o700;
export const RUN_FILE_MODE = 0o600;

export function runDir(): string {
  return process.env[RUN_DIR_ENV] || DEFAULT_RUN_DIR;
}

/** The run directory, made if missing and closed to other users if an older version left it open. */
export function ensureRunDir(): string {
  const dir = runDir();
  mkdirSync(dir, { recursive: true, mode: RUN_DIR_MODE });
  chmodSync(dir, RUN_DIR_MODE);
  return dir;
}

/** Characters of a mount point kept in its files' names; the rest become '-'. */
const NAME_UNSAFE = /[^A-Za-z0-9._]+/g;
const NAME_MAX_CHARS = 80;
const NAME_HASH_HEX = 8;

/**
 * A mount's file in the run directory: its record (json), its daemon's log (log), the log of
 * the previous mount there (log.1) and its diagnostics socket when it has no shadow directory (sock). Named after the mount point, sanitized (`/mnt/famfs` is
 * `mnt-famfs-1a2b3c4d.log`), with a short hash of the exact path so that two mount points never
 * share a name (`/mnt/a-b` and `/mnt/a/b`).
 */
export function mountFile(mountpoint: string, ext: 'json' | 'log' | 'log.1' | 'sock'): string {
  const readable = mountpoint.replace(NAME_UNSAFE, '-').replace(/^-+|-+$/g, '').slice(0, NAME_MAX_CHARS) || 'root';
  const hash = nodeCrypto().createHash('sha1').update(mountpoint).digest('hex').slice(0, NAME_HASH_HEX);
  return join(runDir(), `${readable}-${hash}.${ext}`);
}

/**
 * One host mounts one file system once: the daemon holds an exclusive flock on
 * `<fs uuid>.<system uuid>.lock` in the run directory for as long as it lives (the kernel drops it
 * when the process ends, however it ends). Taking it is atomic where the record check is not: of
 * several `famfs mount`s started together, one daemon gets it. The lock files are never removed
 * (removing a lock file races with its next taker); there is one per file system and host, on a
 * tmpfs. Returns the descriptor holding the lock, or undefined if another process holds it.
 */
export function takeMountLock(fsUuid: string, systemUuid: string): number | undefined {
  const path = join(ensureRunDir(), `${fsUuid}.${systemUuid}.lock`);
  const native = loadNative();
  const fd = openSync(path, 'a', RUN_FILE_MODE);
  if (native.flock(fd, native.LOCK_EX | native.LOCK_NB)) return fd;
  closeSync(fd);
  return undefined;
}

function recordPath(mountpoint: string): string {
  return mountFile(mountpoint, 'json');
}

export function writeRecord(r: MountRecord): void {
  ensureRunDir();
  const path = recordPath(r.mountpoint);
  writeFileSync(`${path}.tmp`, JSON.stringify(r), { mode: RUN_FILE_MODE });
  renameSync(`${path}.tmp`, path);
}

/** Ends a mount's files: the record goes; the daemon's log is kept as log.1 (the one before is dropped). */
export function removeRecord(mountpoint: string): void {
  rmSync(recordPath(mountpoint), { force: true });
  try {
    renameSync(mountFile(mountpoint, 'log'), mountFile(mountpoint, 'log.1'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

/** The fstype of upstream's famfs kernel module mounts. */
const KERNEL_FSTYPE = 'famfs';

/** famfs mounts in the kernel's table: ours over FUSE, or upstream's famfs kernel module. */
function kernelFamfsMounts(): MountInfo[] {
  return readMountinfo().filter((m) => m.fstype === FUSE_FSTYPE || m.fstype === KERNEL_FSTYPE);
}

/** Mount points of live famfs FUSE mounts. */
function liveFamfsMounts(): Set<string> {
  return new Set(kernelFamfsMounts().filter((m) => m.fstype === FUSE_FSTYPE).map((m) => m.mountpoint));
}

/**
 * Mount points where `device` is mounted now, as any host (the kernel's table names the device,
 * whichever system UUID the daemon plays), through our FUSE daemon or upstream's kernel module.
 */
export function mountsOfDevice(device: string): string[] {
  const want = realOrSelf(device);
  return kernelFamfsMounts().filter((m) => realOrSelf(m.source) === want).map((m) => m.mountpoint);
}

function realOrSelf(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
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

/**
 * The live mount holding `path` (a host path) and the famfs-relative path inside it. A path that
 * does not exist (yet) is resolved through its nearest existing ancestor: found walking forward
 * from the root, so a path of thousands of missing components costs one failed lookup, not one
 * per component (nor a recursion per component).
 */
export function mountOf(path: string): { record: MountRecord; relpath: string } | undefined {
  let real: string | undefined;
  let leaves: string[] = [];
  try {
    real = realpathSync(path);
  } catch {
    const parts = path.split('/');
    let at = path.startsWith('/') ? '/' : '.';
    for (let i = 0; i < parts.length; i++) {
      if (parts[i] === '') continue;
      const next = join(at, parts[i]!);
      try {
        at = realpathSync(next);
      } catch {
        leaves = parts.slice(i).filter((c) => c !== '');
        break;
      }
    }
    try {
      real = realpathSync(at);
    } catch {
      return undefined; // not even the cwd resolves
    }
  }
  let best: MountRecord | undefined;
  for (const r of liveRecords()) {
    if (real === r.mountpoint || real.startsWith(r.mountpoint.endsWith(sep) ? r.mountpoint : r.mountpoint + sep)) {
      if (!best || r.mountpoint.length > best.mountpoint.length) best = r;
    }
  }
  if (!best) return undefined;
  const relpath = [relative(best.mountpoint, real), ...leaves].filter((c) => c !== '').join('/');
  return { record: best, relpath };
}
