import { FormatError } from '../errors.js';
import { readU32, readU64, writeU32, writeU64 } from './bytes.js';
import { ALLOC_UNIT, isPowerOfTwo } from './layout.js';

/**
 * struct famfs_log_fmap (416 bytes): a file's map to memory, either up to 16 simple
 * extents or one interleaved extent of up to 16 strips.
 */
export const FMAP_SIZE = 416;
export const SIMPLE_EXTENT_SIZE = 24;
export const MAX_SIMPLE_EXTENTS = 16;
export const MAX_STRIPS = 16;
export const EXT_TYPE_SIMPLE = 0;
export const EXT_TYPE_INTERLEAVE = 1;
/** Upstream allows exactly one interleaved extent per file. */
export const MAX_INTERLEAVED_EXTENTS = 1;

const OFF = {
  extType: 0,
  count: 8, // fmap_nextents for simple, fmap_niext for interleaved: the same u32
  union: 16,
} as const;
const IEXT = { nstrips: 0, chunkSize: 8, strips: 16 } as const;
const SEXT = { devIndex: 0, offset: 8, len: 16 } as const;

export interface SimpleExtent {
  devIndex: number;
  offset: number;
  len: number;
}

export interface SimpleFmap {
  kind: 'simple';
  extents: SimpleExtent[];
}

export interface InterleavedFmap {
  kind: 'interleaved';
  nstrips: number;
  chunkSize: number;
  strips: SimpleExtent[];
}

export type Fmap = SimpleFmap | InterleavedFmap;

function writeExtent(b: Buffer, off: number, e: SimpleExtent): void {
  writeU64(b, off + SEXT.devIndex, e.devIndex);
  writeU64(b, off + SEXT.offset, e.offset);
  writeU64(b, off + SEXT.len, e.len);
}

/** Write `fmap` into `b` at `off`; the caller's buffer is zero, so unused slots stay zero. */
export function encodeFmap(b: Buffer, off: number, fmap: Fmap): void {
  checkFmapShape(fmap);
  if (fmap.kind === 'simple') {
    writeU32(b, off + OFF.extType, EXT_TYPE_SIMPLE);
    writeU32(b, off + OFF.count, fmap.extents.length);
    fmap.extents.forEach((e, i) => writeExtent(b, off + OFF.union + i * SIMPLE_EXTENT_SIZE, e));
  } else {
    writeU32(b, off + OFF.extType, EXT_TYPE_INTERLEAVE);
    writeU32(b, off + OFF.count, MAX_INTERLEAVED_EXTENTS);
    const ie = off + OFF.union;
    writeU64(b, ie + IEXT.nstrips, fmap.nstrips);
    writeU64(b, ie + IEXT.chunkSize, fmap.chunkSize);
    fmap.strips.forEach((e, i) => writeExtent(b, ie + IEXT.strips + i * SIMPLE_EXTENT_SIZE, e));
  }
}

/**
 * An fmap read in place into reusable arrays: what log replay needs (placement checks and bitmap
 * marks) without building objects for 15,000 files. decodeFmap builds its objects from one.
 */
export interface FmapScan {
  kind: Fmap['kind'];
  /** Extents, or strips of an interleaved map. */
  count: number;
  nstrips: number;
  chunkSize: number;
  /** Bytes the map can address (fmapCapacity). */
  capacity: number;
  readonly devIndex: Float64Array;
  readonly offset: Float64Array;
  readonly len: Float64Array;
}

export function newFmapScan(): FmapScan {
  const n = Math.max(MAX_SIMPLE_EXTENTS, MAX_STRIPS);
  return {
    kind: 'simple', count: 0, nstrips: 0, chunkSize: 0, capacity: 0,
    devIndex: new Float64Array(n), offset: new Float64Array(n), len: new Float64Array(n),
  };
}

function scanExtents(b: Buffer, at: number, count: number, out: FmapScan): void {
  for (let i = 0; i < count; i++, at += SIMPLE_EXTENT_SIZE) {
    out.devIndex[i] = readU64(b, at + SEXT.devIndex, 'extent device index');
    out.offset[i] = readU64(b, at + SEXT.offset, 'extent offset');
    const len = readU64(b, at + SEXT.len, 'extent length');
    if (len === 0) throw new FormatError('fmap has an empty extent');
    out.len[i] = len;
  }
  out.count = count;
}

/** Read and shape-check the fmap at `off` into `out`; a bad one is a FormatError, as in decodeFmap. */
export function scanFmap(b: Buffer, off: number, out: FmapScan): void {
  if (b.length < off + FMAP_SIZE) throw new FormatError('fmap is truncated');
  const extType = readU32(b, off + OFF.extType);
  const count = readU32(b, off + OFF.count);
  if (extType === EXT_TYPE_SIMPLE) {
    if (count < 1 || count > MAX_SIMPLE_EXTENTS) throw new FormatError(`fmap has ${count} simple extents (1..${MAX_SIMPLE_EXTENTS})`);
    out.kind = 'simple';
    out.nstrips = 0;
    out.chunkSize = 0;
    scanExtents(b, off + OFF.union, count, out);
    let capacity = 0;
    for (let i = 0; i < count; i++) capacity += out.len[i]!;
    out.capacity = capacity;
  } else if (extType === EXT_TYPE_INTERLEAVE) {
    if (count !== MAX_INTERLEAVED_EXTENTS) throw new FormatError(`fmap has ${count} interleaved extents (must be 1)`);
    const ie = off + OFF.union;
    const nstrips = readU64(b, ie + IEXT.nstrips, 'interleave strip count');
    const chunkSize = readU64(b, ie + IEXT.chunkSize, 'interleave chunk size');
    if (nstrips < 1 || nstrips > MAX_STRIPS) throw new FormatError(`fmap has ${nstrips} strips (1..${MAX_STRIPS})`);
    if (!isPowerOfTwo(chunkSize) || chunkSize % ALLOC_UNIT !== 0) {
      throw new FormatError(`interleave chunk size 0x${chunkSize.toString(16)} is not a power-of-two multiple of 2 MiB`);
    }
    out.kind = 'interleaved';
    out.nstrips = nstrips;
    out.chunkSize = chunkSize;
    scanExtents(b, ie + IEXT.strips, nstrips, out);
    let minStrip = Infinity;
    for (let i = 0; i < nstrips; i++) minStrip = Math.min(minStrip, out.len[i]!);
    out.capacity = Math.floor(minStrip / chunkSize) * chunkSize * nstrips;
  } else {
    throw new FormatError(`fmap has an unknown extent type ${extType}`);
  }
}

const decodeScratch = newFmapScan();

export function decodeFmap(b: Buffer, off: number): Fmap {
  const scan = decodeScratch;
  scanFmap(b, off, scan);
  const list: SimpleExtent[] = [];
  for (let i = 0; i < scan.count; i++) list.push({ devIndex: scan.devIndex[i]!, offset: scan.offset[i]!, len: scan.len[i]! });
  return scan.kind === 'simple'
    ? { kind: 'simple', extents: list }
    : { kind: 'interleaved', nstrips: scan.nstrips, chunkSize: scan.chunkSize, strips: list };
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
export function fmapExtents(fmap: Fmap): readonly SimpleExtent[] {
  return fmap.kind === 'simple' ? fmap.extents : fmap.strips;
}
