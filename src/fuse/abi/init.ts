import { ProtocolError } from '../errors.js';
import { INIT_FLAGS_WORD_BITS, InitFlag, U32_MASK_BIG } from './constants.js';
import { StructSize } from './sizes.js';
import { INIT_IN, INIT_OUT } from './structs.js';

/** fuse_init_in, with flags and flags2 joined into one 64-bit set. */
export interface InitIn {
  readonly major: number;
  readonly minor: number;
  readonly maxReadahead: number;
  /** flags | flags2 << 32 (flags2 only counts when the kernel set INIT_EXT). */
  readonly flags: bigint;
}

/** fuse_init_out. `flags` is again the joined 64-bit set; the codec splits it. */
export interface InitOut {
  readonly major: number;
  readonly minor: number;
  readonly maxReadahead: number;
  readonly flags: bigint;
  readonly maxBackground: number;
  readonly congestionThreshold: number;
  readonly maxWrite: number;
  /** Timestamp granularity in ns. */
  readonly timeGran: number;
  readonly maxPages: number;
  readonly mapAlignment?: number;
  readonly maxStackDepth?: number;
  /** Seconds, with REQUEST_TIMEOUT. */
  readonly requestTimeout?: number;
}

const InitInOff = INIT_IN.OFF;
/**
 * Smallest INIT body accepted: major, minor, max_readahead, flags (7.6). Kernels before 7.36 send
 * only these 16 bytes; flags2 and the padding to 64 came with INIT_EXT.
 */
export const INIT_IN_MIN_SIZE = 16;
const U32_BYTES = 4;

const InitOutOff = INIT_OUT.OFF;

export function decodeInitIn(body: Buffer): InitIn {
  if (body.length < INIT_IN_MIN_SIZE) throw new ProtocolError(`INIT body of ${body.length} bytes`);
  const low = BigInt(body.readUInt32LE(InitInOff.flags));
  const hasExt = (low & InitFlag.INIT_EXT) !== 0n && body.length >= InitInOff.flags2 + U32_BYTES;
  const high = hasExt ? BigInt(body.readUInt32LE(InitInOff.flags2)) : 0n;
  return {
    major: body.readUInt32LE(InitInOff.major),
    minor: body.readUInt32LE(InitInOff.minor),
    maxReadahead: body.readUInt32LE(InitInOff.maxReadahead),
    flags: low | (high << INIT_FLAGS_WORD_BITS),
  };
}

/** fuse_init_out as kernels before 7.5 know it (major, minor) and before 7.23 (up to max_write). */
const INIT_OUT_SIZE_BEFORE_7_5 = 8;
const INIT_OUT_SIZE_BEFORE_7_23 = 24;
const MINOR_INIT_OUT_24 = 5;
const MINOR_INIT_OUT_FULL = 23;

/**
 * Bytes of fuse_init_out a kernel speaking `kernelMinor` takes: it refuses a longer reply (EINVAL),
 * so an old kernel gets the struct cut to the fields it knows.
 */
export function initOutSize(kernelMinor: number): number {
  if (kernelMinor < MINOR_INIT_OUT_24) return INIT_OUT_SIZE_BEFORE_7_5;
  if (kernelMinor < MINOR_INIT_OUT_FULL) return INIT_OUT_SIZE_BEFORE_7_23;
  return StructSize.INIT_OUT;
}

export function encodeInitOut(o: InitOut): Buffer {
  const buf = Buffer.alloc(StructSize.INIT_OUT);
  buf.writeUInt32LE(o.major, InitOutOff.major);
  buf.writeUInt32LE(o.minor, InitOutOff.minor);
  buf.writeUInt32LE(o.maxReadahead, InitOutOff.maxReadahead);
  buf.writeUInt32LE(Number(o.flags & U32_MASK_BIG), InitOutOff.flags);
  buf.writeUInt16LE(o.maxBackground, InitOutOff.maxBackground);
  buf.writeUInt16LE(o.congestionThreshold, InitOutOff.congestionThreshold);
  buf.writeUInt32LE(o.maxWrite, InitOutOff.maxWrite);
  buf.writeUInt32LE(o.timeGran, InitOutOff.timeGran);
  buf.writeUInt16LE(o.maxPages, InitOutOff.maxPages);
  buf.writeUInt16LE(o.mapAlignment ?? 0, InitOutOff.mapAlignment);
  buf.writeUInt32LE(Number((o.flags >> INIT_FLAGS_WORD_BITS) & U32_MASK_BIG), InitOutOff.flags2);
  buf.writeUInt32LE(o.maxStackDepth ?? 0, InitOutOff.maxStackDepth);
  buf.writeUInt16LE(o.requestTimeout ?? 0, InitOutOff.requestTimeout);
  return buf;
}

/** Names of the set bits, for logs ("ASYNC_READ|BIG_WRITES|bit43"). */
export function describeInitFlags(flags: bigint): string {
  const names: string[] = [];
  const known = new Map<bigint, string>(Object.entries(InitFlag).map(([k, v]) => [v, k]));
  for (let bit = 0n; bit < 2n * INIT_FLAGS_WORD_BITS; bit++) {
    const mask = 1n << bit;
    if ((flags & mask) !== 0n) names.push(known.get(mask) ?? `bit${bit}`);
  }
  return names.join('|');
}
