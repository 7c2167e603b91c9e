import { closeSync, ftruncateSync, lstatSync, openSync, rmSync, type Stats } from 'node:fs';
import { DeviceError } from '../errors.js';
import { ALLOC_UNIT } from '../format/layout.js';

/**
 * An emulated memory device: a sparse regular file (on /dev/shm, hugetlbfs or any file system)
 * that MemoryDevice.open() maps like a DAX device. Sparse, so an 8 GiB test device costs only
 * the pages actually written.
 */

/** An emulated device is sized in whole allocation units, as a real DAX device is. */
export const EMULATED_SIZE_UNIT = ALLOC_UNIT;

export interface CreateEmulatedOptions {
  /** Replace an existing regular file (its contents become zeros). Never replaces anything else. */
  force?: boolean;
}

export function createEmulatedDevice(path: string, size: number, opts: CreateEmulatedOptions = {}): void {
  if (!Number.isSafeInteger(size) || size <= 0 || size % EMULATED_SIZE_UNIT !== 0) {
    throw new DeviceError('EINVAL', `${path}: emulated device size ${size} must be a positive multiple of ${EMULATED_SIZE_UNIT} bytes (2 MiB)`);
  }
  const existing = lstatOrNull(path);
  if (existing !== null && !opts.force) {
    throw new DeviceError('EEXIST', `${path}: already exists (use force to replace an emulated device)`);
  }
  if (existing !== null && !existing.isFile()) {
    throw new DeviceError('EEXIST', `${path}: exists and is not a regular file; refusing to replace it`);
  }

  let fd: number;
  try {
    // 'wx' is O_CREAT|O_EXCL, so a file that appeared since the check is not clobbered;
    // with force an existing file is truncated to nothing first so no old bytes survive.
    fd = openSync(path, existing === null ? 'wx' : 'w');
  } catch (err) {
    throw new DeviceError(codeOf(err, 'EIO'), `${path}: cannot create emulated device: ${messageOf(err)}`);
  }
  try {
    ftruncateSync(fd, size);
  } catch (err) {
    closeSync(fd);
    rmSync(path, { force: true });
    throw new DeviceError(codeOf(err, 'ENOSPC'), `${path}: cannot size emulated device to ${size} bytes: ${messageOf(err)}`);
  }
  closeSync(fd);
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
