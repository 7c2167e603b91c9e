import { bucketUnits } from '../alloc/interleave.js';
import { ALLOC_UNIT, LOG_OFFSET, SUPERBLOCK_REGION_SIZE } from '../format/layout.js';
import { LOG_ENTRY_SIZE } from '../format/log-entry.js';
import { LOG_HEADER_SIZE } from '../format/log-header.js';
import { SUPERBLOCK_SIZE } from '../format/superblock.js';
import { formatUuid } from '../format/uuid.js';
import type { FamfsHandle } from './famfs.js';
import type { BadEntry } from './replay.js';
import type { Role } from './role.js';

/** One device of the file system: what the log records and where this host found it. */
interface FsckDevice {
  index: number;
  uuid: string;
  size: number;
  /** Where this host opened it; undefined when it could not be found. */
  path?: string;
  /** Why it could not be found or checked. */
  problem?: string;
  /** Bytes its bitmap covers and bytes allocated on it (its superblock, and the log on the primary, included). */
  bitmap: number;
  allocated: number;
}

/** Everything fsck reports, as data: the CLI prints it in upstream's layout or as JSON. */
export interface FsckReport {
  superblock: {
    uuid: string; devUuid: string; systemUuid: string; role: Role;
    allocUnit: number; omfMajor: number; omfMinor: number; size: number;
    logOffset: number; logLen: number; devName: string; devSize: number;
  };
  log: { entriesUsed: number; slots: number; lastIndex: number; sizeInUse: number; usableSize: number };
  collisions: number;
  capacity: {
    device: number; bitmap: number; fileBytes: number; allocated: number; free: number;
    /** Memory allocated to files over the sum of their sizes (the superblock and log excluded). */
    amplification: number; percentUsed: number;
  };
  files: number;
  directories: number;
  devices: number;
  /** Per device, in index order; a file system without added devices has one. */
  deviceTable: FsckDevice[];
  badEntries: BadEntry[];
  skipped: BadEntry[];
  /**
   * Whether hosts that know only device 0 read this file system right: upstream famfs ignores an
   * extent's device index, so a file on an added device is, to it, memory on device 0 that other
   * files also use. `filesOffPrimary` counts the log's FILE entries that name another device.
   */
  deviceZeroOnly: { safe: boolean; filesOffPrimary: number };
  /** Every error fsck reports, one line each (collisions first); any makes its exit status non-zero. */
  errors: FsckError[];
}

/** An error fsck reports: what it is about (where the text prints it) and its line. */
interface FsckError {
  about: 'allocation' | 'device' | 'log';
  message: string;
}

/** Upstream caps exit statuses at 127. */
const MAX_EXIT = 127;

/**
 * fsck's exit status, decided here only: upstream's number of allocation collisions (capped at
 * 127), else 1 when anything else is reported as an error (a bad or unapplied log entry, a
 * device not found), else 0.
 */
export function fsckExitStatus(r: FsckReport): number {
  if (r.collisions > 0) return Math.min(r.collisions, MAX_EXIT);
  return r.errors.length > 0 ? 1 : 0;
}

function fsckErrors(collisions: number, devices: FsckDevice[], st: { badEntries: BadEntry[]; skipped: BadEntry[] }): FsckError[] {
  const out: FsckError[] = [];
  if (collisions) out.push({ about: 'allocation', message: `${collisions} ALLOCATION COLLISIONS FOUND` });
  for (const d of devices) if (d.problem) out.push({ about: 'device', message: `device ${d.index}: ${d.problem}` });
  for (const b of st.badEntries) out.push({ about: 'log', message: `bad ${b.reason}` });
  for (const s of st.skipped) out.push({ about: 'log', message: `log entry ${s.index} not applied (its memory stays allocated): ${s.reason}` });
  return out;
}

export function fsck(fs: FamfsHandle): FsckReport {
  fs.refresh();
  const h = fs.logHeader();
  const usage = fs.usage();
  const devices = fs.deviceUsage();
  const bitmapBytes = usage.units * ALLOC_UNIT;
  const allocated = usage.allocatedUnits * ALLOC_UNIT;
  // The primary's superblock and log, and each added device's superblock, are not file memory.
  const metadata = LOG_OFFSET + fs.sb.logLen + (devices.length - 1) * SUPERBLOCK_REGION_SIZE;
  const fileAlloc = allocated - metadata;
  const st = fs.stats;
  const collisions = fs.collisions();
  const deviceTable: FsckDevice[] = devices.map((d) => ({ ...fs.deviceLocation(d.index), index: d.index, uuid: formatUuid(d.uuid), size: d.size,
    bitmap: d.units * ALLOC_UNIT, allocated: d.allocatedUnits * ALLOC_UNIT }));
  return {
    superblock: {
      uuid: formatUuid(fs.sb.uuid), devUuid: formatUuid(fs.sb.devUuid), systemUuid: formatUuid(fs.sb.systemUuid),
      role: fs.role, allocUnit: fs.sb.allocUnit, omfMajor: fs.sb.omfMajor, omfMinor: fs.sb.omfMinor,
      size: SUPERBLOCK_SIZE, logOffset: fs.sb.logOffset, logLen: fs.sb.logLen, devName: fs.sb.devName, devSize: fs.sb.devSize,
    },
    log: {
      entriesUsed: h.nextIndex, slots: h.lastIndex + 1, lastIndex: h.lastIndex,
      sizeInUse: LOG_HEADER_SIZE + LOG_ENTRY_SIZE * h.nextIndex,
      usableSize: LOG_HEADER_SIZE + LOG_ENTRY_SIZE * (h.lastIndex + 1),
    },
    collisions,
    capacity: {
      device: devices.reduce((s, d) => s + d.size, 0),
      bitmap: bitmapBytes,
      fileBytes: st.fileBytes,
      allocated,
      free: bitmapBytes - allocated,
      amplification: st.fileBytes > 0 ? fileAlloc / st.fileBytes : 0,
      percentUsed: bitmapBytes > 0 ? (100 * allocated) / bitmapBytes : 0,
    },
    files: st.files,
    directories: st.dirs,
    devices: devices.length,
    deviceTable,
    badEntries: [...st.badEntries],
    skipped: [...st.skipped],
    deviceZeroOnly: { safe: st.filesOffPrimary === 0, filesOffPrimary: st.filesOffPrimary },
    errors: fsckErrors(collisions, deviceTable, st),
  };
}

/** One bucket of `fsck -B`: bytes, in upstream's per-bucket report's terms. */
export interface BucketStats {
  size: number;
  inUse: number;
  free: number;
  freeFragments: number;
  largestFragment: number;
  /** 0 when the bucket has no free fragment. */
  smallestFragment: number;
}

/**
 * `fsck -B n`: the primary device cut into n equal buckets of whole allocation units (as
 * interleaved allocation cuts it), with each bucket's use and free fragments. Upstream's report
 * counts each used unit twice, accumulates fragment lengths across fragments, always reports the
 * smallest fragment as 0 and gives the overhang as capacity mod n; these are the real figures.
 */
export function bucketStats(fs: FamfsHandle, nbuckets: number): { overhang: number; buckets: BucketStats[] } {
  const units = fs.deviceUsage()[0]!.units;
  const unitsPerBucket = bucketUnits(fs.sb.devSize, nbuckets);
  const buckets: BucketStats[] = [];
  for (let b = 0; b < nbuckets; b++) {
    let inUse = 0;
    let fragments = 0;
    let largest = 0;
    let smallest = Infinity;
    let run = 0;
    const endRun = (): void => {
      if (run === 0) return;
      fragments++;
      largest = Math.max(largest, run);
      smallest = Math.min(smallest, run);
      run = 0;
    };
    for (let i = b * unitsPerBucket; i < (b + 1) * unitsPerBucket; i++) {
      if (i < units && !fs.isUnitAllocated(0, i)) {
        run++;
      } else {
        endRun();
        inUse++;
      }
    }
    endRun();
    buckets.push({
      size: unitsPerBucket * ALLOC_UNIT, inUse: inUse * ALLOC_UNIT, free: (unitsPerBucket - inUse) * ALLOC_UNIT,
      freeFragments: fragments, largestFragment: largest * ALLOC_UNIT, smallestFragment: fragments ? smallest * ALLOC_UNIT : 0,
    });
  }
  return { overhang: fs.sb.devSize - nbuckets * unitsPerBucket * ALLOC_UNIT, buckets };
}
