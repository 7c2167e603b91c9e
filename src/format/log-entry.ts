import { FormatError } from '../errors.js';
import { readU32, readU64n, u64EqualsU32, writeU32, writeU64, writeU64n } from '../struct/le.js';
import { defineStruct, nested, union } from '../struct/struct.js';
import { ADD_DAXDEV_ENTRY, type AddDaxdevMeta } from './add-daxdev-entry.js';
import { famfsCrc } from './crc.js';
import { FILE_META, type FileMeta, decodeFileMeta, encodeFileMeta } from './file-meta.js';
import { MKDIR_ENTRY, type MkdirMeta, decodeMkdir, encodeMkdir } from './mkdir-entry.js';

/** struct famfs_log_entry: 544 bytes; seqnum, type, the payload union, CRC. */
export const LOG_ENTRY = defineStruct('famfs_log_entry', 544, {
  seqnum: 'u64n',
  type: 'u32',
  payload: union(nested(FILE_META), nested(MKDIR_ENTRY), nested(ADD_DAXDEV_ENTRY)),
  crc: 'u64n',
});
export const LOG_ENTRY_SIZE = LOG_ENTRY.SIZE;
/** The CRC covers every byte before it. */
export const LOG_ENTRY_CRC_COVERED = LOG_ENTRY.OFF.crc;

/** enum famfs_log_entry_type. */
const ENTRY_TYPE = {
  FILE: 0,
  MKDIR: 1,
  DELETE: 2,
  ADD_DAXDEV: 3,
  INVALID: 4,
} as const;

const OFF = LOG_ENTRY.OFF;

export type LogEntry =
  | ({ type: 'file'; seqnum: number } & FileMeta)
  | ({ type: 'mkdir'; seqnum: number } & MkdirMeta)
  | ({ type: 'add_daxdev'; seqnum: number } & AddDaxdevMeta)
  /** Defined upstream but never produced or consumed; kept so it can be reported. */
  | { type: 'delete'; seqnum: number }
  | { type: 'invalid'; seqnum: number };

export function encodeLogEntry(e: LogEntry): Buffer {
  const b = Buffer.alloc(LOG_ENTRY_SIZE);
  writeU64(b, OFF.seqnum, e.seqnum);
  switch (e.type) {
    case 'file':
      writeU32(b, OFF.type, ENTRY_TYPE.FILE);
      encodeFileMeta(b, OFF.payload, e);
      break;
    case 'mkdir':
      writeU32(b, OFF.type, ENTRY_TYPE.MKDIR);
      encodeMkdir(b, OFF.payload, e);
      break;
    case 'add_daxdev':
      writeU32(b, OFF.type, ENTRY_TYPE.ADD_DAXDEV);
      ADD_DAXDEV_ENTRY.encode(b, OFF.payload, e);
      break;
    case 'delete':
      writeU32(b, OFF.type, ENTRY_TYPE.DELETE);
      break;
    case 'invalid':
      writeU32(b, OFF.type, ENTRY_TYPE.INVALID);
      break;
  }
  writeU64n(b, OFF.crc, BigInt(famfsCrc(b, 0, LOG_ENTRY_CRC_COVERED)));
  return b;
}

/**
 * The CRC and seqnum checks alone: what proves the slot holds a whole entry written for it.
 * `base` is the entry's offset in `bytes`. Returns the CRC the entry was checked against.
 */
export function checkLogEntryFrame(bytes: Buffer, index: number, base = 0): number {
  if (bytes.length < base + LOG_ENTRY_SIZE) throw new FormatError(`log entry ${index} is truncated`);
  const computed = famfsCrc(bytes, base, LOG_ENTRY_CRC_COVERED);
  if (!u64EqualsU32(bytes, base + OFF.crc, computed)) {
    throw new FormatError(`log entry ${index}: CRC mismatch (stored 0x${readU64n(bytes, base + OFF.crc).toString(16)}, computed 0x${computed.toString(16)})`);
  }
  if (!u64EqualsU32(bytes, base + OFF.seqnum, index)) {
    throw new FormatError(`log entry ${index}: seqnum ${readU64n(bytes, base + OFF.seqnum)} does not match its slot`);
  }
  return computed;
}

/** Offset of the payload union within an entry. */
export const LOG_ENTRY_PAYLOAD_OFFSET = OFF.payload;

/** Decode the entry of slot `index` found at `base` in `bytes`; a bad CRC, seqnum or payload is a FormatError. */
export function decodeLogEntry(bytes: Buffer, index: number, base = 0): LogEntry {
  checkLogEntryFrame(bytes, index, base);
  const seqnum = index;
  const type = readU32(bytes, base + OFF.type);
  const payload = base + OFF.payload;
  try {
    switch (type) {
      case ENTRY_TYPE.FILE:
        return Object.assign(decodeFileMeta(bytes, payload), { type: 'file' as const, seqnum });
      case ENTRY_TYPE.MKDIR:
        return Object.assign(decodeMkdir(bytes, payload), { type: 'mkdir' as const, seqnum });
      case ENTRY_TYPE.ADD_DAXDEV:
        return Object.assign(ADD_DAXDEV_ENTRY.decode(bytes, payload), { type: 'add_daxdev' as const, seqnum });
      case ENTRY_TYPE.DELETE:
        return { type: 'delete', seqnum };
      case ENTRY_TYPE.INVALID:
        return { type: 'invalid', seqnum };
      default:
        throw new FormatError(`unknown entry type ${type}`);
    }
  } catch (err) {
    if (err instanceof FormatError) throw new FormatError(`log entry ${index}: ${err.message}`, err.code);
    throw err;
  }
}
