import { FormatError } from '../errors.js';

/**
 * Little-endian field access for on-media structures. u64 fields are returned as numbers:
 * every size and offset famfs stores fits in 53 bits on any real device, and a value that
 * does not is corrupt by definition, so it is refused rather than rounded. Reads go through
 * Buffer's own accessors: replay decodes every field of every entry, and a DataView per
 * access would dominate it.
 */

const TWO_32 = 0x1_0000_0000;
/** The high word of a u64 must stay below 2^21 for the value to be a safe integer. */
const SAFE_HIGH_LIMIT = 0x200000;

export function readU64(buf: Buffer, off: number, field: string): number {
  const lo = buf.readUInt32LE(off);
  const hi = buf.readUInt32LE(off + 4);
  if (hi >= SAFE_HIGH_LIMIT) throw new FormatError(`${field} is out of range (0x${hi.toString(16)}${lo.toString(16).padStart(8, '0')})`);
  return hi * TWO_32 + lo;
}

export function readU64Big(buf: Buffer, off: number): bigint {
  return buf.readBigUInt64LE(off);
}

/** Does the u64 at `off` hold exactly `value` (a u32, as every famfs CRC is)? */
export function u64EqualsU32(buf: Buffer, off: number, value: number): boolean {
  return buf.readUInt32LE(off) === value >>> 0 && buf.readUInt32LE(off + 4) === 0;
}

export function writeU64(buf: Buffer, off: number, value: number | bigint): void {
  buf.writeBigUInt64LE(BigInt(value), off);
}

export function readU32(buf: Buffer, off: number): number {
  return buf.readUInt32LE(off);
}

export function writeU32(buf: Buffer, off: number, value: number): void {
  buf.writeUInt32LE(value >>> 0, off);
}

export function readU16(buf: Buffer, off: number): number {
  return buf.readUInt16LE(off);
}

export function writeU16(buf: Buffer, off: number, value: number): void {
  buf.writeUInt16LE(value, off);
}

/** A NUL-terminated (or field-filling) byte string, decoded without an intermediate Buffer. */
export function readCString(buf: Buffer, off: number, size: number, encoding: BufferEncoding): string {
  let end = off;
  while (end < off + size && buf[end] !== 0) end++;
  return buf.toString(encoding, off, end);
}

/** strncpy semantics: copy up to `size` bytes and NUL-pad the rest of the field. */
export function writeCString(buf: Buffer, off: number, size: number, value: Uint8Array): void {
  const n = Math.min(value.length, size);
  buf.set(value.subarray(0, n), off);
  buf.fill(0, off + n, off + size);
}
