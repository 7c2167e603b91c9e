import type { NodeId } from './ids.js';
import { writeU64 } from '../../struct/le.js';
import { StructSize } from './sizes.js';
import { replyStruct } from './wire.js';
import { ATTR, ATTR_OUT, ENTRY_OUT } from './structs.js';

/** A point in time as the kernel stores it. */
export interface Timespec {
  readonly sec: number;
  readonly nsec: number;
}

/** fuse_attr. Only ino and mode are required; the rest default to 0 (nlink to 1, blocks from size). */
export interface FileAttr {
  /** What st_ino shows; usually the nodeid. */
  readonly ino: number;
  /** S_IF* type bits plus permissions. */
  readonly mode: number;
  readonly size?: number;
  /** In 512-byte units; derived from size when absent. */
  readonly blocks?: number;
  readonly atime?: Timespec;
  readonly mtime?: Timespec;
  readonly ctime?: Timespec;
  readonly nlink?: number;
  readonly uid?: number;
  readonly gid?: number;
  readonly rdev?: number;
  /** st_blksize; 0 lets the kernel choose. */
  readonly blksize?: number;
  /** FUSE_ATTR_* bits. */
  readonly flags?: number;
}

/** A FileAttr with every field present and writable: what a hot encoder's caller fills in place per entry. */
export type AttrFields = { -readonly [K in keyof FileAttr]-?: FileAttr[K] };

/**
 * The reply to LOOKUP, MKDIR, MKNOD, SYMLINK, LINK, CREATE and a READDIRPLUS entry.
 * Timeouts are in seconds (fractions allowed) and are the file system's caching policy;
 * 0 means the kernel asks again on every use. nodeid 0 with an entryTimeout caches a negative entry.
 */
export interface Entry {
  readonly nodeid: NodeId;
  /** nodeid + generation must never name two different files over the fs lifetime. */
  readonly generation?: number;
  readonly attr: FileAttr;
  readonly entryTimeout?: number;
  readonly attrTimeout?: number;
}

const STAT_BLOCK_SIZE = 512;
const NSEC_PER_SEC = 1_000_000_000;
const MS_PER_SEC = 1000;
const NSEC_PER_MS = 1_000_000;

const AttrOff = ATTR.OFF;
const EntryOutOff = ENTRY_OUT.OFF;
const AttrOutOff = ATTR_OUT.OFF;

const ZERO_TIME: Timespec = { sec: 0, nsec: 0 };

function timespecFromMs(ms: number): Timespec {
  const sec = Math.floor(ms / MS_PER_SEC);
  return { sec, nsec: Math.round((ms - sec * MS_PER_SEC) * NSEC_PER_MS) };
}

export function timespecNow(): Timespec {
  return timespecFromMs(Date.now());
}

/** Seconds (fractional) → whole seconds + nanoseconds, as the *_valid fields want. */
export function splitSeconds(t: number): Timespec {
  if (!(t >= 0)) return ZERO_TIME;
  const sec = Math.floor(t);
  const nsec = Math.min(NSEC_PER_SEC - 1, Math.round((t - sec) * NSEC_PER_SEC));
  return { sec, nsec };
}

function encodeAttr(buf: Buffer, off: number, a: FileAttr): void {
  const size = a.size ?? 0;
  const atime = a.atime ?? ZERO_TIME;
  const mtime = a.mtime ?? ZERO_TIME;
  const ctime = a.ctime ?? ZERO_TIME;
  writeU64(buf, off + AttrOff.ino, a.ino);
  writeU64(buf, off + AttrOff.size, size);
  writeU64(buf, off + AttrOff.blocks, a.blocks ?? Math.ceil(size / STAT_BLOCK_SIZE));
  writeU64(buf, off + AttrOff.atime, atime.sec);
  writeU64(buf, off + AttrOff.mtime, mtime.sec);
  writeU64(buf, off + AttrOff.ctime, ctime.sec);
  buf.writeUInt32LE(atime.nsec, off + AttrOff.atimensec);
  buf.writeUInt32LE(mtime.nsec, off + AttrOff.mtimensec);
  buf.writeUInt32LE(ctime.nsec, off + AttrOff.ctimensec);
  buf.writeUInt32LE(a.mode >>> 0, off + AttrOff.mode);
  buf.writeUInt32LE(a.nlink ?? 1, off + AttrOff.nlink);
  buf.writeUInt32LE(a.uid ?? 0, off + AttrOff.uid);
  buf.writeUInt32LE(a.gid ?? 0, off + AttrOff.gid);
  buf.writeUInt32LE(a.rdev ?? 0, off + AttrOff.rdev);
  buf.writeUInt32LE(a.blksize ?? 0, off + AttrOff.blksize);
  buf.writeUInt32LE(a.flags ?? 0, off + AttrOff.flags);
}

export function encodeEntryOutInto(buf: Buffer, off: number, e: Entry): void {
  const entryValid = splitSeconds(e.entryTimeout ?? 0);
  const attrValid = splitSeconds(e.attrTimeout ?? 0);
  writeU64(buf, off + EntryOutOff.nodeid, e.nodeid);
  writeU64(buf, off + EntryOutOff.generation, e.generation ?? 0);
  writeU64(buf, off + EntryOutOff.entryValid, entryValid.sec);
  writeU64(buf, off + EntryOutOff.attrValid, attrValid.sec);
  buf.writeUInt32LE(entryValid.nsec, off + EntryOutOff.entryValidNsec);
  buf.writeUInt32LE(attrValid.nsec, off + EntryOutOff.attrValidNsec);
  encodeAttr(buf, off + EntryOutOff.attr, e.attr);
}

export function encodeEntryOut(e: Entry): Buffer {
  const buf = replyStruct(StructSize.ENTRY_OUT);
  encodeEntryOutInto(buf, 0, e);
  return buf;
}

/** An empty entry_out: "no entry information" in a direntplus (the kernel lists the name only). */
export function encodeNoEntryInto(buf: Buffer, off: number): void {
  buf.fill(0, off, off + StructSize.ENTRY_OUT);
}

/** fuse_attr_out: the reply to GETATTR and SETATTR. */
export function encodeAttrOut(attr: FileAttr, timeoutSeconds: number): Buffer {
  const buf = replyStruct(StructSize.ATTR_OUT);
  const valid = splitSeconds(timeoutSeconds);
  writeU64(buf, AttrOutOff.attrValid, valid.sec);
  buf.writeUInt32LE(valid.nsec, AttrOutOff.attrValidNsec);
  encodeAttr(buf, AttrOutOff.attr, attr);
  return buf;
}
