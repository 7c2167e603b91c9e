import { FormatError } from '../errors.js';
import { readU64, readU64Big, writeU64 } from './bytes.js';
import { famfsCrc } from './crc.js';
import { LOG_ENTRY_SIZE } from './log-entry.js';

/** struct famfs_log header: 48 bytes at the start of the log; entries follow. */
export const LOG_HEADER_SIZE = 48;
const LOG_MAGIC = 0xbadcafef00dn;
/** The CRC covers magic, length and last index: the fields that never change. */
export const LOG_HEADER_CRC_COVERED = 24;

export const LOG_HEADER_OFF = {
  magic: 0,
  len: 8,
  lastIndex: 16,
  crc: 24,
  nextSeqnum: 32,
  nextIndex: 40,
} as const;

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
  const b = Buffer.alloc(LOG_HEADER_SIZE);
  writeU64(b, LOG_HEADER_OFF.magic, LOG_MAGIC);
  writeU64(b, LOG_HEADER_OFF.len, h.len);
  writeU64(b, LOG_HEADER_OFF.lastIndex, h.lastIndex);
  writeU64(b, LOG_HEADER_OFF.crc, famfsCrc(b, 0, LOG_HEADER_CRC_COVERED));
  writeU64(b, LOG_HEADER_OFF.nextSeqnum, h.nextSeqnum);
  writeU64(b, LOG_HEADER_OFF.nextIndex, h.nextIndex);
  return b;
}

/**
 * Decode and validate against the superblock's log length. Upstream checks only magic and
 * CRC; a reader here also refuses a length or last index that disagrees with the log it
 * was given, and a next index past the end, since each would make it read outside the log.
 */
export function decodeLogHeader(bytes: Buffer, expectedLen: number): LogHeader {
  if (bytes.length < LOG_HEADER_SIZE) throw new FormatError('log header is truncated');
  if (readU64Big(bytes, LOG_HEADER_OFF.magic) !== LOG_MAGIC) throw new FormatError('log header has a bad magic');
  const stored = readU64Big(bytes, LOG_HEADER_OFF.crc);
  const computed = famfsCrc(bytes, 0, LOG_HEADER_CRC_COVERED);
  if (stored !== BigInt(computed)) {
    throw new FormatError(`log header CRC mismatch (stored 0x${stored.toString(16)}, computed 0x${computed.toString(16)})`);
  }
  const h: LogHeader = {
    len: readU64(bytes, LOG_HEADER_OFF.len, 'log length'),
    lastIndex: readU64(bytes, LOG_HEADER_OFF.lastIndex, 'log last index'),
    nextSeqnum: readU64(bytes, LOG_HEADER_OFF.nextSeqnum, 'log next seqnum'),
    nextIndex: logSlot(readU64(bytes, LOG_HEADER_OFF.nextIndex, 'log next index')),
  };
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
