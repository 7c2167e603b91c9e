import { closeSync, fchmodSync, fchownSync, fstatSync, ftruncateSync, lstatSync, openSync, readSync, rmSync, type Stats, statfsSync, constants as fsConstants } from 'node:fs';
import { isNativeError, loadNative } from '../addon.js';
import { DeviceError } from '../errors.js';
import { ALLOC_UNIT } from '../format/layout.js';
import { hasSuperMagic, SUPER_MAGIC_OFFSET } from '../format/superblock.js';
import { NONCOHERENT_ENV, markNoncoherent, removeCaches } from './noncoherent.js';

/**
 * An emulated memory device: a sparse regular file (on /dev/shm, hugetlbfs or any file system)
 * that MemoryDevice.open() maps like a DAX device. Sparse, so an 8 GiB test device costs only
 * the pages actually written.
 *
 * Who may read it: a device holds every file's bytes and the log holds every name, so a device is
 * created 0600 (its creator only) unless the caller opens it deliberately (`mode`, `gid`).
 *
 * What may be replaced or removed: only a file this tool made. It must be a regular file on tmpfs
 * or hugetlbfs (memory, as the device it stands in for) and carry our marker (an extended
 * attribute set at creation) or a famfs superblock (hugetlbfs keeps no extended attributes).
 */

/** An emulated device is sized in whole allocation units, as a real DAX device is. */
const EMULATED_SIZE_UNIT = ALLOC_UNIT;
/** Mode of a new device unless the caller asks for another: readable by its creator only. */
export const EMULATED_DEFAULT_MODE = 0o600;
/** The marker attribute a new device carries, and its value. */
const EMULATED_MARKER_XATTR = 'user.famfs.emulated';
const EMULATED_MARKER_VALUE = 'famfs-ts';
/** statfs(2) f_type of the memory file systems an emulated device may live on. */
const TMPFS_MAGIC = 0x01021994;
const HUGETLBFS_MAGIC = 0x958458f6;
const MEMORY_FS: ReadonlyMap<number, string> = new Map([[TMPFS_MAGIC, 'tmpfs'], [HUGETLBFS_MAGIC, 'hugetlbfs']]);
const MODE_BITS = 0o7777;
const SET_ID_BITS = 0o6000;
const SUPER_MAGIC_BYTES = 8;

export interface CreateEmulatedOptions {
  /** Replace an existing emulated device this tool made (its contents become zeros). Never replaces anything else. */
  force?: boolean;
  /** Permission bits of the new device (default 0600); set exactly, whatever the umask. */
  mode?: number;
  /** Group owning the new device (with `mode` 0640/0660, the group that may use it). */
  gid?: number;
  /**
   * Each host sees the device through its own cache, kept coherent only by flush and invalidate
   * (src/device/noncoherent.ts). Default: true when $FAMFS_EMU_NONCOHERENT is 1.
   */
  noncoherent?: boolean;
}

/** Whether devices are made non-coherent when the creator does not say. */
function noncoherentByDefault(env: NodeJS.ProcessEnv = process.env): boolean {
  return env[NONCOHERENT_ENV] === '1';
}

export function createEmulatedDevice(path: string, size: number, opts: CreateEmulatedOptions = {}): void {
  if (!Number.isSafeInteger(size) || size <= 0 || size % EMULATED_SIZE_UNIT !== 0) {
    throw new DeviceError('EINVAL', `${path}: emulated device size ${size} must be a positive multiple of ${EMULATED_SIZE_UNIT} bytes (2 MiB)`);
  }
  const mode = opts.mode ?? EMULATED_DEFAULT_MODE;
  if (!Number.isInteger(mode) || mode < 0 || (mode & ~MODE_BITS) !== 0 || (mode & SET_ID_BITS) !== 0) {
    throw new DeviceError('EINVAL', `${path}: emulated device mode ${mode.toString(8)} must be permission bits (no set-id)`);
  }
  const existing = lstatOrNull(path);
  if (existing !== null && !opts.force) {
    throw new DeviceError('EEXIST', `${path}: already exists (use force to replace an emulated device)`);
  }
  if (existing !== null && !existing.isFile()) {
    throw new DeviceError('EEXIST', `${path}: exists and is not a regular file; refusing to replace it`);
  }
  if (existing !== null) checkEmulatedDevice(path);

  let fd: number;
  try {
    // 'wx' is O_CREAT|O_EXCL, so a file that appeared since the check is not clobbered;
    // with force an existing file is truncated to nothing first so no old bytes survive.
    fd = openSync(path, existing === null ? 'wx' : fsConstants.O_WRONLY | fsConstants.O_TRUNC | fsConstants.O_NOFOLLOW, EMULATED_DEFAULT_MODE);
  } catch (err) {
    throw new DeviceError(codeOf(err, 'EIO'), `${path}: cannot create emulated device: ${messageOf(err)}`);
  }
  try {
    if (opts.gid !== undefined) fchownSync(fd, -1, opts.gid);
    fchmodSync(fd, mode);
    ftruncateSync(fd, size);
    markEmulated(fd);
  } catch (err) {
    closeSync(fd);
    rmSync(path, { force: true });
    const code = err instanceof DeviceError ? err.code : codeOf(err, 'ENOSPC');
    throw new DeviceError(code, `${path}: cannot set up emulated device (${size} bytes, mode ${mode.toString(8)}): ${messageOf(err)}`);
  }
  closeSync(fd);
  // A replaced device's host caches describe memory that no longer exists: they go either way.
  try {
    if (opts.noncoherent ?? noncoherentByDefault()) markNoncoherent(path);
    else removeCaches(path);
  } catch (err) {
    rmSync(path, { force: true });
    throw new DeviceError(codeOf(err, 'EIO'), `${path}: cannot set up the non-coherent host caches: ${messageOf(err)}`);
  }
}

/**
 * Makes [offset, offset + length) of an emulated device (its open `fd`) read as zeros without
 * writing them: the range becomes a hole, its pages given back to the file system. mkfs clears
 * a log this way: zeros written through a mapping cost a page fault per 4 KiB (256 MiB: 1.2 s
 * on this machine), a hole nothing, and the log takes memory only as entries fill it (each
 * append gives its page memory first: log-writer.ts). False when the file system cannot punch
 * holes; the caller then writes the zeros.
 */
export function clearEmulatedRange(fd: number, offset: number, length: number): boolean {
  try {
    loadNative().punchHole(fd, offset, length);
    return true;
  } catch (err) {
    if (isNativeError(err) && (err.code === 'EOPNOTSUPP' || err.code === 'ENOTSUP' || err.code === 'ENOSYS')) return false;
    throw new DeviceError(codeOf(err, 'EIO'), `cannot clear ${length} bytes at offset ${offset} of an emulated device: ${messageOf(err)}`);
  }
}

/** Removes an emulated device this tool made, with its hosts' caches when it is non-coherent;
 * anything else is refused with the reason. */
export function removeEmulatedDevice(path: string): void {
  checkEmulatedDevice(path);
  rmSync(path);
  removeCaches(path);
}

/**
 * Throws unless `path` is an emulated device this tool made: a regular file (not a link) on tmpfs
 * or hugetlbfs with our marker or a famfs superblock.
 */
function checkEmulatedDevice(path: string): void {
  const st = lstatOrNull(path);
  if (st === null) throw new DeviceError('ENOENT', `${path} does not exist`);
  if (!st.isFile()) throw new DeviceError('EINVAL', `${path} is not an emulated device (not a regular file)`);
  const fsType = MEMORY_FS.get(statfsSync(path).type);
  if (fsType === undefined) throw new DeviceError('EINVAL', `${path} is not an emulated device (not on tmpfs or hugetlbfs)`);
  let fd: number;
  try {
    fd = openSync(path, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW);
  } catch (err) {
    throw new DeviceError(codeOf(err, 'EIO'), `${path}: cannot open: ${messageOf(err)}`);
  }
  try {
    if (fstatSync(fd).ino !== st.ino) throw new DeviceError('EBUSY', `${path} changed while being checked`);
    if (isMarked(fd) || hasSuperblock(fd)) return;
  } finally {
    closeSync(fd);
  }
  throw new DeviceError('EINVAL', `${path} is not an emulated device (on ${fsType}, but neither made by famfs emu create nor holding a famfs superblock)`);
}

/** Tags a new device; a file system without user xattrs (hugetlbfs) leaves the superblock as its proof. */
function markEmulated(fd: number): void {
  try {
    loadNative().fsetxattr(fd, EMULATED_MARKER_XATTR, EMULATED_MARKER_VALUE);
  } catch (err) {
    if (isNativeError(err) && (err.code === 'ENOTSUP' || err.code === 'EOPNOTSUPP')) return;
    throw err;
  }
}

function isMarked(fd: number): boolean {
  return loadNative().fgetxattr(fd, EMULATED_MARKER_XATTR) === EMULATED_MARKER_VALUE;
}

function hasSuperblock(fd: number): boolean {
  const head = Buffer.alloc(SUPER_MAGIC_OFFSET + SUPER_MAGIC_BYTES);
  const n = readSync(fd, head, 0, head.length, 0);
  return n === head.length && hasSuperMagic(head);
}

function lstatOrNull(path: string): Stats | null {
  try {
    return lstatSync(path);
  } catch (err) {
    if ((err as { code?: unknown }).code === 'ENOENT') return null;
    throw new DeviceError(codeOf(err, 'EIO'), `${path}: cannot check for an existing file: ${messageOf(err)}`);
  }
}

type CreateErrno = 'EACCES' | 'EEXIST' | 'ENOENT' | 'ENOSPC' | 'EFBIG' | 'EINVAL' | 'EISDIR' | 'EROFS' | 'EIO' | 'ENOTDIR' | 'EPERM';
const CREATE_ERRNOS: ReadonlySet<string> = new Set<CreateErrno>([
  'EACCES', 'EEXIST', 'ENOENT', 'ENOSPC', 'EFBIG', 'EINVAL', 'EISDIR', 'EROFS', 'EIO', 'ENOTDIR', 'EPERM',
]);

function codeOf(err: unknown, fallback: CreateErrno): CreateErrno {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && CREATE_ERRNOS.has(code) ? (code as CreateErrno) : fallback;
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
