import { FsError } from '../errors.js';
import { EXTENT_TYPE, type Fmap } from '../format/fmap.js';
import type { DeviceRange } from '../format/device-range.js';
import { UAPI_SIMPLE_EXTENT } from '../format/uapi-extent.js';
import { bytes, defineStruct, pad } from '../struct/struct.js';

/**
 * The famfs FUSE messages (GET_FMAP, GET_DAXDEV) and the INIT bit that enables them. None of
 * this is upstream yet and the proposals disagree on the numbers, so every number lives in
 * one profile, chosen by configuration and checked against what the kernel offers at INIT.
 */
export interface FamfsAbiProfile {
  name: string;
  getFmapOpcode: number;
  getDaxdevOpcode: number;
  /** Bit of the 64-bit INIT flags (bits 32..63 travel in flags2) that enables famfs mode. */
  daxFmapFlagBit: number;
  maxExtents: number;
  maxStrips: number;
  maxDaxdevs: number;
  /** The kernel's reply buffer for GET_FMAP: a larger message is refused. */
  fmapBufferBytes: number;
  /** Interleave sent as interleaved extents, or unrolled into one simple extent per chunk. */
  interleave: 'native' | 'unrolled';
  /** Where GET_DAXDEV carries the device index. */
  daxdevIndexIn: 'nodeid' | 'body';
  /**
   * How the kernel learns each device: it asks (GET_DAXDEV), or the daemon pushes every device a
   * file references, at that file's LOOKUP, with the FUSE_DEV_IOC_DAXDEV_OPEN ioctl on /dev/fuse.
   */
  daxdevs: 'get' | 'push';
}

export const FAMFS_ABI_PROFILES: Readonly<Record<string, FamfsAbiProfile>> = {
  /** The V3..V10 kernel series (Jan-Mar 2026). */
  v10: {
    name: 'v10', getFmapOpcode: 54, getDaxdevOpcode: 55, daxFmapFlagBit: 43,
    maxExtents: 32, maxStrips: 32, maxDaxdevs: 24, fmapBufferBytes: 4096, interleave: 'native', daxdevIndexIn: 'nodeid',
    daxdevs: 'get',
  },
  /** The 2025 RFCs and the libfuse `famfs` branch snapshot. */
  rfc2025: {
    name: 'rfc2025', getFmapOpcode: 53, getDaxdevOpcode: 54, daxFmapFlagBit: 42,
    maxExtents: 2, maxStrips: 16, maxDaxdevs: 1, fmapBufferBytes: 4096, interleave: 'native', daxdevIndexIn: 'nodeid',
    daxdevs: 'get',
  },
  /** Post-V10 trees: simple extents only (interleave unrolled here), index in the request body. */
  simple: {
    name: 'simple', getFmapOpcode: 54, getDaxdevOpcode: 55, daxFmapFlagBit: 43,
    maxExtents: Number.MAX_SAFE_INTEGER, maxStrips: 0, maxDaxdevs: 64, fmapBufferBytes: 4096, interleave: 'unrolled', daxdevIndexIn: 'body',
    daxdevs: 'get',
  },
  /**
   * Upstream's daemon from mid-2026 (famfs_fused.c, b2988b5 and after): devices pushed with
   * FUSE_DEV_IOC_DAXDEV_OPEN at LOOKUP, densely by index; simple extents only (an interleaved
   * file unrolled into one uniform chunk-sized extent per chunk); the GET_FMAP reply as large as
   * the buffer the kernel names in its request (4 KiB when it names none).
   */
  push2026: {
    name: 'push2026', getFmapOpcode: 54, getDaxdevOpcode: 55, daxFmapFlagBit: 43,
    maxExtents: Number.MAX_SAFE_INTEGER, maxStrips: 0, maxDaxdevs: 64, fmapBufferBytes: 4096, interleave: 'unrolled', daxdevIndexIn: 'nodeid',
    daxdevs: 'push',
  },
};

/**
 * The profile name that lets the kernel decide: v10 messages, upgraded to push2026 when the kernel
 * negotiates famfs mode and knows FUSE_DEV_IOC_DAXDEV_OPEN (daemon/famfs-fs.ts, at attach).
 */
export const AUTO_FAMFS_ABI = 'auto';

/** The profile a mount starts with for `name` (auto starts as v10); undefined for an unknown name. */
export function startingProfile(name: string): FamfsAbiProfile | undefined {
  return name === AUTO_FAMFS_ABI ? FAMFS_ABI_PROFILES.v10 : FAMFS_ABI_PROFILES[name];
}

/** linux/ioctl.h's _IOW(type, nr, size) on x86-64, arm64 and the other asm-generic layouts. */
export function iow(type: number, nr: number, size: number): number {
  const IOC_WRITE = 1;
  return ((IOC_WRITE << 30) | (size << 16) | (type << 8) | nr) >>> 0;
}

/** FUSE_DEV_IOC_MAGIC, as FUSE_DEV_IOC_CLONE (0), BACKING_OPEN (1), BACKING_CLOSE (2) and SYNC_INIT (3) use it. */
const FUSE_DEV_IOC_MAGIC = 229;
/**
 * The daxdev push argument: `struct fuse_backing_map`'s shape (s32 fd, u32 flags, u64 padding),
 * the device index in the padding word, as the post-V10 kernel trees define it.
 */
const DAXDEV_OPEN_ARG = defineStruct('fuse_backing_map (daxdev open)', 16, {
  fd: 'i32',
  flags: 'u32',
  index: 'u64',
});
/**
 * FUSE_DEV_IOC_DAXDEV_OPEN: `_IOW(229, 4, 16 bytes)`. The kernel trees that add it number it after
 * SYNC_INIT; the number itself is in none of the sources this project was written from, so it
 * lives here, one constant, to be corrected in one place.
 */
export const FUSE_DEV_IOC_DAXDEV_OPEN = iow(FUSE_DEV_IOC_MAGIC, 4, DAXDEV_OPEN_ARG.SIZE);

/** The ioctl's argument for pushing device `index`, open as `fd`. */
export function encodeDaxdevOpenArg(fd: number, index: number): Buffer {
  return DAXDEV_OPEN_ARG.alloc({ fd, flags: 0, index });
}

/** struct fuse_famfs_fmap_header: what a GET_FMAP reply starts with; extents follow. */
const FMAP_HEADER = defineStruct('fuse_famfs_fmap_header', 32, {
  fileType: 'u8',
  _reserved: pad(1),
  version: 'u16',
  extType: 'u32',
  nextents: 'u32',
  _reserved1: pad(4),
  fileSize: 'u64',
  _reserved2: pad(8),
});
/** struct fuse_famfs_iext: an interleaved extent; its strips (simple extents) follow. */
const FMAP_IEXT = defineStruct('fuse_famfs_iext', 24, {
  nstrips: 'u32',
  chunkSize: 'u32',
  nbytes: 'u64',
  _reserved: pad(8),
});
const FAMFS_FMAP_VERSION = 1;
export const FMAP_FILE_TYPE = { REG: 0, SUPERBLOCK: 1, LOG: 2 } as const;
const DAXDEV_NAME_MAX = 256;
/** struct fuse_daxdev_out: the GET_DAXDEV reply, the device path NUL-terminated. */
const DAXDEV_OUT = defineStruct('fuse_daxdev_out', 280, {
  index: 'u16',
  _reserved: pad(2),
  _reserved2: pad(4),
  _reserved3: pad(8),
  _reserved4: pad(8),
  name: bytes(DAXDEV_NAME_MAX),
}, { align: 8 });
export const DAXDEV_OUT_SIZE = DAXDEV_OUT.SIZE;
/** `ie_chunk_size` is a u32 on the wire. */
const MAX_WIRE_CHUNK = 0xffffffff;

/** One simple extent per chunk, in file order: the form post-V10 kernels index in O(1). */
function unrollInterleave(fmap: Extract<Fmap, { kind: 'interleaved' }>, size: number): DeviceRange[] {
  const chunks = Math.ceil(size / fmap.chunkSize);
  const out: DeviceRange[] = [];
  for (let c = 0; c < chunks; c++) {
    const s = fmap.strips[c % fmap.nstrips]!;
    out.push({ devIndex: s.devIndex, offset: s.offset + Math.floor(c / fmap.nstrips) * fmap.chunkSize, len: fmap.chunkSize });
  }
  return out;
}

/**
 * The GET_FMAP reply body for a file, in the UAPI layout (devindex a u32 at offset 0 of
 * every extent and strip). Refuses, with ERANGE, a map the profile or the kernel's buffer
 * cannot carry, rather than sending one the kernel would reject.
 */
export function encodeFmapMessage(fmap: Fmap, size: number, profile: FamfsAbiProfile,
  fileType: number = FMAP_FILE_TYPE.REG, bufferBytes = profile.fmapBufferBytes): Buffer {
  const tooBig = (what: string): never => {
    throw new FsError('ERANGE', `fmap of ${what} does not fit the ${profile.name} GET_FMAP reply`);
  };
  let msg: Buffer;
  let extType: number;
  let nextents: number;
  if (fmap.kind === 'simple' || profile.interleave === 'unrolled') {
    const extents = fmap.kind === 'simple' ? fmap.extents : unrollInterleave(fmap, size);
    if (extents.length > profile.maxExtents) tooBig(`${extents.length} extents`);
    msg = Buffer.alloc(FMAP_HEADER.SIZE + extents.length * UAPI_SIMPLE_EXTENT.SIZE);
    extType = EXTENT_TYPE.SIMPLE;
    nextents = extents.length;
    extents.forEach((e, i) => UAPI_SIMPLE_EXTENT.encode(msg, FMAP_HEADER.SIZE + i * UAPI_SIMPLE_EXTENT.SIZE, e));
  } else {
    if (fmap.nstrips > profile.maxStrips) tooBig(`${fmap.nstrips} strips`);
    if (fmap.chunkSize > MAX_WIRE_CHUNK) tooBig(`chunk size ${fmap.chunkSize}`);
    msg = Buffer.alloc(FMAP_HEADER.SIZE + FMAP_IEXT.SIZE + fmap.nstrips * UAPI_SIMPLE_EXTENT.SIZE);
    extType = EXTENT_TYPE.INTERLEAVE;
    nextents = 1;
    const ie = FMAP_HEADER.SIZE;
    FMAP_IEXT.encode(msg, ie, { nstrips: fmap.nstrips, chunkSize: fmap.chunkSize, nbytes: size });
    fmap.strips.forEach((s, i) => UAPI_SIMPLE_EXTENT.encode(msg, ie + FMAP_IEXT.SIZE + i * UAPI_SIMPLE_EXTENT.SIZE, s));
  }
  if (msg.length > bufferBytes) tooBig(`${msg.length} bytes (buffer ${bufferBytes})`);
  FMAP_HEADER.encode(msg, 0, { fileType, version: FAMFS_FMAP_VERSION, extType, nextents, fileSize: size });
  return msg;
}

/** GET_FMAP request: newer kernels send their buffer size (a getxattr_in); older ones nothing. */
export function decodeGetFmapIn(body: Buffer): { bufferBytes?: number } {
  return body.length >= 4 ? { bufferBytes: body.readUInt32LE(0) } : {};
}

/** GET_DAXDEV request: the device index, from the header's nodeid or the body, per profile. */
export function decodeGetDaxdevIn(nodeid: number, body: Buffer, profile: FamfsAbiProfile): number {
  if (profile.daxdevIndexIn === 'body') {
    if (body.length < 4) throw new FsError('EINVAL', 'GET_DAXDEV request without a device index');
    return body.readUInt32LE(0);
  }
  return nodeid;
}

/** GET_DAXDEV reply: `struct fuse_daxdev_out`, 280 bytes, the device path NUL-terminated. */
export function encodeDaxdevOut(index: number, path: string): Buffer {
  const name = Buffer.from(path, 'utf8');
  if (name.length >= DAXDEV_NAME_MAX) throw new FsError('ENAMETOOLONG', `device path '${path}' is longer than ${DAXDEV_NAME_MAX - 1} bytes`);
  return DAXDEV_OUT.alloc({ index, name });
}

/** The INIT bit as a bigint mask over flags | flags2 << 32. */
export function daxFmapMask(profile: FamfsAbiProfile): bigint {
  return 1n << BigInt(profile.daxFmapFlagBit);
}
