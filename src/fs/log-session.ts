import { Allocator, type RandomInt } from '../alloc/allocator.js';
import type { Bitmap } from '../alloc/bitmap.js';
import type { InterleaveParams } from '../alloc/interleave.js';
import type { DeviceMapping } from '../device/device.js';
import { FsError } from '../errors.js';
import { FM_ALL_HOSTS_RW } from '../format/file-meta.js';
import { type Fmap, checkFmapShape, fmapExtents } from '../format/fmap.js';
import { ALLOC_UNIT, LOG_OFFSET } from '../format/layout.js';
import { entryOffset, lastIndexFor } from '../format/log-header.js';
import type { FamfsHandle } from './famfs.js';
import { LogFullError, type NewEntry, appendEntryAt } from './log-writer.js';
import { DEFAULT_DIR_MODE, type DirNode, type FileNode, type FsNode, PERMISSION_BITS, pathOf } from './namespace.js';
import { splitPath, toRelpath } from './paths.js';
import { placementMessage, placementProblem } from './placement.js';
import type { LogReplayer } from './replay.js';

export const DEFAULT_FILE_MODE = 0o644;

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

/** Owner, group and mode a caller may give a new file or directory. */
interface Ownership {
  mode?: number;
  uid?: number;
  gid?: number;
}

/** The result of creat: the file, and whether this call created it. */
export interface CreatResult {
  file: FileNode;
  created: boolean;
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
    private readonly fs: FamfsHandle,
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
    return this.lastIndex + 1 - this.replayer.nextSlot;
  }

  /**
   * Log one entry in the next slot and play it in place, as refresh() plays every entry. The
   * bytes were just written and flushed through this mapping, so there is nothing stale to
   * invalidate and no header to read back.
   */
  private append(entry: NewEntry): void {
    const index = this.replayer.nextSlot;
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
    const owner = this.ownership(opts, DEFAULT_DIR_MODE);
    for (let i = firstMissing; i < parts.length; i++) {
      this.append({ type: 'mkdir', path: toRelpath(parts.slice(0, i + 1)), ...owner });
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
    this.checkNewFile(parts, opts.size);
    const fmap = this.allocator.allocate(opts.size, opts.interleave);
    try {
      if (opts.populate) this.fs.populate(fmap);
      this.append(this.fileEntry(rel, opts.size, fmap, opts));
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
    this.checkNewFile(parts, opts.size);
    checkFmapShape(opts.fmap);
    const problem = placementProblem(opts.fmap, opts.size, {
      sizes: this.replayer.devices.map((d) => d.size), primaryMetadataEnd: LOG_OFFSET + this.fs.sb.logLen,
    });
    if (problem) throw new FsError('EINVAL', `'${rel}': ${placementMessage(problem, opts.fmap, opts.size)}`);
    if (!opts.crossLink) {
      for (const e of fmapExtents(opts.fmap)) {
        if (this.overlapsLoggedFile(e.devIndex, e.offset, e.len)) {
          throw new FsError('EEXIST', `'${rel}': extent 0x${e.offset.toString(16)}+0x${e.len.toString(16)} overlaps memory another file owns`);
        }
      }
    }
    this.append(this.fileEntry(rel, opts.size, opts.fmap, opts));
    // Whatever allocate() handed out stays taken; memory chosen elsewhere is taken now.
    this.allocator.claim(opts.fmap);
    return this.fs.ns.lookup(parts) as FileNode;
  }

  /**
   * What a new file needs before memory is found for it or an entry is written, for creat and
   * addFile alike: a size of at least 1 byte, a parent directory, a free log slot.
   */
  private checkNewFile(parts: readonly string[], size: number): void {
    if (!Number.isSafeInteger(size) || size <= 0) throw new FsError('EINVAL', `invalid file size ${size}: famfs files are at least 1 byte`);
    const parent = this.fs.ns.lookup(parts.slice(0, -1));
    if (!parent) throw new FsError('ENOENT', `parent directory '${parts.slice(0, -1).join('/')}' does not exist`);
    if (parent.kind !== 'dir') throw new FsError('ENOTDIR', `'${pathOf(parent)}' is a file, not a directory`);
    const free = this.freeSlots();
    if (free < 1) throw new LogFullError(1, free);
  }

  /** The FILE entry of a new file: owner and group default to this handle's, mode to 0644. */
  private fileEntry(rel: string, size: number, fmap: Fmap, opts: Ownership): NewEntry {
    return { type: 'file', path: rel, size, flags: FM_ALL_HOSTS_RW, fmap, ...this.ownership(opts, DEFAULT_FILE_MODE) };
  }

  /** What a new entry records of its owner: uid and gid as given, else this handle's; the mode's permission bits, else `defaultMode`. */
  private ownership(o: Ownership, defaultMode: number): Required<Ownership> {
    return { uid: o.uid ?? this.fs.defaultOwner.uid, gid: o.gid ?? this.fs.defaultOwner.gid, mode: (o.mode ?? defaultMode) & PERMISSION_BITS };
  }

  private overlapsLoggedFile(devIndex: number, offset: number, len: number): boolean {
    const bitmap = this.replayer.bitmaps[devIndex]!;
    for (let u = offset / ALLOC_UNIT; u < (offset + len) / ALLOC_UNIT; u++) if (bitmap.isSet(u)) return true;
    return false;
  }
}
