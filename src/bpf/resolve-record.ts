import { formatRangeFault } from '../errors.js';
import type { DeviceRange } from '../format/device-range.js';
import { writeU64 } from '../struct/le.js';
import { defineStruct } from '../struct/struct.js';

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
export const RESOLVE_RECORD = defineStruct('famfs_bpf_resolve', 40, {
  ino: 'u64',
  offset: 'u64',
  length: 'u64',
  devOffset: 'u64',
  rc: 'i32',
  devIndex: 'u32',
}, { fault: formatRangeFault });
export const RESOLVE_RECORD_SIZE = RESOLVE_RECORD.SIZE;
const R = RESOLVE_RECORD.OFF;

/** The answer: `rc`, and on 0 the device range holding the file offset asked for (to the end of its piece, or the bytes wanted). */
export interface ResolveAnswer extends DeviceRange {
  rc: number;
}

/** Fill `b` with a request; the answer fields are zeroed so a stale answer cannot survive. */
export function writeResolveRequest(b: Buffer, ino: number, offset: number, length: number): void {
  writeU64(b, R.ino, ino);
  writeU64(b, R.offset, offset);
  writeU64(b, R.length, length);
  b.fill(0, R.devOffset, RESOLVE_RECORD_SIZE);
}

export function readResolveAnswer(b: Buffer): ResolveAnswer {
  const { rc, devIndex, devOffset, length } = RESOLVE_RECORD.decode(b);
  return { rc, devIndex, offset: devOffset, len: length };
}
