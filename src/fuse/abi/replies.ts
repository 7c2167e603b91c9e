/** Encoders of the small fixed reply structs. */
import type { FileHandle } from './ids.js';
import { writeU64 } from '../../struct/le.js';
import { StructSize } from './sizes.js';
import { replyStruct } from './wire.js';
import { GETXATTR_OUT, KSTATFS, LSEEK_OUT, OPEN_OUT, WRITE_OUT } from './structs.js';

/** The reply to OPEN, OPENDIR and the second half of CREATE. */
export interface OpenReply {
  /** Any number the file system wants back in later requests on this open file. */
  readonly fh: FileHandle;
  /** FOPEN_* bits. */
  readonly flags?: number;
  /** With FOPEN_PASSTHROUGH: the id from FUSE_DEV_IOC_BACKING_OPEN. */
  readonly backingId?: number;
}

const OpenOutOff = OPEN_OUT.OFF;

export function encodeOpenOutInto(buf: Buffer, off: number, o: OpenReply): void {
  writeU64(buf, off + OpenOutOff.fh, o.fh);
  buf.writeUInt32LE(o.flags ?? 0, off + OpenOutOff.openFlags);
  buf.writeInt32LE(o.backingId ?? 0, off + OpenOutOff.backingId);
}

export function encodeOpenOut(o: OpenReply): Buffer {
  const buf = replyStruct(StructSize.OPEN_OUT);
  encodeOpenOutInto(buf, 0, o);
  return buf;
}

const WriteOutOff = WRITE_OUT.OFF;

export function encodeWriteOut(size: number): Buffer {
  const buf = replyStruct(StructSize.WRITE_OUT);
  buf.writeUInt32LE(size, WriteOutOff.size);
  return buf;
}

/** fuse_kstatfs, the reply to STATFS. */
export interface StatfsReply {
  readonly blocks: number;
  readonly bfree: number;
  readonly bavail: number;
  readonly files: number;
  readonly ffree: number;
  readonly bsize: number;
  readonly namelen: number;
  /** Fragment size; defaults to bsize. */
  readonly frsize?: number;
}

const KstatfsOff = KSTATFS.OFF;

export function encodeStatfsOut(s: StatfsReply): Buffer {
  const buf = replyStruct(StructSize.STATFS_OUT);
  writeU64(buf, KstatfsOff.blocks, s.blocks);
  writeU64(buf, KstatfsOff.bfree, s.bfree);
  writeU64(buf, KstatfsOff.bavail, s.bavail);
  writeU64(buf, KstatfsOff.files, s.files);
  writeU64(buf, KstatfsOff.ffree, s.ffree);
  buf.writeUInt32LE(s.bsize, KstatfsOff.bsize);
  buf.writeUInt32LE(s.namelen, KstatfsOff.namelen);
  buf.writeUInt32LE(s.frsize ?? s.bsize, KstatfsOff.frsize);
  return buf;
}

const GetxattrOutOff = GETXATTR_OUT.OFF;

/** The reply to a GETXATTR/LISTXATTR size probe (request size 0). */
export function encodeGetxattrOut(size: number): Buffer {
  const buf = replyStruct(StructSize.GETXATTR_OUT);
  buf.writeUInt32LE(size, GetxattrOutOff.size);
  return buf;
}

const LseekOutOff = LSEEK_OUT.OFF;

export function encodeLseekOut(offset: number): Buffer {
  const buf = replyStruct(StructSize.LSEEK_OUT);
  writeU64(buf, LseekOutOff.offset, offset);
  return buf;
}
