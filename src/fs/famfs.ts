import { Allocator, type RandomInt, mathRandomInt } from '../alloc/allocator.js';
import type { Bitmap } from '../alloc/bitmap.js';
import type { InterleaveParams } from '../alloc/interleave.js';
import { type DeviceMapping, MAX_MAPPING_BYTES, MemoryDevice } from '../device/device.js';
import { FormatError, FsError, RoleError } from '../errors.js';
import { FM_ALL_HOSTS_RW } from '../format/file-meta.js';
import { type Fmap, checkFmapShape, fmapCapacity, fmapExtents } from '../format/fmap.js';
import { ALLOC_UNIT, LOG_OFFSET, SUPERBLOCK_REGION_SIZE } from '../format/layout.js';
import { LOG_ENTRY_SIZE } from '../format/log-entry.js';
import { LOG_HEADER_SIZE, type LogHeader, decodeLogHeader, entryOffset, lastIndexFor } from '../format/log-header.js';
import type { Superblock } from '../format/superblock.js';
import { formatUuid } from '../format/uuid.js';
import { type DeviceMap, DeviceSet, deviceMapFromEnv } from './device-set.js';
import { LogFullError, type NewEntry, appendEntryAt } from './log-writer.js';
import { DEFAULT_DIR_MODE, type DirNode, type FileNode, type FsNode, type Namespace, pathOf } from './namespace.js';
import { splitPath, toRelpath } from './paths.js';
import { type DeviceRecord, LogReplayer, type ReplayStats } from './replay.js';
import { type Role, readSuperblock, roleOf } from './role.js';

// Kept here too: callers found it in this module before the mount preflight needed it alone.
export { readSuperblock };

export const DEFAULT_FILE_MODE = 0o644;

export interface OpenOptions {
  /** Map the metadata writable (only takes effect on the master). */
  writable?: boolean;
  /** This host's identity; defaults to FAMFS_SYSTEM_UUID or /opt/famfs/system_uuid. */
  systemUuid?: Buffer;
  /** Bucket order for interleaved allocation (tests make it deterministic). */
  random?: RandomInt;
  /** Where this host sees devices added with `famfs adddev` (index → path); default $FAMFS_DEVICE_MAP, else found by UUID. */
  deviceMap?: DeviceMap;
}

export interface MkdirOptions {
  /** Permission bits; default 0755. */
  mode?: number;
  /** Default: the effective uid. */
  uid?: number;
  /** Default: the effective gid. */
  gid?: number;
  /** Create missing parents (one log entry each) and accept an existing directory, like mkdir -p. */
  parents?: boolean;
}

export interface CreatOptions {
  /** Bytes; required for a new file, and must match (or be omitted) for an existing one. */
  size?: number;
  /** Permission bits; default 0644. */
  mode?: number;
  uid?: number;
  gid?: number;
  /** Stripe the file across buckets of the device (spec §4.3) instead of one contiguous extent. */
  interleave?: InterleaveParams;
  /**
   * Give the new file's memory its pages before logging it (the caller is about to write all of
   * it): on an emulated device whose file system is full, the creat fails with ENOSPC and logs
   * nothing, where writing would have died of SIGBUS with the file logged half written.
   */
  populate?: boolean;
}

/** A file whose memory the caller chose: see LogSession.addFile. */
export interface AddFileOptions {
  size: number;
  fmap: Fmap;
  mode?: number;
  uid?: number;
  gid?: number;
  /** Allow the fmap to overlap memory other files own (famfs clone's deliberate cross-link). */
  crossLink?: boolean;
}

/** The result of creat: the file, and whether this call created it. */
export interface CreatResult {
  file: FileNode;
  created: boolean;
}

const effectiveUid = (): number => process.geteuid?.() ?? 0;
const effectiveGid = (): number => process.getegid?.() ?? 0;

/**
 * A famfs file system opened through its memory device: the superblock, the log mapped
 * in place, the namespace replayed from it, and — on the master — creation of files and
 * directories by appending to the log under the inter-process log lock.
 */
export class Famfs {
  readonly role: Role;
  private readonly replayer: LogReplayer;
  private readonly devices: DeviceSet;
  private closed = false;
  /**
   * The allocation bitmaps of the last log session, kept when they ended equal to the replayed
   * ones (every allocation logged): the next session on an unchanged log starts from them
   * instead of copying every device's bitmap again.
   */
  private spare: { through: number; bitmaps: Bitmap[] } | undefined;

  private constructor(
    readonly device: MemoryDevice,
    readonly sb: Superblock,
    private readonly meta: DeviceMapping,
    role: Role,
    private readonly random: RandomInt,
    deviceMap: DeviceMap,
  ) {
    this.role = role;
    this.devices = new DeviceSet(device, sb.uuid, deviceMap, device.writable);
    // The header says first whether the superblock's log length is the log's.
    const header = this.logHeader();
    this.replayer = new LogReplayer({ index: 0, size: sb.devSize, uuid: sb.devUuid }, LOG_OFFSET + sb.logLen, sb.logLen);
    this.playTo(header.nextIndex);
  }

  static open(devicePath: string, opts: OpenOptions = {}): Famfs {
    const probe = MemoryDevice.open(devicePath, { writable: false });
    let sb: Superblock;
    let role: Role;
    try {
      sb = readSuperblock(probe);
      role = roleOf(sb, opts.systemUuid);
    } catch (err) {
      probe.close();
      throw err;
    }
    let device = probe;
    if (opts.writable && role === 'master') {
      probe.close();
      device = MemoryDevice.open(devicePath, { writable: true });
    }
    try {
      const meta = device.map(0, LOG_OFFSET + sb.logLen, { writable: device.writable });
      return new Famfs(device, sb, meta, role, opts.random ?? mathRandomInt, opts.deviceMap ?? deviceMapFromEnv());
    } catch (err) {
      device.close();
      throw err;
    }
  }

  private owner: { uid: number; gid: number } | undefined;

  /**
   * Who owns what this handle creates unless told otherwise: the effective uid/gid, read at the
   * first creation (two system calls, which every one-file log session would pay again).
   */
  get defaultOwner(): { uid: number; gid: number } {
    return (this.owner ??= { uid: effectiveUid(), gid: effectiveGid() });
  }

  get ns(): Namespace {
    return this.replayer.ns;
  }

  get stats(): Readonly<ReplayStats> {
    return this.replayer.stats;
  }

  get replay(): LogReplayer {
    return this.replayer;
  }

  get uuid(): string {
    return formatUuid(this.sb.uuid);
  }

  logHeader(): LogHeader {
    return this.headerIn(this.meta);
  }

  private headerIn(view: DeviceMapping): LogHeader {
    view.invalidate(LOG_OFFSET, LOG_HEADER_SIZE);
    return decodeLogHeader(view.buffer.subarray(LOG_OFFSET), this.sb.logLen);
  }

  /**
   * Play the entries appended since the last call, in place in the shared log; returns how many.
   * There is no private copy of the log: on a VM the first touch of 8 MiB of fresh pages costs
   * more than the replay. Entries below next_index are never rewritten by famfs, so reading them
   * in place sees what was committed; a writer that changes one anyway is caught when the file
   * decodes its map from a private copy whose CRC must still be the one replayed (LoggedFile).
   */
  refresh(): number {
    return this.playTo(this.headerIn(this.meta).nextIndex);
  }

  /** Play the slots from the replayer's position up to `nextIndex`, as the header just read says. */
  private playTo(nextIndex: number): number {
    const from = this.replayer.playedThrough;
    if (nextIndex < from) {
      throw new FormatError(`the log went back from ${from} to ${nextIndex} entries: was the file system re-created?`);
    }
    if (nextIndex === from) return 0;
    // One invalidation for the whole new range: per entry it costs more than the decode.
    const start = LOG_OFFSET + entryOffset(from);
    this.meta.invalidate(start, (nextIndex - from) * LOG_ENTRY_SIZE);
    this.replayer.applySlots(from, nextIndex - from, this.meta.buffer, start);
    return nextIndex - from;
  }

  /** Look a path up; undefined when absent. */
  lookup(path: string): FsNode | undefined {
    return this.ns.lookup(splitPath(path));
  }

  stat(path: string): FsNode {
    const node = this.lookup(path);
    if (!node) throw new FsError('ENOENT', `'${path}': no such file or directory in famfs`);
    return node;
  }

  readdir(path: string): FsNode[] {
    const node = this.stat(path);
    if (node.kind !== 'dir') throw new FsError('ENOTDIR', `'${path}' is not a directory`);
    return [...node.children.values()];
  }

  getmap(path: string): { size: number; fmap: Fmap } {
    const node = this.stat(path);
    if (node.kind !== 'file') throw new FsError('EISDIR', `'${path}' is a directory`);
    return { size: node.size, fmap: node.fmap };
  }

  /**
   * Run `fn` holding the log lock, after catching up with entries other processes added,
   * with an allocator over a private copy of the bitmap. Only the master may.
   */
  withLog<T>(fn: (s: LogSession) => T): T {
    this.requireMaster();
    const unlock = this.device.lock();
    try {
      this.refresh();
      const session = new LogSession(this, this.meta, this.replayer, this.random, this.sessionBitmaps());
      const result = fn(session);
      if (session.inStep) this.spare = { through: this.replayer.playedThrough, bitmaps: session.bitmaps };
      return result;
    } finally {
      unlock();
    }
  }

  /**
   * Bitmaps a new session may allocate from: the last session's when nothing was appended since
   * and they still match the replayed ones, else fresh copies. Taken, never shared: a session
   * that fails midway leaves no spare behind.
   */
  private sessionBitmaps(): Bitmap[] {
    const spare = this.spare;
    this.spare = undefined;
    const live = this.replayer.bitmaps;
    if (spare && spare.through === this.replayer.playedThrough && spare.bitmaps.length === live.length
      && spare.bitmaps.every((b, i) => b.sameCounts(live[i]!))) return spare.bitmaps;
    return live.map((b) => b.clone());
  }

  mkdir(path: string, opts: MkdirOptions = {}): DirNode {
    return this.withLog((s) => s.mkdir(path, opts));
  }

  creat(path: string, opts: CreatOptions): CreatResult {
    return this.withLog((s) => s.creat(path, opts));
  }

  requireMaster(): void {
    if (this.role !== 'master') {
      throw new RoleError(`this host is a client of famfs ${this.uuid}: only the master (system UUID ${formatUuid(this.sb.systemUuid)}) can create files or directories`);
    }
    if (!this.device.writable) throw new FsError('EROFS', 'the file system was opened read-only');
  }

  /** A writable (master) or read-only (client) window of the memory of device `devIndex`. */
  mapDevice(offset: number, length: number, writable: boolean, devIndex = 0): DeviceMapping {
    const device = this.deviceAt(devIndex);
    return device.map(offset, length, { writable: writable && device.writable });
  }

  /** Gives every extent of `fmap` its memory now, mapped writable (DeviceMapping.populate). */
  populate(fmap: Fmap): void {
    for (const e of fmapExtents(fmap)) {
      for (let at = 0; at < e.len; at += MAX_MAPPING_BYTES) {
        const m = this.mapDevice(e.offset + at, Math.min(MAX_MAPPING_BYTES, e.len - at), true, e.devIndex);
        try {
          m.populate();
        } finally {
          m.unmap();
        }
      }
    }
  }

  /** The devices the log knows, in index order (0 is the primary). */
  deviceRecords(): readonly DeviceRecord[] {
    return this.replayer.devices;
  }

  /**
   * Device `index` of the file system, opened on first use: found through the device map or by
   * its UUID (see DeviceSet). ENODEV when the log has no such device or this host cannot find it.
   */
  deviceAt(index: number): MemoryDevice {
    if (index === 0) return this.device;
    let rec = this.replayer.devices[index];
    if (!rec && this.refresh() > 0) rec = this.replayer.devices[index];
    if (!rec) throw new FsError('ENODEV', `famfs ${this.uuid} has no device ${index} (it has ${this.replayer.devices.length})`);
    return this.devices.get(rec);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    // Replayed files read their maps from it later: it is unmapped when they are collected.
    this.meta.release();
    this.devices.close();
  }
}

/** Metadata changes made while holding the log lock. */
export class LogSession {
  private readonly allocator: Allocator;
  private readonly lastIndex: number;
  /**
   * False once memory was handed out that the log may never record (allocate()): the bitmaps
   * then differ from the replayed ones and must not seed another session.
   */
  private allocatedOnly = false;
  /** `bitmaps`: this session's copies of the replayed ones, by device index. */
  constructor(
    private readonly fs: Famfs,
    private readonly meta: DeviceMapping,
    private readonly replayer: LogReplayer,
    random: RandomInt,
    readonly bitmaps: Bitmap[],
  ) {
    this.allocator = new Allocator(bitmaps[0]!, replayer.devices[0]!.size, 0, random);
    for (const d of replayer.devices.slice(1)) this.allocator.addDevice(bitmaps[d.index]!, d.size, d.index);
    this.lastIndex = lastIndexFor(fs.sb.logLen);
  }

  /** Every allocation of the session is in the log, and the devices are those it started with. */
  get inStep(): boolean {
    return !this.allocatedOnly && this.bitmaps.length === this.replayer.bitmaps.length;
  }

  /** Devices the log records, so far (0 is the primary). */
  get deviceCount(): number {
    return this.replayer.devices.length;
  }

  /**
   * Log an ADD_DAXDEV entry: the device of `size` bytes whose secondary superblock carries
   * `devUuid` becomes the next device index, which is returned. The caller (addDevice) has
   * checked the device and written that superblock.
   */
  appendDevice(devSize: number, devUuid: Buffer): number {
    const free = this.freeSlots();
    if (free < 1) throw new LogFullError(1, free);
    const devIndex = this.replayer.devices.length;
    this.append({ type: 'add_daxdev', devSize, devUuid, devIndex });
    if (this.replayer.devices.length !== devIndex + 1) throw new FsError('EIO', `the log did not take device ${devIndex}`);
    return devIndex;
  }

  /**
   * Slots still free. The session holds the lock and replayed the log after taking it, and
   * replays each of its own entries as it appends, so next_index is the replayer's position.
   */
  freeSlots(): number {
    return this.lastIndex + 1 - this.replayer.playedThrough;
  }

  /**
   * Log one entry in the next slot and play it in place, as refresh() plays every entry. The
   * bytes were just written and flushed through this mapping, so there is nothing stale to
   * invalidate and no header to read back.
   */
  private append(entry: NewEntry): void {
    const index = this.replayer.playedThrough;
    if (index > this.lastIndex) throw new LogFullError(1, 0);
    appendEntryAt(this.meta, index, entry);
    const at = LOG_OFFSET + entryOffset(index);
    this.replayer.applySlot(index, this.meta.buffer, at);
  }

  mkdir(path: string, opts: MkdirOptions = {}): DirNode {
    const parts = splitPath(path);
    if (parts.length === 0) {
      if (opts.parents) return this.fs.ns.root;
      throw new FsError('EEXIST', 'the root directory already exists');
    }
    toRelpath(parts);
    let node: FsNode = this.fs.ns.root;
    let firstMissing = -1;
    for (let i = 0; i < parts.length; i++) {
      const child: FsNode | undefined = (node as DirNode).children.get(parts[i]!);
      if (!child) {
        firstMissing = i;
        break;
      }
      if (child.kind !== 'dir') throw new FsError('ENOTDIR', `'${pathOf(child)}' is a file, not a directory`);
      node = child;
    }
    if (firstMissing < 0) {
      if (opts.parents) return node as DirNode;
      throw new FsError('EEXIST', `'${parts.join('/')}' already exists`);
    }
    if (!opts.parents && firstMissing !== parts.length - 1) {
      throw new FsError('ENOENT', `parent directory '${parts.slice(0, -1).join('/')}' does not exist`);
    }
    const needed = parts.length - firstMissing;
    const free = this.freeSlots();
    if (free < needed) throw new LogFullError(needed, free);
    const mode = (opts.mode ?? DEFAULT_DIR_MODE) & 0o7777;
    const uid = opts.uid ?? this.fs.defaultOwner.uid;
    const gid = opts.gid ?? this.fs.defaultOwner.gid;
    for (let i = firstMissing; i < parts.length; i++) {
      this.append({ type: 'mkdir', path: toRelpath(parts.slice(0, i + 1)), mode, uid, gid });
    }
    return this.fs.ns.lookup(parts) as DirNode;
  }

  creat(path: string, opts: CreatOptions): CreatResult {
    const parts = splitPath(path);
    const rel = toRelpath(parts);
    const existing = this.fs.ns.lookup(parts);
    if (existing) {
      if (existing.kind !== 'file') throw new FsError('EISDIR', `'${rel}' exists and is a directory`);
      if (opts.size !== undefined && opts.size !== existing.size) {
        throw new FsError('EEXIST', `'${rel}' exists with size ${existing.size}, not ${opts.size}`);
      }
      return { file: existing, created: false };
    }
    if (opts.size === undefined) throw new FsError('EINVAL', `'${rel}' does not exist and no size was given`);
    if (!Number.isSafeInteger(opts.size) || opts.size <= 0) throw new FsError('EINVAL', `invalid file size ${opts.size}: famfs files are at least 1 byte`);
    const parent = this.fs.ns.lookup(parts.slice(0, -1));
    if (!parent) throw new FsError('ENOENT', `parent directory '${parts.slice(0, -1).join('/')}' does not exist`);
    if (parent.kind !== 'dir') throw new FsError('ENOTDIR', `'${pathOf(parent)}' is a file, not a directory`);
    const free = this.freeSlots();
    if (free < 1) throw new LogFullError(1, free);
    const fmap = this.allocator.allocate(opts.size, opts.interleave);
    try {
      if (opts.populate) this.fs.populate(fmap);
      this.append({
        type: 'file', path: rel, size: opts.size, flags: FM_ALL_HOSTS_RW,
        uid: opts.uid ?? this.fs.defaultOwner.uid, gid: opts.gid ?? this.fs.defaultOwner.gid, mode: (opts.mode ?? DEFAULT_FILE_MODE) & 0o7777, fmap,
      });
    } catch (err) {
      this.allocator.release(fmap);
      throw err;
    }
    return { file: this.fs.ns.lookup(parts) as FileNode, created: true };
  }

  /**
   * Allocate memory for a file of `size` bytes in this session without logging anything, so a
   * multi-file operation can find out it does not fit before it creates any file. Memory handed
   * out here is not offered again in the session; give it to addFile, or just end the session.
   */
  allocate(size: number, interleave?: InterleaveParams): Fmap {
    this.allocatedOnly = true;
    return this.allocator.allocate(size, interleave);
  }

  /**
   * Log a new file with the given memory (from allocate(), from another file for clone, or built
   * by hand for a multi-extent file, which the allocator never makes). The fmap must cover the
   * size, lie on the device past the metadata, and — unless crossLink — not overlap any logged file.
   */
  addFile(path: string, opts: AddFileOptions): FileNode {
    const parts = splitPath(path);
    const rel = toRelpath(parts);
    if (this.fs.ns.lookup(parts)) throw new FsError('EEXIST', `'${rel}' already exists`);
    const parent = this.fs.ns.lookup(parts.slice(0, -1));
    if (!parent) throw new FsError('ENOENT', `parent directory '${parts.slice(0, -1).join('/')}' does not exist`);
    if (parent.kind !== 'dir') throw new FsError('ENOTDIR', `'${pathOf(parent)}' is a file, not a directory`);
    if (!Number.isSafeInteger(opts.size) || opts.size <= 0) throw new FsError('EINVAL', `invalid file size ${opts.size}: famfs files are at least 1 byte`);
    checkFmapShape(opts.fmap);
    if (fmapCapacity(opts.fmap) < opts.size) {
      throw new FsError('EINVAL', `'${rel}': the extents hold ${fmapCapacity(opts.fmap)} bytes, less than the size ${opts.size}`);
    }
    const metadataEnd = LOG_OFFSET + this.fs.sb.logLen;
    for (const e of fmapExtents(opts.fmap)) {
      const dev = this.replayer.devices[e.devIndex];
      if (!dev) throw new FsError('EINVAL', `'${rel}': extent on unknown device ${e.devIndex}`);
      if (e.offset % ALLOC_UNIT !== 0 || e.len % ALLOC_UNIT !== 0) throw new FsError('EINVAL', `'${rel}': extent 0x${e.offset.toString(16)}+0x${e.len.toString(16)} is not 2 MiB aligned`);
      if (e.offset + e.len > dev.size) throw new FsError('EINVAL', `'${rel}': extent 0x${e.offset.toString(16)}+0x${e.len.toString(16)} is past the end of device ${e.devIndex}`);
      if (e.devIndex === 0 && e.offset < metadataEnd) throw new FsError('EINVAL', `'${rel}': extent 0x${e.offset.toString(16)} overlaps the superblock and log`);
      if (e.offset < SUPERBLOCK_REGION_SIZE) throw new FsError('EINVAL', `'${rel}': extent 0x${e.offset.toString(16)} overlaps the superblock of device ${e.devIndex}`);
      if (!opts.crossLink && this.overlapsLoggedFile(e.devIndex, e.offset, e.len)) {
        throw new FsError('EEXIST', `'${rel}': extent 0x${e.offset.toString(16)}+0x${e.len.toString(16)} overlaps memory another file owns`);
      }
    }
    const free = this.freeSlots();
    if (free < 1) throw new LogFullError(1, free);
    this.append({
      type: 'file', path: rel, size: opts.size, flags: FM_ALL_HOSTS_RW,
      uid: opts.uid ?? this.fs.defaultOwner.uid, gid: opts.gid ?? this.fs.defaultOwner.gid, mode: (opts.mode ?? DEFAULT_FILE_MODE) & 0o7777, fmap: opts.fmap,
    });
    // Whatever allocate() handed out stays taken; memory chosen elsewhere is taken now.
    this.allocator.claim(opts.fmap);
    return this.fs.ns.lookup(parts) as FileNode;
  }

  private overlapsLoggedFile(devIndex: number, offset: number, len: number): boolean {
    const bitmap = this.replayer.bitmaps[devIndex]!;
    for (let u = offset / ALLOC_UNIT; u < (offset + len) / ALLOC_UNIT; u++) if (bitmap.isSet(u)) return true;
    return false;
  }
}
