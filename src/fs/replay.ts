import { Bitmap } from '../alloc/bitmap.js';
import type { DeviceMapping } from '../device/device.js';
import { FamfsError, FormatError } from '../errors.js';
import { MAX_DEVICE_SIZE, SUPERBLOCK_REGION_SIZE } from '../format/layout.js';
import { type LogSlot, lastIndexFor, logSlot } from '../format/log-header.js';
import { LOG_ENTRY_SIZE, decodeLogEntry, type LogEntry } from '../format/log-entry.js';
import { LoggedFile } from './logged-file.js';
import { type DirNode, Namespace } from './namespace.js';
import { RESERVED_ROOT_NAME } from './paths.js';
import { isPlacementStatus, placementMessage } from './placement.js';
import { type IndexedNode, ReplayIndex, type ScanStop } from './replay-index.js';

/**
 * Most devices one file system spans: the V10 famfs kernel's daxdev table, the smallest table of
 * the kernels that take more than one device (GET_DAXDEV must be able to answer every index).
 */
export const MAX_DEVICES = 24;

/** Entries a log may hold here: a 9 GiB log; upstream makes 8 MiB ones (15,420 entries). */
const MAX_LOG_SLOTS = 1 << 24;

/**
 * Slots applyFrom reads and scans at a time: 1.1 MiB, a buffer that stays in the CPU's caches
 * between read(2) filling it and the scan reading it (larger chunks read slower here).
 */
const READ_CHUNK_SLOTS = 2048;

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

/** What a replay has seen so far. */
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
  /**
   * FILE entries, shown or not, with an extent on a device other than 0: a host that knows only
   * device 0 (upstream, which ignores the device index) reads them as memory on device 0.
   */
  filesOffPrimary: number;
}

/** Entries applied from one buffer: slot i's entry lies at origin + i * LOG_ENTRY_SIZE in bytes. */
interface LogSegment {
  from: number;
  bytes: Buffer;
  origin: number;
}

type FileEntry = Extract<LogEntry, { type: 'file' }>;

/**
 * Rebuilds the namespace and the allocation bitmaps from log entries, so the same code serves
 * the first replay, a client following the master, and the master playing each entry it
 * appends. The per-entry work runs in the addon (ReplayIndex); each entry it stops at is
 * decoded here to say what is wrong with it. Upstream aborts a replay at the first bad entry;
 * here a bad entry is counted and skipped and the replay goes on.
 */
export class LogReplayer {
  readonly ns: Namespace;
  readonly devices: DeviceRecord[];
  readonly bitmaps: Bitmap[];
  readonly stats: ReplayStats = { entries: 0, files: 0, dirs: 0, devicesAdded: 0, badEntries: [], skipped: [], fileBytes: 0, filesOffPrimary: 0 };
  /** The next log slot to play: every slot below it has been played. */
  nextSlot = logSlot(0);
  /**
   * Told of every range of slots played, after the namespace has them: the one place that sees
   * the log advance, whoever advanced it (a refresh, or the master's own appends).
   */
  onPlayed: ((first: LogSlot, end: LogSlot) => void) | undefined;
  private readonly index: ReplayIndex;
  private readonly segments: LogSegment[] = [];

  /** `logLen`: the log's length, which sets how many slots it has. */
  constructor(primary: DeviceRecord, metadataBytes: number, logLen: number) {
    const slots = lastIndexFor(logLen) + 1;
    if (!(slots >= 0 && slots <= MAX_LOG_SLOTS)) throw new FormatError(`a log of ${logLen} bytes is outside what famfs replays (0..${MAX_LOG_SLOTS} entries)`);
    this.index = new ReplayIndex(slots, primary.size, metadataBytes);
    this.ns = new Namespace(this.index, (slot, node, parent) => this.fileAt(slot, node, parent));
    this.devices = [primary];
    this.bitmaps = [Bitmap.forDevice(primary.size)];
    this.bitmaps[0]!.markRange(0, metadataBytes);
  }

  /** Apply `count` consecutive slots from `first` (which must be `nextSlot`), laid from `base` in `bytes`. */
  applySlots(first: LogSlot, count: number, bytes: Buffer, base = 0): void {
    this.inOrder(first);
    this.noteSegment(first, bytes, base - first * LOG_ENTRY_SIZE);
    this.scanSlots(first, count, bytes, base);
    this.played(first, count);
  }

  /**
   * Apply `count` slots from `first` (which must be `nextSlot`) as they are now in `log`, a
   * mapping of the log whose byte `base` holds slot `first`: what another host wrote is seen
   * (invalidate). Where the mapping can read its file, the slots are scanned from copies read
   * a chunk at a time, and the mapping's pages are touched only when a file's map is asked for.
   */
  applyFrom(first: LogSlot, count: number, log: DeviceMapping, base: number): void {
    this.inOrder(first);
    this.noteSegment(first, log.buffer, base - first * LOG_ENTRY_SIZE);
    if (!log.readsFile) {
      log.invalidate(base, count * LOG_ENTRY_SIZE);
      this.scanSlots(first, count, log.buffer, base);
    } else {
      const chunk = Buffer.allocUnsafe(Math.min(count, READ_CHUNK_SLOTS) * LOG_ENTRY_SIZE);
      for (let done = 0; done < count;) {
        const n = Math.min(count - done, READ_CHUNK_SLOTS);
        const bytes = chunk.subarray(0, n * LOG_ENTRY_SIZE);
        log.read(base + done * LOG_ENTRY_SIZE, bytes);
        this.scanSlots(logSlot(first + done), n, bytes, 0);
        done += n;
      }
    }
    this.played(first, count);
  }

  private inOrder(first: LogSlot): void {
    if (first !== this.nextSlot) throw new Error(`replay out of order: slot ${first}, expected ${this.nextSlot}`);
  }

  /** Scan `count` slots from `first`, laid from `base` in `bytes`. */
  private scanSlots(first: LogSlot, count: number, bytes: Buffer, base: number): void {
    // Slots whose bytes end early are bad entries, as the decoder says, not a reason to stop.
    const whole = Math.max(0, Math.min(count, Math.floor((bytes.length - base) / LOG_ENTRY_SIZE)));
    const marked = (d: number, units: number, collisions: number): void => this.bitmaps[d]!.countMarks(units, collisions);
    for (let at = 0; at < whole;) {
      const stop = this.index.scan(bytes, base + at * LOG_ENTRY_SIZE, first + at, whole - at, this.bitmaps.map((b) => b.bytes), marked);
      if (!stop) break;
      this.stopped(stop, bytes, base + (stop.slot - first) * LOG_ENTRY_SIZE);
      at = stop.slot - first + 1;
    }
    for (let slot = logSlot(first + whole); slot < first + count; slot = logSlot(slot + 1)) {
      this.index.skip(slot);
      this.stopped({ slot, status: 'FRAME', detail: 0 }, bytes, base + (slot - first) * LOG_ENTRY_SIZE);
    }
  }

  /** Slots [first, first + count) were scanned: the counts, the namespace and the listeners follow. */
  private played(first: LogSlot, count: number): void {
    this.nextSlot = logSlot(first + count);
    this.stats.entries += count;
    this.stats.files = this.index.files;
    this.stats.dirs = this.index.dirs;
    this.stats.fileBytes = this.index.fileBytes;
    this.stats.filesOffPrimary = this.index.filesOffPrimary;
    this.ns.replayed(first, this.nextSlot);
    this.onPlayed?.(first, this.nextSlot);
  }

  /** Apply the slot `index` (which must be `nextSlot`) from its 544 bytes at `base` in `bytes`. */
  applySlot(index: LogSlot, bytes: Buffer, base = 0): void {
    this.applySlots(index, 1, bytes, base);
  }

  /** Collisions across all devices: units claimed by more than one file. */
  collisions(): number {
    return this.bitmaps.reduce((s, b) => s + b.collisions, 0);
  }

  /** An entry the scan did not apply: a bad one, one it leaves to JS, or a file or directory it could not place. */
  private stopped(stop: ScanStop, bytes: Buffer, base: number): void {
    const index = stop.slot;
    let e: LogEntry;
    try {
      e = decodeLogEntry(bytes, index, base);
    } catch (err) {
      if (!(err instanceof FamfsError)) throw err;
      if (stop.status !== 'FRAME' && stop.status !== 'PAYLOAD' && stop.status !== 'OTHER_TYPE') throw disagree(index, stop, err.message);
      this.stats.badEntries.push({ index, reason: err.message.startsWith('log entry ') ? err.message : `log entry ${index}: ${err.message}` });
      return;
    }
    let problem: string | undefined;
    if (e.type === 'file') problem = `file '${e.path}': ${fileProblem(stop, e)}`;
    else if (e.type === 'mkdir') problem = `directory '${e.path}': ${pathProblem(stop, e.path)}`;
    else if (stop.status === 'OTHER_TYPE') problem = this.apply(e);
    else throw disagree(index, stop, 'the decoder takes it');
    if (problem) this.stats.skipped.push({ index, reason: problem });
  }

  /** Entries other than FILE and MKDIR, which the scan leaves to JS. */
  private apply(e: Exclude<LogEntry, { type: 'file' | 'mkdir' }>): string | undefined {
    switch (e.type) {
      case 'add_daxdev': {
        if (e.devIndex !== this.devices.length) return `device index ${e.devIndex} is not the next one (${this.devices.length})`;
        if (e.devIndex >= MAX_DEVICES) return `device index ${e.devIndex} is over the limit of ${MAX_DEVICES} devices`;
        if (this.devices.some((d) => d.uuid.equals(e.devUuid))) return `device ${e.devIndex} was already added`;
        if (e.devSize <= SUPERBLOCK_REGION_SIZE) return `device ${e.devIndex} of ${e.devSize} bytes cannot hold its superblock and data`;
        // Checked before its bitmap is allocated: a crafted size must not cost memory.
        if (e.devSize > MAX_DEVICE_SIZE) return `device ${e.devIndex} claims ${e.devSize} bytes, more than the ${MAX_DEVICE_SIZE} a famfs device may have`;
        this.devices.push({ index: e.devIndex, size: e.devSize, uuid: e.devUuid });
        const bitmap = Bitmap.forDevice(e.devSize);
        // An added device starts with its own (secondary) superblock, never handed out.
        bitmap.markRange(0, SUPERBLOCK_REGION_SIZE);
        this.bitmaps.push(bitmap);
        this.index.addDevice(e.devSize);
        this.stats.devicesAdded++;
        return undefined;
      }
      case 'delete':
        return 'DELETE entries have no meaning in famfs';
      case 'invalid':
        return 'INVALID entry';
    }
  }

  private noteSegment(from: number, bytes: Buffer, origin: number): void {
    const last = this.segments[this.segments.length - 1];
    if (last && last.bytes === bytes && last.origin === origin) return;
    this.segments.push({ from, bytes, origin });
  }

  private fileAt(slot: LogSlot, node: IndexedNode, parent: DirNode): LoggedFile {
    let i = this.segments.length - 1;
    while (i > 0 && this.segments[i]!.from > slot) i--;
    const seg = this.segments[i]!;
    return new LoggedFile(slot, node, parent, seg.bytes, seg.origin + slot * LOG_ENTRY_SIZE);
  }
}

function disagree(index: number, stop: ScanStop, what: string): Error {
  return new Error(`replay: the scan stopped at entry ${index} (${stop.status}) but ${what}`);
}

/** Why a valid FILE entry was not placed: its extents (fs/placement.ts), or its path. */
function fileProblem(stop: ScanStop, e: FileEntry): string {
  if (isPlacementStatus(stop.status)) return placementMessage({ status: stop.status, extent: stop.detail }, e.fmap, e.size);
  return pathProblem(stop, e.path);
}

/** Why a logged path cannot be placed. A logged path is foreign input: reported, never followed. */
function pathProblem(stop: ScanStop, path: string): string {
  switch (stop.status) {
    case 'PATH_EMPTY': return 'empty path';
    case 'PATH_RESERVED': return `'${RESERVED_ROOT_NAME}' at the root is reserved`;
    case 'PATH_ABSOLUTE': return `absolute path '${path}'`;
    case 'PATH_COMPONENT': return `path '${path}' has an empty, '.' or '..' component`;
    case 'PATH_ENCODING': return 'path is not UTF-8 (or holds U+FFFD), so it could alias another name';
    case 'PARENT_MISSING': return 'parent directory does not exist';
    case 'PARENT_FILE': return 'parent is a file';
    case 'EXISTS': return 'already exists';
    default: throw new Error(`replay: no reason for scan status ${stop.status}`);
  }
}
