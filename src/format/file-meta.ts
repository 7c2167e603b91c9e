import { FormatError, formatRangeFault } from '../errors.js';
import { readU32, readU64, writeFixedBytes, writeU32, writeU64 } from '../struct/le.js';
import { bytes, defineStruct, nested } from '../struct/struct.js';
import { type Fmap, FMAP, decodeFmap, encodeFmap } from './fmap.js';
import { RELPATH_FIELD_SIZE } from './layout.js';

/** struct famfs_log_file_meta: the FILE payload, 520 bytes at entry offset 16. */
export const FILE_META = defineStruct('famfs_log_file_meta', 520, {
  size: 'u64',
  flags: 'u32',
  uid: 'u32',
  gid: 'u32',
  mode: 'u32',
  relpath: bytes(RELPATH_FIELD_SIZE),
  fmap: nested(FMAP),
});
export const FILE_META_SIZE = FILE_META.SIZE;
export const FM_ALL_HOSTS_RW = 2;

const OFF = FILE_META.OFF;

export interface FileMeta {
  path: string;
  size: number;
  flags: number;
  uid: number;
  gid: number;
  /** Permission bits only, as given at creation. */
  mode: number;
  fmap: Fmap;
}

export function encodeFileMeta(b: Buffer, off: number, m: FileMeta): void {
  writeU64(b, off + OFF.size, m.size);
  writeU32(b, off + OFF.flags, m.flags);
  writeU32(b, off + OFF.uid, m.uid);
  writeU32(b, off + OFF.gid, m.gid);
  writeU32(b, off + OFF.mode, m.mode);
  writeFixedBytes(b, off + OFF.relpath, RELPATH_FIELD_SIZE, encodeRelpath(m.path));
  encodeFmap(b, off + OFF.fmap, m.fmap);
}

/** Offset of the fmap within the FILE payload, for readers that take it in place. */
export const FILE_META_FMAP_OFFSET = OFF.fmap;

export function decodeFileMeta(b: Buffer, off: number): FileMeta {
  return {
    size: readU64(b, off + OFF.size, 'file size', formatRangeFault),
    flags: readU32(b, off + OFF.flags),
    uid: readU32(b, off + OFF.uid),
    gid: readU32(b, off + OFF.gid),
    mode: readU32(b, off + OFF.mode),
    path: decodeRelpath(b, off + OFF.relpath),
    fmap: decodeFmap(b, off + OFF.fmap),
  };
}

/** A relpath must leave room for its NUL: longer names are refused, never truncated. */
export function encodeRelpath(path: string): Buffer {
  const bytes = Buffer.from(path, 'utf8');
  if (bytes.length >= RELPATH_FIELD_SIZE) {
    throw new FormatError(`path '${path}' is ${bytes.length} bytes; famfs stores at most ${RELPATH_FIELD_SIZE - 1}`, 'ENAMETOOLONG');
  }
  return bytes;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * A stored relpath is NUL-terminated within its field (at most 79 bytes): 80 bytes without a NUL
 * are corrupt. A relpath that is not UTF-8, or holds U+FFFD, comes back with every byte outside
 * printable ASCII written `\xNN`: replay never shows such a name (src/fs/paths.ts), it is only
 * reported, and a report must say which bytes it holds, not a lossy decoding shared by others.
 */
export function decodeRelpath(b: Buffer, off: number): string {
  const limit = off + RELPATH_FIELD_SIZE;
  let nul = off;
  while (nul < limit && b[nul] !== 0) nul++;
  if (nul === limit) throw new FormatError(`relative path is not NUL-terminated within its ${RELPATH_FIELD_SIZE} bytes`);
  const raw = b.subarray(off, nul);
  try {
    const text = strictUtf8.decode(raw);
    if (!text.includes('\ufffd')) return text;
  } catch {
    // Not UTF-8: escaped below.
  }
  return escapeBytes(raw);
}

/** Printable ASCII as itself (a backslash doubled), every other byte as `\xNN`. */
function escapeBytes(raw: Uint8Array): string {
  let out = '';
  for (const c of raw) out += c === 0x5c ? '\\\\' : c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : `\\x${c.toString(16).padStart(2, '0')}`;
  return out;
}
