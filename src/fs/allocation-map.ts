import { type SimpleExtent, fmapExtents } from '../format/fmap.js';
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
  extents: readonly SimpleExtent[];
  /** Interleaved files only. */
  chunkSize?: number;
}

export interface DeviceUnits {
  index: number;
  /** Owner per unit: a file index, or one of the UNIT_* codes. */
  units: Int32Array;
}

/**
 * The allocation map of a file system, kept up to date as its log grows: entries are only ever
 * appended and files never move, so each update() handles just the slots played since the last
 * one (a live console pays for new files, not for the whole namespace again).
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
      const units = new Int32Array(usage[index]!.units).fill(UNIT_FREE);
      units.fill(UNIT_SUPERBLOCK, 0, SUPERBLOCK_REGION_SIZE / ALLOC_UNIT);
      if (index === 0) units.fill(UNIT_LOG, LOG_OFFSET / ALLOC_UNIT, Math.min(units.length, Math.ceil((LOG_OFFSET + this.fs.sb.logLen) / ALLOC_UNIT)));
      this.devices.push({ index, units });
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
      const units = this.devices[e.devIndex]?.units;
      if (!units) continue;
      units.fill(id, Math.floor(e.offset / ALLOC_UNIT), Math.min(units.length, Math.ceil((e.offset + e.len) / ALLOC_UNIT)));
    }
  }

  /** Units the bitmaps call allocated that no file, superblock or log owns. */
  private markOrphans(): void {
    for (const { index, units } of this.devices) {
      for (let u = 0; u < units.length; u++) if (units[u] === UNIT_FREE && this.fs.isUnitAllocated(index, u)) units[u] = UNIT_ORPHAN;
    }
  }
}

