import { FormatError } from '../errors.js';

/**
 * Little-endian field access for on-media structures. u64 fields are returned as numbers:
 * every size and offset famfs stores fits in 53 bits on any real device, and a value that
 * does not is corrupt by definition, so it is refused rather than rounded.
 */

const TWO_32 = 0x1_0000_0000;

export function readU64(buf: Uint8Array, off: number, field: string): number {
  const dv = view(buf);
  const lo = dv.getUint32(off, true);
  const hi = dv.getUint32(off + 4, true);
  if (hi >= 0x200000) throw new FormatError(`${field} is out of range (0x${hi.toString(16)}${lo.toString(16).padStart(8, '0')})`);
  return hi * TWO_32 + lo;
}

export function readU64Big(buf: Uint8Array, off: number): bigint {
  return view(buf).getBigUint64(off, true);
}

export function writeU64(buf: Uint8Array, off: number, value: number | bigint): void {
  view(buf).setBigUint64(off, BigInt(value), true);
}

export function readU32(buf: Uint8Array, off: number): number {
  return view(buf).getUint32(off, true);
}

export function writeU32(buf: Uint8Array, off: number, value: number): void {
  view(buf).setUint32(off, value >>> 0, true);
}

export function readU16(buf: Uint8Array, off: number): number {
  return view(buf).getUint16(off, true);
}

export function writeU16(buf: Uint8Array, off: number, value: number): void {
  view(buf).setUint16(off, value, true);
}

/** A NUL-terminated (or field-filling) byte string. */
export function readCString(buf: Uint8Array, off: number, size: number): Buffer {
  const field = Buffer.from(buf.buffer, buf.byteOffset + off, size);
  const nul = field.indexOf(0);
  return nul < 0 ? field : field.subarray(0, nul);
}

/** strncpy semantics: copy up to `size` bytes and NUL-pad the rest of the field. */
export function writeCString(buf: Uint8Array, off: number, size: number, value: Uint8Array): void {
  const n = Math.min(value.length, size);
  buf.set(value.subarray(0, n), off);
  buf.fill(0, off + n, off + size);
}

function view(buf: Uint8Array): DataView {
  return new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
}
