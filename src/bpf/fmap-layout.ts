import { FormatError, formatRangeFault } from '../errors.js';
import { readU16, readU32, readU64, writeU64 } from '../struct/le.js';
import { arrayOf, defineStruct, pad } from '../struct/struct.js';
import { checkFmapShape, EXTENT_TYPE, type Fmap, MAX_SIMPLE_EXTENTS, MAX_STRIPS } from '../format/fmap.js';
import type { DeviceRange } from '../format/device-range.js';
import { UAPI_SIMPLE_EXTENT } from '../format/uapi-extent.js';

/**
 * The published fmap: the value of the pinned BPF hash map `famfs_fmap`, keyed by the file's
 * inode number (u64, little-endian; the same number the FUSE daemon uses as nodeid). One fixed
 * 416-byte record per file, mirrored by struct famfs_bpf_fmap in bpf/famfs_bpf_fmap.h:
 *
 *   off  size  field
 *     0     8  file_size
 *     8     4  ext_type     0 simple, 1 interleaved
 *    12     4  nextents     simple: extents in file order; interleaved: strips (nstrips)
 *    16     8  chunk_size   interleaved only, else 0
 *    24     2  version      1
 *    26     6  reserved     0
 *    32   384  16 extent records of 24 bytes, unused ones zero:
 *                +0 u32 dev_index, +4 u32 reserved, +8 u64 offset (bytes in the device), +16 u64 len
 *
 * The extent record is the V10 UAPI's fuse_famfs_simple_ext, so a record goes unchanged into a
 * GET_FMAP reply or a fuse_iomap_io. Sixteen slots are what the famfs log can hold (16 simple
 * extents, or one interleaved extent of 16 strips), so every file fits one record.
 */
const FMAP_MAX_EXTENTS = 16;
const FMAP_LAYOUT_VERSION = 1;

export const PUBLISHED_FMAP = defineStruct('famfs_bpf_fmap', 416, {
  fileSize: 'u64',
  extType: 'u32',
  nextents: 'u32',
  chunkSize: 'u64',
  version: 'u16',
  _reserved: pad(6),
  extents: arrayOf(UAPI_SIMPLE_EXTENT, FMAP_MAX_EXTENTS),
}, { fault: formatRangeFault });

export const FMAP_KEY_SIZE = 8;
export const FMAP_VALUE_SIZE = PUBLISHED_FMAP.SIZE;
export const FMAP_HEADER_SIZE = PUBLISHED_FMAP.OFF.extents;
export const FMAP_EXTENT_SIZE = UAPI_SIMPLE_EXTENT.SIZE;

const HDR = PUBLISHED_FMAP.OFF;

if (FMAP_MAX_EXTENTS < MAX_SIMPLE_EXTENTS || FMAP_MAX_EXTENTS < MAX_STRIPS) {
  throw new Error('fmap-layout: the record holds fewer extents than the famfs log allows');
}

/** What a published record holds: a file's size and its map. */
export interface PublishedFmap {
  size: number;
  fmap: Fmap;
}

export function encodeFmapKey(ino: number): Buffer {
  const b = Buffer.alloc(FMAP_KEY_SIZE);
  writeU64(b, 0, ino);
  return b;
}

export function decodeFmapKey(b: Uint8Array): number {
  return readU64(Buffer.from(b.buffer, b.byteOffset, b.byteLength), 0, 'fmap key', formatRangeFault);
}

export function encodePublishedFmap(p: PublishedFmap): Buffer {
  checkFmapShape(p.fmap);
  const list = p.fmap.kind === 'simple' ? p.fmap.extents : p.fmap.strips;
  return PUBLISHED_FMAP.alloc({
    fileSize: p.size,
    extType: p.fmap.kind === 'simple' ? EXTENT_TYPE.SIMPLE : EXTENT_TYPE.INTERLEAVE,
    nextents: list.length,
    chunkSize: p.fmap.kind === 'simple' ? 0 : p.fmap.chunkSize,
    version: FMAP_LAYOUT_VERSION,
    extents: list,
  });
}

export function decodePublishedFmap(b: Buffer): PublishedFmap {
  if (b.length !== FMAP_VALUE_SIZE) throw new FormatError(`published fmap is ${b.length} bytes, not ${FMAP_VALUE_SIZE}`);
  const version = readU16(b, HDR.version);
  if (version !== FMAP_LAYOUT_VERSION) throw new FormatError(`published fmap has layout version ${version}, not ${FMAP_LAYOUT_VERSION}`);
  const n = readU32(b, HDR.nextents);
  if (n < 1 || n > FMAP_MAX_EXTENTS) throw new FormatError(`published fmap has ${n} extents (1..${FMAP_MAX_EXTENTS})`);
  const list: DeviceRange[] = [];
  for (let i = 0; i < n; i++) list.push(UAPI_SIMPLE_EXTENT.decode(b, HDR.extents + i * UAPI_SIMPLE_EXTENT.SIZE));
  const extType = readU32(b, HDR.extType);
  let fmap: Fmap;
  if (extType === EXTENT_TYPE.SIMPLE) fmap = { kind: 'simple', extents: list };
  else if (extType === EXTENT_TYPE.INTERLEAVE) fmap = { kind: 'interleaved', nstrips: n, chunkSize: readU64(b, HDR.chunkSize, 'chunk size', formatRangeFault), strips: list };
  else throw new FormatError(`published fmap has an unknown extent type ${extType}`);
  checkFmapShape(fmap);
  return { size: readU64(b, HDR.fileSize, 'file size', formatRangeFault), fmap };
}
