import type { Bitmap } from '../alloc/bitmap.js';
import { type SimpleExtent, fmapExtents } from '../format/fmap.js';
import { ALLOC_UNIT, LOG_OFFSET, SUPERBLOCK_REGION_SIZE } from '../format/layout.js';
import type { Famfs } from './famfs.js';
import { type DirNode, type FileNode, pathOf } from './namespace.js';

/**
 * Who owns each 2 MiB unit of each device: a file (its index in `files`), the superblock, the log,
 * or nobody. Built from the replayed namespace; what the console draws and `famfs status` measures.
 */
export const UNIT_FREE = -1;
export const UNIT_SUPERBLOCK = -2;
export const UNIT_LOG = -3;
/** Allocated in the bitmap but owned by no file the namespace shows (an entry that was skipped). */
export const UNIT_ORPHAN = -4;

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

export interface AllocationMap {
  files: MappedFile[];
  directories: string[];
  devices: DeviceUnits[];
}

/** Every file and directory of the namespace, depth first, in listing order. */
export function walkNamespace(root: DirNode, onFile: (f: FileNode) => void, onDir: (d: DirNode) => void): void {
  const stack: DirNode[] = [root];
  while (stack.length > 0) {
    const d = stack.pop()!;
    for (const c of d.children.values()) {
      if (c.kind === 'dir') {
        onDir(c);
        stack.push(c);
      } else {
        onFile(c);
      }
    }
  }
}

export function allocationMap(fs: Famfs): AllocationMap {
  const bitmaps = fs.replay.bitmaps;
  const devices: DeviceUnits[] = bitmaps.map((b, index) => ({ index, units: ownersFromBitmap(b) }));
  const primary = devices[0]!.units;
  primary.fill(UNIT_SUPERBLOCK, 0, SUPERBLOCK_REGION_SIZE / ALLOC_UNIT);
  primary.fill(UNIT_LOG, LOG_OFFSET / ALLOC_UNIT, Math.min(primary.length, Math.ceil((LOG_OFFSET + fs.sb.logLen) / ALLOC_UNIT)));
  // An added device's own superblock region.
  for (const d of devices.slice(1)) d.units.fill(UNIT_SUPERBLOCK, 0, SUPERBLOCK_REGION_SIZE / ALLOC_UNIT);
  const files: MappedFile[] = [];
  const directories: string[] = [];
  walkNamespace(fs.ns.root, (f) => {
    const id = files.length;
    const extents = fmapExtents(f.fmap);
    files.push({
      path: pathOf(f), size: f.size, mode: f.mode, uid: f.uid, gid: f.gid, logIndex: f.logIndex, kind: f.fmap.kind, extents,
      ...(f.fmap.kind === 'interleaved' ? { chunkSize: f.fmap.chunkSize } : {}),
    });
    for (const e of extents) {
      const units = devices[e.devIndex]?.units;
      if (!units) continue;
      units.fill(id, Math.floor(e.offset / ALLOC_UNIT), Math.min(units.length, Math.ceil((e.offset + e.len) / ALLOC_UNIT)));
    }
  }, (d) => directories.push(pathOf(d)));
  return { files, directories, devices };
}

/** UNIT_ORPHAN where the bitmap says allocated, UNIT_FREE elsewhere; files are painted over it. */
function ownersFromBitmap(b: Bitmap): Int32Array {
  const units = new Int32Array(b.nbits).fill(UNIT_FREE);
  for (let i = 0; i < b.nbits; i++) if (b.isSet(i)) units[i] = UNIT_ORPHAN;
  return units;
}

/** The longest run of free units on a device, in units (fragmentation: free space a single extent can use). */
export function largestFreeRun(b: Bitmap): number {
  let best = 0;
  let run = 0;
  for (let i = 0; i < b.nbits; i++) {
    if (b.isSet(i)) run = 0;
    else if (++run > best) best = run;
  }
  return best;
}
