import { fmapExtents } from '../format/fmap.js';
import type { DeviceRange } from '../format/device-range.js';
import { ALLOC_UNIT, LOG_OFFSET, SUPERBLOCK_REGION_SIZE } from '../format/layout.js';
import { logSlot } from '../format/log-header.js';
import type { FamfsHandle } from './famfs.js';
import { type FileNode, inoForLogIndex, pathOf } from './namespace.js';

/**
 * Who owns each 2 MiB unit of each device: a file (its index in `files`), the superblock, the log,
 * or nobody. Built from the replayed namespace; what the console draws.
 */
const UNIT_FREE = -1;
const UNIT_SUPERBLOCK = -2;
const UNIT_LOG = -3;
/** Allocated in the bitmap but owned by no file the namespace shows (an entry that was skipped). */
const UNIT_ORPHAN = -4;

export interface MappedFile {
  path: string;
  size: number;
  mode: number;
  uid: number;
  gid: number;
  logIndex: number;
  kind: 'simple' | 'interleaved';
  /** Simple extents, or the strips of an interleaved file. */
  extents: readonly DeviceRange[];
  /** Interleaved files only. */
  chunkSize?: number;
}

/** A device's units, and how many of them the map shows taken (not UNIT_FREE). */
interface DeviceUnits {
  index: number;
  /** Owner per unit: a file index, or one of the UNIT_* codes. */
  units: Int32Array;
  taken: number;
}

/**
 * The allocation map of a file system, kept up to date as its log grows: entries are only ever
 * appended and files never move, so each update() handles just the slots played since the last
 * one (a live console pays for new files, not for the whole namespace again). Units the bitmaps
 * call allocated that no file shows (orphans: memory a skipped entry names) are looked for only
 * on a device whose allocated count the map does not account for, which new files alone never
 * cause: the map counts the units it shows taken, and each file it adds claims exactly its
 * units in the bitmap too.
 */
export class AllocationMap {
  readonly files: MappedFile[] = [];
  /** Each file as JSON, made once when the file is added (the console sends the list often). */
  readonly filesJson: string[] = [];
  readonly directories: string[] = [];
  readonly devices: DeviceUnits[] = [];
  /** The log slots handled so far. */
  through = 0;

  constructor(private readonly fs: FamfsHandle) {
    this.update();
  }

  /** Handles the slots the file system has played since the last call; true when anything changed. */
  update(): boolean {
    const played = this.fs.nextSlot;
    const before = this.devices.length;
    this.addDevices();
    if (played === this.through && this.devices.length === before) return false;
    for (let slot = this.through; slot < played; slot++) {
      const n = this.fs.ns.getIno(inoForLogIndex(logSlot(slot)));
      if (!n) continue; // a bad or skipped entry, a device record: no node
      if (n.kind === 'dir') this.directories.push(pathOf(n));
      else this.addFile(n);
    }
    this.through = played;
    this.markOrphans();
    return true;
  }

  private addDevices(): void {
    const usage = this.fs.deviceUsage();
    for (let index = this.devices.length; index < usage.length; index++) {
      const dev: DeviceUnits = { index, units: new Int32Array(usage[index]!.units).fill(UNIT_FREE), taken: 0 };
      this.own(dev, UNIT_SUPERBLOCK, 0, SUPERBLOCK_REGION_SIZE / ALLOC_UNIT);
      if (index === 0) this.own(dev, UNIT_LOG, LOG_OFFSET / ALLOC_UNIT, Math.ceil((LOG_OFFSET + this.fs.sb.logLen) / ALLOC_UNIT));
      this.devices.push(dev);
    }
  }

  private addFile(f: FileNode): void {
    const id = this.files.length;
    const extents = fmapExtents(f.fmap);
    const file: MappedFile = {
      path: pathOf(f), size: f.size, mode: f.mode, uid: f.uid, gid: f.gid, logIndex: f.logIndex, kind: f.fmap.kind, extents,
      ...(f.fmap.kind === 'interleaved' ? { chunkSize: f.fmap.chunkSize } : {}),
    };
    this.files.push(file);
    this.filesJson.push(JSON.stringify(file));
    for (const e of extents) {
      const dev = this.devices[e.devIndex];
      if (dev) this.own(dev, id, Math.floor(e.offset / ALLOC_UNIT), Math.ceil((e.offset + e.len) / ALLOC_UNIT));
    }
  }

  /** Gives units [first, end) of `dev` (clipped to the device) to `owner`, counting those that were free. */
  private own(dev: DeviceUnits, owner: number, first: number, end: number): void {
    const units = dev.units;
    const stop = Math.min(units.length, end);
    for (let u = first; u < stop; u++) {
      if (units[u] === UNIT_FREE) dev.taken++;
      units[u] = owner;
    }
  }

  /**
   * Units the bitmaps call allocated that no file, superblock or log owns. A device whose
   * allocated count is the map's taken count has none to find, and is not scanned.
   */
  private markOrphans(): void {
    const usage = this.fs.deviceUsage();
    for (const dev of this.devices) {
      if (usage[dev.index]!.allocatedUnits === dev.taken) continue;
      const units = dev.units;
      for (let u = 0; u < units.length; u++) {
        if (units[u] === UNIT_FREE && this.fs.isUnitAllocated(dev.index, u)) {
          units[u] = UNIT_ORPHAN;
          dev.taken++;
        }
      }
    }
  }
}

