import { FsError } from '../errors.js';
import { writeU64 } from '../struct/le.js';
import { LOG_OFFSET } from '../format/layout.js';
import { LOG_ENTRY_SIZE, encodeLogEntry, type LogEntry } from '../format/log-entry.js';
import { LOG_HEADER_OFF, type LogSlot, entryOffset } from '../format/log-header.js';

/** What the writer needs of a mapping of the metadata region (superblock + log). */
export interface MetadataView {
  readonly buffer: Buffer;
  flush(offset?: number, length?: number): void;
  invalidate(offset?: number, length?: number): void;
  /** Gives the range memory now, or fails with ENOSPC (DeviceMapping.populate). */
  populate(offset?: number, length?: number): void;
}

/** next_seqnum and next_index: adjacent u64s, flushed together when an entry is published. */
const NEXT_FIELDS_BYTES = 16;

/** The log is given memory this much at a time, ahead of the entries written (2 MiB: a huge page). */
const LOG_RESERVE_CHUNK = 0x200000;

/** Bytes of a new log that mkfs gives memory: the chunk of the first entries and the one after. */
export function initialLogReservation(logLen: number): number {
  return Math.min(logLen, 2 * LOG_RESERVE_CHUNK);
}

/**
 * mkfs leaves an emulated device's log a hole past initialLogReservation (src/device/emulated.ts
 * clearEmulatedRange), so the log gets its memory as it fills, here, a chunk ahead: where a full
 * tmpfs is an ENOSPC error before anything is written instead of a SIGBUS mid-entry. An entry
 * that reaches into a new chunk gives it and the one after it memory; the others cost nothing
 * (a system call per entry cut the append rate several times on this machine). A DAX device is
 * memory throughout: populate does nothing there.
 */
function reserveAhead(meta: MetadataView, at: number): void {
  const chunk = Math.floor(at / LOG_RESERVE_CHUNK);
  const endChunk = Math.floor((at + LOG_ENTRY_SIZE) / LOG_RESERVE_CHUNK);
  if (chunk === endChunk) return;
  const logLen = meta.buffer.length - LOG_OFFSET;
  const from = chunk * LOG_RESERVE_CHUNK;
  const to = Math.min(logLen, (endChunk + 2) * LOG_RESERVE_CHUNK);
  meta.populate(LOG_OFFSET + from, to - from);
}

export type NewEntry = LogEntry extends infer E ? (E extends LogEntry ? Omit<E, 'seqnum'> : never) : never;

/** An append would not fit in the log: no slot is left. */
export class LogFullError extends FsError {
  constructor(needed: number, free: number) {
    super('ENOSPC', `log full: ${needed} entr${needed === 1 ? 'y' : 'ies'} needed, ${free} free`);
  }
}

/**
 * Appends `entry` at slot `index`, which must be the log's next_index: the caller holds the log
 * lock and has read the header since taking it (nobody else can move next_index meanwhile), so
 * the header is not read again per entry, which would only cost a cache invalidation and a CRC.
 * The protocol: the entry written and flushed, then next_index (and next_seqnum) advanced and
 * flushed, so a reader never sees an index that covers an entry not yet in memory.
 */
export function appendEntryAt(meta: MetadataView, index: LogSlot, entry: NewEntry): void {
  const log = meta.buffer.subarray(LOG_OFFSET);
  const bytes = encodeLogEntry({ ...entry, seqnum: index } as LogEntry);
  const at = entryOffset(index);
  reserveAhead(meta, at);
  log.set(bytes, at);
  meta.flush(LOG_OFFSET + at, LOG_ENTRY_SIZE);
  writeU64(log, LOG_HEADER_OFF.nextSeqnum, index + 1);
  writeU64(log, LOG_HEADER_OFF.nextIndex, index + 1);
  meta.flush(LOG_OFFSET + LOG_HEADER_OFF.nextSeqnum, NEXT_FIELDS_BYTES);
}
