import { readU64, writeU64 } from '../format/bytes.js';

/**
 * struct famfs_bpf_resolve (bpf/famfs_bpf_fmap.h), the resolver program's 40-byte request and
 * answer: the SYSCALL program's context, and the XDP program's packet.
 *
 *   off size field
 *     0    8 ino          in
 *     8    8 offset       in: byte offset in the file
 *    16    8 length       in: bytes wanted (0: to the end of the piece); out: bytes mapped
 *    24    8 dev_offset   out
 *    32    4 rc           out: 0, or -errno (RESOLVE_* in uapi.ts)
 *    36    4 dev_index    out
 */
export const RESOLVE_RECORD_SIZE = 40;
const R = { ino: 0, offset: 8, length: 16, devOffset: 24, rc: 32, devIndex: 36 } as const;

export interface ResolveAnswer {
  rc: number;
  devIndex: number;
  devOffset: number;
  length: number;
}

/** Fill `b` with a request; the answer fields are zeroed so a stale answer cannot survive. */
export function writeResolveRequest(b: Buffer, ino: number, offset: number, length: number): void {
  writeU64(b, R.ino, ino);
  writeU64(b, R.offset, offset);
  writeU64(b, R.length, length);
  b.fill(0, R.devOffset, RESOLVE_RECORD_SIZE);
}

export function readResolveAnswer(b: Buffer): ResolveAnswer {
  return {
    rc: b.readInt32LE(R.rc),
    devIndex: b.readUInt32LE(R.devIndex),
    devOffset: readU64(b, R.devOffset, 'device offset'),
    length: readU64(b, R.length, 'length'),
  };
}
