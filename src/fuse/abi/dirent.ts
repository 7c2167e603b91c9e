/**
 * fuse_dirent / fuse_direntplus packing. Records are padded to 8 bytes with zeroes, and a reply
 * never holds a partial record: the builder refuses an entry that would overflow the kernel's buffer.
 */
import { encodeEntryOutInto, encodeNoEntryInto, type Entry } from './attr.js';
import { alignUp, readU64, writeU64 } from '../../struct/le.js';
import { DIRENT_ALIGN, StructSize } from './sizes.js';
import { DIRENT } from './structs.js';
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
export function encodeDirentRecordInto(
  buf: Buffer, off: number, plus: boolean, e: Omit<DirEntry, 'name'>, name: Buffer, lookup: Entry | null,
): number {
  if (!plus) return encodeDirentInto(buf, off, e, name);
  if (lookup === null) encodeNoEntryInto(buf, off);
  else encodeEntryOutInto(buf, off, lookup);
  return encodeDirentInto(buf, off + StructSize.ENTRY_OUT, e, name);
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
