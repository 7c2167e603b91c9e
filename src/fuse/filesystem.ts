/**
 * The interface a file system implements to be served over FUSE (low-level, inode based, like
 * fuser's `Filesystem` trait or libfuse's lowlevel ops). Every method is optional: a missing one
 * answers ENOSYS (see opcodes.ts for the few with a benign default). A method returns its result
 * directly or as a Promise, and fails by throwing an error that carries an errno (FuseError, or
 * any error with a numeric `errno` / errno `code`, such as Node's own). An error without an
 * errno is a bug: the caller gets EIO and the session's onError hook sees it.
 */
import type { Entry, FileAttr, Timespec } from './abi/attr.js';
import type { DirEntry, DirentPlusSink, DirentSink } from './abi/dirent.js';
import type { FileHandle, NodeId } from './abi/ids.js';
import type { InitIn } from './abi/init.js';
import type { ForgetOne } from './abi/requests.js';
import type { OpenReply, StatfsReply } from './abi/replies.js';

export type { FileHandle } from './abi/ids.js';
export type { Entry, FileAttr, Timespec, ForgetOne, OpenReply, StatfsReply };

/** Who asked: taken from fuse_in_header. */
export interface RequestContext {
  readonly unique: bigint;
  readonly opcode: number;
  /** The inode the request is about (the parent directory for name operations). */
  readonly nodeid: NodeId;
  readonly uid: number;
  readonly gid: number;
  /** Caller's thread group id; 0 for requests the kernel makes on its own. */
  readonly pid: number;
}

export type MaybePromise<T> = T | Promise<T>;

/** Whether a method answered later (a Promise) rather than at once; any thenable counts. */
export function isPromise<T>(v: MaybePromise<T>): v is Promise<T> {
  return typeof (v as { then?: unknown } | null)?.then === 'function';
}

/** GETATTR/SETATTR reply: the attributes and how long (seconds) the kernel may cache them. */
export interface AttrReply {
  readonly attr: FileAttr;
  readonly timeout?: number;
}

export interface CreateReply {
  readonly entry: Entry;
  readonly open: OpenReply;
}

/** READ reply data: one buffer or several, written with the reply header in a single writev. */
export type ReadReply = Buffer | readonly Buffer[];

export interface LookupArgs { readonly parent: NodeId; readonly name: string }
export interface GetattrArgs { readonly nodeid: NodeId; readonly fh: FileHandle | undefined }
export interface SetattrArgs {
  readonly nodeid: NodeId;
  /** Raw FATTR_* mask, for bits without a field below. */
  readonly valid: number;
  readonly fh?: FileHandle;
  readonly size?: number;
  readonly mode?: number;
  readonly uid?: number;
  readonly gid?: number;
  readonly atime?: Timespec | 'now';
  readonly mtime?: Timespec | 'now';
  readonly ctime?: Timespec;
  readonly lockOwner?: bigint;
  readonly killSuidgid: boolean;
}
export interface NodeArgs { readonly nodeid: NodeId }
export interface OpenArgs { readonly nodeid: NodeId; readonly flags: number; readonly openFlags: number }
export interface ReadArgs {
  readonly nodeid: NodeId;
  readonly fh: FileHandle;
  readonly offset: number;
  /** Never return more than this; the layer trims anything longer. */
  readonly size: number;
  readonly flags: number;
  readonly readFlags: number;
  readonly lockOwner?: bigint;
}
export interface WriteArgs {
  readonly nodeid: NodeId;
  readonly fh: FileHandle;
  readonly offset: number;
  /** View of the request; safe to keep (each request owns its buffer). */
  readonly data: Buffer;
  readonly flags: number;
  readonly writeFlags: number;
  readonly lockOwner?: bigint;
}
interface FlushArgs { readonly nodeid: NodeId; readonly fh: FileHandle; readonly lockOwner: bigint }
export interface ReleaseArgs {
  readonly nodeid: NodeId;
  readonly fh: FileHandle;
  readonly flags: number;
  readonly releaseFlags: number;
  readonly flush: boolean;
  readonly lockOwner: bigint;
}
export interface FsyncArgs { readonly nodeid: NodeId; readonly fh: FileHandle; readonly datasync: boolean }
export interface ReaddirArgs {
  readonly nodeid: NodeId;
  readonly fh: FileHandle;
  /** The cookie of the last entry the kernel consumed (0 at the start). */
  readonly offset: number;
  /** Reply size limit in bytes; the sink enforces it. */
  readonly size: number;
  readonly sink: DirentSink;
}
export interface ReaddirplusArgs extends Omit<ReaddirArgs, 'sink'> {
  readonly sink: DirentPlusSink;
}
export interface AccessArgs { readonly nodeid: NodeId; readonly mask: number }
export interface GetxattrArgs {
  readonly nodeid: NodeId;
  readonly name: string;
  /** The caller's buffer size (0 = size probe). The layer handles ERANGE and the probe itself. */
  readonly size: number;
}
export interface ListxattrArgs { readonly nodeid: NodeId; readonly size: number }
interface SetxattrArgs { readonly nodeid: NodeId; readonly name: string; readonly value: Buffer; readonly flags: number }
interface RemovexattrArgs { readonly nodeid: NodeId; readonly name: string }
export interface MkdirArgs { readonly parent: NodeId; readonly name: string; readonly mode: number; readonly umask: number }
export interface MknodArgs extends MkdirArgs { readonly rdev: number }
export interface CreateArgs extends MkdirArgs { readonly flags: number; readonly openFlags: number }
export interface NameArgs { readonly parent: NodeId; readonly name: string }
export interface RenameArgs {
  readonly parent: NodeId;
  readonly name: string;
  readonly newParent: NodeId;
  readonly newName: string;
  /** RENAME_NOREPLACE / RENAME_EXCHANGE / RENAME_WHITEOUT from renameat2; 0 for rename. */
  readonly flags: number;
}
interface SymlinkArgs { readonly parent: NodeId; readonly name: string; readonly target: string }
interface LinkArgs { readonly nodeid: NodeId; readonly newParent: NodeId; readonly newName: string }
interface LseekArgs { readonly nodeid: NodeId; readonly fh: FileHandle; readonly offset: number; readonly whence: number }
interface FallocateArgs {
  readonly nodeid: NodeId;
  readonly fh: FileHandle;
  readonly offset: number;
  readonly length: number;
  readonly mode: number;
}

/** What the kernel offered in INIT, shown to the file system before the reply is built. */
export type InitOffer = InitIn;

/** A file system's additions to the INIT reply. */
export interface InitWants {
  /** Extra 64-bit INIT bits wanted (flags | flags2 << 32); only those the kernel offered are sent. */
  readonly flags?: bigint;
  /** Highest minor to speak instead of 45 (e.g. 46 for a famfs kernel); still capped by the kernel's. */
  readonly maxMinor?: number;
}

/** The negotiated result, known once INIT is answered. */
export interface InitResult {
  readonly major: number;
  readonly minor: number;
  readonly kernelMinor: number;
  readonly offered: bigint;
  readonly flags: bigint;
  readonly maxWrite: number;
  /** Pages per request sent in max_pages; 0 when the kernel did not offer MAX_PAGES (it keeps its default, 32). */
  readonly maxPages: number;
  readonly maxReadahead: number;
}

/**
 * An opcode this layer does not know (or one the file system takes over), for protocol extensions
 * whose numbers are not settled. The body is the request after the header (extensions removed).
 */
export interface ExtensionOp {
  readonly opcode: number;
  readonly name: string;
  /** Set for requests that must get no reply (like FORGET). */
  readonly noReply?: boolean;
  handle(req: RequestContext, body: Buffer): MaybePromise<Buffer | readonly Buffer[]>;
}

export interface Filesystem {
  /** Called while INIT is being answered: see what the kernel offers, ask for more bits. */
  init?(offer: InitOffer): MaybePromise<InitWants | void>;
  /** Extra opcodes; they take precedence over the built-in table. */
  readonly extensions?: readonly ExtensionOp[];

  lookup?(ctx: RequestContext, args: LookupArgs): MaybePromise<Entry>;
  /** FORGET and BATCH_FORGET, as one list. No reply is sent; errors are only reported. */
  forget?(ctx: RequestContext, items: readonly ForgetOne[]): MaybePromise<void>;
  getattr?(ctx: RequestContext, args: GetattrArgs): MaybePromise<AttrReply>;
  setattr?(ctx: RequestContext, args: SetattrArgs): MaybePromise<AttrReply>;
  readlink?(ctx: RequestContext, args: NodeArgs): MaybePromise<string | Buffer>;
  symlink?(ctx: RequestContext, args: SymlinkArgs): MaybePromise<Entry>;
  mknod?(ctx: RequestContext, args: MknodArgs): MaybePromise<Entry>;
  mkdir?(ctx: RequestContext, args: MkdirArgs): MaybePromise<Entry>;
  unlink?(ctx: RequestContext, args: NameArgs): MaybePromise<void>;
  rmdir?(ctx: RequestContext, args: NameArgs): MaybePromise<void>;
  /** RENAME and RENAME2. */
  rename?(ctx: RequestContext, args: RenameArgs): MaybePromise<void>;
  link?(ctx: RequestContext, args: LinkArgs): MaybePromise<Entry>;
  open?(ctx: RequestContext, args: OpenArgs): MaybePromise<OpenReply>;
  read?(ctx: RequestContext, args: ReadArgs): MaybePromise<ReadReply>;
  /** Returns the number of bytes written. */
  write?(ctx: RequestContext, args: WriteArgs): MaybePromise<number>;
  statfs?(ctx: RequestContext, args: NodeArgs): MaybePromise<StatfsReply>;
  release?(ctx: RequestContext, args: ReleaseArgs): MaybePromise<void>;
  fsync?(ctx: RequestContext, args: FsyncArgs): MaybePromise<void>;
  setxattr?(ctx: RequestContext, args: SetxattrArgs): MaybePromise<void>;
  /** The value; throw ENODATA when absent. */
  getxattr?(ctx: RequestContext, args: GetxattrArgs): MaybePromise<Buffer>;
  /** Names, or a pre-encoded NUL-separated list. */
  listxattr?(ctx: RequestContext, args: ListxattrArgs): MaybePromise<readonly string[] | Buffer>;
  removexattr?(ctx: RequestContext, args: RemovexattrArgs): MaybePromise<void>;
  flush?(ctx: RequestContext, args: FlushArgs): MaybePromise<void>;
  opendir?(ctx: RequestContext, args: OpenArgs): MaybePromise<OpenReply>;
  /**
   * Fill args.sink (stop when add() returns false), or return entries (the layer adds them in order
   * and drops the ones that do not fit), or return a pre-encoded buffer of at most args.size bytes.
   */
  readdir?(ctx: RequestContext, args: ReaddirArgs): MaybePromise<void | readonly DirEntry[] | Buffer>;
  /** Fill args.sink; count a lookup for each entry it accepted. Or return a pre-encoded buffer. */
  readdirplus?(ctx: RequestContext, args: ReaddirplusArgs): MaybePromise<void | Buffer>;
  releasedir?(ctx: RequestContext, args: ReleaseArgs): MaybePromise<void>;
  fsyncdir?(ctx: RequestContext, args: FsyncArgs): MaybePromise<void>;
  access?(ctx: RequestContext, args: AccessArgs): MaybePromise<void>;
  create?(ctx: RequestContext, args: CreateArgs): MaybePromise<CreateReply>;
  fallocate?(ctx: RequestContext, args: FallocateArgs): MaybePromise<void>;
  /** Returns the new offset (SEEK_DATA / SEEK_HOLE). */
  lseek?(ctx: RequestContext, args: LseekArgs): MaybePromise<number>;
}
