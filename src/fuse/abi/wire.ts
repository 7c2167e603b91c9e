import { FuseError, ProtocolError } from '../errors.js';

/**
 * Little-endian u64 helpers. Node ids, file handles, sizes and offsets are plain numbers:
 * two u32 reads avoid a BigInt per field on the hot path, and 2^53 bytes is far beyond any file.
 */
const TWO_POW_32 = 0x1_0000_0000;
/** Largest high word that keeps hi·2^32 + lo within Number.MAX_SAFE_INTEGER. */
const MAX_SAFE_HIGH_WORD = 0x1f_ffff;
const U32_BYTES = 4;

export function readU64(buf: Buffer, off: number): number {
  const lo = buf.readUInt32LE(off);
  const hi = buf.readUInt32LE(off + U32_BYTES);
  if (hi > MAX_SAFE_HIGH_WORD) throw new FuseError('EOVERFLOW', `u64 at ${off} exceeds 2^53`);
  return hi * TWO_POW_32 + lo;
}

export function writeU64(buf: Buffer, off: number, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`not a u64: ${value}`);
  buf.writeUInt32LE(value % TWO_POW_32, off);
  buf.writeUInt32LE(Math.floor(value / TWO_POW_32), off + U32_BYTES);
}

/** Signed i64, for the few fields that may be negative (notify offsets). */
export function writeI64(buf: Buffer, off: number, value: number): void {
  if (!Number.isSafeInteger(value)) throw new RangeError(`not an i64: ${value}`);
  buf.writeBigInt64LE(BigInt(value), off);
}

/** Round up to a multiple of `align` (a power of two). */
export function alignUp(n: number, align: number): number {
  return (n + align - 1) & ~(align - 1);
}

const NUL = 0;

/** A NUL-terminated name at `off`; returns it and the offset just past the NUL. */
export function readCString(body: Buffer, off: number): { value: string; next: number } {
  const end = body.indexOf(NUL, off);
  if (end < 0) throw new ProtocolError('name without NUL terminator');
  return { value: body.toString('utf8', off, end), next: end + 1 };
}
