/**
 * Every FUSE opcode, described once (go-fuse style): its number and name, the fixed size of its
 * request body, how the body decodes into the Filesystem method's arguments, which method serves
 * it, how the result encodes, whether the kernel waits for a reply and whether it may come before
 * INIT is answered. The session dispatches every request through this table and nothing else.
 *
 * Ops without a method here (locks, ioctl, poll, bmap, statx, …) and methods a file system leaves
 * out are answered ENOSYS, which the kernel remembers for the optional ops (it stops sending them).
 * A few ops get a benign default instead, because ENOSYS there would break every caller:
 * OPEN/OPENDIR (fh 0), RELEASE/RELEASEDIR (ok), STATFS (an empty file system), FORGET (nothing).
 * INIT, INTERRUPT, DESTROY and NOTIFY_REPLY are rows of kind 'session': answered by the session
 * (INIT through SessionOps) rather than the file system. A file system's extension opcodes become
 * rows of kind 'extension' in its session's table (OpcodeTable.withExtensions).
 */
import { encodeAttrOut, encodeEntryOut, encodeEntryOutInto, type Entry } from './abi/attr.js';
import { Opcode, type OpcodeName } from './abi/constants.js';
import { NO_FILE_HANDLE } from './abi/ids.js';
import { DirentBuilder } from './abi/dirent.js';
import { INIT_IN_MIN_SIZE } from './abi/init.js';
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
import { replyStruct } from './abi/wire.js';
import { FuseError, ProtocolError } from './errors.js';
import { isPromise, type ExtensionOp, type Filesystem, type MaybePromise, type ReadReply, type RequestContext } from './filesystem.js';

/** Reply payload after the out header; empty for a header-only reply. */
export type ReplyPayload = readonly Buffer[];

/** run() result when the op is not served (no method, no default): the session answers ENOSYS. */
export const NOT_IMPLEMENTED: unique symbol = Symbol('ENOSYS');

/** What the session answers itself, for rows of kind 'session' that need its state. */
export interface SessionOps {
  /** Negotiates INIT from the request body; resolves to the fuse_init_out reply. */
  init(body: Buffer): Promise<ReplyPayload>;
}

type MethodName = Exclude<keyof Filesystem, 'init' | 'extensions'>;
type Method<M extends MethodName> = NonNullable<Filesystem[M]>;
type ArgsOf<M extends MethodName> = Parameters<Method<M>>[1];
type ResultOf<M extends MethodName> = Awaited<ReturnType<Method<M>>>;

type OpKind = 'fs' | 'session' | 'extension' | 'unsupported';

type OpRun = (fs: Filesystem, ctx: RequestContext, body: Buffer, session: SessionOps) =>
  MaybePromise<ReplyPayload> | typeof NOT_IMPLEMENTED;

export interface OpEntry {
  readonly opcode: number;
  readonly name: string;
  readonly kind: OpKind;
  /** Smallest valid request body (the fixed struct; names and data follow it). */
  readonly bodySize: number;
  readonly reply: boolean;
  /** Answered EIO until INIT has been answered (every op but the session's own). */
  readonly needsInit: boolean;
  readonly method?: MethodName;
  /** Decode, serve, encode. Absent for kind 'unsupported' (answered ENOSYS). */
  readonly run?: OpRun;
}

/** A row of the protocol's own table, named as fuse.h names it. */
interface ProtocolOp extends OpEntry {
  readonly name: OpcodeName;
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

/** Type-checks one table row and erases its types into a uniform runner. */
function fsOp<M extends MethodName>(spec: FsOpSpec<M>): ProtocolOp {
  const { method, decode, encode, fallback } = spec;
  return {
    opcode: Opcode[spec.name],
    name: spec.name,
    kind: 'fs',
    bodySize: spec.bodySize ?? 0,
    reply: spec.reply ?? true,
    needsInit: true,
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

/** An op the session answers itself, before or after INIT. */
function sessionOp(name: OpcodeName, bodySize: number, reply: boolean, run: OpRun): ProtocolOp {
  return { opcode: Opcode[name], name, kind: 'session', bodySize, reply, needsInit: false, run };
}

/** An op this layer does not serve: ENOSYS, which the kernel remembers for the optional ones. */
function unsupportedOp(name: OpcodeName): ProtocolOp {
  return { opcode: Opcode[name], name, kind: 'unsupported', bodySize: 0, reply: true, needsInit: true };
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

const rows: ProtocolOp[] = [
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
  sessionOp('INIT', INIT_IN_MIN_SIZE, true, (_fs, _ctx, body, session) => session.init(body)),
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
  unsupportedOp('GETLK'),
  unsupportedOp('SETLK'),
  unsupportedOp('SETLKW'),
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
      const buf = replyStruct(StructSize.ENTRY_OUT + StructSize.OPEN_OUT);
      encodeEntryOutInto(buf, 0, r.entry);
      encodeOpenOutInto(buf, StructSize.ENTRY_OUT, r.open);
      return [buf];
    },
  }),
  // Policy: ENOSYS once. The kernel then sets no_interrupt and never sends INTERRUPT again; handlers
  // simply run to completion. (Replying to a finished request's interrupt gives ENOENT, which the
  // writer ignores.)
  sessionOp('INTERRUPT', StructSize.INTERRUPT_IN, true, () => NOT_IMPLEMENTED),
  unsupportedOp('BMAP'),
  // Only fuseblk mounts send it; the device read then reports ENODEV and the session ends.
  sessionOp('DESTROY', 0, true, empty),
  unsupportedOp('IOCTL'),
  unsupportedOp('POLL'),
  // The kernel's answer to a NOTIFY_RETRIEVE, which this layer never sends: nothing to do.
  sessionOp('NOTIFY_REPLY', 0, false, empty),
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
  unsupportedOp('COPY_FILE_RANGE'),
  unsupportedOp('SETUPMAPPING'),
  unsupportedOp('REMOVEMAPPING'),
  unsupportedOp('SYNCFS'),
  unsupportedOp('TMPFILE'),
  unsupportedOp('STATX'),
  unsupportedOp('COPY_FILE_RANGE_64'),
  unsupportedOp('CUSE_INIT'),
];

/** Opcodes below this are found by array index; the rest (CUSE_INIT, far extensions) in a map. */
const DENSE_OPCODES = 128;

/** Rows by opcode number: one array index per request for every opcode the kernel sends today. */
export class OpcodeTable<E extends OpEntry = OpEntry> {
  private readonly dense: (E | undefined)[] = Array.from({ length: DENSE_OPCODES }, () => undefined);
  private readonly sparse = new Map<number, E>();
  private readonly all: E[] = [];

  constructor(entries: Iterable<E>) {
    for (const e of entries) {
      if (this.get(e.opcode) !== undefined) throw new FuseError('EINVAL', `two rows claim opcode ${e.opcode}`);
      if (e.opcode < DENSE_OPCODES) this.dense[e.opcode] = e;
      else this.sparse.set(e.opcode, e);
      this.all.push(e);
    }
  }

  get(opcode: number): E | undefined {
    return opcode < DENSE_OPCODES ? this.dense[opcode] : this.sparse.get(opcode);
  }

  get size(): number {
    return this.all.length;
  }

  values(): IterableIterator<E> {
    return this.all.values();
  }

  /** The name of an opcode, or OP_<n> for one without a row. */
  nameOf(opcode: number): string {
    return this.get(opcode)?.name ?? `OP_${opcode}`;
  }

  /**
   * This table with a file system's extension ops as rows of their own, taking precedence over
   * the protocol's rows at the same number (famfs's GET_FMAP reuses a number fuse.h later took).
   */
  withExtensions(extensions: readonly ExtensionOp[]): OpcodeTable {
    const own = new OpcodeTable(extensions.map(extensionOp));
    return new OpcodeTable<OpEntry>([...own.values(), ...[...this.values()].filter((e) => own.get(e.opcode) === undefined)]);
  }
}

function extensionOp(ext: ExtensionOp): OpEntry {
  const toPayload = (p: Buffer | readonly Buffer[]): ReplyPayload => (Buffer.isBuffer(p) ? [p] : p);
  return {
    opcode: ext.opcode,
    name: ext.name,
    kind: 'extension',
    bodySize: 0,
    reply: ext.noReply !== true,
    needsInit: true,
    run(_fs, ctx, body) {
      const r = ext.handle(ctx, body);
      return isPromise(r) ? r.then(toPayload) : toPayload(r);
    },
  };
}

/** The protocol's table (fuse.h 7.45), without any file system's extensions. */
export const OPCODES = new OpcodeTable<ProtocolOp>(rows);
