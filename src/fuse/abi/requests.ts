/**
 * Decoders of request bodies (the bytes after fuse_in_header and before any extensions).
 * Each checks the fixed struct size first so a short body is a ProtocolError, never a RangeError.
 */
import { ProtocolError } from '../errors.js';
import { FSYNC_FDATASYNC, GETATTR_FH, READ_LOCKOWNER, RELEASE_FLUSH, SetattrValid, WRITE_LOCKOWNER } from './constants.js';
import type { Timespec } from './attr.js';
import { type FileHandle, fileHandle, type NodeId, nodeId } from './ids.js';
import { readU64, readU64n } from '../../struct/le.js';
import { StructSize } from './sizes.js';
import {
  ACCESS_IN, BATCH_FORGET_IN, CREATE_IN, FALLOCATE_IN, FLUSH_IN, FORGET_IN, FORGET_ONE, FSYNC_IN, GETATTR_IN, INTERRUPT_IN, LINK_IN,
  LSEEK_IN, MKDIR_IN, MKNOD_IN, OPEN_IN, READ_IN, RELEASE_IN, RENAME2_IN, SETATTR_IN, SETXATTR_IN,
} from './structs.js';
import { fuseRangeFault, readCString } from './wire.js';

function need(body: Buffer, size: number, what: string): void {
  if (body.length < size) throw new ProtocolError(`${what}: body of ${body.length} bytes, need ${size}`);
}

/** One NUL-terminated name (LOOKUP, UNLINK, RMDIR, REMOVEXATTR). */
export function decodeName(body: Buffer, off = 0): string {
  return readCString(body, off).value;
}

/** Two consecutive names (SYMLINK: name then target; RENAME: old then new). */
export function decodeTwoNames(body: Buffer, off: number): [string, string] {
  const first = readCString(body, off);
  const second = readCString(body, first.next);
  return [first.value, second.value];
}

export interface ForgetOne {
  readonly nodeid: NodeId;
  readonly nlookup: number;
}

export function decodeForgetIn(body: Buffer): { nlookup: number } {
  need(body, StructSize.FORGET_IN, 'forget_in');
  return { nlookup: readU64(body, FORGET_IN.OFF.nlookup, 'fuse_forget_in.nlookup', fuseRangeFault) };
}

const BatchForgetOff = BATCH_FORGET_IN.OFF;
const ForgetOneOff = FORGET_ONE.OFF;

export function decodeBatchForget(body: Buffer): ForgetOne[] {
  need(body, StructSize.BATCH_FORGET_IN, 'batch_forget_in');
  const count = body.readUInt32LE(BatchForgetOff.count);
  need(body, StructSize.BATCH_FORGET_IN + count * StructSize.FORGET_ONE, 'batch_forget entries');
  const items: ForgetOne[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const off = StructSize.BATCH_FORGET_IN + i * StructSize.FORGET_ONE;
    items[i] = { nodeid: nodeId(readU64(body, off + ForgetOneOff.nodeid, 'fuse_forget_one.nodeid', fuseRangeFault)), nlookup: readU64(body, off + ForgetOneOff.nlookup, 'fuse_forget_one.nlookup', fuseRangeFault) };
  }
  return items;
}

const GetattrInOff = GETATTR_IN.OFF;

/** The file handle, when the kernel sent one (fstat on an open file). */
export function decodeGetattrIn(body: Buffer): { fh: FileHandle | undefined } {
  // Old kernels (< 7.9) send no body at all.
  if (body.length < StructSize.GETATTR_IN) return { fh: undefined };
  const flags = body.readUInt32LE(GetattrInOff.getattrFlags);
  return { fh: (flags & GETATTR_FH) !== 0 ? fileHandle(readU64(body, GetattrInOff.fh, 'fuse_getattr_in.fh', fuseRangeFault)) : undefined };
}

export interface SetattrIn {
  readonly valid: number;
  readonly fh?: FileHandle;
  readonly size?: number;
  readonly lockOwner?: bigint;
  /** 'now' when the caller asked for the current time (utimensat UTIME_NOW). */
  readonly atime?: Timespec | 'now';
  readonly mtime?: Timespec | 'now';
  readonly ctime?: Timespec;
  readonly mode?: number;
  readonly uid?: number;
  readonly gid?: number;
  readonly killSuidgid: boolean;
}

const SetattrInOff = SETATTR_IN.OFF;

export function decodeSetattrIn(body: Buffer): SetattrIn {
  need(body, StructSize.SETATTR_IN, 'setattr_in');
  const valid = body.readUInt32LE(SetattrInOff.valid);
  const has = (bit: number): boolean => (valid & bit) !== 0;
  const time = (secOff: number, nsecOff: number): Timespec => ({
    sec: readU64(body, secOff, 'fuse_setattr_in time', fuseRangeFault),
    nsec: body.readUInt32LE(nsecOff),
  });
  let atime: Timespec | 'now' | undefined;
  if (has(SetattrValid.ATIME_NOW)) atime = 'now';
  else if (has(SetattrValid.ATIME)) atime = time(SetattrInOff.atime, SetattrInOff.atimensec);
  let mtime: Timespec | 'now' | undefined;
  if (has(SetattrValid.MTIME_NOW)) mtime = 'now';
  else if (has(SetattrValid.MTIME)) mtime = time(SetattrInOff.mtime, SetattrInOff.mtimensec);
  return {
    valid,
    fh: has(SetattrValid.FH) ? fileHandle(readU64(body, SetattrInOff.fh, 'fuse_setattr_in.fh', fuseRangeFault)) : undefined,
    size: has(SetattrValid.SIZE) ? readU64(body, SetattrInOff.size, 'fuse_setattr_in.size', fuseRangeFault) : undefined,
    lockOwner: has(SetattrValid.LOCKOWNER) ? readU64n(body, SetattrInOff.lockOwner) : undefined,
    atime,
    mtime,
    ctime: has(SetattrValid.CTIME) ? time(SetattrInOff.ctime, SetattrInOff.ctimensec) : undefined,
    mode: has(SetattrValid.MODE) ? body.readUInt32LE(SetattrInOff.mode) : undefined,
    uid: has(SetattrValid.UID) ? body.readUInt32LE(SetattrInOff.uid) : undefined,
    gid: has(SetattrValid.GID) ? body.readUInt32LE(SetattrInOff.gid) : undefined,
    killSuidgid: has(SetattrValid.KILL_SUIDGID),
  };
}

const OpenInOff = OPEN_IN.OFF;

/** fuse_open_in: O_* flags of open(2), and FUSE_OPEN_* flags. */
export function decodeOpenIn(body: Buffer): { flags: number; openFlags: number } {
  need(body, StructSize.OPEN_IN, 'open_in');
  return { flags: body.readUInt32LE(OpenInOff.flags), openFlags: body.readUInt32LE(OpenInOff.openFlags) };
}

export interface ReadIn {
  readonly fh: FileHandle;
  readonly offset: number;
  readonly size: number;
  readonly readFlags: number;
  readonly lockOwner?: bigint;
  /** O_* flags of the open file. */
  readonly flags: number;
}

/** fuse_read_in and fuse_write_in share this layout (WRITE_IN is READ_IN). */
const ReadInOff = READ_IN.OFF;

export function decodeReadIn(body: Buffer): ReadIn {
  need(body, StructSize.READ_IN, 'read_in');
  const readFlags = body.readUInt32LE(ReadInOff.ioFlags);
  return {
    fh: fileHandle(readU64(body, ReadInOff.fh, 'fuse_read_in.fh', fuseRangeFault)),
    offset: readU64(body, ReadInOff.offset, 'fuse_read_in.offset', fuseRangeFault),
    size: body.readUInt32LE(ReadInOff.size),
    readFlags,
    lockOwner: (readFlags & READ_LOCKOWNER) !== 0 ? readU64n(body, ReadInOff.lockOwner) : undefined,
    flags: body.readUInt32LE(ReadInOff.flags),
  };
}

export interface WriteIn {
  readonly fh: FileHandle;
  readonly offset: number;
  readonly writeFlags: number;
  readonly lockOwner?: bigint;
  readonly flags: number;
  /** A view of the request buffer, valid until the reply is sent (a ring entry of the io_uring transport then takes the next request). */
  readonly data: Buffer;
}

export function decodeWriteIn(body: Buffer): WriteIn {
  need(body, StructSize.WRITE_IN, 'write_in');
  const size = body.readUInt32LE(ReadInOff.size);
  need(body, StructSize.WRITE_IN + size, 'write data');
  const writeFlags = body.readUInt32LE(ReadInOff.ioFlags);
  return {
    fh: fileHandle(readU64(body, ReadInOff.fh, 'fuse_write_in.fh', fuseRangeFault)),
    offset: readU64(body, ReadInOff.offset, 'fuse_write_in.offset', fuseRangeFault),
    writeFlags,
    lockOwner: (writeFlags & WRITE_LOCKOWNER) !== 0 ? readU64n(body, ReadInOff.lockOwner) : undefined,
    flags: body.readUInt32LE(ReadInOff.flags),
    data: body.subarray(StructSize.WRITE_IN, StructSize.WRITE_IN + size),
  };
}

const ReleaseInOff = RELEASE_IN.OFF;

export interface ReleaseIn {
  readonly fh: FileHandle;
  readonly flags: number;
  readonly releaseFlags: number;
  /** RELEASE_FLUSH: the release also stands for a flush (no FLUSH was sent). */
  readonly flush: boolean;
  readonly lockOwner: bigint;
}

export function decodeReleaseIn(body: Buffer): ReleaseIn {
  need(body, StructSize.RELEASE_IN, 'release_in');
  const releaseFlags = body.readUInt32LE(ReleaseInOff.releaseFlags);
  return {
    fh: fileHandle(readU64(body, ReleaseInOff.fh, 'fuse_release_in.fh', fuseRangeFault)),
    flags: body.readUInt32LE(ReleaseInOff.flags),
    releaseFlags,
    flush: (releaseFlags & RELEASE_FLUSH) !== 0,
    lockOwner: readU64n(body, ReleaseInOff.lockOwner),
  };
}

const FlushInOff = FLUSH_IN.OFF;

export function decodeFlushIn(body: Buffer): { fh: FileHandle; lockOwner: bigint } {
  need(body, StructSize.FLUSH_IN, 'flush_in');
  return { fh: fileHandle(readU64(body, FlushInOff.fh, 'fuse_flush_in.fh', fuseRangeFault)), lockOwner: readU64n(body, FlushInOff.lockOwner) };
}

const FsyncInOff = FSYNC_IN.OFF;

export function decodeFsyncIn(body: Buffer): { fh: FileHandle; datasync: boolean } {
  need(body, StructSize.FSYNC_IN, 'fsync_in');
  return {
    fh: fileHandle(readU64(body, FsyncInOff.fh, 'fuse_fsync_in.fh', fuseRangeFault)),
    datasync: (body.readUInt32LE(FsyncInOff.fsyncFlags) & FSYNC_FDATASYNC) !== 0,
  };
}

const XattrInOff = SETXATTR_IN.OFF;

/** fuse_getxattr_in (GETXATTR, LISTXATTR): the caller's buffer size; 0 asks for the size only. */
export function decodeGetxattrIn(body: Buffer): { size: number; nameOffset: number } {
  need(body, StructSize.GETXATTR_IN, 'getxattr_in');
  return { size: body.readUInt32LE(XattrInOff.size), nameOffset: StructSize.GETXATTR_IN };
}

/** fuse_setxattr_in without SETXATTR_EXT (this layer never negotiates it), then name and value. */
export function decodeSetxattrIn(body: Buffer): { name: string; value: Buffer; flags: number } {
  need(body, StructSize.SETXATTR_IN, 'setxattr_in');
  const size = body.readUInt32LE(XattrInOff.size);
  const name = readCString(body, StructSize.SETXATTR_IN);
  need(body, name.next + size, 'setxattr value');
  return { name: name.value, value: body.subarray(name.next, name.next + size), flags: body.readUInt32LE(XattrInOff.flags) };
}

const AccessInOff = ACCESS_IN.OFF;

export function decodeAccessIn(body: Buffer): { mask: number } {
  need(body, StructSize.ACCESS_IN, 'access_in');
  return { mask: body.readUInt32LE(AccessInOff.mask) };
}

const MkdirInOff = MKDIR_IN.OFF;

export function decodeMkdirIn(body: Buffer): { mode: number; umask: number; name: string } {
  need(body, StructSize.MKDIR_IN, 'mkdir_in');
  return {
    mode: body.readUInt32LE(MkdirInOff.mode),
    umask: body.readUInt32LE(MkdirInOff.umask),
    name: decodeName(body, StructSize.MKDIR_IN),
  };
}

const MknodInOff = MKNOD_IN.OFF;

export function decodeMknodIn(body: Buffer): { mode: number; rdev: number; umask: number; name: string } {
  need(body, StructSize.MKNOD_IN, 'mknod_in');
  return {
    mode: body.readUInt32LE(MknodInOff.mode),
    rdev: body.readUInt32LE(MknodInOff.rdev),
    umask: body.readUInt32LE(MknodInOff.umask),
    name: decodeName(body, StructSize.MKNOD_IN),
  };
}

const CreateInOff = CREATE_IN.OFF;

export function decodeCreateIn(body: Buffer): { flags: number; mode: number; umask: number; openFlags: number; name: string } {
  need(body, StructSize.CREATE_IN, 'create_in');
  return {
    flags: body.readUInt32LE(CreateInOff.flags),
    mode: body.readUInt32LE(CreateInOff.mode),
    umask: body.readUInt32LE(CreateInOff.umask),
    openFlags: body.readUInt32LE(CreateInOff.openFlags),
    name: decodeName(body, StructSize.CREATE_IN),
  };
}

const RenameInOff = RENAME2_IN.OFF;

export function decodeRenameIn(body: Buffer): { newParent: NodeId; name: string; newName: string; flags: number } {
  need(body, StructSize.RENAME_IN, 'rename_in');
  const [name, newName] = decodeTwoNames(body, StructSize.RENAME_IN);
  return { newParent: nodeId(readU64(body, RenameInOff.newdir, 'fuse_rename_in.newdir', fuseRangeFault)), name, newName, flags: 0 };
}

export function decodeRename2In(body: Buffer): { newParent: NodeId; name: string; newName: string; flags: number } {
  need(body, StructSize.RENAME2_IN, 'rename2_in');
  const [name, newName] = decodeTwoNames(body, StructSize.RENAME2_IN);
  return { newParent: nodeId(readU64(body, RenameInOff.newdir, 'fuse_rename_in.newdir', fuseRangeFault)), name, newName, flags: body.readUInt32LE(RenameInOff.flags) };
}

const LinkInOff = LINK_IN.OFF;

export function decodeLinkIn(body: Buffer): { oldNodeid: NodeId; newName: string } {
  need(body, StructSize.LINK_IN, 'link_in');
  return { oldNodeid: nodeId(readU64(body, LinkInOff.oldnodeid, 'fuse_link_in.oldnodeid', fuseRangeFault)), newName: decodeName(body, StructSize.LINK_IN) };
}

const InterruptInOff = INTERRUPT_IN.OFF;

export function decodeInterruptIn(body: Buffer): { unique: bigint } {
  need(body, StructSize.INTERRUPT_IN, 'interrupt_in');
  return { unique: readU64n(body, InterruptInOff.unique) };
}

const LseekInOff = LSEEK_IN.OFF;

export function decodeLseekIn(body: Buffer): { fh: FileHandle; offset: number; whence: number } {
  need(body, StructSize.LSEEK_IN, 'lseek_in');
  return {
    fh: fileHandle(readU64(body, LseekInOff.fh, 'fuse_lseek_in.fh', fuseRangeFault)),
    offset: readU64(body, LseekInOff.offset, 'fuse_lseek_in.offset', fuseRangeFault),
    whence: body.readUInt32LE(LseekInOff.whence),
  };
}

const FallocateInOff = FALLOCATE_IN.OFF;

export function decodeFallocateIn(body: Buffer): { fh: FileHandle; offset: number; length: number; mode: number } {
  need(body, StructSize.FALLOCATE_IN, 'fallocate_in');
  return {
    fh: fileHandle(readU64(body, FallocateInOff.fh, 'fuse_fallocate_in.fh', fuseRangeFault)),
    offset: readU64(body, FallocateInOff.offset, 'fuse_fallocate_in.offset', fuseRangeFault),
    length: readU64(body, FallocateInOff.length, 'fuse_fallocate_in.length', fuseRangeFault),
    mode: body.readUInt32LE(FallocateInOff.mode),
  };
}
