/**
 * Every FUSE opcode, described once (go-fuse style): its number and name, the fixed size of its
 * request body, how the body decodes into the Filesystem method's arguments, which method serves
 * it, how the result encodes, and whether the kernel waits for a reply.
 *
 * Ops without a method here (locks, ioctl, poll, bmap, statx, …) and methods a file system leaves
 * out are answered ENOSYS, which the kernel remembers for the optional ops (it stops sending them).
 * A few ops get a benign default instead, because ENOSYS there would break every caller:
 * OPEN/OPENDIR (fh 0), RELEASE/RELEASEDIR (ok), STATFS (an empty file system), FORGET (nothing).
 * INIT, INTERRUPT, DESTROY and NOTIFY_REPLY are the session's own business (kind 'session').
 */
import { encodeAttrOut, encodeEntryOut, encodeEntryOutInto, type Entry } from './abi/attr.js';
import { Opcode, type OpcodeName } from './abi/constants.js';
import { NO_FILE_HANDLE } from './abi/ids.js';
import { DirentBuilder } from './abi/dirent.js';
import {
  decodeAccessIn, decodeBatchForget, decodeCreateIn, decodeFallocateIn, decodeFlushIn, decodeForgetIn,
  decodeFsyncIn, decodeGetattrIn, decodeGetxattrIn, decodeLinkIn, decodeLseekIn, decodeMkdirIn,
  decodeMknodIn, decodeName, decodeOpenIn, decodeReadIn, decodeReleaseIn, decodeRename2In, decodeRenameIn,
  decodeSetattrIn, decodeSetxattrIn, decodeTwoNames, decodeWriteIn,
} from './abi/requests.js';
import {
  encodeGetxattrOut, encodeLseekOut, encodeOpenOut, encodeOpenOutInto, encodeStatfsOut, encodeWriteOut,
  type OpenReply, type StatfsReply,
} from './abi/replies.js';
import { StructSize } from './abi/sizes.js';
import { FuseError, ProtocolError } from './errors.js';
import type { Filesystem, MaybePromise, ReadReply, RequestContext } from './filesystem.js';

/** Reply payload after the out header; empty for a header-only reply. */
export type ReplyPayload = readonly Buffer[];

/** run() result when the file system lacks the method and the op has no default. */
export const NOT_IMPLEMENTED: unique symbol = Symbol('ENOSYS');

type MethodName = Exclude<keyof Filesystem, 'init' | 'extensions'>;
type Method<M extends MethodName> = NonNullable<Filesystem[M]>;
type ArgsOf<M extends MethodName> = Parameters<Method<M>>[1];
type ResultOf<M extends MethodName> = Awaited<ReturnType<Method<M>>>;

type OpKind = 'fs' | 'session' | 'unsupported';

export interface OpEntry {
  readonly opcode: number;
  readonly name: OpcodeName;
  readonly kind: OpKind;
  /** Smallest valid request body (the fixed struct; names and data follow it). */
  readonly bodySize: number;
  readonly reply: boolean;
  readonly method?: MethodName;
  /** Decode, call the file system, encode. Only for kind 'fs'. */
  run?(fs: Filesystem, ctx: RequestContext, body: Buffer): MaybePromise<ReplyPayload> | typeof NOT_IMPLEMENTED;
}

interface FsOpSpec<M extends MethodName> {
  readonly name: OpcodeName;
  readonly method: M;
  readonly bodySize?: number;
  readonly reply?: boolean;
  decode(body: Buffer, ctx: RequestContext): ArgsOf<M>;
  encode(result: ResultOf<M>, args: ArgsOf<M>): ReplyPayload;
  /** Served when the file system lacks the method (instead of ENOSYS). */
  fallback?(args: ArgsOf<M>): ResultOf<M>;
}

function isPromise<T>(v: MaybePromise<T>): v is Promise<T> {
  return typeof (v as { then?: unknown } | null)?.then === 'function';
}

/** Type-checks one table row and erases its types into a uniform runner. */
function fsOp<M extends MethodName>(spec: FsOpSpec<M>): OpEntry {
  const { method, decode, encode, fallback } = spec;
  return {
    opcode: Opcode[spec.name],
    name: spec.name,
    kind: 'fs',
    bodySize: spec.bodySize ?? 0,
    reply: spec.reply ?? true,
    method,
    run(fs, ctx, body) {
      const fn = fs[method] as ((c: RequestContext, a: ArgsOf<M>) => MaybePromise<ResultOf<M>>) | undefined;
      if (fn === undefined && fallback === undefined) return NOT_IMPLEMENTED;
      const args = decode(body, ctx);
      if (fn === undefined) return encode(fallback!(args), args);
      const result = fn.call(fs, ctx, args);
      return isPromise(result) ? result.then((r) => encode(r, args)) : encode(result, args);
    },
  };
}

function otherOp(name: OpcodeName, kind: Exclude<OpKind, 'fs'>, bodySize = 0, reply = true): OpEntry {
  return { opcode: Opcode[name], name, kind, bodySize, reply };
}

const NO_PAYLOAD: ReplyPayload = [];
const empty = (): ReplyPayload => NO_PAYLOAD;
const entryReply = (e: Entry): ReplyPayload => [encodeEntryOut(e)];
const openReply = (o: OpenReply): ReplyPayload => [encodeOpenOut(o)];
const nothing = (): void => undefined;
const NUL = 0;

/** Keeps a READ reply within the size the kernel asked for (a longer one would fail with EIO). */
function trimReadReply(data: ReadReply, size: number): ReplyPayload {
  const bufs: readonly Buffer[] = Buffer.isBuffer(data) ? [data] : data;
  let total = 0;
  for (let i = 0; i < bufs.length; i++) {
    const b = bufs[i]!;
    if (total + b.length > size) {
      const out = bufs.slice(0, i);
      if (size > total) out.push(b.subarray(0, size - total));
      return out;
    }
    total += b.length;
  }
  return bufs;
}

/** GETXATTR/LISTXATTR size protocol: size 0 asks for the length, a short buffer is ERANGE. */
function xattrReply(value: Buffer, size: number): ReplyPayload {
  if (size === 0) return [encodeGetxattrOut(value.length)];
  if (value.length > size) throw new FuseError('ERANGE');
  return [value];
}

function encodeXattrNames(names: readonly string[] | Buffer): Buffer {
  if (Buffer.isBuffer(names)) return names;
  return Buffer.concat(names.flatMap((n) => [Buffer.from(n, 'utf8'), Buffer.of(NUL)]));
}

function readdirReply(result: void | readonly { name: string; ino: number; type: number; offset: number }[] | Buffer, args: { size: number; sink: unknown }): ReplyPayload {
  if (Buffer.isBuffer(result)) {
    if (result.length > args.size) throw new ProtocolError(`readdir buffer of ${result.length} bytes exceeds ${args.size}`);
    return [result];
  }
  const builder = args.sink as DirentBuilder;
  if (result !== undefined) {
    for (const e of result) if (!builder.add(e)) break;
  }
  return [builder.finish()];
}

/** Defaults for an fs without statfs: what `df` can show for an empty file system. */
const DEFAULT_STATFS: StatfsReply = { blocks: 0, bfree: 0, bavail: 0, files: 0, ffree: 0, bsize: 512, namelen: 255 };

const rows: OpEntry[] = [
  fsOp({
    name: 'LOOKUP', method: 'lookup',
    decode: (b, c) => ({ parent: c.nodeid, name: decodeName(b) }),
    encode: entryReply,
  }),
  fsOp({
    name: 'FORGET', method: 'forget', bodySize: StructSize.FORGET_IN, reply: false,
    decode: (b, c) => [{ nodeid: c.nodeid, nlookup: decodeForgetIn(b).nlookup }],
    encode: empty, fallback: nothing,
  }),
  fsOp({
    name: 'BATCH_FORGET', method: 'forget', bodySize: StructSize.BATCH_FORGET_IN, reply: false,
    decode: (b) => decodeBatchForget(b),
    encode: empty, fallback: nothing,
  }),
  fsOp({
    name: 'GETATTR', method: 'getattr',
    decode: (b, c) => ({ nodeid: c.nodeid, fh: decodeGetattrIn(b).fh }),
    encode: (r) => [encodeAttrOut(r.attr, r.timeout ?? 0)],
  }),
  fsOp({
    name: 'SETATTR', method: 'setattr', bodySize: StructSize.SETATTR_IN,
    decode: (b, c) => ({ nodeid: c.nodeid, ...decodeSetattrIn(b) }),
    encode: (r) => [encodeAttrOut(r.attr, r.timeout ?? 0)],
  }),
  fsOp({
    name: 'READLINK', method: 'readlink',
    decode: (_b, c) => ({ nodeid: c.nodeid }),
    encode: (r) => [Buffer.isBuffer(r) ? r : Buffer.from(r, 'utf8')],
  }),
  fsOp({
    name: 'SYMLINK', method: 'symlink',
    decode: (b, c) => {
      const [name, target] = decodeTwoNames(b, 0);
      return { parent: c.nodeid, name, target };
    },
    encode: entryReply,
  }),
  fsOp({
    name: 'MKNOD', method: 'mknod', bodySize: StructSize.MKNOD_IN,
    decode: (b, c) => ({ parent: c.nodeid, ...decodeMknodIn(b) }),
    encode: entryReply,
  }),
  fsOp({
    name: 'MKDIR', method: 'mkdir', bodySize: StructSize.MKDIR_IN,
    decode: (b, c) => ({ parent: c.nodeid, ...decodeMkdirIn(b) }),
    encode: entryReply,
  }),
  fsOp({
    name: 'UNLINK', method: 'unlink',
    decode: (b, c) => ({ parent: c.nodeid, name: decodeName(b) }),
    encode: empty,
  }),
  fsOp({
    name: 'RMDIR', method: 'rmdir',
    decode: (b, c) => ({ parent: c.nodeid, name: decodeName(b) }),
    encode: empty,
  }),
  fsOp({
    name: 'RENAME', method: 'rename', bodySize: StructSize.RENAME_IN,
    decode: (b, c) => ({ parent: c.nodeid, ...decodeRenameIn(b) }),
    encode: empty,
  }),
  fsOp({
    name: 'RENAME2', method: 'rename', bodySize: StructSize.RENAME2_IN,
    decode: (b, c) => ({ parent: c.nodeid, ...decodeRename2In(b) }),
    encode: empty,
  }),
  fsOp({
    name: 'LINK', method: 'link', bodySize: StructSize.LINK_IN,
    decode: (b, c) => {
      const l = decodeLinkIn(b);
      return { nodeid: l.oldNodeid, newParent: c.nodeid, newName: l.newName };
    },
    encode: entryReply,
  }),
  fsOp({
    name: 'OPEN', method: 'open', bodySize: StructSize.OPEN_IN,
    decode: (b, c) => ({ nodeid: c.nodeid, ...decodeOpenIn(b) }),
    encode: openReply, fallback: () => ({ fh: NO_FILE_HANDLE }),
  }),
  fsOp({
    name: 'READ', method: 'read', bodySize: StructSize.READ_IN,
    decode: (b, c) => ({ nodeid: c.nodeid, ...decodeReadIn(b) }),
    encode: (r, a) => trimReadReply(r, a.size),
  }),
  fsOp({
    name: 'WRITE', method: 'write', bodySize: StructSize.WRITE_IN,
    decode: (b, c) => ({ nodeid: c.nodeid, ...decodeWriteIn(b) }),
    encode: (n) => [encodeWriteOut(n)],
  }),
  fsOp({
    name: 'STATFS', method: 'statfs',
    decode: (_b, c) => ({ nodeid: c.nodeid }),
    encode: (s) => [encodeStatfsOut(s)], fallback: () => DEFAULT_STATFS,
  }),
  fsOp({
    name: 'RELEASE', method: 'release', bodySize: StructSize.RELEASE_IN,
    decode: (b, c) => ({ nodeid: c.nodeid, ...decodeReleaseIn(b) }),
    encode: empty, fallback: nothing,
  }),
  fsOp({
    name: 'FSYNC', method: 'fsync', bodySize: StructSize.FSYNC_IN,
    decode: (b, c) => ({ nodeid: c.nodeid, ...decodeFsyncIn(b) }),
    encode: empty,
  }),
  fsOp({
    name: 'SETXATTR', method: 'setxattr', bodySize: StructSize.SETXATTR_IN,
    decode: (b, c) => ({ nodeid: c.nodeid, ...decodeSetxattrIn(b) }),
    encode: empty,
  }),
  fsOp({
    name: 'GETXATTR', method: 'getxattr', bodySize: StructSize.GETXATTR_IN,
    decode: (b, c) => {
      const g = decodeGetxattrIn(b);
      return { nodeid: c.nodeid, size: g.size, name: decodeName(b, g.nameOffset) };
    },
    encode: (v, a) => xattrReply(v, a.size),
  }),
  fsOp({
    name: 'LISTXATTR', method: 'listxattr', bodySize: StructSize.GETXATTR_IN,
    decode: (b, c) => ({ nodeid: c.nodeid, size: decodeGetxattrIn(b).size }),
    encode: (names, a) => xattrReply(encodeXattrNames(names), a.size),
  }),
  fsOp({
    name: 'REMOVEXATTR', method: 'removexattr',
    decode: (b, c) => ({ nodeid: c.nodeid, name: decodeName(b) }),
    encode: empty,
  }),
  fsOp({
    name: 'FLUSH', method: 'flush', bodySize: StructSize.FLUSH_IN,
    decode: (b, c) => ({ nodeid: c.nodeid, ...decodeFlushIn(b) }),
    encode: empty,
  }),
  otherOp('INIT', 'session', StructSize.INIT_IN),
  fsOp({
    name: 'OPENDIR', method: 'opendir', bodySize: StructSize.OPEN_IN,
    decode: (b, c) => ({ nodeid: c.nodeid, ...decodeOpenIn(b) }),
    encode: openReply, fallback: () => ({ fh: NO_FILE_HANDLE }),
  }),
  fsOp({
    name: 'READDIR', method: 'readdir', bodySize: StructSize.READ_IN,
    decode: (b, c) => {
      const r = decodeReadIn(b);
      return { nodeid: c.nodeid, fh: r.fh, offset: r.offset, size: r.size, sink: new DirentBuilder(r.size, false) };
    },
    encode: readdirReply,
  }),
  fsOp({
    name: 'READDIRPLUS', method: 'readdirplus', bodySize: StructSize.READ_IN,
    decode: (b, c) => {
      const r = decodeReadIn(b);
      return { nodeid: c.nodeid, fh: r.fh, offset: r.offset, size: r.size, sink: new DirentBuilder(r.size, true) };
    },
    encode: readdirReply,
  }),
  fsOp({
    name: 'RELEASEDIR', method: 'releasedir', bodySize: StructSize.RELEASE_IN,
    decode: (b, c) => ({ nodeid: c.nodeid, ...decodeReleaseIn(b) }),
    encode: empty, fallback: nothing,
  }),
  fsOp({
    name: 'FSYNCDIR', method: 'fsyncdir', bodySize: StructSize.FSYNC_IN,
    decode: (b, c) => ({ nodeid: c.nodeid, ...decodeFsyncIn(b) }),
    encode: empty,
  }),
  otherOp('GETLK', 'unsupported'),
  otherOp('SETLK', 'unsupported'),
  otherOp('SETLKW', 'unsupported'),
  fsOp({
    name: 'ACCESS', method: 'access', bodySize: StructSize.ACCESS_IN,
    decode: (b, c) => ({ nodeid: c.nodeid, ...decodeAccessIn(b) }),
    encode: empty,
  }),
  fsOp({
    name: 'CREATE', method: 'create', bodySize: StructSize.CREATE_IN,
    decode: (b, c) => ({ parent: c.nodeid, ...decodeCreateIn(b) }),
    encode: (r) => {
      // entry_out and open_out back to back, as one payload.
      const buf = Buffer.alloc(StructSize.ENTRY_OUT + StructSize.OPEN_OUT);
      encodeEntryOutInto(buf, 0, r.entry);
      encodeOpenOutInto(buf, StructSize.ENTRY_OUT, r.open);
      return [buf];
    },
  }),
  otherOp('INTERRUPT', 'session', StructSize.INTERRUPT_IN),
  otherOp('BMAP', 'unsupported'),
  otherOp('DESTROY', 'session'),
  otherOp('IOCTL', 'unsupported'),
  otherOp('POLL', 'unsupported'),
  otherOp('NOTIFY_REPLY', 'session', 0, false),
  fsOp({
    name: 'FALLOCATE', method: 'fallocate', bodySize: StructSize.FALLOCATE_IN,
    decode: (b, c) => ({ nodeid: c.nodeid, ...decodeFallocateIn(b) }),
    encode: empty,
  }),
  fsOp({
    name: 'LSEEK', method: 'lseek', bodySize: StructSize.LSEEK_IN,
    decode: (b, c) => ({ nodeid: c.nodeid, ...decodeLseekIn(b) }),
    encode: (off) => [encodeLseekOut(off)],
  }),
  otherOp('COPY_FILE_RANGE', 'unsupported'),
  otherOp('SETUPMAPPING', 'unsupported'),
  otherOp('REMOVEMAPPING', 'unsupported'),
  otherOp('SYNCFS', 'unsupported'),
  otherOp('TMPFILE', 'unsupported'),
  otherOp('STATX', 'unsupported'),
  otherOp('COPY_FILE_RANGE_64', 'unsupported'),
  otherOp('CUSE_INIT', 'unsupported'),
];

/** The table, by opcode number. */
export const OPCODES: ReadonlyMap<number, OpEntry> = new Map(rows.map((r) => [r.opcode, r]));

export function opcodeName(opcode: number): string {
  return OPCODES.get(opcode)?.name ?? `OP_${opcode}`;
}
