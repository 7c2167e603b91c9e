import { FormatError, formatRangeFault } from '../errors.js';
import { readU32, readU64, writeU32, writeU64 } from '../struct/le.js';
import { arrayOf, at, defineStruct, union } from '../struct/struct.js';
import type { DeviceRange } from './device-range.js';
import { ALLOC_UNIT, isPowerOfTwo } from './layout.js';

export const MAX_SIMPLE_EXTENTS = 16;
export const MAX_STRIPS = 16;
/** Upstream allows exactly one interleaved extent per file. */
const MAX_INTERLEAVED_EXTENTS = 1;

/**
 * enum famfs_extent_type: how an fmap's extents are to be read. The one extent-type enum: the log,
 * the GET_FMAP message and the published BPF record all carry these numbers.
 */
export const EXTENT_TYPE = { SIMPLE: 0, INTERLEAVE: 1 } as const;

/** struct famfs_simple_extent: a byte range of one device. */
export const SIMPLE_EXTENT = defineStruct('famfs_simple_extent', 24, {
  devIndex: 'u64',
  offset: 'u64',
  len: 'u64',
}, { fault: formatRangeFault });

/** struct famfs_interleaved_ext: strips of chunkSize bytes taken in turn. */
export const INTERLEAVED_EXTENT = defineStruct('famfs_interleaved_ext', 400, {
  nstrips: 'u64',
  chunkSize: 'u64',
  strips: arrayOf(SIMPLE_EXTENT, MAX_STRIPS),
}, { fault: formatRangeFault });

/**
 * struct famfs_log_fmap (416 bytes): a file's map to memory, either up to 16 simple
 * extents or one interleaved extent of up to 16 strips. `count` is fmap_nextents for simple
 * extents and fmap_niext for interleaved ones: the same u32.
 */
export const FMAP = defineStruct('famfs_log_fmap', 416, {
  extType: 'u32',
  count: at(8, 'u32'),
  extents: at(16, union(arrayOf(SIMPLE_EXTENT, MAX_SIMPLE_EXTENTS), arrayOf(INTERLEAVED_EXTENT, MAX_INTERLEAVED_EXTENTS))),
});
export const FMAP_SIZE = FMAP.SIZE;

const OFF = FMAP.OFF;
const IEXT = INTERLEAVED_EXTENT.OFF;

export interface SimpleFmap {
  kind: 'simple';
  extents: DeviceRange[];
}

export interface InterleavedFmap {
  kind: 'interleaved';
  nstrips: number;
  chunkSize: number;
  strips: DeviceRange[];
}

export type Fmap = SimpleFmap | InterleavedFmap;

/** Write `fmap` into `b` at `off`; the caller's buffer is zero, so unused slots stay zero. */
export function encodeFmap(b: Buffer, off: number, fmap: Fmap): void {
  checkFmapShape(fmap);
  if (fmap.kind === 'simple') {
    writeU32(b, off + OFF.extType, EXTENT_TYPE.SIMPLE);
    writeU32(b, off + OFF.count, fmap.extents.length);
    fmap.extents.forEach((e, i) => SIMPLE_EXTENT.encode(b, off + OFF.extents + i * SIMPLE_EXTENT.SIZE, e));
  } else {
    writeU32(b, off + OFF.extType, EXTENT_TYPE.INTERLEAVE);
    writeU32(b, off + OFF.count, MAX_INTERLEAVED_EXTENTS);
    const ie = off + OFF.extents;
    writeU64(b, ie + IEXT.nstrips, fmap.nstrips);
    writeU64(b, ie + IEXT.chunkSize, fmap.chunkSize);
    fmap.strips.forEach((e, i) => SIMPLE_EXTENT.encode(b, ie + IEXT.strips + i * SIMPLE_EXTENT.SIZE, e));
  }
}

function readExtents(b: Buffer, at: number, count: number): DeviceRange[] {
  const list: DeviceRange[] = [];
  for (let i = 0; i < count; i++, at += SIMPLE_EXTENT.SIZE) {
    const e = SIMPLE_EXTENT.decode(b, at);
    if (e.len === 0) throw new FormatError('fmap has an empty extent');
    list.push(e);
  }
  return list;
}

/** The fmap at `off`, shape-checked; a bad one is a FormatError. Placement is checked against devices by replay. */
export function decodeFmap(b: Buffer, off: number): Fmap {
  if (b.length < off + FMAP_SIZE) throw new FormatError('fmap is truncated');
  const extType = readU32(b, off + OFF.extType);
  const count = readU32(b, off + OFF.count);
  if (extType === EXTENT_TYPE.SIMPLE) {
    if (count < 1 || count > MAX_SIMPLE_EXTENTS) throw new FormatError(`fmap has ${count} simple extents (1..${MAX_SIMPLE_EXTENTS})`);
    return { kind: 'simple', extents: readExtents(b, off + OFF.extents, count) };
  }
  if (extType === EXTENT_TYPE.INTERLEAVE) {
    if (count !== MAX_INTERLEAVED_EXTENTS) throw new FormatError(`fmap has ${count} interleaved extents (must be 1)`);
    const ie = off + OFF.extents;
    const nstrips = readU64(b, ie + IEXT.nstrips, 'interleave strip count', formatRangeFault);
    const chunkSize = readU64(b, ie + IEXT.chunkSize, 'interleave chunk size', formatRangeFault);
    if (nstrips < 1 || nstrips > MAX_STRIPS) throw new FormatError(`fmap has ${nstrips} strips (1..${MAX_STRIPS})`);
    if (!isPowerOfTwo(chunkSize) || chunkSize % ALLOC_UNIT !== 0) {
      throw new FormatError(`interleave chunk size 0x${chunkSize.toString(16)} is not a power-of-two multiple of 2 MiB`);
    }
    return { kind: 'interleaved', nstrips, chunkSize, strips: readExtents(b, ie + IEXT.strips, nstrips) };
  }
  throw new FormatError(`fmap has an unknown extent type ${extType}`);
}

/** Structure alone (counts, chunk size, non-empty extents); placement is checked against devices elsewhere. */
export function checkFmapShape(fmap: Fmap): void {
  const list = fmap.kind === 'simple' ? fmap.extents : fmap.strips;
  if (fmap.kind === 'simple') {
    if (list.length < 1 || list.length > MAX_SIMPLE_EXTENTS) throw new FormatError(`fmap has ${list.length} simple extents (1..${MAX_SIMPLE_EXTENTS})`);
  } else {
    if (fmap.nstrips !== list.length || list.length < 1 || list.length > MAX_STRIPS) {
      throw new FormatError(`interleaved fmap has ${list.length} strips for nstrips ${fmap.nstrips} (1..${MAX_STRIPS})`);
    }
    if (!isPowerOfTwo(fmap.chunkSize) || fmap.chunkSize % ALLOC_UNIT !== 0) {
      throw new FormatError(`interleave chunk size 0x${fmap.chunkSize.toString(16)} is not a power-of-two multiple of 2 MiB`);
    }
  }
  for (const e of list) {
    if (e.len === 0) throw new FormatError('fmap has an empty extent');
  }
}

/** Bytes of memory the fmap can address: the sum of extents, or nstrips whole strips. */
export function fmapCapacity(fmap: Fmap): number {
  if (fmap.kind === 'simple') return fmap.extents.reduce((s, e) => s + e.len, 0);
  const minStrip = Math.min(...fmap.strips.map((s) => s.len));
  return Math.floor(minStrip / fmap.chunkSize) * fmap.chunkSize * fmap.nstrips;
}

/** Every extent (or strip) of the map, for allocation bitmaps and overlap checks. */
export function fmapExtents(fmap: Fmap): readonly DeviceRange[] {
  return fmap.kind === 'simple' ? fmap.extents : fmap.strips;
}
