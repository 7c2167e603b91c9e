/**
 * fuse_dirent / fuse_direntplus packing. Records are padded to 8 bytes with zeroes, and a reply
 * never holds a partial record: the builder refuses an entry that would overflow the kernel's buffer.
 */
import { type AttrFields, encodeEntryOutInto, encodeNoEntryInto, type Entry, splitSeconds, type Timespec } from './attr.js';
import type { NodeId } from './ids.js';
import { alignUp, readU64, setU64, writeU64 } from '../../struct/le.js';
import { DIRENT_ALIGN, StructSize } from './sizes.js';
import { ATTR, DIRENT, DIRENTPLUS, ENTRY_OUT } from './structs.js';
import { fuseRangeFault } from './wire.js';

/** One directory entry as READDIR(PLUS) lists it. */
export interface DirEntry {
  readonly name: string;
  /** st_ino shown by readdir (d_ino). */
  readonly ino: number;
  /** DT_* value; direntTypeOfMode(mode) converts a mode. */
  readonly type: number;
  /**
   * Cookie of the *next* entry: the kernel sends it back as the READDIR offset to continue after
   * this one. Index + 1 is the usual choice.
   */
  readonly offset: number;
}

const DirentOff = { ...DIRENT.OFF, name: DIRENT.SIZE } as const;

/** Bytes of one record, padding included: a fuse_dirent, or for READDIRPLUS (`plus`) a fuse_direntplus. */
export function direntRecordSize(plus: boolean, nameBytes: number): number {
  return alignUp((plus ? StructSize.DIRENTPLUS : StructSize.DIRENT) + nameBytes, DIRENT_ALIGN);
}

/** Writes one fuse_dirent at `off` (name given as bytes); returns the offset after its padding. */
export function encodeDirentInto(buf: Buffer, off: number, e: Omit<DirEntry, 'name'>, name: Buffer): number {
  const end = off + direntRecordSize(false, name.length);
  writeU64(buf, off + DirentOff.ino, e.ino);
  writeU64(buf, off + DirentOff.off, e.offset);
  buf.writeUInt32LE(name.length, off + DirentOff.namelen);
  buf.writeUInt32LE(e.type, off + DirentOff.type);
  name.copy(buf, off + DirentOff.name);
  buf.fill(0, off + DirentOff.name + name.length, end);
  return end;
}

/**
 * Writes one record at `off` (room for direntRecordSize bytes): for READDIRPLUS the entry_out
 * first, all zero for `lookup` null ("no entry information"), then the dirent. Returns the offset
 * after its padding.
 */
function encodeDirentRecordInto(
  buf: Buffer, off: number, plus: boolean, e: Omit<DirEntry, 'name'>, name: Buffer, lookup: Entry | null,
): number {
  if (!plus) return encodeDirentInto(buf, off, e, name);
  if (lookup === null) encodeNoEntryInto(buf, off);
  else encodeEntryOutInto(buf, off, lookup);
  return encodeDirentInto(buf, off + StructSize.ENTRY_OUT, e, name);
}

/**
 * One READDIRPLUS record but its name, filled in place by a file system for each entry it lists
 * and packed by DirentPlusPacker.put: one object serves a whole reply. attr.ino is also the
 * dirent's d_ino.
 */
export interface DirentPlusFields {
  nodeid: NodeId;
  generation: number;
  attr: AttrFields;
  /** DT_* value. */
  type: number;
  /** Cookie of the next entry (DirEntry.offset). */
  offset: number;
}

/** Where each field of a fuse_direntplus lies, from its declaration in structs.ts. */
const PlusOff = (() => {
  const e = DIRENTPLUS.OFF.entryOut;
  const a = e + ENTRY_OUT.OFF.attr;
  const d = DIRENTPLUS.OFF.dirent;
  return {
    nodeid: e + ENTRY_OUT.OFF.nodeid, generation: e + ENTRY_OUT.OFF.generation,
    entryValid: e + ENTRY_OUT.OFF.entryValid, attrValid: e + ENTRY_OUT.OFF.attrValid,
    entryValidNsec: e + ENTRY_OUT.OFF.entryValidNsec, attrValidNsec: e + ENTRY_OUT.OFF.attrValidNsec,
    ino: a + ATTR.OFF.ino, size: a + ATTR.OFF.size, blocks: a + ATTR.OFF.blocks,
    atime: a + ATTR.OFF.atime, mtime: a + ATTR.OFF.mtime, ctime: a + ATTR.OFF.ctime,
    atimensec: a + ATTR.OFF.atimensec, mtimensec: a + ATTR.OFF.mtimensec, ctimensec: a + ATTR.OFF.ctimensec,
    mode: a + ATTR.OFF.mode, nlink: a + ATTR.OFF.nlink, uid: a + ATTR.OFF.uid, gid: a + ATTR.OFF.gid,
    rdev: a + ATTR.OFF.rdev, blksize: a + ATTR.OFF.blksize, flags: a + ATTR.OFF.flags,
    dirIno: d + DIRENT.OFF.ino, dirOff: d + DIRENT.OFF.off, namelen: d + DIRENT.OFF.namelen, type: d + DIRENT.OFF.type,
  } as const;
})();

/**
 * Packs READDIRPLUS records for a file system that lists many entries per request and keeps
 * their names as bytes: the same bytes as encodeDirentRecordInto, written through a DataView
 * with no object per entry and each timeout split once per reply. The caller writes an entry's
 * name at nameAt(off) (its bytes are often copied straight from where the file system keeps
 * them, before anyone knows whether the record fits), checks direntRecordSize(true, nameLen)
 * against the kernel's size, then put()s the record. Every byte of a record is written (fields,
 * name, zero padding), so the buffer is never cleared.
 */
export class DirentPlusPacker {
  private buffer = Buffer.alloc(0);
  private view = new DataView(this.buffer.buffer, this.buffer.byteOffset, 0);
  private entryValid: Timespec = splitSeconds(0);
  private attrValid: Timespec = splitSeconds(0);

  /** The buffer records are packed into, at least `bytes` long (kept and grown across replies). */
  reserve(bytes: number): Buffer {
    if (this.buffer.length < bytes) {
      this.buffer = Buffer.alloc(bytes);
      this.view = new DataView(this.buffer.buffer, this.buffer.byteOffset, this.buffer.byteLength);
    }
    return this.buffer;
  }

  /** The entry and attribute timeouts of every record put from now on (seconds, fractions allowed). */
  setTimeouts(entryTimeout: number, attrTimeout: number): void {
    this.entryValid = splitSeconds(entryTimeout);
    this.attrValid = splitSeconds(attrTimeout);
  }

  /** Where the name of a record at `off` goes. */
  static nameAt(off: number): number {
    return off + StructSize.DIRENTPLUS;
  }

  /** Writes the record at `off` whose `nameLen` name bytes are already at nameAt(off); returns the offset after its padding. */
  put(off: number, nameLen: number, f: DirentPlusFields): number {
    const v = this.view;
    const a = f.attr;
    setU64(v, off + PlusOff.nodeid, f.nodeid);
    setU64(v, off + PlusOff.generation, f.generation);
    setU64(v, off + PlusOff.entryValid, this.entryValid.sec);
    setU64(v, off + PlusOff.attrValid, this.attrValid.sec);
    v.setUint32(off + PlusOff.entryValidNsec, this.entryValid.nsec, true);
    v.setUint32(off + PlusOff.attrValidNsec, this.attrValid.nsec, true);
    setU64(v, off + PlusOff.ino, a.ino);
    setU64(v, off + PlusOff.size, a.size);
    setU64(v, off + PlusOff.blocks, a.blocks);
    setU64(v, off + PlusOff.atime, a.atime.sec);
    setU64(v, off + PlusOff.mtime, a.mtime.sec);
    setU64(v, off + PlusOff.ctime, a.ctime.sec);
    v.setUint32(off + PlusOff.atimensec, a.atime.nsec, true);
    v.setUint32(off + PlusOff.mtimensec, a.mtime.nsec, true);
    v.setUint32(off + PlusOff.ctimensec, a.ctime.nsec, true);
    v.setUint32(off + PlusOff.mode, a.mode, true);
    v.setUint32(off + PlusOff.nlink, a.nlink, true);
    v.setUint32(off + PlusOff.uid, a.uid, true);
    v.setUint32(off + PlusOff.gid, a.gid, true);
    v.setUint32(off + PlusOff.rdev, a.rdev, true);
    v.setUint32(off + PlusOff.blksize, a.blksize, true);
    v.setUint32(off + PlusOff.flags, a.flags, true);
    return this.putDirent(off, nameLen, a.ino, f.type, f.offset);
  }

  /** Writes a record with "no entry information" (as encodeNoEntryInto), its name already at nameAt(off). */
  putNoEntry(off: number, nameLen: number, ino: number, type: number, offset: number): number {
    this.buffer.fill(0, off, off + StructSize.ENTRY_OUT);
    return this.putDirent(off, nameLen, ino, type, offset);
  }

  private putDirent(off: number, nameLen: number, ino: number, type: number, offset: number): number {
    const v = this.view;
    setU64(v, off + PlusOff.dirIno, ino);
    setU64(v, off + PlusOff.dirOff, offset);
    v.setUint32(off + PlusOff.namelen, nameLen, true);
    v.setUint32(off + PlusOff.type, type, true);
    const end = off + direntRecordSize(true, nameLen);
    const buf = this.buffer;
    for (let i = DirentPlusPacker.nameAt(off) + nameLen; i < end; i++) buf[i] = 0;
    return end;
  }
}

/** Accepts entries for a READDIR reply until the kernel's buffer is full. */
export interface DirentSink {
  /** False when this entry did not fit; stop then (the kernel asks again from the last cookie). */
  add(entry: DirEntry): boolean;
}

/**
 * Accepts entries for a READDIRPLUS reply. Every accepted entry with a non-zero nodeid counts as
 * one lookup in the kernel (except "." and ".."), so count a lookup only when add() returned true.
 * Pass `null` for "no entry information" (the kernel lists the name without caching anything).
 */
export interface DirentPlusSink {
  add(entry: DirEntry, lookup: Entry | null): boolean;
}

/**
 * Packs dirents or direntplus records into one reply buffer of at most `maxSize` bytes. The buffer
 * is allocated at the first add(): every READDIR request gets a builder, and a file system that
 * answers with bytes it keeps encoded never uses it, so it should not pay for zeroing one.
 */
export class DirentBuilder implements DirentSink, DirentPlusSink {
  private buf: Buffer | null = null;
  private used = 0;
  private count = 0;

  constructor(
    readonly maxSize: number,
    readonly plus: boolean,
  ) {}

  add(entry: DirEntry, lookup: Entry | null = null): boolean {
    const name = Buffer.from(entry.name, 'utf8');
    if (this.used + direntRecordSize(this.plus, name.length) > this.maxSize) return false;
    this.buf ??= Buffer.alloc(this.maxSize);
    this.used = encodeDirentRecordInto(this.buf, this.used, this.plus, entry, name, lookup);
    this.count++;
    return true;
  }

  get entries(): number {
    return this.count;
  }

  get size(): number {
    return this.used;
  }

  /** The packed records (a view of the builder's buffer). */
  finish(): Buffer {
    return this.buf === null ? Buffer.alloc(0) : this.buf.subarray(0, this.used);
  }
}

/** Parses a READDIR reply: for tests and debugging tools. */
export function decodeDirents(buf: Buffer, plus = false): Array<DirEntry & { entryOffset: number }> {
  const out: Array<DirEntry & { entryOffset: number }> = [];
  let off = 0;
  while (off < buf.length) {
    const entryOffset = off;
    const d = plus ? off + StructSize.ENTRY_OUT : off;
    const namelen = buf.readUInt32LE(d + DirentOff.namelen);
    out.push({
      ino: readU64(buf, d + DirentOff.ino, 'fuse_dirent.ino', fuseRangeFault),
      offset: readU64(buf, d + DirentOff.off, 'fuse_dirent.off', fuseRangeFault),
      type: buf.readUInt32LE(d + DirentOff.type),
      name: buf.toString('utf8', d + DirentOff.name, d + DirentOff.name + namelen),
      entryOffset,
    });
    off += direntRecordSize(plus, namelen);
  }
  return out;
}
