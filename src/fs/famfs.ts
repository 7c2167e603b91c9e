import { type RandomInt, mathRandomInt } from '../alloc/allocator.js';
import type { Bitmap } from '../alloc/bitmap.js';
import { type DeviceMapping, MAX_MAPPING_BYTES, MemoryDevice } from '../device/device.js';
import { DeviceError, FamfsError, FsError, RoleError } from '../errors.js';
import { type Fmap, fmapExtents } from '../format/fmap.js';
import { LOG_OFFSET } from '../format/layout.js';
import { LOG_HEADER_SIZE, type LogHeader, type LogSlot, decodeLogHeader, entryOffset } from '../format/log-header.js';
import { type Superblock, decodeSuperblock, hasSuperMagic, SUPERBLOCK_SIZE } from '../format/superblock.js';
import { formatUuid, uuidEquals } from '../format/uuid.js';
import { type DeviceMap, DeviceSet, deviceMapFromEnv } from './device-set.js';
import { type CreatOptions, type CreatResult, LogSession, type MkdirOptions } from './log-session.js';
import type { DirNode, FsNode, Namespace } from './namespace.js';
import { splitPath } from './paths.js';
import { type DeviceRecord, LogReplayer, type ReplayStats } from './replay.js';
import { type Role, readSuperblock, roleOf } from './role.js';

/**
 * The file system an open handle replayed is no longer on its device (killed, made again, or its
 * log went back): nothing it knows can be trusted, and nothing may be appended through it.
 */
/** What Famfs.checkDevices() found: device map entries in error, and devices this host cannot find. */
export interface DeviceCheck {
  readonly badMap: readonly string[];
  readonly missing: readonly { readonly index: number; readonly problem: string }[];
}

export class FileSystemGoneError extends FsError {
  constructor(message: string) {
    super('EIO', message);
  }
}

export interface HandleOpenOptions {
  /** Map the metadata writable (only takes effect on the master). */
  writable?: boolean;
  /** This host's identity; defaults to FAMFS_SYSTEM_UUID or /opt/famfs/system_uuid. */
  systemUuid?: Buffer;
  /** Bucket order for interleaved allocation (tests make it deterministic). */
  random?: RandomInt;
  /** Where this host sees devices added with `famfs adddev` (index → path); default $FAMFS_DEVICE_MAP, else found by UUID. */
  deviceMap?: DeviceMap;
}

/** Space in allocation units (ALLOC_UNIT bytes each), as the allocation bitmaps count it. */
export interface SpaceUsage {
  /** Units the allocator manages: every whole unit of the device(s), metadata included. */
  units: number;
  /** Units taken: by files, and by the superblock(s) and the log. */
  allocatedUnits: number;
  freeUnits: number;
}

/** One device's space, with what the log records of it. */
export interface DeviceUsage extends SpaceUsage, DeviceRecord {}

/** Where this host sees a device of the file system, or why it cannot. */
export interface DeviceLocation {
  path?: string;
  problem?: string;
}

/**
 * Told of each range of log slots [first, end) once played, whoever played it: a refresh (from
 * any caller: a lookup that missed, a device asked for, a follow loop) or, with `appended`, this
 * handle's own appends. Called synchronously inside the replay, possibly under the log lock: a
 * listener records what it needs and returns; it must not throw or play the log itself.
 */
export type PlayedListener = (first: LogSlot, end: LogSlot, appended: boolean) => void;

const effectiveUid = (): number => process.geteuid?.() ?? 0;
const effectiveGid = (): number => process.getegid?.() ?? 0;

/**
 * A famfs file system opened through its memory device: the superblock, the log mapped
 * in place, the namespace replayed from it, and — on the master — creation of files and
 * directories by appending to the log under the inter-process log lock.
 */
export class FamfsHandle {
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
  private readonly playedListeners = new Set<PlayedListener>();
  /** A log session of this handle is appending: what is played now is its own entries. */
  private appending = false;

  private constructor(
    readonly device: MemoryDevice,
    readonly sb: Superblock,
    private readonly meta: DeviceMapping,
    role: Role,
    private readonly random: RandomInt,
    deviceMap: DeviceMap,
    /** Whose view of a non-coherent emulated device this handle has; undefined: this host's. */
    readonly host: Buffer | undefined,
  ) {
    this.role = role;
    this.devices = new DeviceSet(device, sb.uuid, deviceMap, device.writable, host);
    // The header says first whether the superblock's log length is the log's.
    const header = this.logHeader();
    this.replayer = new LogReplayer({ index: 0, size: sb.devSize, uuid: sb.devUuid }, LOG_OFFSET + sb.logLen, sb.logLen);
    this.replayer.onPlayed = (first, end) => {
      for (const listener of this.playedListeners) listener(first, end, this.appending);
    };
    this.playTo(header.nextIndex);
  }

  static open(devicePath: string, opts: HandleOpenOptions = {}): FamfsHandle {
    const host = opts.systemUuid;
    const probe = MemoryDevice.open(devicePath, { writable: false, host });
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
      device = MemoryDevice.open(devicePath, { writable: true, host });
    }
    try {
      const meta = device.map(0, LOG_OFFSET + sb.logLen, { writable: device.writable });
      return new FamfsHandle(device, sb, meta, role, opts.random ?? mathRandomInt, opts.deviceMap ?? deviceMapFromEnv(), host);
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

  /** The next log slot to play (and, on the master under the lock, to write): slots below it are played. */
  get nextSlot(): LogSlot {
    return this.replayer.nextSlot;
  }

  /** Calls `listener` for every range of slots played from now on; returns its removal. */
  onPlayed(listener: PlayedListener): () => void {
    this.playedListeners.add(listener);
    return () => this.playedListeners.delete(listener);
  }

  /** Each device's space, in index order (0 is the primary), as the replayed log allocates it. */
  deviceUsage(): DeviceUsage[] {
    return this.replayer.devices.map((d) => {
      const b = this.replayer.bitmaps[d.index]!;
      return { ...d, units: b.nbits, allocatedUnits: b.allocatedBits, freeUnits: b.freeBits() };
    });
  }

  /**
   * Space over every device: the one definition fsck, the API's usage() and statfs report
   * (each converts units to its own bytes or blocks).
   */
  usage(): SpaceUsage {
    let units = 0;
    let allocatedUnits = 0;
    for (const b of this.replayer.bitmaps) {
      units += b.nbits;
      allocatedUnits += b.allocatedBits;
    }
    return { units, allocatedUnits, freeUnits: units - allocatedUnits };
  }

  /** Whether allocation unit `unit` of device `devIndex` is taken (false past the devices the log knows). */
  isUnitAllocated(devIndex: number, unit: number): boolean {
    return this.replayer.bitmaps[devIndex]?.isSet(unit) ?? false;
  }

  /** The most free units one contiguous extent on device `devIndex` can get (0 past the devices the log knows). */
  largestFreeRun(devIndex: number): number {
    return this.replayer.bitmaps[devIndex]?.longestClearRun() ?? 0;
  }

  /** Allocation units two files claim (cross-linked memory); 0 on a healthy file system. */
  collisions(): number {
    return this.replayer.collisions();
  }

  /** Where this host sees device `index` (an added one is checked by its superblock), or why it cannot. */
  deviceLocation(index: number): DeviceLocation {
    try {
      return { path: this.deviceAt(index).path };
    } catch (err) {
      if (err instanceof FamfsError) return { problem: err.message };
      throw err;
    }
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
    this.checkStillHere();
    return this.playTo(this.headerIn(this.meta).nextIndex);
  }

  /**
   * The file system this handle opened must still be the one on the device: a killed superblock
   * (`mkfs -k`) or another UUID (a new `mkfs`) means everything replayed describes memory that now
   * belongs to nothing, or to another tree. A 200-byte read and CRC per refresh.
   */
  private checkStillHere(): void {
    this.meta.invalidate(0, SUPERBLOCK_SIZE);
    const head = this.meta.buffer;
    if (!hasSuperMagic(head)) throw new FileSystemGoneError(`famfs ${this.uuid} is gone from ${this.device.path}: its superblock was killed (mkfs -k)`);
    let now: Superblock;
    try {
      now = decodeSuperblock(head);
    } catch (err) {
      throw new FileSystemGoneError(`famfs ${this.uuid} is gone from ${this.device.path}: its superblock no longer decodes (${(err as Error).message})`);
    }
    if (!uuidEquals(now.uuid, this.sb.uuid)) {
      throw new FileSystemGoneError(`famfs ${this.uuid} is gone from ${this.device.path}: the device now holds famfs ${formatUuid(now.uuid)} (made again by mkfs)`);
    }
  }

  /**
   * Lets go of the pages of the log replayed so far: replay reads every entry once and keeps what
   * it needs in its index, so a long-lived process (the daemon) need not keep a 256 MiB log
   * resident. A file's map is read again from its entry, one page, when the file is opened.
   */
  releaseLogPages(): void {
    this.meta.dropPages(LOG_OFFSET, entryOffset(this.replayer.nextSlot));
  }

  /** Play the slots from the replayer's position up to `nextIndex`, as the header just read says. */
  private playTo(nextIndex: number): number {
    const from = this.replayer.nextSlot;
    if (nextIndex < from) {
      throw new FileSystemGoneError(`famfs ${this.uuid} on ${this.device.path}: the log went back from ${from} to ${nextIndex} entries: was the file system re-created?`);
    }
    if (nextIndex === from) return 0;
    // The whole new range at once: per entry, an invalidation costs more than the decode.
    this.replayer.applyFrom(from, nextIndex - from, this.meta, LOG_OFFSET + entryOffset(from));
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
      this.appending = true;
      const result = fn(session);
      if (session.inStep) this.spare = { through: this.replayer.nextSlot, bitmaps: session.bitmaps };
      return result;
    } finally {
      this.appending = false;
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
    if (spare && spare.through === this.replayer.nextSlot && spare.bitmaps.length === live.length
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

  /**
   * Whether this host can reach every device the log knows, and whether the device map only
   * names devices of this file system, each as the device itself. A map entry that is wrong is a
   * mistake to report (never a device to skip quietly); a device found nowhere is `missing`.
   */
  checkDevices(): DeviceCheck {
    const records = this.replayer.devices;
    const badMap: string[] = [];
    const missing: { index: number; problem: string }[] = [];
    const mapped = new Set(this.devices.mappedIndexes());
    for (const index of mapped) {
      if (index >= records.length) {
        badMap.push(`the device map names device ${index}, but famfs ${this.uuid} has ${records.length} device${records.length === 1 ? '' : 's'} (0..${records.length - 1})`);
      }
    }
    for (const rec of records.slice(1)) {
      try {
        this.devices.get(rec);
      } catch (err) {
        if (!(err instanceof FsError || err instanceof DeviceError)) throw err;
        if (mapped.has(rec.index)) badMap.push(err.message);
        else missing.push({ index: rec.index, problem: err.message });
      }
    }
    return { badMap, missing };
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
