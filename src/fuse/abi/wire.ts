import type { RangeFault } from '../../struct/le.js';
import { FuseError, ProtocolError } from '../errors.js';

/**
 * What a request field above 2^53 throws (src/struct/le.ts reads u64s as numbers: node ids, file
 * handles, sizes and offsets; 2^53 bytes is far beyond any file): EOVERFLOW to the kernel.
 */
export const fuseRangeFault: RangeFault = (field) => new FuseError('EOVERFLOW', `${field} exceeds 2^53`);

const NUL = 0;

/**
 * A zeroed buffer for a fixed-size reply struct. Small replies are encoded on every request:
 * Buffer.alloc gives each its own ArrayBuffer (a calloc and, later, a sweep), where allocUnsafe
 * slices Node's shared pool; the fill makes padding and unset fields zero as the kernel expects.
 */
export function replyStruct(size: number): Buffer {
  return Buffer.allocUnsafe(size).fill(0);
}

/** A NUL-terminated name at `off`; returns it and the offset just past the NUL. */
export function readCString(body: Buffer, off: number): { value: string; next: number } {
  const end = body.indexOf(NUL, off);
  if (end < 0) throw new ProtocolError('name without NUL terminator');
  return { value: body.toString('utf8', off, end), next: end + 1 };
}
