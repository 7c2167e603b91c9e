/**
 * Mounting with mount(2), unmounting with umount(8), and recovery of connections whose daemon died.
 * Nothing here touches a mounted path with stat(): a wedged daemon would hang that call, so the
 * state of a mount point is always read from /proc/self/mountinfo instead.
 */
import { closeSync, openSync } from 'node:fs';
import { readdir, readFile, realpath, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { isNativeError, loadNative } from '../addon.js';
import { MOUNTINFO, parseMountinfo, type MountInfo } from '../mountinfo.js';
import { MountError } from './errors.js';

const FUSE_DEVICE = '/dev/fuse';
const FUSECTL_DIR = '/sys/fs/fuse/connections';
/** rootmode is the octal S_IFDIR of the root inode. */
const ROOT_MODE_OPTION = 'rootmode=40000';
/** umount(8) exits with 32 ("mount failure") when the target is busy. */
const UMOUNT_BUSY_HINT = /busy/i;
const DEFAULT_COMMAND_TIMEOUT_MS = 5000;

export interface MountOptions {
  /** The source column of /proc/mounts (SOURCE of mount(8)); defaults to the subtype. */
  readonly fsname?: string;
  /** The type is fuse.<subtype>; default 'fusets'. */
  readonly subtype?: string;
  /** Let users other than the mounting one in. */
  readonly allowOther?: boolean;
  /** Let the kernel check permissions from the mode bits (no ACCESS requests). */
  readonly defaultPermissions?: boolean;
  /** Cap on READ request size (the max_read mount option). */
  readonly maxRead?: number;
  /** Mount read-only. */
  readonly readOnly?: boolean;
  /**
   * Honour set-user-id and set-group-id bits (no MS_NOSUID). Off by default: a FUSE mount that
   * other users reach must not hand them another identity.
   */
  readonly suid?: boolean;
  /** Honour device special files (no MS_NODEV). Off by default, as for suid. */
  readonly dev?: boolean;
}

interface CommandResult {
  readonly code: number | null;
  readonly stderr: string;
  readonly timedOut: boolean;
}

/** Runs a helper with a deadline; never throws for a non-zero exit. */
async function runCommand(cmd: string, args: readonly string[], options: { timeoutMs?: number } = {}): Promise<CommandResult> {
  // Loaded here: a daemon needs it only to unmount, and loading it is part of every start
  // (bench/README.md, "Mount with a full log").
  const { spawn } = await import('node:child_process');
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    let timedOut = false;
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, options.timeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolvePromise({ code, stderr: stderr.trim(), timedOut });
    });
  });
}

/**
 * The absolute path the kernel will show for `path`, found without looking at `path` itself
 * (only its parent is resolved), so it is safe on a hung mount.
 */
async function canonicalMountpoint(path: string): Promise<string> {
  const abs = resolve(path);
  if (abs === '/') return abs;
  return join(await realpath(dirname(abs)), basename(abs));
}

async function readMounts(): Promise<MountInfo[]> {
  return parseMountinfo(await readFile(MOUNTINFO, 'utf8'));
}

/** Whether a mount table fstype is a FUSE mount: fuse, fuse.<subtype> or fuseblk. */
export function isFuseType(fstype: string): boolean {
  return fstype === 'fuse' || fstype.startsWith('fuse.') || fstype === 'fuseblk';
}

/** The topmost FUSE mount exactly at `path`, if any. */
export async function findFuseMount(path: string): Promise<MountInfo | undefined> {
  const mnt = await canonicalMountpoint(path);
  const hits = (await readMounts()).filter((m) => m.mountpoint === mnt && isFuseType(m.fstype));
  return hits[hits.length - 1];
}

/**
 * Checks that `path` can take a new mount: an existing, empty directory that is not already a
 * FUSE mount. Returns its canonical path.
 */
export async function checkMountpoint(path: string): Promise<string> {
  const mnt = await canonicalMountpoint(path);
  const existing = await findFuseMount(mnt);
  if (existing !== undefined) {
    throw new MountError('EBUSY', `${mnt} is already a FUSE mount (${existing.fstype}); unmount it first (recoverMount() if its daemon died)`);
  }
  let st;
  try {
    st = await stat(mnt);
  } catch (err) {
    throw new MountError('ENOENT', `mount point ${mnt} does not exist: ${(err as Error).message}`);
  }
  if (!st.isDirectory()) throw new MountError('ENOTDIR', `mount point ${mnt} is not a directory`);
  if ((await readdir(mnt)).length > 0) throw new MountError('ENOTEMPTY', `mount point ${mnt} is not empty`);
  return mnt;
}

export function openFuseDevice(): number {
  try {
    return openSync(FUSE_DEVICE, 'r+');
  } catch (err) {
    throw new MountError('ENODEV', `cannot open ${FUSE_DEVICE}: ${(err as Error).message}`);
  }
}

/** The FUSE options of mount(2)'s data for the connection on `fd` (read-only is a mount flag). */
function mountOptionString(opts: MountOptions, fd: number): string {
  const uid = process.getuid?.() ?? 0;
  const gid = process.getgid?.() ?? 0;
  const o = [`fd=${fd}`, ROOT_MODE_OPTION, `user_id=${uid}`, `group_id=${gid}`];
  if (opts.allowOther) o.push('allow_other');
  if (opts.defaultPermissions) o.push('default_permissions');
  if (opts.maxRead !== undefined) o.push(`max_read=${opts.maxRead}`);
  return o.join(',');
}

/**
 * Mounts the connection behind `fd` at `mountpoint` (already checked) with mount(2), as mount(8)
 * -i would, without starting it (a process start is most of a mount's cost). Returns once the
 * mount exists; INIT is answered by the session.
 */
export function mountDevice(fd: number, mountpoint: string, opts: MountOptions = {}): void {
  const subtype = opts.subtype ?? 'fusets';
  const native = loadNative();
  try {
    const flags = (opts.readOnly ? native.MS_RDONLY : 0) | (opts.suid ? 0 : native.MS_NOSUID) | (opts.dev ? 0 : native.MS_NODEV);
    native.mount(opts.fsname ?? subtype, mountpoint, `fuse.${subtype}`, flags, mountOptionString(opts, fd));
  } catch (err) {
    const code = isNativeError(err) ? err.code : 'EIO';
    throw new MountError(code === 'EPERM' || code === 'EACCES' ? 'EPERM' : 'EIO', `mount ${mountpoint} failed: ${(err as Error).message}`);
  }
}

/** Mounts fusectl if needed; returns its directory. */
async function ensureFusectl(): Promise<string> {
  if ((await readMounts()).some((m) => m.fstype === 'fusectl')) return FUSECTL_DIR;
  const r = await runCommand('mount', ['-t', 'fusectl', 'none', FUSECTL_DIR]);
  if (r.code !== 0 && !(await readMounts()).some((m) => m.fstype === 'fusectl')) {
    throw new MountError('ENODEV', `cannot mount fusectl on ${FUSECTL_DIR}: ${r.stderr}`);
  }
  return FUSECTL_DIR;
}

/**
 * Aborts the FUSE connection of a mount (fusectl `abort`): every pending and future request fails
 * with ENOTCONN and the daemon's reads end. Returns false if the connection is already gone.
 */
async function abortConnection(mount: MountInfo): Promise<boolean> {
  const dir = await ensureFusectl();
  // The connection is named after the minor of the mount's anonymous device.
  try {
    await writeFile(join(dir, String(mount.minor), 'abort'), '1');
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

export interface UnmountOptions {
  /** How long a plain umount may take before the connection is aborted; default 5 s. */
  readonly timeoutMs?: number;
  /**
   * What a mount still in use gets: 'detach' (the default) a lazy umount, and if even that fails
   * an aborted connection; 'lazy' a lazy umount only (the daemon serves its last users until they
   * let go); 'refuse' nothing: a MountError EBUSY, and the mount stays as it is.
   */
  readonly whenBusy?: 'detach' | 'lazy' | 'refuse';
}

/**
 * Unmounts a FUSE mount and never leaves it hung: umount; if busy, as `whenBusy` says; if umount
 * itself hangs or fails otherwise, abort the connection and detach lazily. A path that is not a
 * FUSE mount is left alone.
 */
export async function unmount(path: string, options: UnmountOptions = {}): Promise<void> {
  const info = await findFuseMount(path);
  if (info === undefined) return;
  const mnt = info.mountpoint;
  const timeoutMs = options.timeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
  // -c: don't canonicalize (no stat of the mount point); -i: no umount.fuse helper.
  const first = await runCommand('umount', ['-i', '-c', mnt], { timeoutMs });
  if (first.code === 0 && !first.timedOut) return;
  if (!first.timedOut && UMOUNT_BUSY_HINT.test(first.stderr)) {
    const whenBusy = options.whenBusy ?? 'detach';
    if (whenBusy === 'refuse') throw new MountError('EBUSY', `${mnt} is busy`);
    const lazy = await runCommand('umount', ['-i', '-c', '-l', mnt], { timeoutMs });
    if (lazy.code === 0 && !lazy.timedOut) return;
    if (whenBusy === 'lazy') throw new MountError('EBUSY', `cannot detach ${mnt}: ${lazy.stderr || first.stderr}`);
  }
  await abortConnection(info);
  const last = await runCommand('umount', ['-i', '-c', '-l', mnt], { timeoutMs });
  if (last.code !== 0 && (await findFuseMount(mnt)) !== undefined) {
    throw new MountError('EBUSY', `cannot unmount ${mnt}: ${last.stderr || first.stderr}`);
  }
}

/**
 * Recovers a FUSE mount whose daemon is dead or wedged (accesses fail with ENOTCONN or hang):
 * abort its connection, then detach it. True if there was a mount to recover.
 */
export async function recoverMount(path: string, options: UnmountOptions = {}): Promise<boolean> {
  const info = await findFuseMount(path);
  if (info === undefined) return false;
  await abortConnection(info);
  const r = await runCommand('umount', ['-i', '-c', '-l', info.mountpoint], { timeoutMs: options.timeoutMs });
  if (r.code !== 0 && (await findFuseMount(info.mountpoint)) !== undefined) {
    throw new MountError('EBUSY', `cannot detach ${info.mountpoint}: ${r.stderr}`);
  }
  return true;
}

/** Closes a device fd that never got mounted. */
export function closeDevice(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // Nothing left to release.
  }
}
