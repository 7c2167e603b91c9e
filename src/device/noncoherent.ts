import { chmodSync, chownSync, closeSync, fchmodSync, fchownSync, fstatSync, ftruncateSync, mkdirSync, openSync, readSync, renameSync, rmSync, statfsSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { DeviceError } from '../errors.js';
import type { FamfsNative } from '../addon.js';

/**
 * The non-coherent emulation of an emulated device: CXL memory shared by hosts whose caches the
 * hardware does not keep coherent. Each host (told apart by its system UUID) sees the device
 * through its own cache — a file beside the device that every mapping of the device on that host
 * maps instead of the device — and the device itself changes only where a host writes its cache
 * back:
 *
 *   flush(range)       writes back the dirty lines of the range (cache → device);
 *   invalidate(range)  writes back the dirty lines of the range, then reloads it (device → cache),
 *                      as x86's clflush (the addon's invalidateCache) does both.
 *
 * A line is dirty when the cache differs from what the host last loaded from or wrote to the
 * device (a second file, the clean copy), so a flush never writes back bytes the host did not
 * change; whole 64-byte lines are written back, as hardware does. A host's cache starts as a copy
 * of the device when the host first opens it; the processes of one host share it, as the cores of
 * one machine share their coherent caches.
 *
 * The mode is recorded on the device by the directory that holds the caches (`<device>.noncoherent`),
 * so every host and process that opens the device uses it.
 */

/** Set to 1 when emulated devices are created, to make them non-coherent (createEmulatedDevice). */
export const NONCOHERENT_ENV = 'FAMFS_EMU_NONCOHERENT';

/**
 * Fault injection for tests of the flush/invalidate discipline: `flush:<start>-<end>` or
 * `invalidate:<start>-<end>` (device byte offsets, end excluded; decimal or 0x hex). In processes
 * that have it set, every flush (or invalidate) of a non-coherent device whose range meets
 * [start, end) does nothing, as if that call had been left out of the code.
 */
export const SKIP_ENV = 'FAMFS_EMU_SKIP';

/** The unit hardware writes back and reloads. */
export const CACHE_LINE_BYTES = 64;
/** Bytes compared per read of the cache, its clean copy and the device. */
const CHUNK_BYTES = 1024 * 1024;
const CACHE_SUFFIX = '.cache';
const CLEAN_SUFFIX = '.clean';
/** Permission bits the caches copy from their device: a cache holds the device's bytes, so whoever
 * may read the device may read (and, to open it as a host, make) its caches, and nobody else. */
const PERMISSION_BITS = 0o777;
/** The search bit of a directory for each read bit of its device. */
const READ_TO_SEARCH_SHIFT = 2;
const READ_BITS = 0o444;
/** statfs(2) f_type of hugetlbfs (linux/magic.h). */
const HUGETLBFS_MAGIC = 0x958458f6;

/** The directory beside an emulated device that marks it non-coherent and holds its hosts' caches. */
export function cacheDirOf(devicePath: string): string {
  return `${devicePath}.noncoherent`;
}

export function isNoncoherent(devicePath: string): boolean {
  try {
    return statSync(cacheDirOf(devicePath)).isDirectory();
  } catch {
    return false;
  }
}

/** Makes a (new) emulated device non-coherent; caches a previous device of that name left go. The
 * directory gets the device's permissions and group. */
export function markNoncoherent(devicePath: string): void {
  if (statfsSync(devicePath).type === HUGETLBFS_MAGIC) {
    throw new DeviceError('EINVAL', `${devicePath}: a non-coherent device must be on tmpfs: its hosts' caches are written with write(2), which hugetlbfs does not have`);
  }
  const dir = cacheDirOf(devicePath);
  rmSync(dir, { recursive: true, force: true });
  const st = statSync(devicePath);
  const mode = st.mode & PERMISSION_BITS;
  mkdirSync(dir);
  chownSync(dir, -1, st.gid);
  chmodSync(dir, mode | ((mode & READ_BITS) >> READ_TO_SEARCH_SHIFT));
}

/** A cache file made with its device's permissions and, where this user may give it, its group. */
function openNew(path: string, flags: string, device: number): number {
  const st = fstatSync(device);
  const fd = openSync(path, flags, st.mode & PERMISSION_BITS);
  try {
    fchmodSync(fd, st.mode & PERMISSION_BITS);
    fchownSync(fd, -1, st.gid);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') {
      closeSync(fd);
      throw err;
    }
  }
  return fd;
}

/** Removes the mark and every host's cache (with the device). */
export function removeCaches(devicePath: string): void {
  rmSync(cacheDirOf(devicePath), { recursive: true, force: true });
}

interface Skip {
  op: 'flush' | 'invalidate';
  start: number;
  end: number;
}

function parseSkip(text: string | undefined): Skip | null {
  if (text === undefined || text === '') return null;
  const m = /^(flush|invalidate):(0x[0-9a-f]+|\d+)-(0x[0-9a-f]+|\d+)$/i.exec(text.trim());
  if (!m) throw new DeviceError('EINVAL', `${SKIP_ENV}='${text}': expected flush:<start>-<end> or invalidate:<start>-<end>`);
  return { op: m[1]!.toLowerCase() as Skip['op'], start: Number(m[2]), end: Number(m[3]) };
}

/** Chunk buffers for the comparisons, made at the first use; every use is synchronous, so all
 * caches share them. */
let scratchBuffers: { a: Buffer; b: Buffer; c: Buffer } | undefined;
function scratch(): { a: Buffer; b: Buffer; c: Buffer } {
  return scratchBuffers ??= { a: Buffer.allocUnsafe(CHUNK_BYTES), b: Buffer.allocUnsafe(CHUNK_BYTES), c: Buffer.allocUnsafe(CHUNK_BYTES) };
}

/** One host's cache of one non-coherent emulated device. */
export class HostCache {
  readonly #path: string;
  readonly #size: number;
  /** The cache: what this host's mappings of the device show. */
  readonly fd: number;
  readonly #cleanFd: number;
  readonly #deviceFd: number;
  readonly #deviceWritable: boolean;
  readonly #skip: Skip | null;
  readonly #native: FamfsNative;
  /** The host's lock: one flush or invalidate at a time per host, as one line is written back or
   * loaded whole by hardware; the processes of a host would otherwise interleave their copies. */
  readonly #lockFd: number;
  #closed = false;

  private constructor(native: FamfsNative, path: string, size: number, fds: { cache: number; clean: number; device: number; lock: number },
    deviceWritable: boolean, skip: Skip | null) {
    this.#native = native;
    this.#lockFd = fds.lock;
    this.#path = path;
    this.#size = size;
    this.fd = fds.cache;
    this.#cleanFd = fds.clean;
    this.#deviceFd = fds.device;
    this.#deviceWritable = deviceWritable;
    this.#skip = skip;
  }

  /** The cache of host `host` (its system UUID as text) for the device at `path`, made on first use. */
  static open(native: FamfsNative, path: string, size: number, host: string): HostCache {
    const skip = parseSkip(process.env[SKIP_ENV]);
    const base = join(cacheDirOf(path), host);
    let deviceFd: number;
    let deviceWritable = true;
    // Write-back needs the device writable even when this host opened it read-only: the lines it
    // writes back are ones another process of this host dirtied.
    try {
      deviceFd = openSync(path, 'r+');
    } catch {
      deviceWritable = false;
      deviceFd = openSync(path, 'r');
    }
    let lock = -1;
    try {
      lock = openLock(`${base}.lock`, deviceFd);
      native.flock(lock, native.LOCK_EX);
      try {
        if (!exists(base + CACHE_SUFFIX)) {
          // The cache is copied from the clean copy, not from the device again: other hosts may
          // write the device meanwhile, and a line where the two differed would count as dirty.
          copySparse(native, deviceFd, size, base + CLEAN_SUFFIX);
          const clean = openSync(base + CLEAN_SUFFIX, 'r');
          try {
            copySparse(native, clean, size, base + CACHE_SUFFIX);
          } finally {
            closeSync(clean);
          }
        }
      } finally {
        native.flock(lock, native.LOCK_UN);
      }
      const cache = openSync(base + CACHE_SUFFIX, 'r+');
      const clean = openSync(base + CLEAN_SUFFIX, 'r+');
      if (fstatSync(cache).size !== size || fstatSync(clean).size !== size) {
        closeSync(cache);
        closeSync(clean);
        throw new DeviceError('EIO', `${path}: this host's non-coherent cache is not the device's size (was the device replaced without famfs emu create?)`);
      }
      return new HostCache(native, path, size, { cache, clean, device: deviceFd, lock }, deviceWritable, skip);
    } catch (err) {
      if (lock >= 0) closeSync(lock);
      closeSync(deviceFd);
      throw err;
    }
  }

  /** Writes the dirty lines of [offset, offset + length) back to the device. */
  flush(offset: number, length: number): void {
    if (this.#skipped('flush', offset, length)) return;
    this.#locked(() => this.#writeBack(offset, length));
  }

  /** Writes back the dirty lines of the range, then loads it again from the device. */
  invalidate(offset: number, length: number): void {
    if (this.#skipped('invalidate', offset, length)) return;
    this.#locked(() => {
      this.#writeBack(offset, length);
      this.#lines(offset, length, (at, n) => {
        const device = this.#read(this.#deviceFd, scratch().a, at, n);
        const cache = this.#read(this.fd, scratch().b, at, n);
        if (device.equals(cache)) return;
        // Only clean lines are loaded: a line another process of this host wrote since the
        // write-back above (or that a read-only device could not take) is this host's newer data.
        const clean = this.#read(this.#cleanFd, scratch().c, at, n);
        const load = (from: number, to: number): boolean =>
          device.compare(cache, from, to, from, to) !== 0 && cache.compare(clean, from, to, from, to) === 0;
        this.#runs(n, load, (from, to) => {
          this.#write(this.fd, device, from, to, at);
          this.#write(this.#cleanFd, device, from, to, at);
        });
      });
    });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    closeSync(this.fd);
    closeSync(this.#cleanFd);
    closeSync(this.#deviceFd);
    closeSync(this.#lockFd);
  }

  #locked(op: () => void): void {
    this.#native.flock(this.#lockFd, this.#native.LOCK_EX);
    try {
      op();
    } finally {
      this.#native.flock(this.#lockFd, this.#native.LOCK_UN);
    }
  }

  #skipped(op: Skip['op'], offset: number, length: number): boolean {
    const s = this.#skip;
    return s !== null && s.op === op && offset < s.end && offset + length > s.start;
  }

  #writeBack(offset: number, length: number): void {
    if (!this.#deviceWritable) return;
    this.#lines(offset, length, (at, n) => {
      const cache = this.#read(this.fd, scratch().a, at, n);
      const clean = this.#read(this.#cleanFd, scratch().b, at, n);
      if (cache.equals(clean)) return;
      this.#runs(n, (from, to) => cache.compare(clean, from, to, from, to) !== 0, (from, to) => {
        this.#write(this.#deviceFd, cache, from, to, at);
        this.#write(this.#cleanFd, cache, from, to, at);
      });
    });
  }

  /** Calls `each` with the line-aligned chunks covering [offset, offset + length). */
  #lines(offset: number, length: number, each: (at: number, n: number) => void): void {
    if (length <= 0) return;
    let at = Math.floor(offset / CACHE_LINE_BYTES) * CACHE_LINE_BYTES;
    const end = Math.min(this.#size, Math.ceil((offset + length) / CACHE_LINE_BYTES) * CACHE_LINE_BYTES);
    while (at < end) {
      const n = Math.min(CHUNK_BYTES, end - at);
      each(at, n);
      at += n;
    }
  }

  /** Calls `run(from, to)` for each run of whole lines of [0, n) that `pick` picks. */
  #runs(n: number, pick: (from: number, to: number) => boolean, run: (from: number, to: number) => void): void {
    let start = -1;
    for (let line = 0; line < n; line += CACHE_LINE_BYTES) {
      const picked = pick(line, Math.min(n, line + CACHE_LINE_BYTES));
      if (picked && start < 0) start = line;
      if (!picked && start >= 0) {
        run(start, line);
        start = -1;
      }
    }
    if (start >= 0) run(start, n);
  }

  #read(fd: number, into: Buffer, at: number, n: number): Buffer {
    const view = into.subarray(0, n);
    let done = 0;
    while (done < n) {
      const got = readSync(fd, view, done, n - done, at + done);
      if (got === 0) throw new DeviceError('EIO', `${this.#path}: non-coherent cache or device ended at ${at + done}`);
      done += got;
    }
    return view;
  }

  #write(fd: number, from: Buffer, start: number, end: number, at: number): void {
    let done = start;
    while (done < end) done += writeSync(fd, from, done, end - done, at + done);
  }
}

/** The host's lock file, made by whichever user comes first. */
function openLock(path: string, device: number): number {
  try {
    return openSync(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  return openNew(path, 'a', device);
}

function exists(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** A copy of the device's first `size` bytes that stays sparse where the device is (its holes are
 * not read), written under a temporary name and renamed into place whole. */
function copySparse(native: FamfsNative, from: number, size: number, to: string): void {
  const tmp = `${to}.${process.pid}.tmp`;
  const out = openNew(tmp, 'w', from);
  try {
    ftruncateSync(out, size);
    const buf = Buffer.allocUnsafe(CHUNK_BYTES);
    let pos = 0;
    while (pos < size) {
      const data = native.seekData(from, pos, false);
      if (data < 0 || data >= size) break;
      const hole = Math.min(size, native.seekData(from, data, true));
      for (let at = data; at < hole;) {
        const got = readSync(from, buf, 0, Math.min(CHUNK_BYTES, hole - at), at);
        if (got === 0) break;
        let put = 0;
        while (put < got) put += writeSync(out, buf, put, got - put, at + put);
        at += got;
      }
      pos = hole;
    }
  } catch (err) {
    closeSync(out);
    rmSync(tmp, { force: true });
    throw err;
  }
  closeSync(out);
  renameSync(tmp, to);
}
