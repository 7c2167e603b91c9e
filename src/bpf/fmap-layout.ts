import { FormatError } from '../errors.js';
import { readU16, readU32, readU64, writeU16, writeU32, writeU64 } from '../format/bytes.js';
import { checkFmapShape, type Fmap, MAX_SIMPLE_EXTENTS, MAX_STRIPS, type SimpleExtent } from '../format/fmap.js';

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
export const FMAP_KEY_SIZE = 8;
export const FMAP_VALUE_SIZE = 416;
export const FMAP_HEADER_SIZE = 32;
export const FMAP_EXTENT_SIZE = 24;
const FMAP_MAX_EXTENTS = 16;
const FMAP_LAYOUT_VERSION = 1;
const FMAP_EXT_SIMPLE = 0;
const FMAP_EXT_INTERLEAVE = 1;

const HDR = { fileSize: 0, extType: 8, nextents: 12, chunkSize: 16, version: 24 } as const;
const EXT = { devIndex: 0, offset: 8, len: 16 } as const;

if (FMAP_HEADER_SIZE + FMAP_MAX_EXTENTS * FMAP_EXTENT_SIZE !== FMAP_VALUE_SIZE
  || FMAP_MAX_EXTENTS < MAX_SIMPLE_EXTENTS || FMAP_MAX_EXTENTS < MAX_STRIPS) {
  throw new Error('fmap-layout: sizes disagree with the famfs log limits');
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
  return readU64(Buffer.from(b.buffer, b.byteOffset, b.byteLength), 0, 'fmap key');
}

export function encodePublishedFmap(p: PublishedFmap): Buffer {
  checkFmapShape(p.fmap);
  const b = Buffer.alloc(FMAP_VALUE_SIZE);
  const list = p.fmap.kind === 'simple' ? p.fmap.extents : p.fmap.strips;
  writeU64(b, HDR.fileSize, p.size);
  writeU32(b, HDR.extType, p.fmap.kind === 'simple' ? FMAP_EXT_SIMPLE : FMAP_EXT_INTERLEAVE);
  writeU32(b, HDR.nextents, list.length);
  writeU64(b, HDR.chunkSize, p.fmap.kind === 'simple' ? 0 : p.fmap.chunkSize);
  writeU16(b, HDR.version, FMAP_LAYOUT_VERSION);
  list.forEach((e, i) => {
    const at = FMAP_HEADER_SIZE + i * FMAP_EXTENT_SIZE;
    writeU32(b, at + EXT.devIndex, e.devIndex);
    writeU64(b, at + EXT.offset, e.offset);
    writeU64(b, at + EXT.len, e.len);
  });
  return b;
}

export function decodePublishedFmap(b: Buffer): PublishedFmap {
  if (b.length !== FMAP_VALUE_SIZE) throw new FormatError(`published fmap is ${b.length} bytes, not ${FMAP_VALUE_SIZE}`);
  const version = readU16(b, HDR.version);
  if (version !== FMAP_LAYOUT_VERSION) throw new FormatError(`published fmap has layout version ${version}, not ${FMAP_LAYOUT_VERSION}`);
  const n = readU32(b, HDR.nextents);
  if (n < 1 || n > FMAP_MAX_EXTENTS) throw new FormatError(`published fmap has ${n} extents (1..${FMAP_MAX_EXTENTS})`);
  const list: SimpleExtent[] = [];
  for (let i = 0; i < n; i++) {
    const at = FMAP_HEADER_SIZE + i * FMAP_EXTENT_SIZE;
    list.push({ devIndex: readU32(b, at + EXT.devIndex), offset: readU64(b, at + EXT.offset, 'extent offset'), len: readU64(b, at + EXT.len, 'extent length') });
  }
  const extType = readU32(b, HDR.extType);
  let fmap: Fmap;
  if (extType === FMAP_EXT_SIMPLE) fmap = { kind: 'simple', extents: list };
  else if (extType === FMAP_EXT_INTERLEAVE) fmap = { kind: 'interleaved', nstrips: n, chunkSize: readU64(b, HDR.chunkSize, 'chunk size'), strips: list };
  else throw new FormatError(`published fmap has an unknown extent type ${extType}`);
  checkFmapShape(fmap);
  return { size: readU64(b, HDR.fileSize, 'file size'), fmap };
}
