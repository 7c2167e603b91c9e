import { errnoByName } from '../errno.js';

/**
 * Little-endian field access, the one set every wire and on-media codec uses. A u64 is read as a
 * number (two u32 reads: a BigInt per field would dominate a request decode or a replay) and must
 * be a safe integer: every size, offset, index and id famfs or FUSE stores is below 2^53, so a
 * larger value is corrupt or hostile and is refused, never rounded. A u64 that is a bit pattern
 * (a magic, a CRC, a FUSE unique or lock owner) is read as a bigint with readU64n.
 */

const TWO_POW_32 = 0x1_0000_0000;
/** Largest high word that keeps hi·2^32 + lo within Number.MAX_SAFE_INTEGER. */
const MAX_SAFE_HIGH_WORD = 0x1f_ffff;
const U32_BYTES = 4;

/**
 * What a reader throws for a u64 above 2^53: each layer its own typed error (a FormatError for
 * on-media bytes, a FuseError for a request), named after the field that held it.
 */
export type RangeFault = (field: string, value: bigint) => Error;

/** The default fault: a RangeError carrying EOVERFLOW, for callers with no error type of their own. */
export class U64RangeError extends RangeError {
  readonly code = 'EOVERFLOW';
  readonly errno = errnoByName('EOVERFLOW');
}

export const u64RangeFault: RangeFault = (field, value) =>
  new U64RangeError(`${field} is out of range (0x${value.toString(16)})`);

/** `field` names the value in the fault's message (by default its offset). */
export function readU64(buf: Buffer, off: number, field?: string, fault: RangeFault = u64RangeFault): number {
  const lo = buf.readUInt32LE(off);
  const hi = buf.readUInt32LE(off + U32_BYTES);
  if (hi > MAX_SAFE_HIGH_WORD) throw fault(field ?? `u64 at ${off}`, buf.readBigUInt64LE(off));
  return hi * TWO_POW_32 + lo;
}

/** A u64 of any value, as a bigint. */
export function readU64n(buf: Buffer, off: number): bigint {
  return buf.readBigUInt64LE(off);
}

/** Does the u64 at `off` hold exactly `value` (a u32)? For CRCs and seqnums, without a BigInt. */
export function u64EqualsU32(buf: Buffer, off: number, value: number): boolean {
  return buf.readUInt32LE(off) === value >>> 0 && buf.readUInt32LE(off + U32_BYTES) === 0;
}

/** A number that is not a safe non-negative integer is a caller's bug: RangeError, nothing written. */
export function writeU64(buf: Buffer, off: number, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`not a u64: ${value}`);
  buf.writeUInt32LE(value % TWO_POW_32, off);
  buf.writeUInt32LE(Math.floor(value / TWO_POW_32), off + U32_BYTES);
}

/**
 * writeU64 through a DataView, for the hot encoders that keep one over their buffer (no Buffer
 * bounds check per half). The same rule: a value that is not a safe non-negative integer is refused.
 */
export function setU64(view: DataView, off: number, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`not a u64: ${value}`);
  view.setUint32(off, value % TWO_POW_32, true);
  view.setUint32(off + U32_BYTES, Math.floor(value / TWO_POW_32), true);
}

export function writeU64n(buf: Buffer, off: number, value: bigint): void {
  buf.writeBigUInt64LE(value, off);
}

/** Signed i64, for the few fields that may be negative (FUSE notify offsets). */
export function readI64(buf: Buffer, off: number, field?: string, fault: RangeFault = u64RangeFault): number {
  const v = buf.readBigInt64LE(off);
  if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) throw fault(field ?? `i64 at ${off}`, v);
  return Number(v);
}

export function writeI64(buf: Buffer, off: number, value: number): void {
  if (!Number.isSafeInteger(value)) throw new RangeError(`not an i64: ${value}`);
  buf.writeBigInt64LE(BigInt(value), off);
}

export function readU32(buf: Buffer, off: number): number {
  return buf.readUInt32LE(off);
}

/** Any u32 bit pattern (a negative number is written as its two's complement, as C would). */
export function writeU32(buf: Buffer, off: number, value: number): void {
  buf.writeUInt32LE(value >>> 0, off);
}

export function readU16(buf: Buffer, off: number): number {
  return buf.readUInt16LE(off);
}

export function writeU16(buf: Buffer, off: number, value: number): void {
  buf.writeUInt16LE(value, off);
}

/** The text of a fixed `size`-byte field, up to its first NUL (or the whole field when it has none). */
export function readFixedString(buf: Buffer, off: number, size: number, encoding: BufferEncoding): string {
  let end = off;
  while (end < off + size && buf[end] !== 0) end++;
  return buf.toString(encoding, off, end);
}

/** strncpy semantics: copy up to `size` bytes and NUL-pad the rest of the field. */
export function writeFixedBytes(buf: Buffer, off: number, size: number, value: Uint8Array): void {
  const n = Math.min(value.length, size);
  buf.set(value.subarray(0, n), off);
  buf.fill(0, off + n, off + size);
}

/** Round up to a multiple of `align` (a power of two). */
export function alignUp(n: number, align: number): number {
  return (n + align - 1) & ~(align - 1);
}
