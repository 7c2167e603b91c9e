import { constants as bufferConstants } from 'node:buffer';
import { closeSync, fstatSync, openSync, readFileSync, readSync, statSync, statfsSync, type BigIntStats } from 'node:fs';
import { DeviceError, type ErrnoName } from '../errors.js';
import { isNativeError, loadNative, type FamfsNative } from '../addon.js';
import type { DeviceRange } from '../format/device-range.js';
import { getSystemUuid } from '../format/system-uuid.js';
import { formatUuid } from '../format/uuid.js';
import { HostCache, isNoncoherent } from './noncoherent.js';

/**
 * A famfs memory device: a DAX character device, a pmem block device, or a regular file standing
 * in for one. Its bytes are only ever reached through shared mappings (a devdax device cannot be
 * read(2)), handed out as windows because one Node ArrayBuffer holds at most 4 GiB.
 */

export type DeviceKind = 'devdax' | 'pmem' | 'emulated';

export interface DeviceOpenOptions {
  writable: boolean;
  /**
   * The host (its system UUID) whose view of a non-coherent emulated device to open
   * (src/device/noncoherent.ts); defaults to this host's. Ignored by every other device.
   */
  host?: Uint8Array;
}

export interface MapOptions {
  /** Defaults to the device's own writability; a writable map of a read-only device is refused. */
  writable?: boolean;
}

/** A byte range of the device: the file system's DeviceRange without the index a device does not need. */
export type DeviceExtent = Omit<DeviceRange, 'devIndex'>;

/** A byte range of a given device, for mappings that span several (MemoryDevice.mapAcross). */
export interface DevicePart extends DeviceExtent {
  device: MemoryDevice;
}

const GIB = 1024 ** 3;
/** Largest window: Node 20 refuses bigger ArrayBuffers, and newer Nodes keep the same limit here
 * so behaviour (and the vm.max_map_count budget) does not depend on the Node version. */
export const MAX_MAPPING_BYTES = Math.min(4 * GIB, bufferConstants.MAX_LENGTH);
/** /sys/dev/block/<maj>:<min>/size counts 512-byte sectors whatever the device's block size. */
const SYSFS_SECTOR_BYTES = 512;
/** Kernels without the per-device `align` attribute only create devdax devices with 2 MiB alignment. */
const DEVDAX_DEFAULT_ALIGN = 0x200000;

/** Linux dev_t encoding (glibc gnu_dev_major/minor). */
const DEV_MAJOR_LOW_MASK = 0xfffn;
const DEV_MAJOR_HIGH_MASK = 0xfffff000n;
const DEV_MINOR_LOW_MASK = 0xffn;
const DEV_MINOR_HIGH_MASK = 0xffffff00n;

/** Errno names a native or fs failure keeps when it becomes a DeviceError; others report EIO. */
const PASSED_THROUGH: ReadonlySet<string> = new Set<ErrnoName>([
  'EPERM', 'ENOENT', 'EIO', 'EBADF', 'EEXIST', 'ENOTDIR', 'EISDIR', 'EINVAL', 'ENOSPC', 'EROFS',
  'ENAMETOOLONG', 'ENOSYS', 'EBUSY', 'EFBIG', 'ERANGE', 'EOVERFLOW', 'ENODEV', 'EACCES',
  'EOPNOTSUPP', 'ENOMEM',
]);

/** One line naming the path, the errno kept when the project knows it. */
function deviceErrorFrom(err: unknown, context: string): DeviceError {
  if (err instanceof DeviceError) return err;
  const code = typeof (err as { code?: unknown })?.code === 'string' ? (err as { code: string }).code : 'EIO';
  const detail = isNativeError(err) ? err.message : describeFsError(err, code);
  const kept: ErrnoName = PASSED_THROUGH.has(code) ? (code as ErrnoName) : 'EIO';
  return new DeviceError(kept, `${context}: ${detail}`);
}

/** "ENOENT: no such file or directory, stat '/x'" → "no such file or directory (ENOENT)": the
 * caller's context already names the path. */
function describeFsError(err: unknown, code: string): string {
  const message = err instanceof Error ? err.message : String(err);
  const description = /^[A-Z0-9]+: ([^,]+)/.exec(message)?.[1] ?? message;
  return `${description} (${code})`;
}

function devNumbers(rdev: bigint): string {
  const major = ((rdev >> 8n) & DEV_MAJOR_LOW_MASK) | ((rdev >> 32n) & DEV_MAJOR_HIGH_MASK);
  const minor = (rdev & DEV_MINOR_LOW_MASK) | ((rdev >> 12n) & DEV_MINOR_HIGH_MASK);
  return `${major}:${minor}`;
}

/** A decimal sysfs attribute, or undefined when the attribute does not exist. */
function readSysfsNumber(file: string, path: string): number | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8').trim();
  } catch {
    return undefined;
  }
  const value = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(value)) {
    throw new DeviceError('EIO', `${path}: unexpected contents in ${file}: ${JSON.stringify(text)}`);
  }
  return value;
}

/** statfs f_type of file systems whose files are memory only (linux/magic.h). */
const MEMORY_FS_TYPES: ReadonlySet<number> = new Set([0x01021994 /* TMPFS_MAGIC */, 0x958458f6 /* HUGETLBFS_MAGIC */]);

/**
 * Whether a flush must also msync: a mapping of a file or block device goes through the page
 * cache, and only msync makes it durable. A file on tmpfs or hugetlbfs has nothing behind its
 * pages, and the msync of every log entry would be a system call that does nothing.
 */
function needsSync(kind: DeviceKind, path: string): boolean {
  if (kind === 'devdax') return false;
  if (kind !== 'emulated') return true;
  try {
    return !MEMORY_FS_TYPES.has(statfsSync(path).type);
  } catch {
    return true;
  }
}

function kindOf(st: BigIntStats, path: string): DeviceKind {
  if (st.isCharacterDevice()) return 'devdax';
  if (st.isBlockDevice()) return 'pmem';
  if (st.isFile()) return 'emulated';
  if (st.isDirectory()) throw new DeviceError('EISDIR', `${path}: is a directory, not a memory device`);
  throw new DeviceError('ENODEV', `${path}: not a DAX device, pmem device or regular file`);
}

interface Geometry {
  size: number;
  alignment: number;
}

function geometryOf(kind: DeviceKind, st: BigIntStats, path: string, pageSize: number): Geometry {
  switch (kind) {
    case 'devdax': {
      const sys = `/sys/dev/char/${devNumbers(st.rdev)}`;
      const size = readSysfsNumber(`${sys}/size`, path);
      if (size === undefined) {
        throw new DeviceError('ENODEV', `${path}: character device ${devNumbers(st.rdev)} is not a DAX device (no ${sys}/size)`);
      }
      return { size, alignment: readSysfsNumber(`${sys}/align`, path) ?? DEVDAX_DEFAULT_ALIGN };
    }
    case 'pmem': {
      const sys = `/sys/dev/block/${devNumbers(st.rdev)}`;
      const sectors = readSysfsNumber(`${sys}/size`, path);
      if (sectors === undefined) throw new DeviceError('ENODEV', `${path}: cannot size block device (no ${sys}/size)`);
      return { size: sectors * SYSFS_SECTOR_BYTES, alignment: pageSize };
    }
    case 'emulated':
      return { size: Number(st.size), alignment: pageSize };
  }
}

function checkWhole(value: number, what: string, context: string): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new DeviceError('EINVAL', `${context}: ${what} must be a non-negative integer (got ${value})`);
  }
}

/** @internal A device range of a mapping and the non-coherent host cache it is seen through, if any. */
interface CachedPiece extends DeviceExtent {
  cache: HostCache | null;
}

/** Calls `each(cache, deviceOffset, length)` for the parts of buffer range [off, off + len) that
 * lie in non-coherent pieces. */
function eachCachedPiece(pieces: readonly CachedPiece[], off: number, len: number,
  each: (cache: HostCache, deviceOffset: number, length: number) => void): void {
  let at = 0;
  const end = off + len;
  for (const p of pieces) {
    const from = Math.max(off, at);
    const to = Math.min(end, at + p.len);
    if (p.cache !== null && from < to) each(p.cache, p.offset + (from - at), to - from);
    at += p.len;
    if (at >= end) break;
  }
}

/** @internal What MemoryDevice hands a DeviceMapping. */
export interface MappingParts {
  native: FamfsNative;
  /** The ArrayBuffer returned by mmap or reserve; it may start before buffer[0]. */
  region: ArrayBuffer;
  /** Where buffer[0] sits inside region. */
  regionOffset: number;
  offset: number;
  length: number;
  extents: readonly DeviceExtent[];
  writable: boolean;
  /** msync after a cache flush: the mapping goes through the page cache (file, block device). */
  syncOnFlush: boolean;
  /** The memory is a sparse file's, given a page at first touch (emulated devices): see populate(). */
  backedOnTouch: boolean;
  /** The device ranges in buffer order with the host cache each is seen through: null for a
   * coherent device; else flush and invalidate also write back to and reload from the device. */
  pieces: readonly CachedPiece[];
  /** The file whose pages a one-range mapping of an emulated device maps, from its first byte
   * (the device, or this host's cache of it): read(2) of it sees those very pages. */
  file: number | null;
  path: string;
  onUnmap: (mapping: DeviceMapping) => void;
}

/** A live window onto device memory. Unmap it when done; MemoryDevice.close() unmaps leftovers. */
export class DeviceMapping {
  /** Device offset of buffer[0] (of the first extent for a multi-extent mapping). */
  readonly offset: number;
  readonly length: number;
  /** The device ranges shown back to back in buffer, in order. */
  readonly extents: readonly DeviceExtent[];
  readonly writable: boolean;
  #parts: MappingParts | null;
  #buffer: Buffer;

  /** @internal Built by MemoryDevice. */
  constructor(parts: MappingParts) {
    this.#parts = parts;
    this.offset = parts.offset;
    this.length = parts.length;
    this.extents = parts.extents;
    this.writable = parts.writable;
    this.#buffer = Buffer.from(parts.region, parts.regionOffset, parts.length);
  }

  /** The device memory itself, zero copy. Empty after unmap(). */
  get buffer(): Buffer {
    return this.#buffer;
  }

  get mapped(): boolean {
    return this.#parts !== null;
  }

  /** Makes writes in [off, off + len) visible to other hosts and, for file and pmem backing, durable. */
  flush(off = 0, len = this.length - off): void {
    const parts = this.#live('flush');
    this.#checkRange(off, len, 'flush');
    const at = parts.regionOffset + off;
    try {
      parts.native.flushCache(parts.region, at, len);
      eachCachedPiece(parts.pieces, off, len, (cache, devOff, n) => cache.flush(devOff, n));
      if (parts.syncOnFlush && len > 0) parts.native.msync(parts.region, at, len, parts.native.MS_SYNC);
    } catch (err) {
      throw deviceErrorFrom(err, `${parts.path}: flush of ${len} bytes at device offset ${this.offset + off}`);
    }
  }

  /** Drops cached copies of [off, off + len) so the next reads see what other hosts wrote. */
  invalidate(off = 0, len = this.length - off): void {
    const parts = this.#live('invalidate');
    this.#checkRange(off, len, 'invalidate');
    try {
      eachCachedPiece(parts.pieces, off, len, (cache, devOff, n) => cache.invalidate(devOff, n));
    } catch (err) {
      throw deviceErrorFrom(err, `${parts.path}: invalidate of ${len} bytes at device offset ${this.offset + off}`);
    }
    parts.native.invalidateCache(parts.region, parts.regionOffset + off, len);
  }

  /** Whether read() can copy bytes out without touching the mapping (a mapping of an emulated device's file). */
  get readsFile(): boolean {
    return this.#parts?.file != null;
  }

  /**
   * Copies [off, off + into.length) into `into`, as reading the buffer after invalidate() would
   * see it, with read(2) of the file the mapping maps instead of the mapping: the mapping's pages
   * are the file's page cache, the very memory read(2) copies from, so no cache line holds
   * anything else. What it saves is the first touch of each page of a fresh mapping, a page fault
   * (and on a guest with shadow page tables a VM exit), which over a large log costs several
   * times the copy (bench/README.md, "Million-file logs": where the replay's time went). Only
   * where readsFile is true.
   */
  read(off: number, into: Buffer): void {
    const parts = this.#live('read');
    this.#checkRange(off, into.length, 'read');
    if (parts.file === null) throw new DeviceError('EINVAL', `${parts.path}: read of a mapping that maps no file (use invalidate and the buffer)`);
    const at = this.offset + off;
    try {
      eachCachedPiece(parts.pieces, off, into.length, (cache, devOff, n) => cache.invalidate(devOff, n));
      for (let done = 0; done < into.length;) {
        const n = readSync(parts.file, into, done, into.length - done, at + done);
        if (n === 0) throw new DeviceError('EIO', 'the file ends before the mapping does');
        done += n;
      }
    } catch (err) {
      throw deviceErrorFrom(err, `${parts.path}: read of ${into.length} bytes at device offset ${at}`);
    }
  }

  /**
   * Gives every page of [off, off + len) its memory now. An emulated device is a sparse file whose
   * pages get memory at their first touch, and a touch its file system cannot back (a full tmpfs)
   * kills the process with SIGBUS, with nothing printed and work half done; here it is an ENOSPC
   * DeviceError instead, before anything was written. A command calls this for the ranges it is
   * about to read or write. A DAX or pmem device is memory throughout: nothing to do.
   */
  populate(off = 0, len = this.length - off): void {
    const parts = this.#live('populate');
    this.#checkRange(off, len, 'populate');
    if (!parts.backedOnTouch || len === 0) return;
    const native = parts.native;
    const page = native.PAGE_SIZE;
    const start = Math.floor((parts.regionOffset + off) / page) * page;
    const end = parts.regionOffset + off + len;
    try {
      native.madvise(parts.region, start, end - start, this.writable ? native.MADV_POPULATE_WRITE : native.MADV_POPULATE_READ);
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      // Kernels before 5.14 do not know the advice: the pages are then touched unchecked, as before.
      if (code === 'EINVAL') return;
      if (code === 'EFAULT' || code === 'ENOMEM') {
        throw new DeviceError('ENOSPC', `${parts.path}: the file system holding this emulated device cannot back ${len} bytes at device offset ${this.offset + off} (it is full)`);
      }
      throw deviceErrorFrom(err, `${parts.path}: populate of ${len} bytes at device offset ${this.offset + off}`);
    }
  }

  /**
   * Lets this process's page tables go of [off, off + len) of an emulated device (MADV_DONTNEED on a
   * shared mapping: the device keeps its bytes and the next touch maps them again), so memory that
   * was read once stops counting in the process's resident set. Whole pages inside the range only;
   * a kernel that refuses the advice for this mapping leaves it as it was.
   */
  dropPages(off = 0, len = this.length - off): void {
    const parts = this.#live('dropPages');
    this.#checkRange(off, len, 'dropPages');
    if (!parts.backedOnTouch) return;
    const page = parts.native.PAGE_SIZE;
    const start = Math.ceil((parts.regionOffset + off) / page) * page;
    const end = Math.floor((parts.regionOffset + off + len) / page) * page;
    if (end <= start) return;
    try {
      parts.native.madvise(parts.region, start, end - start, parts.native.MADV_DONTNEED);
    } catch {
      // Only an optimisation: the pages stay mapped.
    }
  }

  /** Releases the mapping now. Idempotent; buffer becomes empty, and views taken from it earlier
   * drop to length 0 (the addon detaches the memory) instead of pointing at unmapped pages. */
  unmap(): void {
    const parts = this.#parts;
    if (parts === null) return;
    this.#parts = null;
    this.#buffer = Buffer.alloc(0);
    parts.native.munmap(parts.region);
    parts.onUnmap(this);
  }

  /**
   * Lets go of the mapping without unmapping it: views taken from buffer earlier stay valid, and
   * the memory is unmapped when the last of them is collected. For read-only state that outlives
   * its owner (replayed files decode their maps from the log they were replayed from).
   */
  release(): void {
    const parts = this.#parts;
    if (parts === null) return;
    this.#parts = null;
    this.#buffer = Buffer.alloc(0);
    parts.onUnmap(this);
  }

  #live(op: string): MappingParts {
    if (this.#parts === null) throw new DeviceError('EBADF', `${op}: mapping of device offset ${this.offset} was unmapped`);
    return this.#parts;
  }

  #checkRange(off: number, len: number, op: string): void {
    const context = `${op} of mapping at device offset ${this.offset}`;
    checkWhole(off, 'offset', context);
    checkWhole(len, 'length', context);
    if (off + len > this.length) {
      throw new DeviceError('ERANGE', `${context}: range ${off}+${len} is outside the ${this.length}-byte mapping`);
    }
  }
}

/** An open memory device. */
export class MemoryDevice {
  readonly path: string;
  readonly size: number;
  readonly kind: DeviceKind;
  /** The device file itself (what flock and ioctl address). */
  readonly fd: number;
  /**
   * False for a non-coherent emulated device: this host sees it through its own cache, and
   * another host's writes show only after that host flushes and this one invalidates.
   */
  readonly coherent: boolean;
  readonly writable: boolean;
  /** Map offsets are rounded down to this (devdax: the device alignment; otherwise the page size). */
  readonly alignment: number;
  readonly #native: FamfsNative;
  readonly #ino: bigint;
  readonly #mappings = new Set<DeviceMapping>();
  #closed = false;
  #lockRelease: (() => void) | null = null;
  #lockFd: number | null = null;
  readonly #syncOnFlush: boolean;
  /** This host's cache of a non-coherent emulated device, which every mapping maps instead. */
  readonly #cache: HostCache | null;
  /** What mappings map: the device, or the host's cache of it. */
  readonly #mapFd: number;

  private constructor(path: string, fd: number, kind: DeviceKind, geometry: Geometry, writable: boolean,
    native: FamfsNative, ino: bigint, syncOnFlush: boolean, cache: HostCache | null) {
    this.path = path;
    this.fd = fd;
    this.#cache = cache;
    this.#mapFd = cache?.fd ?? fd;
    this.coherent = cache === null;
    this.kind = kind;
    this.size = geometry.size;
    this.alignment = geometry.alignment;
    this.writable = writable;
    this.#native = native;
    this.#ino = ino;
    this.#syncOnFlush = syncOnFlush;
  }

  static open(path: string, opts: DeviceOpenOptions): MemoryDevice {
    const native = loadNative();
    // stat before open: opening a FIFO or similar would block.
    let st: BigIntStats;
    try {
      st = statSync(path, { bigint: true });
    } catch (err) {
      throw deviceErrorFrom(err, `${path}: cannot open memory device`);
    }
    kindOf(st, path);
    let fd: number;
    try {
      fd = openSync(path, opts.writable ? 'r+' : 'r');
    } catch (err) {
      throw deviceErrorFrom(err, `${path}: cannot open memory device`);
    }
    try {
      const fst = fstatSync(fd, { bigint: true });
      if (fst.ino !== st.ino || fst.dev !== st.dev) throw new DeviceError('EBUSY', `${path}: replaced while being opened`);
      const kind = kindOf(fst, path);
      const geometry = geometryOf(kind, fst, path, native.PAGE_SIZE);
      if (geometry.size === 0) throw new DeviceError('EINVAL', `${path}: memory device has size 0`);
      const cache = kind === 'emulated' && isNoncoherent(path)
        ? HostCache.open(native, path, geometry.size, formatUuid(opts.host ?? getSystemUuid()))
        : null;
      return new MemoryDevice(path, fd, kind, geometry, opts.writable, native, fst.ino, needsSync(kind, path), cache);
    } catch (err) {
      closeSync(fd);
      throw deviceErrorFrom(err, `${path}: cannot open memory device`);
    }
  }

  /** A window [offset, offset + length) of the device; see MAX_MAPPING_BYTES. */
  map(offset: number, length: number, opts: MapOptions = {}): DeviceMapping {
    const context = `${this.path}: map of ${length} bytes at offset ${offset}`;
    this.#checkOpen(context);
    const writable = this.#checkWritable(opts, context);
    this.#checkExtent({ offset, len: length }, context);
    const start = Math.floor(offset / this.alignment) * this.alignment;
    const end = Math.ceil((offset + length) / this.alignment) * this.alignment;
    this.#checkWindow(end - start, context);
    let region: ArrayBuffer;
    try {
      region = this.#native.mmap(this.#mapFd, start, end - start, this.#prot(writable), this.#native.MAP_SHARED);
    } catch (err) {
      throw deviceErrorFrom(err, context);
    }
    return this.#track(region, offset - start, offset, length, [{ offset, len: length }], writable);
  }

  /**
   * Several device ranges shown back to back as one Buffer (a multi-extent or interleaved file).
   * Every offset and length must be a multiple of `alignment`; each range is its own kernel
   * mapping (VMA), which counts against vm.max_map_count.
   */
  mapExtents(extents: readonly DeviceExtent[], opts: MapOptions = {}): DeviceMapping {
    const context = `${this.path}: map of ${extents.length} extents`;
    this.#checkOpen(context);
    const writable = this.#checkWritable(opts, context);
    if (extents.length === 0) throw new DeviceError('EINVAL', `${context}: no extents given`);
    let total = 0;
    for (const e of extents) {
      this.#checkExtent(e, context);
      if (e.offset % this.alignment !== 0 || e.len % this.alignment !== 0) {
        throw new DeviceError('EINVAL', `${context}: extent ${e.offset}+${e.len} is not aligned to ${this.alignment} bytes`);
      }
      total += e.len;
    }
    this.#checkWindow(total, context);
    const copy = extents.map((e) => ({ offset: e.offset, len: e.len }));
    let region: ArrayBuffer;
    try {
      region = this.#native.reserve(total, this.alignment);
    } catch (err) {
      throw deviceErrorFrom(err, context);
    }
    try {
      let at = 0;
      for (const e of copy) {
        this.#native.mapFixed(region, at, this.#mapFd, e.offset, e.len, this.#prot(writable));
        at += e.len;
      }
    } catch (err) {
      this.#native.munmap(region);
      throw deviceErrorFrom(err, context);
    }
    return this.#track(region, 0, copy[0]!.offset, total, copy, writable);
  }

  /**
   * Ranges of several devices shown back to back as one Buffer: a file interleaved across the
   * devices of a file system. Each range follows mapExtents' rules for its own device, and must
   * also start at a place in the Buffer aligned for its device. The mapping is tracked by every
   * device it touches, so closing any of them unmaps it.
   */
  static mapAcross(parts: readonly DevicePart[], opts: { writable: boolean }): DeviceMapping {
    if (parts.length === 0) throw new DeviceError('EINVAL', 'map across devices: no extents given');
    const devices = [...new Set(parts.map((p) => p.device))];
    if (devices.length === 1) return devices[0]!.mapExtents(parts.map((p) => ({ offset: p.offset, len: p.len })), opts);
    const context = `map of ${parts.length} extents across ${devices.map((d) => d.path).join(', ')}`;
    for (const d of devices) {
      d.#checkOpen(context);
      d.#checkWritable(opts, context);
    }
    let total = 0;
    for (const p of parts) {
      p.device.#checkExtent(p, context);
      const a = p.device.alignment;
      if (p.offset % a !== 0 || p.len % a !== 0 || total % a !== 0) {
        throw new DeviceError('EINVAL', `${context}: extent ${p.offset}+${p.len} of ${p.device.path} at ${total} is not aligned to ${a} bytes`);
      }
      total += p.len;
    }
    const first = devices[0]!;
    first.#checkWindow(total, context);
    const native = first.#native;
    const alignment = Math.max(...devices.map((d) => d.alignment));
    let region: ArrayBuffer;
    try {
      region = native.reserve(total, alignment);
    } catch (err) {
      throw deviceErrorFrom(err, context);
    }
    try {
      let at = 0;
      for (const p of parts) {
        native.mapFixed(region, at, p.device.#mapFd, p.offset, p.len, p.device.#prot(opts.writable));
        at += p.len;
      }
    } catch (err) {
      native.munmap(region);
      throw deviceErrorFrom(err, context);
    }
    const mapping = new DeviceMapping({
      native, region, regionOffset: 0, offset: parts[0]!.offset, length: total,
      extents: parts.map((p) => ({ offset: p.offset, len: p.len })), writable: opts.writable,
      syncOnFlush: devices.some((d) => d.#syncOnFlush),
      backedOnTouch: devices.some((d) => d.kind === 'emulated'),
      pieces: parts.map((p) => ({ cache: p.device.#cache, offset: p.offset, len: p.len })),
      file: null,
      path: devices.map((d) => d.path).join('+'),
      onUnmap: (m) => {
        for (const d of devices) d.#mappings.delete(m);
      },
    });
    for (const d of devices) d.#mappings.add(mapping);
    return mapping;
  }

  /**
   * Takes the exclusive inter-process lock that serialises metadata appends, waiting for it
   * (this blocks the thread). Not reentrant: a second lock() through this device throws rather
   * than deadlocking. Returns the (idempotent) unlock function.
   */
  lock(): () => void {
    const release = this.#acquire(false);
    if (release === null) throw new DeviceError('EIO', `${this.path}: blocking lock returned without the lock`);
    return release;
  }

  /** lock() without waiting: the unlock function, or null when another holder has it. */
  tryLock(): (() => void) | null {
    if (this.#lockRelease !== null) return null;
    return this.#acquire(true);
  }

  /** Unmaps every mapping still live, drops the lock if held and closes the device. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      for (const m of [...this.#mappings]) m.unmap();
      this.#lockRelease?.();
    } finally {
      if (this.#lockFd !== null) closeSync(this.#lockFd);
      this.#cache?.close();
      closeSync(this.fd);
    }
  }

  /**
   * A dedicated open file description, opened at the first lock and kept until close: flock
   * belongs to it, so the lock is independent of the mapping fd and of any other MemoryDevice on
   * the same path, even in this process; kept, so a lock costs one system call, not four.
   */
  #openLockFd(context: string): number {
    let fd: number;
    try {
      fd = openSync(this.path, 'r');
    } catch (err) {
      throw deviceErrorFrom(err, context);
    }
    try {
      if (fstatSync(fd, { bigint: true }).ino !== this.#ino) {
        throw new DeviceError('EBUSY', `${context}: the path no longer names the open device`);
      }
    } catch (err) {
      closeSync(fd);
      throw deviceErrorFrom(err, context);
    }
    return fd;
  }

  #acquire(nonBlocking: boolean): (() => void) | null {
    const context = `${this.path}: lock`;
    this.#checkOpen(context);
    if (this.#lockRelease !== null) {
      throw new DeviceError('EBUSY', `${context}: already held through this device (the lock is not reentrant)`);
    }
    const fd = this.#lockFd ??= this.#openLockFd(context);
    try {
      const op = this.#native.LOCK_EX | (nonBlocking ? this.#native.LOCK_NB : 0);
      if (!this.#native.flock(fd, op)) return null;
    } catch (err) {
      throw deviceErrorFrom(err, context);
    }
    let held = true;
    const release = (): void => {
      if (!held) return;
      held = false;
      this.#lockRelease = null;
      this.#native.flock(fd, this.#native.LOCK_UN);
    };
    this.#lockRelease = release;
    return release;
  }

  #track(region: ArrayBuffer, regionOffset: number, offset: number, length: number,
    extents: readonly DeviceExtent[], writable: boolean): DeviceMapping {
    const mapping = new DeviceMapping({
      native: this.#native,
      region,
      regionOffset,
      offset,
      length,
      extents,
      writable,
      syncOnFlush: this.#syncOnFlush,
      backedOnTouch: this.kind === 'emulated',
      pieces: extents.map((e) => ({ cache: this.#cache, offset: e.offset, len: e.len })),
      file: this.kind === 'emulated' && extents.length === 1 ? this.#mapFd : null,
      path: this.path,
      onUnmap: (m) => this.#mappings.delete(m),
    });
    this.#mappings.add(mapping);
    return mapping;
  }

  #prot(writable: boolean): number {
    return this.#native.PROT_READ | (writable ? this.#native.PROT_WRITE : 0);
  }

  #checkOpen(context: string): void {
    if (this.#closed) throw new DeviceError('EBADF', `${context}: device is closed`);
  }

  #checkWritable(opts: MapOptions, context: string): boolean {
    const writable = opts.writable ?? this.writable;
    if (writable && !this.writable) throw new DeviceError('EROFS', `${context}: device was opened read-only`);
    return writable;
  }

  #checkExtent(e: DeviceExtent, context: string): void {
    checkWhole(e.offset, 'offset', context);
    checkWhole(e.len, 'length', context);
    if (e.len === 0) throw new DeviceError('EINVAL', `${context}: length must be positive`);
    if (e.offset + e.len > this.size) {
      throw new DeviceError('ERANGE', `${context}: range ends at ${e.offset + e.len}, past the end of the ${this.size}-byte device`);
    }
  }

  #checkWindow(bytes: number, context: string): void {
    if (bytes > MAX_MAPPING_BYTES) {
      throw new DeviceError('EFBIG', `${context}: needs a ${bytes}-byte window, over the ${MAX_MAPPING_BYTES}-byte limit of one Node ArrayBuffer; map it in smaller windows`);
    }
  }
}
