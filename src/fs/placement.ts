import type { ReplayStatus } from '../addon.js';
import { type Fmap, fmapCapacity, fmapExtents } from '../format/fmap.js';
import { ALLOC_UNIT, SUPERBLOCK_REGION_SIZE } from '../format/layout.js';

/**
 * Where a file's memory may lie, the one statement of the rules: every extent (or interleave
 * strip) on a device the log knows, whole 2 MiB units, past the device's metadata (the superblock,
 * and on device 0 the log), inside the device; the file at least 1 byte and no larger than what
 * its extents hold. The replay applies them to every FILE entry in the addon (native/replay.c,
 * `placement`, their mirror: test/replay-scan.test.ts replays random maps through it and checks
 * its verdicts against this module's); the master applies them here to a file whose memory the
 * caller chose (LogSession.addFile). Extents the allocator hands out obey them by construction.
 */

/** The placement statuses the replay's scan reports, in the order the rules are checked. */
export type PlacementStatus = Extract<ReplayStatus, 'UNKNOWN_DEVICE' | 'UNALIGNED' | 'IN_METADATA' | 'PAST_END' | 'SIZE_ZERO' | 'SHORT'>;

export interface PlacementProblem {
  status: PlacementStatus;
  /** The extent (or strip) at fault; 0 for SIZE_ZERO and SHORT. */
  extent: number;
}

/** The devices a file may be placed on, as the log records them. */
export interface PlacementDevices {
  /** Each device's size in bytes, by index (0 is the primary). */
  sizes: readonly number[];
  /** Where device 0's metadata (superblock and log) ends; other devices hold only their superblock. */
  primaryMetadataEnd: number;
}

/** Bytes at the start of device `devIndex` no file may use. */
function metadataEnd(devices: PlacementDevices, devIndex: number): number {
  return devIndex === 0 ? devices.primaryMetadataEnd : SUPERBLOCK_REGION_SIZE;
}

/** The first rule a file of `size` bytes over `fmap` (shape already checked) breaks, or undefined. */
export function placementProblem(fmap: Fmap, size: number, devices: PlacementDevices): PlacementProblem | undefined {
  const list = fmapExtents(fmap);
  for (let i = 0; i < list.length; i++) {
    const e = list[i]!;
    const devSize = devices.sizes[e.devIndex];
    if (devSize === undefined) return { status: 'UNKNOWN_DEVICE', extent: i };
    if (e.offset % ALLOC_UNIT !== 0 || e.len % ALLOC_UNIT !== 0) return { status: 'UNALIGNED', extent: i };
    if (e.offset < metadataEnd(devices, e.devIndex)) return { status: 'IN_METADATA', extent: i };
    if (e.offset + e.len > devSize) return { status: 'PAST_END', extent: i };
  }
  if (size === 0) return { status: 'SIZE_ZERO', extent: 0 };
  if (fmapCapacity(fmap) < size) return { status: 'SHORT', extent: 0 };
  return undefined;
}

/** The problem in words (what fsck, logplay and a refused addFile print after the file's name). */
export function placementMessage(p: PlacementProblem, fmap: Fmap, size: number): string {
  const x = fmapExtents(fmap)[p.extent];
  const at = x && `0x${x.offset.toString(16)}+0x${x.len.toString(16)}`;
  switch (p.status) {
    case 'UNKNOWN_DEVICE': return `extent on unknown device ${x?.devIndex}`;
    case 'UNALIGNED': return `extent ${at} is not 2 MiB aligned`;
    case 'IN_METADATA': return `extent ${at} overlaps the ${x?.devIndex === 0 ? 'superblock or log' : 'superblock'} of device ${x?.devIndex}`;
    case 'PAST_END': return `extent ${at} is past the end of device ${x?.devIndex}`;
    case 'SIZE_ZERO': return 'size 0';
    case 'SHORT': return `extents hold ${fmapCapacity(fmap)} bytes, less than the size ${size}`;
  }
}

/** Whether a replay scan status is one of the placement rules above. */
export function isPlacementStatus(status: ReplayStatus): status is PlacementStatus {
  return status === 'UNKNOWN_DEVICE' || status === 'UNALIGNED' || status === 'IN_METADATA' || status === 'PAST_END' || status === 'SIZE_ZERO' || status === 'SHORT';
}
