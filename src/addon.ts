import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DeviceError } from './errors.js';

/**
 * The famfs_native addon (native/): mmap, flock, ioctl, mount and CPU cache maintenance, which
 * Node cannot do by itself, and the hot loops (CRC-32, the log replay's scan). Every layer uses it
 * (format for CRCs, fs for replay, device, fuse, bpf), so it sits beside them, not in one.
 * Offsets and lengths are byte counts as JS numbers (exact up to 2^53) or BigInts. Every function
 * throws a NativeError on failure.
 */

/** Bytes the addon accepts: an ArrayBuffer it made, or any view over memory. */
type Bytes = ArrayBuffer | ArrayBufferView;

export interface FamfsNative {
  /** mmap(NULL, length, prot, flags, fd, offset), as an ArrayBuffer that unmaps itself when collected. */
  mmap(fd: number, offset: number | bigint, length: number, prot: number, flags: number): ArrayBuffer;
  /** Unmaps a region from mmap() or reserve() now and detaches its ArrayBuffer (every view drops to
   * length 0). Idempotent. */
  munmap(region: ArrayBuffer): void;
  /** PROT_NONE address space to be filled with mapFixed(); alignment defaults to the page size. */
  reserve(length: number, alignment?: number): ArrayBuffer;
  /** mmap(MAP_SHARED | MAP_FIXED | extraFlags) of fd at fileOffset into reservation + offset. */
  mapFixed(reservation: ArrayBuffer, offset: number, fd: number, fileOffset: number | bigint,
    length: number, prot: number, extraFlags?: number): void;
  /** msync over the pages holding [offset, offset + length). */
  msync(region: Bytes, offset: number, length: number, flags: number): void;
  /** madvise; offset must be page-aligned within the region's mapping. */
  madvise(region: Bytes, offset: number, length: number, advice: number): void;
  /** Writes back and invalidates the CPU cache lines of the range, then fences. */
  flushCache(region: Bytes, offset: number, length: number): void;
  /** Drops the CPU cache lines of the range so later reads come from memory. */
  invalidateCache(region: Bytes, offset: number, length: number): void;
  /** flock(2); false only when LOCK_NB was given and someone else holds a conflicting lock. */
  flock(fd: number, op: number): boolean;
  memcpy(dst: Bytes, dstOffset: number, src: Bytes, srcOffset: number, length: number): void;
  /** zlib's CRC-32 (seed 0) of bytes[offset, offset + length). */
  crc32(bytes: Bytes, offset: number, length: number): number;
  /** Writes sequence numbers firstSeq + i and their CRCs into `count` pcq buckets from `offset` (native/pcq.c). */
  pcqSeal(bytes: Bytes, offset: number, bucketSize: number, count: number, firstSeq: number): void;
  /** How many of `count` pcq buckets from `offset` hold a good CRC and sequence number firstSeq + i. */
  pcqCheck(bytes: Bytes, offset: number, bucketSize: number, count: number, firstSeq: number): number;
  /** mount(2); `data` is the file system's option string. */
  mount(source: string, target: string, fstype: string, flags: number, data: string): void;
  /** dup2(2): makes `to` another descriptor of `from`'s open file. */
  dup2(from: number, to: number): void;
  /** fallocate(2) PUNCH_HOLE | KEEP_SIZE: the range reads as zeros and holds no memory. */
  punchHole(fd: number, offset: number, length: number): void;
  /** fsetxattr(2) of a short text value. */
  fsetxattr(fd: number, name: string, value: string): void;
  /** fgetxattr(2): the text value, or null when the file has no such attribute (or no xattrs). */
  fgetxattr(fd: number, name: string): string | null;
  /** lseek(2) with SEEK_DATA, or SEEK_HOLE when `hole`: where the next data (or hole) starts at or after
   * `offset`; -1 when no data follows (ENXIO). */
  seekData(fd: number, offset: number, hole: boolean): number;
  /** A path index for a log of `slots` entries whose device 0 has `primarySize` bytes (native/replay.c). */
  replayIndex(slots: number, primarySize: number, metadataBytes: number): ReplayIndexHandle;
  replayIndexAddDevice(index: ReplayIndexHandle, size: number): void;
  /** Consumes the next slot without reading it (it holds no whole entry). */
  replayIndexSkip(index: ReplayIndexHandle, slot: number): void;
  /**
   * Applies slots `first`.. (entries from `base` in `log`) until one it does not apply; returns how
   * many it applied. That slot, first + the result, is consumed too: `out` says why it stopped.
   */
  replayScan(index: ReplayIndexHandle, log: Bytes, base: number, first: number, count: number,
    bitmaps: readonly Uint8Array[], out: Float64Array): number;
  /** The name of a placed node (-1: the root), its fields into `out` (replayNode). */
  replayIndexNode(index: ReplayIndexHandle, slot: number, out: Float64Array): string;
  /**
   * As replayIndexNode, the name's bytes copied to `names` at `at` instead of made a string;
   * returns their length (0 when the slot placed nothing). ERANGE when they would not fit.
   */
  replayIndexNodeInto(index: ReplayIndexHandle, slot: number, out: Float64Array, names: Uint8Array, at: number): number;
  replayIndexChildren(index: ReplayIndexHandle, slot: number): Int32Array;
  /** The slot placed at this relpath, or -1. */
  replayIndexFind(index: ReplayIndexHandle, path: string): number;
  readonly replayStatus: Readonly<Record<ReplayStatus, number>>;
  readonly replayOut: Readonly<Record<'STATUS' | 'DETAIL' | 'FILES' | 'DIRS' | 'FILE_BYTES' | 'OFF_PRIMARY' | 'DEVICES', number>>;
  readonly REPLAY_OUT_LENGTH: number;
  readonly replayNode: Readonly<Record<'KIND' | 'PARENT' | 'UID' | 'GID' | 'MODE' | 'FLAGS' | 'SIZE' | 'CRC' | 'LENGTH', number>>;
  readonly replayKind: Readonly<Record<'NONE' | 'FILE' | 'DIR', number>>;
  /** ioctl(2) with a pointer to the bytes, or an integer argument; returns its result. */
  ioctl(fd: number, request: number, arg?: Bytes | number | bigint): number;

  readonly PROT_NONE: number;
  readonly PROT_READ: number;
  readonly PROT_WRITE: number;
  readonly PROT_EXEC: number;
  readonly MAP_SHARED: number;
  readonly MAP_PRIVATE: number;
  readonly MAP_POPULATE: number;
  readonly MS_ASYNC: number;
  readonly MS_SYNC: number;
  readonly MS_INVALIDATE: number;
  readonly MADV_NORMAL: number;
  readonly MADV_RANDOM: number;
  readonly MADV_SEQUENTIAL: number;
  readonly MADV_WILLNEED: number;
  readonly MADV_DONTNEED: number;
  readonly MADV_HUGEPAGE: number;
  readonly MADV_NOHUGEPAGE: number;
  readonly MADV_POPULATE_READ: number;
  readonly MADV_POPULATE_WRITE: number;
  readonly LOCK_SH: number;
  readonly LOCK_EX: number;
  readonly LOCK_UN: number;
  readonly LOCK_NB: number;
  readonly MS_RDONLY: number;
  readonly MS_NOSUID: number;
  readonly MS_NODEV: number;
  readonly PAGE_SIZE: number;
  readonly CACHE_LINE_SIZE: number;
  /** 'fence' means this CPU has no user-space flush the addon knows: not enough for shared CXL memory. */
  readonly CACHE_FLUSH_METHOD: 'clflushopt' | 'clflush' | 'fence';
}

/** Why replayScan stopped at an entry. */
export type ReplayStatus = 'OK' | 'FRAME' | 'PAYLOAD' | 'OTHER_TYPE' | 'UNKNOWN_DEVICE' | 'UNALIGNED' | 'IN_METADATA'
  | 'PAST_END' | 'SIZE_ZERO' | 'SHORT' | 'PATH_EMPTY' | 'PATH_RESERVED' | 'PATH_ABSOLUTE' | 'PATH_COMPONENT'
  | 'PATH_ENCODING' | 'PARENT_MISSING' | 'PARENT_FILE' | 'EXISTS';

/** The addon's replay index: opaque, freed when collected. */
export type ReplayIndexHandle = { readonly __replayIndex: unique symbol };

/** What the addon throws: the errno name in `code`, its number in `errno`. */
export interface NativeError extends Error {
  code: string;
  errno: number;
  syscall: string;
}

export function isNativeError(err: unknown): err is NativeError {
  return err instanceof Error
    && typeof (err as Partial<NativeError>).code === 'string'
    && typeof (err as Partial<NativeError>).errno === 'number'
    && typeof (err as Partial<NativeError>).syscall === 'string';
}

type NodeGypBuild = { path(dir: string): string };

/**
 * The package root is the nearest directory above this module holding package.json; that works
 * from src (ts runners), from dist/src (compiled) and from dist/bin (bundled).
 */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new DeviceError('ENOENT', `cannot find the famfs package root above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
}

/**
 * Absolute path of the addon node-gyp-build picks: build/Release when compiled here (node-gyp, the
 * fallback, or a developer's build), else the package's prebuilt prebuilds/<platform>-<arch>/ one
 * (prebuildify, made at `npm pack`). Throws a DeviceError when there is neither.
 */
export function nativeAddonPath(): string {
  const root = packageRoot();
  try {
    return (createRequire(import.meta.url)('node-gyp-build') as NodeGypBuild).path(root);
  } catch (err) {
    const why = err instanceof Error ? err.message.split('\n')[0] : String(err);
    throw new DeviceError('ENOENT', `native addon not built in ${root} (run npm install there): ${why}`);
  }
}

/** Loads another build of the addon instead (the sanitizer build of `npm run test:asan`). */
const NATIVE_ADDON_ENV = 'FAMFS_NATIVE_ADDON';

let cached: FamfsNative | undefined;

/** The addon, loaded on first use so that modules importing this one load without it. */
export function loadNative(): FamfsNative {
  if (cached !== undefined) return cached;
  const path = process.env[NATIVE_ADDON_ENV] || nativeAddonPath();
  try {
    cached = createRequire(import.meta.url)(path) as FamfsNative;
  } catch (err) {
    const why = err instanceof Error ? err.message.split('\n')[0] : String(err);
    throw new DeviceError('EIO', `native addon ${path} failed to load (rebuild it with npm install): ${why}`);
  }
  return cached;
}
