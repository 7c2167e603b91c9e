import { FormatError, formatRangeFault } from '../errors.js';
import { readU64n, writeU64n } from '../struct/le.js';
import { defineStruct } from '../struct/struct.js';
import { famfsCrc } from './crc.js';
import { LOG_ENTRY_SIZE } from './log-entry.js';

/** struct famfs_log header: 48 bytes at the start of the log; entries follow. */
const LOG_HEADER = defineStruct('famfs_log', 48, {
  magic: 'u64n',
  len: 'u64',
  lastIndex: 'u64',
  crc: 'u64n',
  nextSeqnum: 'u64',
  nextIndex: 'u64',
}, { fault: formatRangeFault });
export const LOG_HEADER_SIZE = LOG_HEADER.SIZE;
const LOG_MAGIC = 0xbadcafef00dn;
/** The CRC covers magic, length and last index: the fields that never change. */
export const LOG_HEADER_CRC_COVERED = LOG_HEADER.OFF.crc;

export const LOG_HEADER_OFF = LOG_HEADER.OFF;

/**
 * A log slot's index: the entry at byte entryOffset(slot) of the log. Slots are also what the
 * file system's inode numbers and the log's next index count, so they get their own type.
 */
export type LogSlot = number & { readonly __brand: 'LogSlot' };
export const logSlot = (n: number): LogSlot => n as LogSlot;
/** The slot of what no log entry created (the root directory, the daemon's meta files). */
export const NO_SLOT = logSlot(-1);

export interface LogHeader {
  len: number;
  lastIndex: number;
  nextSeqnum: number;
  /** The slot the next entry goes to. */
  nextIndex: LogSlot;
}

/** Index of the last slot that fits a log of `logLen` bytes. */
export function lastIndexFor(logLen: number): number {
  return Math.floor((logLen - LOG_HEADER_SIZE) / LOG_ENTRY_SIZE) - 1;
}

export function entryOffset(slot: LogSlot): number {
  return LOG_HEADER_SIZE + LOG_ENTRY_SIZE * slot;
}

export function encodeLogHeader(h: LogHeader): Buffer {
  const b = LOG_HEADER.alloc({ ...h, magic: LOG_MAGIC, crc: 0n });
  writeU64n(b, LOG_HEADER_OFF.crc, BigInt(famfsCrc(b, 0, LOG_HEADER_CRC_COVERED)));
  return b;
}

/**
 * Decode and validate against the superblock's log length. Upstream checks only magic and
 * CRC; a reader here also refuses a length or last index that disagrees with the log it
 * was given, and a next index past the end, since each would make it read outside the log.
 */
export function decodeLogHeader(bytes: Buffer, expectedLen: number): LogHeader {
  if (bytes.length < LOG_HEADER_SIZE) throw new FormatError('log header is truncated');
  if (readU64n(bytes, LOG_HEADER_OFF.magic) !== LOG_MAGIC) throw new FormatError('log header has a bad magic');
  const stored = readU64n(bytes, LOG_HEADER_OFF.crc);
  const computed = famfsCrc(bytes, 0, LOG_HEADER_CRC_COVERED);
  if (stored !== BigInt(computed)) {
    throw new FormatError(`log header CRC mismatch (stored 0x${stored.toString(16)}, computed 0x${computed.toString(16)})`);
  }
  const f = LOG_HEADER.decode(bytes);
  const h: LogHeader = { len: f.len, lastIndex: f.lastIndex, nextSeqnum: f.nextSeqnum, nextIndex: logSlot(f.nextIndex) };
  if (h.len !== expectedLen) {
    throw new FormatError(`log header length ${h.len} disagrees with the superblock's ${expectedLen}`);
  }
  if (h.lastIndex !== lastIndexFor(h.len)) {
    throw new FormatError(`log header last index ${h.lastIndex} does not fit a log of ${h.len} bytes`);
  }
  if (h.nextIndex > h.lastIndex + 1) {
    throw new FormatError(`log header next index ${h.nextIndex} is past the last slot ${h.lastIndex}`);
  }
  return h;
}
