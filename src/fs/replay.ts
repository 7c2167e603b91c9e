import { Bitmap } from '../alloc/bitmap.js';
import { FamfsError } from '../errors.js';
import { FILE_META_FMAP_OFFSET, type FileMetaHead, readFileMetaHead } from '../format/file-meta.js';
import { type FmapScan, newFmapScan, scanFmap } from '../format/fmap.js';
import { ALLOC_UNIT, SUPERBLOCK_REGION_SIZE } from '../format/layout.js';
import { ENTRY_TYPE, LOG_ENTRY_PAYLOAD_OFFSET, LOG_ENTRY_SIZE, checkLogEntryFrame, decodeLogEntry, logEntryCrcs, logEntryType, type LogEntry } from '../format/log-entry.js';
import { LoggedFile } from './logged-file.js';
import { type DirNode, Namespace, inoForLogIndex } from './namespace.js';
import { loggedPathProblem } from './paths.js';

/**
 * Most devices one file system spans: the V10 famfs kernel's daxdev table, the smallest table of
 * the kernels that take more than one device (GET_DAXDEV must be able to answer every index).
 */
export const MAX_DEVICES = 24;

/** A memory device of the file system as the log knows it (index 0 is the superblock's). */
export interface DeviceRecord {
  index: number;
  size: number;
  /** The device's own superblock device UUID (the primary's comes from the superblock). */
  uuid: Buffer;
}

export interface BadEntry {
  index: number;
  reason: string;
}

/** What a replay has seen so far; `playedThrough` is the next log slot to read. */
export interface ReplayStats {
  entries: number;
  files: number;
  dirs: number;
  devicesAdded: number;
  /** Entries whose bytes are not a valid entry (CRC, seqnum, payload): never trusted. */
  badEntries: BadEntry[];
  /** Valid entries that could not be applied to the tree (missing parent, duplicate, bad extent). */
  skipped: BadEntry[];
  /** Sum of logged file sizes. */
  fileBytes: number;
}

/**
 * Rebuilds the namespace and the allocation bitmaps from log entries, one slot at a time,
 * so the same code serves the first replay, a client following the master, and the
 * master catching up before it appends. Upstream aborts a replay at the first bad entry;
 * here a bad entry is counted and skipped and the replay goes on.
 */
export class LogReplayer {
  readonly ns: Namespace;
  readonly devices: DeviceRecord[];
  readonly bitmaps: Bitmap[];
  readonly stats: ReplayStats = { entries: 0, files: 0, dirs: 0, devicesAdded: 0, badEntries: [], skipped: [], fileBytes: 0 };
  playedThrough = 0;

  constructor(primary: DeviceRecord, metadataBytes: number) {
    this.ns = new Namespace();
    this.devices = [primary];
    this.bitmaps = [Bitmap.forDevice(primary.size)];
    this.bitmaps[0]!.markRange(0, metadataBytes);
  }

  /** CRCs of a batch of slots, computed in one native call; grown as batches grow. */
  private crcs = new Uint32Array(0);

  /** Apply `count` consecutive slots from `first` (which must be `playedThrough`), laid from `base` in `bytes`. */
  applySlots(first: number, count: number, bytes: Buffer, base = 0): void {
    if (bytes.length < base + count * LOG_ENTRY_SIZE) throw new Error(`replay: ${count} slots do not fit the ${bytes.length} bytes given`);
    if (this.crcs.length < count) this.crcs = new Uint32Array(count);
    logEntryCrcs(bytes, base, count, this.crcs);
    for (let i = 0; i < count; i++) this.applySlot(first + i, bytes, base + i * LOG_ENTRY_SIZE, this.crcs[i]);
  }

  /** Apply the slot `index` (which must be `playedThrough`) from its 544 bytes at `base` in `bytes`. */
  applySlot(index: number, bytes: Buffer, base = 0, crc?: number): void {
    if (index !== this.playedThrough) throw new Error(`replay out of order: slot ${index}, expected ${this.playedThrough}`);
    this.playedThrough++;
    this.stats.entries++;
    let problem: string | undefined;
    try {
      const checked = checkLogEntryFrame(bytes, index, base, crc);
      // Files are nearly every entry: they are read in place, without an entry object.
      if (logEntryType(bytes, base) === ENTRY_TYPE.FILE) problem = this.applyFile(index, bytes, base, checked);
      else problem = this.apply(index, decodeLogEntry(bytes, index, base));
    } catch (err) {
      if (!(err instanceof FamfsError)) throw err;
      this.stats.badEntries.push({ index, reason: err.message.startsWith('log entry ') ? err.message : `log entry ${index}: ${err.message}` });
      return;
    }
    if (problem) this.stats.skipped.push({ index, reason: problem });
  }

  private readonly head: FileMetaHead = { size: 0, flags: 0, uid: 0, gid: 0, mode: 0, path: '' };
  private readonly scan = newFmapScan();

  private applyFile(index: number, bytes: Buffer, base: number, crc: number): string | undefined {
    const payload = base + LOG_ENTRY_PAYLOAD_OFFSET;
    const head = this.head;
    const scan = this.scan;
    readFileMetaHead(bytes, payload, head);
    scanFmap(bytes, payload + FILE_META_FMAP_OFFSET, scan);
    const placement = this.checkPlacement(scan, head.size);
    if (placement) return `file '${head.path}': ${placement}`;
    // Space is claimed even when the name cannot be placed: the memory is in use.
    for (let i = 0; i < scan.count; i++) this.bitmaps[scan.devIndex[i]!]!.markRange(scan.offset[i]!, scan.len[i]!);
    this.stats.fileBytes += head.size;
    const where = this.parentFor(head.path);
    if (typeof where === 'string') return `file '${head.path}': ${where}`;
    this.ns.add(where.parent, new LoggedFile(where.name, inoForLogIndex(index), head.uid, head.gid, head.mode & 0o7777,
      where.parent, index, head.size, head.flags, bytes, base, crc));
    this.stats.files++;
    return undefined;
  }

  private apply(index: number, e: LogEntry): string | undefined {
    switch (e.type) {
      case 'file':
        throw new Error('FILE entries are applied in place by applyFile');
      case 'mkdir': {
        const where = this.parentFor(e.path);
        if (typeof where === 'string') return `directory '${e.path}': ${where}`;
        const dir: DirNode = {
          kind: 'dir', name: where.name, ino: inoForLogIndex(index), uid: e.uid, gid: e.gid, mode: e.mode & 0o7777,
          parent: where.parent, logIndex: index, children: new Map(),
        };
        this.ns.add(where.parent, dir);
        this.dirs.set(e.path, dir);
        this.stats.dirs++;
        return undefined;
      }
      case 'add_daxdev': {
        if (e.devIndex !== this.devices.length) return `device index ${e.devIndex} is not the next one (${this.devices.length})`;
        if (e.devIndex >= MAX_DEVICES) return `device index ${e.devIndex} is over the limit of ${MAX_DEVICES} devices`;
        if (this.devices.some((d) => d.uuid.equals(e.devUuid))) return `device ${e.devIndex} was already added`;
        if (e.devSize <= SUPERBLOCK_REGION_SIZE) return `device ${e.devIndex} of ${e.devSize} bytes cannot hold its superblock and data`;
        this.devices.push({ index: e.devIndex, size: e.devSize, uuid: e.devUuid });
        const bitmap = Bitmap.forDevice(e.devSize);
        // An added device starts with its own (secondary) superblock, never handed out.
        bitmap.markRange(0, SUPERBLOCK_REGION_SIZE);
        this.bitmaps.push(bitmap);
        this.stats.devicesAdded++;
        return undefined;
      }
      case 'delete':
        return 'DELETE entries have no meaning in famfs';
      case 'invalid':
        return 'INVALID entry';
    }
  }

  /** Every extent aligned, on a known device and inside it; the map covers the size. */
  private checkPlacement(scan: FmapScan, size: number): string | undefined {
    for (let i = 0; i < scan.count; i++) {
      const devIndex = scan.devIndex[i]!;
      const offset = scan.offset[i]!;
      const len = scan.len[i]!;
      const dev = this.devices[devIndex];
      if (!dev) return `extent on unknown device ${devIndex}`;
      if (offset % ALLOC_UNIT !== 0 || len % ALLOC_UNIT !== 0) return `extent 0x${offset.toString(16)}+0x${len.toString(16)} is not 2 MiB aligned`;
      if (offset < SUPERBLOCK_REGION_SIZE) return `extent at offset 0x${offset.toString(16)} (the superblock of device ${devIndex})`;
      if (offset + len > dev.size) return `extent 0x${offset.toString(16)}+0x${len.toString(16)} is past the end of device ${devIndex}`;
    }
    if (size <= 0) return 'size 0';
    if (scan.capacity < size) return `extents hold ${scan.capacity} bytes, less than the size ${size}`;
    return undefined;
  }

  /** Directories by relpath, so placing an entry costs one lookup, not a walk. */
  private readonly dirs = new Map<string, DirNode>();

  private parentFor(rel: string): { parent: DirNode; name: string } | string {
    const problem = loggedPathProblem(rel);
    if (problem) return problem;
    const slash = rel.lastIndexOf('/');
    const name = rel.slice(slash + 1);
    let parent: DirNode | undefined;
    if (slash < 0) parent = this.ns.root;
    else {
      const parentPath = rel.slice(0, slash);
      parent = this.dirs.get(parentPath);
      if (!parent) return this.ns.lookupPath(parentPath) ? 'parent is a file' : 'parent directory does not exist';
    }
    if (parent.children.has(name)) return 'already exists';
    return { parent, name };
  }

  /** Collisions across all devices: units claimed by more than one file. */
  collisions(): number {
    return this.bitmaps.reduce((s, b) => s + b.collisions, 0);
  }
}
