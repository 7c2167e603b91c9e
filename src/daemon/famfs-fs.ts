import { constants as fsConstants } from 'node:fs';
import { DeviceWindows } from '../device/windows.js';
import { FamfsError } from '../errors.js';
import { fmapExtents } from '../format/fmap.js';
import { ALLOC_UNIT } from '../format/layout.js';
import { logSlot } from '../format/log-header.js';
import { formatUuid } from '../format/uuid.js';
import { type FamfsHandle, FileSystemGoneError } from '../fs/famfs.js';
import { ROOT_INO, type DirNode, type FileNode, type FsNode, type NodeStat, type NodeStatFields, pathOf } from '../fs/namespace.js';
import { resolveRange } from '../fs/resolve.js';
import { direntRecordSize, DirentPlusPacker, fileHandle, FopenFlag, FileType, FuseError, InitFlag, NO_FILE_HANDLE, nodeId } from '../fuse/index.js';
import type {
  AccessArgs, AttrFields, AttrReply, DirentPlusFields, Entry, ExtensionOp, FileAttr, FileHandle, Filesystem, GetattrArgs, GetxattrArgs, InitOffer,
  InitWants, LookupArgs, MkdirArgs, NodeArgs, OpenArgs, OpenReply, ReadArgs, ReaddirplusArgs, ReadReply,
  ReleaseArgs, RequestContext, SetattrArgs, StatfsReply, Timespec, WriteArgs, FsyncArgs,
} from '../fuse/index.js';
import { CACHE_TIMEOUTS, type DaemonConfig } from '../mounts/daemon-protocol.js';
import {
  AUTO_FAMFS_ABI, type FamfsAbiProfile, FAMFS_ABI_PROFILES, startingProfile, FMAP_FILE_TYPE, daxFmapMask, decodeGetDaxdevIn, decodeGetFmapIn,
  encodeDaxdevOut, encodeFmapMessage,
} from './famfs-abi.js';
import { DaxdevPusher, kernelHasDaxdevOpen } from './daxdev-push.js';
import { META_DIR_INO, META_LOG_INO, META_NODE_COUNT, META_SB_INO, type MetaFiles, makeMetaFiles } from '../fs/meta-files.js';

/** statfs block size; an allocation unit (2 MiB) is a whole number of these blocks. */
const STATFS_BSIZE = 4096;
/**
 * st_blksize of a directory: glibc's opendir sizes its getdents buffer by it (32 KiB up to 1 MiB),
 * and the kernel asks READDIRPLUS for as much as getdents asked (up to max_pages, 1 MiB): a
 * directory of 100,000 names is then listed in 17 requests instead of 514.
 */
const DIR_BLKSIZE = 1024 * 1024;
const MAX_NAME = 255;
const ST_BLOCK = 512;
const WRITE_BITS = 0o222;
const SET_ID_BITS = 0o6000;
/** A famfs kernel speaks minor 46; the layer caps it at the kernel's own. */
const FAMFS_KERNEL_MINOR = 46;
const XATTR_PREFIX = 'user.famfs.';
/** The only xattr namespace famfs has: no security labels, ACLs or trusted attributes. */
const USER_XATTR_NAMESPACE = 'user.';
/** open(2) access mode bits (O_ACCMODE), absent from Node's fs.constants. */
const O_ACCMODE = 3;

/**
 * The famfs file system as FUSE serves it: the namespace replayed from the log, data served
 * straight from the device's memory (READ replies are views of the mapping, written to the
 * kernel in one writev), creation only on the master and only through the log, and the
 * famfs GET_FMAP/GET_DAXDEV messages for kernels that resolve faults themselves.
 */
/** "." and ".." come first in every listing. */
const DOT_ENTRIES = 2;

export class FamfsFuse implements Filesystem {
  readonly extensions: readonly ExtensionOp[];
  private readonly meta: MetaFiles;
  /** Windows onto each device the data path has touched, by device index; opened on first use. */
  private readonly windows = new Map<number, DeviceWindows>();
  private profile: FamfsAbiProfile;
  /** push2026: gives the kernel the devices a looked-up file needs (set at attachFuseDevice). */
  private pusher: DaxdevPusher | undefined;
  private readonly timeout: number;
  private readonly stamp: Timespec;
  private readonly handles = new Map<FileHandle, { node: FileNode; writable: boolean }>();
  private nextFh = 1;
  /**
   * The log slots of the children of the directory listed last, and the log position they were
   * copied at: a listing in several READDIRPLUS batches copies them once. A cookie is an index into
   * them, stable because famfs never removes a name.
   */
  private listed: { ino: number; through: number; slots: Int32Array } | undefined;
  /** Where READDIRPLUS packs its records before copying them out (grown to the largest size asked). */
  private readonly packer = new DirentPlusPacker();
  /** A listed child's attributes as the index has them, and its record: each one object for every entry listed. */
  private readonly listedStat: NodeStatFields = { kind: 'file', ino: 0, uid: 0, gid: 0, mode: 0, size: 0, parentIno: 0 };
  private readonly record: DirentPlusFields;
  /** The kernel takes ENOSYS for OPENDIR as "no per-open state": no OPENDIR or RELEASEDIR is sent again. */
  private noOpendir = false;
  /** True once the kernel agreed to famfs mode: it then maps files itself after GET_FMAP. */
  famfsKernel = false;
  /**
   * Why the file system is no longer served, once it left its device (killed or made again):
   * every request then fails with EIO until the mount goes, rather than mixing trees.
   */
  private goneReason: string | undefined;
  /** Told once, when the file system is found gone (the daemon logs it). */
  onGone: ((reason: string) => void) | undefined;
  /** Where notices go (the daemon's log); unset, they are dropped. */
  log: ((line: string) => void) | undefined;
  /** Added devices this host could not find at mount (`-o allow-missing`). */
  private readonly missingDevices: ReadonlySet<number>;
  /** Files already reported as unreadable for a missing device: one log line each. */
  private readonly reportedMissing = new Set<number>();
  /**
   * Counted for the diagnostics socket (plain increments on the request path, read when asked).
   * The inode searches mirror upstream's icache_stats: a search per node id looked up other than
   * the root's, the nodes it examined (one here: the index is keyed by inode), the searches that
   * found nothing.
   */
  readonly counters = { bytesRead: 0, bytesWritten: 0, searches: 0, nodesScanned: 0, searchFails: 0 };

  constructor(private readonly fs: FamfsHandle, private readonly config: DaemonConfig, missingDevices: readonly number[] = []) {
    this.missingDevices = new Set(missingDevices);
    const profile = startingProfile(config.abi);
    if (!profile) throw new FuseError('EINVAL', `unknown famfs ABI profile '${config.abi}'`);
    this.profile = profile;
    this.meta = makeMetaFiles(fs.sb, fs.ns.root);
    this.timeout = config.timeout ?? CACHE_TIMEOUTS[config.cache];
    const now = Date.now();
    this.stamp = { sec: Math.floor(now / 1000), nsec: (now % 1000) * 1e6 };
    this.record = { nodeid: nodeId(0), generation: 0, attr: this.emptyAttr(), type: 0, offset: 0 };
    this.extensions = [
      { opcode: profile.getFmapOpcode, name: 'GET_FMAP', handle: (req, body) => this.getFmap(req, body) },
      { opcode: profile.getDaxdevOpcode, name: 'GET_DAXDEV', handle: (req, body) => this.getDaxdev(req, body) },
    ];
  }

  /**
   * The mount's /dev/fuse descriptor, once mounted. With `auto`, a kernel that negotiated famfs
   * mode and knows FUSE_DEV_IOC_DAXDEV_OPEN moves the mount to push2026 (the same opcodes, so
   * nothing registered changes); with push2026, devices are pushed from the next LOOKUP on.
   */
  attachFuseDevice(fd: number, log: (msg: string) => void): void {
    const push2026 = FAMFS_ABI_PROFILES.push2026!;
    if (this.config.abi === AUTO_FAMFS_ABI && this.famfsKernel && kernelHasDaxdevOpen(fd)) this.profile = push2026;
    if (this.profile.daxdevs !== 'push') return;
    this.pusher = new DaxdevPusher(fd, (i) => (i === 0 ? this.config.device : this.fs.deviceAt(i).path), log);
  }

  get abiProfile(): string {
    return this.profile.name;
  }

  get isMaster(): boolean {
    return this.fs.role === 'master';
  }

  init(offer: InitOffer): InitWants {
    const offered = offer.flags;
    let flags = 0n;
    const dax = daxFmapMask(this.profile);
    if ((offered & dax) !== 0n) {
      this.famfsKernel = true;
      flags |= dax;
    }
    if (this.config.cache === 'never') flags |= InitFlag.DIRECT_IO_ALLOW_MMAP;
    this.noOpendir = (offered & InitFlag.NO_OPENDIR_SUPPORT) !== 0n;
    return { flags, maxMinor: this.famfsKernel ? FAMFS_KERNEL_MINOR : undefined };
  }

  // ---- namespace ----

  get gone(): boolean {
    return this.goneReason !== undefined;
  }

  private checkServing(): void {
    if (this.goneReason !== undefined) throw new FuseError('EIO', this.goneReason);
  }

  /** A FileSystemGoneError stops the service (once); it and later requests answer EIO. */
  private stopIfGone(err: unknown): unknown {
    if (!(err instanceof FileSystemGoneError)) return err;
    if (this.goneReason === undefined) {
      this.goneReason = err.message;
      this.onGone?.(err.message);
    }
    return new FuseError('EIO', err.message);
  }

  private node(ino: number): FsNode {
    this.checkServing();
    return this.found(ino, this.metaNode(ino) ?? this.fs.ns.getIno(ino));
  }

  /** A node's attributes for the hot paths (GETATTR, LOOKUP, READDIRPLUS): no object is made for a file. */
  private stat(ino: number): NodeStat | FsNode {
    this.checkServing();
    return this.found(ino, ino >= META_DIR_INO ? this.metaNode(ino) : this.fs.ns.statIno(ino));
  }

  /** Counts a search for inode `ino` (the root's are not counted) and refuses one that found nothing. */
  private found<T>(ino: number, n: T | undefined): T {
    if (ino !== ROOT_INO) {
      this.counters.searches++;
      if (n) this.counters.nodesScanned++;
      else this.counters.searchFails++;
    }
    if (!n) throw new FuseError('ENOENT', `no inode ${ino}`);
    return n;
  }

  private metaNode(ino: number): FsNode | undefined {
    return ino === META_DIR_INO ? this.meta.dir : ino === META_SB_INO ? this.meta.superblock : ino === META_LOG_INO ? this.meta.log : undefined;
  }

  private dir(ino: number): DirNode {
    const n = this.node(ino);
    if (n.kind !== 'dir') throw new FuseError('ENOTDIR');
    return n;
  }

  private file(ino: number): FileNode {
    const n = this.node(ino);
    if (n.kind !== 'file') throw new FuseError('EISDIR');
    return n;
  }

  private isMeta(n: NodeStatFields | FsNode): boolean {
    return n.ino >= META_DIR_INO;
  }

  private child(parent: DirNode, name: string): NodeStat | FsNode | undefined {
    if (parent.ino === ROOT_INO && name === this.meta.dir.name) return this.meta.dir;
    if (parent === this.meta.dir) return parent.children.get(name);
    return this.fs.ns.statChild(parent, name);
  }

  /** Catch up with the log: another process may have just created what is being looked for. */
  refresh(): number {
    this.checkServing();
    try {
      return this.fs.refresh();
    } catch (err) {
      throw this.stopIfGone(err);
    }
  }

  attr(n: NodeStat | FsNode): FileAttr {
    const a = this.emptyAttr();
    this.attrInto(a, n);
    return a;
  }

  private emptyAttr(): AttrFields {
    return {
      ino: 0, mode: 0, size: 0, blocks: 0, atime: this.stamp, mtime: this.stamp, ctime: this.stamp, nlink: 1,
      uid: 0, gid: 0, rdev: 0, blksize: 0, flags: 0,
    };
  }

  /** The attributes a node shows through this mount, written into `a` (READDIRPLUS fills one object per reply). */
  private attrInto(a: AttrFields, n: NodeStatFields | FsNode): void {
    const file = n.kind === 'file';
    // A client may read but never write: its view shows no write bits. Nor set-id bits on files
    // unless mounted `-o suid`: another host logged them, and exec must not become its owner here.
    let mode = this.isMaster || this.isMeta(n) ? n.mode : n.mode & ~WRITE_BITS;
    if (file && !this.isMaster && !this.config.suid) mode &= ~SET_ID_BITS;
    a.ino = n.ino;
    a.mode = mode | (file ? FileType.S_IFREG : FileType.S_IFDIR);
    a.size = file ? n.size : 0;
    a.blocks = file ? Math.ceil(n.size / ST_BLOCK) : 0;
    a.atime = this.stamp;
    a.mtime = this.stamp;
    a.ctime = this.stamp;
    // 1 for directories: "link count unknown", which tools such as find understand.
    a.nlink = 1;
    a.uid = n.uid;
    a.gid = n.gid;
    a.blksize = file ? STATFS_BSIZE : DIR_BLKSIZE;
  }

  private entry(n: NodeStat | FsNode): Entry {
    return { nodeid: nodeId(n.ino), attr: this.attr(n), entryTimeout: this.timeout, attrTimeout: this.timeout };
  }

  lookup(_ctx: RequestContext, a: LookupArgs): Entry {
    const parent = this.dir(a.parent);
    let n = this.child(parent, a.name);
    if (!n && this.refresh() > 0) n = this.child(parent, a.name);
    if (!n) throw new FuseError('ENOENT');
    // The kernel must hold every device a file's map names before it maps the file.
    if (n.kind === 'file' && this.famfsKernel && this.pusher) this.pusher.pushFor(this.file(n.ino).fmap);
    return this.entry(n);
  }

  forget(): void {
    // Node ids are inode numbers fixed by the log: nothing to release.
  }

  getattr(_ctx: RequestContext, a: GetattrArgs): AttrReply {
    return { attr: this.attr(this.stat(a.nodeid)), timeout: this.timeout };
  }

  /** famfs files have fixed sizes and logged owners: only harmless time updates are accepted. */
  setattr(_ctx: RequestContext, a: SetattrArgs): AttrReply {
    const n = this.node(a.nodeid);
    if (!this.isMaster) throw new FuseError('EROFS', 'a famfs client cannot change attributes');
    if (a.size !== undefined) throw new FuseError('EINVAL', 'famfs files cannot be resized');
    if (a.mode !== undefined || a.uid !== undefined || a.gid !== undefined) throw new FuseError('EPERM', 'famfs modes and owners are fixed by the log');
    return { attr: this.attr(n), timeout: this.timeout };
  }

  /** A directory's listing begins with ".", ".." and these: the meta directory in the root, the meta files in it. */
  private extraEntries(d: DirNode): FsNode[] {
    if (d.ino === ROOT_INO) return [this.meta.dir];
    return d === this.meta.dir ? [...d.children.values()] : [];
  }

  /** The children's slots of `d` as of now: the copy the last listing made while the log has not moved. */
  private childSlots(d: DirNode): Int32Array {
    if (d === this.meta.dir) return new Int32Array(0);
    const through = this.fs.nextSlot;
    const last = this.listed;
    if (last?.ino === d.ino && last.through === through) return last.slots;
    this.listed = { ino: d.ino, through, slots: this.fs.ns.childSlots(d) };
    return this.listed.slots;
  }

  /** Listings need no per-open state (see childSlots): where the kernel allows, none is kept. */
  opendir(_ctx: RequestContext, a: OpenArgs): OpenReply {
    this.dir(a.nodeid);
    if (this.noOpendir) throw new FuseError('ENOSYS', 'no per-open directory state');
    return { fh: NO_FILE_HANDLE };
  }

  /**
   * Records from cookie `offset` on, as many as the kernel's buffer takes, each with its entry and
   * attributes (the kernel then needs no LOOKUP per name), read from the index per request: no
   * listing is kept encoded, and no object or string is made per file (a child's name goes from
   * the index into its record as bytes). Records are packed into one scratch buffer kept for the
   * daemon's life and copied out at their exact size (a zeroed buffer of the kernel's 1 MiB per
   * request, and objects kept per record until the reply was sized, cost more than the
   * encoding). Cookies: 1 is ".", 2 is "..", then the extra entries, then the children in log order.
   */
  readdirplus(_ctx: RequestContext, a: ReaddirplusArgs): Buffer {
    const d = this.dir(a.nodeid);
    // A listing from the start sees what other processes logged up to now.
    if (a.offset === 0) this.refresh();
    let slots = this.childSlots(d);
    const extra = this.extraEntries(d);
    const firstChild = DOT_ENTRIES + extra.length;
    const packer = this.packer;
    // Room for one record past the kernel's size: a child's name is copied in before it is known to fit.
    const out = packer.reserve(a.size + direntRecordSize(true, MAX_NAME));
    packer.setTimeouts(this.timeout, this.timeout);
    const rec = this.record;
    let bytes = 0;
    for (let cookie = a.offset; ; cookie++) {
      const at = DirentPlusPacker.nameAt(bytes);
      let node: NodeStatFields | FsNode | undefined;
      let nameLen: number;
      if (cookie < DOT_ENTRIES) {
        nameLen = out.write(cookie === 0 ? '.' : '..', at, 'latin1');
      } else if (cookie < firstChild) {
        node = extra[cookie - DOT_ENTRIES]!;
        nameLen = out.write(node.name, at, 'utf8');
      } else {
        const i = cookie - firstChild;
        // At the end of what was copied: the log may have grown since (a new copy when it did).
        if (i >= slots.length && (this.refresh() === 0 || (slots = this.childSlots(d)).length <= i)) break;
        node = this.listedStat;
        nameLen = this.fs.ns.statSlotInto(logSlot(slots[i]!), node, out, at);
        if (nameLen < 0) continue;
      }
      if (bytes + direntRecordSize(true, nameLen) > a.size) break;
      const type = (node?.kind === 'file' ? FileType.S_IFREG : FileType.S_IFDIR) >>> 12;
      if (node === undefined) {
        // "." and ".." carry no entry: the kernel caches nothing for them.
        const ino = cookie === 0 ? d.ino : d.parent?.ino ?? d.ino;
        bytes = packer.putNoEntry(bytes, nameLen, ino, type, cookie + 1);
        continue;
      }
      rec.nodeid = nodeId(node.ino);
      rec.type = type;
      rec.offset = cookie + 1;
      this.attrInto(rec.attr, node);
      bytes = packer.put(bytes, nameLen, rec);
    }
    return Buffer.from(out.subarray(0, bytes));
  }

  releasedir(): void {}

  // ---- data ----

  /** EIO (logged once per file) for a file with extents on a device this host does not have. */
  private checkDevicesPresent(node: FileNode): void {
    if (this.missingDevices.size === 0) return;
    const gone = fmapExtents(node.fmap).find((e) => this.missingDevices.has(e.devIndex));
    if (gone === undefined) return;
    const why = `${pathOf(node)}: has extents on device ${gone.devIndex}, which this host does not have`;
    if (!this.reportedMissing.has(node.ino)) {
      this.reportedMissing.add(node.ino);
      this.log?.(why);
    }
    throw new FuseError('EIO', why);
  }

  open(_ctx: RequestContext, a: OpenArgs): OpenReply {
    const node = this.file(a.nodeid);
    this.checkDevicesPresent(node);
    const acc = a.flags & O_ACCMODE;
    const writable = acc === fsConstants.O_WRONLY || acc === fsConstants.O_RDWR;
    if (writable && !this.isMaster) throw new FuseError('EROFS', 'a famfs client cannot write');
    if (writable && this.isMeta(node)) throw new FuseError('EPERM', 'famfs meta files are changed only through famfs commands');
    if (a.flags & fsConstants.O_TRUNC) throw new FuseError('EINVAL', 'famfs files cannot be truncated');
    const fh = fileHandle(this.nextFh++);
    this.handles.set(fh, { node, writable });
    let flags = 0;
    if (this.config.cache === 'never') flags |= FopenFlag.DIRECT_IO;
    if (this.config.cache === 'always') flags |= FopenFlag.KEEP_CACHE;
    return { fh, flags };
  }

  release(_ctx: RequestContext, a: ReleaseArgs): void {
    this.handles.delete(a.fh);
  }

  flush(): void {}

  read(_ctx: RequestContext, a: ReadArgs): ReadReply {
    this.checkServing();
    const node = this.handles.get(a.fh)?.node ?? this.file(a.nodeid);
    const out: Buffer[] = [];
    for (const p of resolveRange(node.fmap, node.size, a.offset, a.size)) {
      const w = this.windowsOf(p.devIndex);
      // Memory whose hosts' caches are not coherent: read what other hosts have flushed.
      if (!w.coherent) w.invalidate(p.offset, p.len);
      w.views(p.offset, p.len, out);
      this.counters.bytesRead += p.len;
    }
    return out;
  }

  write(_ctx: RequestContext, a: WriteArgs): number {
    this.checkServing();
    const h = this.handles.get(a.fh);
    if (!h || !h.writable) throw new FuseError('EBADF');
    const node = h.node;
    if (a.offset + a.data.length > node.size) {
      throw new FuseError('EFBIG', `write of ${a.data.length} bytes at ${a.offset} goes past the preallocated size ${node.size}`);
    }
    let src = 0;
    for (const p of resolveRange(node.fmap, node.size, a.offset, a.data.length)) {
      const w = this.windowsOf(p.devIndex);
      for (const v of w.views(p.offset, p.len)) {
        a.data.copy(v, 0, src, src + v.length);
        src += v.length;
      }
      // Memory whose hosts' caches are not coherent: a write reaches other hosts when it returns.
      if (!w.coherent) w.flush(p.offset, p.len);
    }
    this.counters.bytesWritten += src;
    return src;
  }

  fsync(_ctx: RequestContext, a: FsyncArgs): void {
    const node = this.file(a.nodeid);
    for (const p of resolveRange(node.fmap, node.size, 0, node.size)) {
      const m = this.deviceCall(() => this.fs.mapDevice(p.offset, p.len, false, p.devIndex));
      try {
        m.flush();
      } finally {
        m.unmap();
      }
    }
  }

  statfs(_ctx: RequestContext, _a: NodeArgs): StatfsReply {
    this.checkServing();
    const u = this.fs.usage();
    const h = this.fs.logHeader();
    const toBlocks = (units: number): number => (units * ALLOC_UNIT) / STATFS_BSIZE;
    return {
      blocks: toBlocks(u.units), bfree: toBlocks(u.freeUnits), bavail: this.isMaster ? toBlocks(u.freeUnits) : 0,
      files: h.lastIndex + 1, ffree: h.lastIndex + 1 - h.nextIndex, bsize: STATFS_BSIZE, namelen: MAX_NAME, frsize: STATFS_BSIZE,
    };
  }

  access(ctx: RequestContext, a: AccessArgs): void {
    const n = this.stat(a.nodeid);
    if ((a.mask & fsConstants.W_OK) && !this.isMaster) throw new FuseError('EROFS');
    if (ctx.uid === 0) return;
    const mode = this.attr(n).mode;
    const shift = ctx.uid === n.uid ? 6 : ctx.gid === n.gid ? 3 : 0;
    if (((mode >> shift) & a.mask & 0o7) !== (a.mask & 0o7)) throw new FuseError('EACCES');
  }

  // ---- creation (master only; always through the log) ----

  mkdir(ctx: RequestContext, a: MkdirArgs): Entry {
    if (!this.isMaster) throw new FuseError('EROFS', 'a famfs client cannot create directories');
    const parent = this.dir(a.parent);
    if (this.isMeta(parent)) throw new FuseError('EPERM');
    const path = pathOf(parent) ? `${pathOf(parent)}/${a.name}` : a.name;
    try {
      return this.entry(this.fs.mkdir(path, { mode: a.mode & ~a.umask & 0o7777, uid: ctx.uid, gid: ctx.gid }));
    } catch (err) {
      throw this.stopIfGone(err);
    }
  }

  create(): never {
    // A client's mount is read-only whatever the call; on the master, a famfs file is allocated
    // at creation and needs its size, which open(O_CREAT) cannot give.
    if (!this.isMaster) throw new FuseError('EROFS', 'a famfs client cannot create files');
    throw new FuseError('EOPNOTSUPP', 'famfs files are created with `famfs creat -s <size>` or `famfs cp`');
  }

  mknod(): never {
    throw new FuseError(this.isMaster ? 'EPERM' : 'EROFS');
  }

  unlink(): never {
    throw new FuseError(this.isMaster ? 'EPERM' : 'EROFS', 'famfs has no delete');
  }

  rmdir(): never {
    throw new FuseError(this.isMaster ? 'EPERM' : 'EROFS', 'famfs has no delete');
  }

  rename(): never {
    throw new FuseError(this.isMaster ? 'EPERM' : 'EROFS', 'famfs has no rename');
  }

  symlink(): never {
    throw new FuseError(this.isMaster ? 'EPERM' : 'EROFS');
  }

  link(): never {
    throw new FuseError(this.isMaster ? 'EPERM' : 'EROFS');
  }

  // ---- diagnostics ----

  private xattrs(n: FsNode): Record<string, string> {
    const out: Record<string, string> = {
      role: this.fs.role,
      fs_uuid: formatUuid(this.fs.sb.uuid),
      device: this.config.device,
    };
    // upstream's daemon answers this one on every node; its tools find the mount's shadow directory by it.
    if (this.config.shadowPath !== undefined) out.shadow = this.config.shadowPath;
    if (n.kind === 'file') {
      out.fmap = JSON.stringify(n.fmap);
      out.size = String(n.size);
    }
    if (n.logIndex >= 0) out.log_index = String(n.logIndex);
    return out;
  }

  getxattr(_ctx: RequestContext, a: GetxattrArgs): Buffer {
    // Not "no such attribute" but "no such namespace", as a file system without one answers: tools
    // then stop asking (ls -l probes security.selinux and system.posix_acl_access, and after
    // ENOTSUP remembers the device; ENODATA would cost two round trips per file listed).
    if (!a.name.startsWith(USER_XATTR_NAMESPACE)) throw new FuseError('EOPNOTSUPP', `famfs has no ${a.name.split('.')[0]}.* attributes`);
    if (!a.name.startsWith(XATTR_PREFIX)) throw new FuseError('ENODATA');
    const v = this.xattrs(this.node(a.nodeid))[a.name.slice(XATTR_PREFIX.length)];
    if (v === undefined) throw new FuseError('ENODATA');
    return Buffer.from(v);
  }

  listxattr(_ctx: RequestContext, a: NodeArgs): string[] {
    return Object.keys(this.xattrs(this.node(a.nodeid))).map((k) => XATTR_PREFIX + k);
  }

  // ---- famfs kernels ----

  private getFmap(req: RequestContext, body: Buffer): Buffer {
    const node = this.file(req.nodeid);
    this.checkDevicesPresent(node);
    const fileType = node.ino === META_SB_INO ? FMAP_FILE_TYPE.SUPERBLOCK : node.ino === META_LOG_INO ? FMAP_FILE_TYPE.LOG : FMAP_FILE_TYPE.REG;
    const far = fmapExtents(node.fmap).find((e) => e.devIndex >= this.profile.maxDaxdevs);
    if (far) throw new FuseError('ERANGE', `extent on device ${far.devIndex}, past the ${this.profile.name} table of ${this.profile.maxDaxdevs}`);
    const { bufferBytes } = decodeGetFmapIn(body);
    return encodeFmapMessage(node.fmap, node.size, this.profile, fileType, bufferBytes ?? this.profile.fmapBufferBytes);
  }

  /**
   * The path of device `index` on this host, for the kernel to open: the primary as mounted, an
   * added device wherever the device map or its UUID says it is. EINVAL for an index the log (or
   * the profile's table) does not have; ENODEV when this host cannot find the device.
   */
  private getDaxdev(req: RequestContext, body: Buffer): Buffer {
    this.checkServing();
    const index = decodeGetDaxdevIn(req.nodeid, body, this.profile);
    if (index >= this.profile.maxDaxdevs) throw new FuseError('EINVAL', `device index ${index} is past the ${this.profile.name} table of ${this.profile.maxDaxdevs}`);
    if (index >= this.fs.deviceRecords().length) this.refresh();
    if (index >= this.fs.deviceRecords().length) throw new FuseError('EINVAL', `no device with index ${index}`);
    const path = index === 0 ? this.config.device : this.deviceCall(() => this.fs.deviceAt(index)).path;
    return encodeDaxdevOut(index, path);
  }

  /** Device lookups fail as one FUSE errno (the kernel has no use for the famfs error class). */
  private deviceCall<T>(fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      if (err instanceof FamfsError) throw new FuseError(err.code === 'ENODEV' ? 'ENODEV' : 'EIO', err.message);
      throw err;
    }
  }

  private windowsOf(devIndex: number): DeviceWindows {
    let w = this.windows.get(devIndex);
    if (!w) {
      const device = this.deviceCall(() => this.fs.deviceAt(devIndex));
      w = new DeviceWindows(device, this.isMaster && device.writable);
      this.windows.set(devIndex, w);
    }
    return w;
  }

  /** Files open through this mount now. */
  get openFiles(): number {
    return this.handles.size;
  }

  /** The nodes this daemon serves: logged files and directories, the root and the meta files. */
  get inodeCount(): number {
    return this.fs.stats.files + this.fs.stats.dirs + 1 + META_NODE_COUNT;
  }

  /** Every node loaded so far, for /icache_dump: the root, the meta files, what was opened or made. */
  *loadedNodes(): Generator<FsNode> {
    const [root, ...made] = this.fs.ns.madeNodes();
    yield root!;
    yield this.meta.dir;
    yield this.meta.superblock;
    yield this.meta.log;
    yield* made;
  }

  close(): void {
    for (const w of this.windows.values()) w.close();
    this.windows.clear();
  }
}
