/**
 * A small in-memory file system on the FUSE layer: directories, regular files, create, write, read,
 * mkdir, unlink, rmdir, rename, readdir(plus), statfs and a read-only synthetic xattr. It exists to
 * prove the layer is generic and to exercise it in tests; symlinks, links and setxattr are left
 * out on purpose (their requests are answered ENOSYS).
 */
import { timespecNow, type Entry, type FileAttr, type Timespec } from '../abi/attr.js';
import { direntTypeOfMode, FileType, FopenFlag, FUSE_ROOT_ID, InitFlag } from '../abi/constants.js';
import { NO_FILE_HANDLE, nodeId } from '../abi/ids.js';
import { FuseError } from '../errors.js';
import type {
  AttrReply, CreateArgs, CreateReply, Filesystem, ForgetOne, GetattrArgs, GetxattrArgs, InitWants, ListxattrArgs,
  LookupArgs, MkdirArgs, MknodArgs, NameArgs, OpenArgs, OpenReply, ReadArgs, ReaddirArgs, ReaddirplusArgs,
  ReadReply, RenameArgs, RequestContext, SetattrArgs, StatfsReply, WriteArgs,
} from '../filesystem.js';

export interface MemFsOptions {
  /** Open files with FOPEN_DIRECT_IO (every read reaches the daemon; shared mmap needs DIRECT_IO_ALLOW_MMAP). */
  readonly directIo?: boolean;
  /** Seconds the kernel may cache names and attributes; default 1. */
  readonly entryTimeout?: number;
  readonly attrTimeout?: number;
  /** Reported capacity in bytes; default 1 GiB. */
  readonly capacity?: number;
}

interface MemNode {
  readonly ino: number;
  mode: number;
  nlink: number;
  uid: number;
  gid: number;
  atime: Timespec;
  mtime: Timespec;
  ctime: Timespec;
  /** Kernel references (lookup count); the node may go once this and nlink are both 0. */
  lookups: number;
  /** Regular files: storage with spare capacity; `size` is the file length. */
  data: Buffer;
  size: number;
  /** Directories: name → ino, in creation order (the readdir order). */
  children: Map<string, number> | undefined;
  parent: number;
}

const RENAME_NOREPLACE = 1 << 0;
const XATTR_INO = 'user.memfs.ino';
const BLOCK_SIZE = 4096;
const NAME_MAX = 255;
const GiB = 1024 * 1024 * 1024;
const DEFAULT_TIMEOUT_S = 1;
const PERMISSION_BITS = 0o7777;
const ROOT_PERMISSIONS = 0o755;
/** Every node has "." and ".." before its children. */
const DOT_ENTRIES = 2;
const DIR_BASE_NLINK = 2;
const EMPTY = Buffer.alloc(0);

export class MemFs implements Filesystem {
  private readonly nodes = new Map<number, MemNode>();
  private nextIno = FUSE_ROOT_ID + 1;
  private usedBytes = 0;
  private readonly entryTimeout: number;
  private readonly attrTimeout: number;
  private readonly capacity: number;

  constructor(private readonly options: MemFsOptions = {}) {
    this.entryTimeout = options.entryTimeout ?? DEFAULT_TIMEOUT_S;
    this.attrTimeout = options.attrTimeout ?? DEFAULT_TIMEOUT_S;
    this.capacity = options.capacity ?? GiB;
    const root = this.newNode(FileType.S_IFDIR | ROOT_PERMISSIONS, 0, 0, FUSE_ROOT_ID, FUSE_ROOT_ID);
    root.lookups = 1; // the kernel holds the root from mount to unmount and never forgets it
    this.nodes.set(FUSE_ROOT_ID, root);
  }

  /** How many inodes are alive (tests check that FORGET frees them). */
  get inodeCount(): number {
    return this.nodes.size;
  }

  init(): InitWants {
    // With direct I/O a shared mmap is refused unless the kernel is told it may map anyway.
    return { flags: this.options.directIo ? InitFlag.DIRECT_IO_ALLOW_MMAP : 0n };
  }

  // --- names ---------------------------------------------------------------------------------

  lookup(_ctx: RequestContext, { parent, name }: LookupArgs): Entry {
    const child = this.child(this.dir(parent), name);
    child.lookups++;
    return this.entry(child);
  }

  forget(_ctx: RequestContext, items: readonly ForgetOne[]): void {
    for (const { nodeid, nlookup } of items) {
      const node = this.nodes.get(nodeid);
      if (node === undefined || nodeid === FUSE_ROOT_ID) continue;
      node.lookups = Math.max(0, node.lookups - nlookup);
      this.maybeFree(node);
    }
  }

  mkdir(ctx: RequestContext, { parent, name, mode, umask }: MkdirArgs): Entry {
    const dir = this.dir(parent);
    const node = this.attach(dir, name, this.newNode(FileType.S_IFDIR | (mode & ~umask & PERMISSION_BITS), ctx.uid, ctx.gid, dir.ino));
    dir.nlink++;
    node.lookups++;
    return this.entry(node);
  }

  mknod(ctx: RequestContext, { parent, name, mode, umask }: MknodArgs): Entry {
    if ((mode & FileType.S_IFMT) !== FileType.S_IFREG) throw new FuseError('EPERM', 'memfs holds regular files and directories only');
    const dir = this.dir(parent);
    const node = this.attach(dir, name, this.newNode(FileType.S_IFREG | (mode & ~umask & PERMISSION_BITS), ctx.uid, ctx.gid, dir.ino));
    node.lookups++;
    return this.entry(node);
  }

  create(ctx: RequestContext, args: CreateArgs): CreateReply {
    const entry = this.mknod(ctx, { ...args, mode: FileType.S_IFREG | (args.mode & PERMISSION_BITS), rdev: 0 });
    return { entry, open: this.openReply() };
  }

  unlink(_ctx: RequestContext, { parent, name }: NameArgs): void {
    const dir = this.dir(parent);
    const node = this.child(dir, name);
    if (this.isDir(node)) throw new FuseError('EISDIR');
    this.unlinkFrom(dir, name, node);
  }

  rmdir(_ctx: RequestContext, { parent, name }: NameArgs): void {
    const dir = this.dir(parent);
    const node = this.child(dir, name);
    if (!this.isDir(node)) throw new FuseError('ENOTDIR');
    if (node.children!.size > 0) throw new FuseError('ENOTEMPTY');
    this.unlinkFrom(dir, name, node);
    dir.nlink--;
  }

  rename(_ctx: RequestContext, { parent, name, newParent, newName, flags }: RenameArgs): void {
    if ((flags & ~RENAME_NOREPLACE) !== 0) throw new FuseError('EINVAL', 'memfs supports RENAME_NOREPLACE only');
    const from = this.dir(parent);
    const to = this.dir(newParent);
    const node = this.child(from, name);
    const victimIno = to.children!.get(newName);
    if (victimIno === node.ino) return;
    if (this.isDir(node) && this.isAncestor(node.ino, to.ino)) throw new FuseError('EINVAL', 'cannot move a directory into itself');
    if (victimIno !== undefined) {
      if (flags & RENAME_NOREPLACE) throw new FuseError('EEXIST');
      const victim = this.node(victimIno);
      if (this.isDir(victim)) {
        if (!this.isDir(node)) throw new FuseError('EISDIR');
        if (victim.children!.size > 0) throw new FuseError('ENOTEMPTY');
        to.nlink--;
      } else if (this.isDir(node)) {
        throw new FuseError('ENOTDIR');
      }
      this.unlinkFrom(to, newName, victim);
    }
    from.children!.delete(name);
    to.children!.set(newName, node.ino);
    if (this.isDir(node) && from !== to) {
      from.nlink--;
      to.nlink++;
      node.parent = to.ino;
    }
    const now = timespecNow();
    from.mtime = from.ctime = to.mtime = to.ctime = node.ctime = now;
  }

  // --- attributes ------------------------------------------------------------------------------

  getattr(_ctx: RequestContext, { nodeid }: GetattrArgs): AttrReply {
    return { attr: this.attr(this.node(nodeid)), timeout: this.attrTimeout };
  }

  setattr(_ctx: RequestContext, a: SetattrArgs): AttrReply {
    const node = this.node(a.nodeid);
    const now = timespecNow();
    if (a.size !== undefined) {
      if (this.isDir(node)) throw new FuseError('EISDIR');
      this.resize(node, a.size);
      node.mtime = now;
    }
    if (a.mode !== undefined) node.mode = (node.mode & FileType.S_IFMT) | (a.mode & PERMISSION_BITS);
    if (a.uid !== undefined) node.uid = a.uid;
    if (a.gid !== undefined) node.gid = a.gid;
    if (a.atime !== undefined) node.atime = a.atime === 'now' ? now : a.atime;
    if (a.mtime !== undefined) node.mtime = a.mtime === 'now' ? now : a.mtime;
    node.ctime = a.ctime ?? now;
    return { attr: this.attr(node), timeout: this.attrTimeout };
  }

  statfs(): StatfsReply {
    const blocks = Math.floor(this.capacity / BLOCK_SIZE);
    const free = Math.max(0, blocks - Math.ceil(this.usedBytes / BLOCK_SIZE));
    return { blocks, bfree: free, bavail: free, files: this.nodes.size + free, ffree: free, bsize: BLOCK_SIZE, namelen: NAME_MAX };
  }

  getxattr(_ctx: RequestContext, { nodeid, name }: GetxattrArgs): Buffer {
    const node = this.node(nodeid);
    if (name !== XATTR_INO) throw new FuseError('ENODATA');
    return Buffer.from(String(node.ino));
  }

  listxattr(_ctx: RequestContext, { nodeid }: ListxattrArgs): readonly string[] {
    this.node(nodeid);
    return [XATTR_INO];
  }

  // --- files -----------------------------------------------------------------------------------

  open(_ctx: RequestContext, { nodeid }: OpenArgs): OpenReply {
    if (this.isDir(this.node(nodeid))) throw new FuseError('EISDIR');
    return this.openReply();
  }

  read(_ctx: RequestContext, { nodeid, offset, size }: ReadArgs): ReadReply {
    const node = this.node(nodeid);
    if (offset >= node.size) return EMPTY;
    // A view, not a copy: the session writes it straight to the device.
    return node.data.subarray(offset, Math.min(node.size, offset + size));
  }

  write(_ctx: RequestContext, { nodeid, offset, data }: WriteArgs): number {
    const node = this.node(nodeid);
    const end = offset + data.length;
    if (end > node.size) this.resize(node, end);
    data.copy(node.data, offset);
    node.mtime = node.ctime = timespecNow();
    return data.length;
  }

  // --- directories -----------------------------------------------------------------------------

  opendir(_ctx: RequestContext, { nodeid }: OpenArgs): OpenReply {
    this.dir(nodeid);
    return { fh: NO_FILE_HANDLE };
  }

  readdir(_ctx: RequestContext, { nodeid, offset, sink }: ReaddirArgs): void {
    this.list(nodeid, offset, (entry) => sink.add(entry));
  }

  readdirplus(_ctx: RequestContext, { nodeid, offset, sink }: ReaddirplusArgs): void {
    this.list(nodeid, offset, (entry, node, dot) => {
      // "." and ".." carry no entry: the kernel does not count them as lookups.
      if (dot) return sink.add(entry, null);
      if (!sink.add(entry, this.entry(node))) return false;
      node.lookups++;
      return true;
    });
  }

  // --- helpers ---------------------------------------------------------------------------------

  private list(
    nodeid: number,
    offset: number,
    add: (e: { name: string; ino: number; type: number; offset: number }, node: MemNode, dot: boolean) => boolean,
  ): void {
    const dir = this.dir(nodeid);
    const names: Array<[string, number]> = [['.', dir.ino], ['..', dir.parent], ...dir.children!];
    for (let i = offset; i < names.length; i++) {
      const [name, ino] = names[i]!;
      const node = this.node(ino);
      if (!add({ name, ino, type: direntTypeOfMode(node.mode), offset: i + 1 }, node, i < DOT_ENTRIES)) return;
    }
  }

  /** Inode numbers are never reused, so a stale nodeid from the kernel can't reach a new file. */
  private newNode(mode: number, uid: number, gid: number, parent: number, ino = this.nextIno++): MemNode {
    const now = timespecNow();
    const isDir = (mode & FileType.S_IFMT) === FileType.S_IFDIR;
    return {
      ino, mode, uid, gid, parent,
      nlink: isDir ? DIR_BASE_NLINK : 1,
      atime: now, mtime: now, ctime: now,
      lookups: 0,
      data: EMPTY,
      size: 0,
      children: isDir ? new Map() : undefined,
    };
  }

  private attach(dir: MemNode, name: string, node: MemNode): MemNode {
    if (Buffer.byteLength(name) > NAME_MAX) throw new FuseError('ENAMETOOLONG');
    if (dir.children!.has(name)) throw new FuseError('EEXIST');
    this.nodes.set(node.ino, node);
    dir.children!.set(name, node.ino);
    dir.mtime = dir.ctime = node.ctime;
    return node;
  }

  private unlinkFrom(dir: MemNode, name: string, node: MemNode): void {
    dir.children!.delete(name);
    node.nlink = this.isDir(node) ? 0 : node.nlink - 1;
    dir.mtime = dir.ctime = node.ctime = timespecNow();
    this.maybeFree(node);
  }

  private maybeFree(node: MemNode): void {
    if (node.nlink > 0 || node.lookups > 0) return;
    this.usedBytes -= node.size;
    this.nodes.delete(node.ino);
  }

  private resize(node: MemNode, size: number): void {
    if (size > node.data.length) {
      if (this.usedBytes + size - node.size > this.capacity) throw new FuseError('ENOSPC');
      // Grow geometrically so a file written in small pieces is not copied over and over.
      const grown = Buffer.alloc(Math.max(size, node.data.length * 2));
      node.data.copy(grown, 0, 0, node.size);
      node.data = grown;
    } else if (size < node.size) {
      node.data.fill(0, size, node.size);
    }
    this.usedBytes += size - node.size;
    node.size = size;
  }

  private isAncestor(ancestor: number, ino: number): boolean {
    for (let cur = ino; ; cur = this.node(cur).parent) {
      if (cur === ancestor) return true;
      if (cur === FUSE_ROOT_ID) return false;
    }
  }

  private openReply(): OpenReply {
    return { fh: NO_FILE_HANDLE, flags: this.options.directIo ? FopenFlag.DIRECT_IO : 0 };
  }

  private node(ino: number): MemNode {
    const node = this.nodes.get(ino);
    if (node === undefined) throw new FuseError('ENOENT', `no inode ${ino}`);
    return node;
  }

  private isDir(node: MemNode): boolean {
    return node.children !== undefined;
  }

  private dir(ino: number): MemNode {
    const node = this.node(ino);
    if (!this.isDir(node)) throw new FuseError('ENOTDIR');
    return node;
  }

  private child(dir: MemNode, name: string): MemNode {
    const ino = dir.children!.get(name);
    if (ino === undefined) throw new FuseError('ENOENT');
    return this.node(ino);
  }

  private attr(node: MemNode): FileAttr {
    return {
      ino: node.ino,
      mode: node.mode,
      size: this.isDir(node) ? BLOCK_SIZE : node.size,
      nlink: node.nlink,
      uid: node.uid,
      gid: node.gid,
      atime: node.atime,
      mtime: node.mtime,
      ctime: node.ctime,
      blksize: BLOCK_SIZE,
    };
  }

  private entry(node: MemNode): Entry {
    return { nodeid: nodeId(node.ino), attr: this.attr(node), entryTimeout: this.entryTimeout, attrTimeout: this.attrTimeout };
  }
}
