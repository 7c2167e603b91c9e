import type { DeviceRange } from '../format/device-range.js';
import type { MapLimit } from './errors.js';
import type { MapPiece } from './pieces.js';

/**
 * How a file's pieces become kernel mappings. Pure arithmetic, so the fallbacks can be tested
 * without 4 GiB files or a process near vm.max_map_count.
 *
 * - Composed: the pieces, in file order, are laid back to back in windows of at most
 *   maxBufferBytes (MemoryDevice.mapExtents: one reservation, one MAP_FIXED mapping per piece). One
 *   window means one contiguous Buffer. Costs one VMA per piece.
 * - By device run: the device ranges the file uses are each mapped once, in place, and the file's
 *   pieces become views into them. Costs one VMA per run (window), however many chunks an
 *   interleaved file has; but the file is no longer one range of addresses.
 */

/** One Buffer's worth of device ranges (a file system may span several devices), shown back to back. */
interface PlannedWindow {
  ranges: DeviceRange[];
  length: number;
}

/** A file range that is contiguous inside one window. */
interface PlannedSegment {
  fileOffset: number;
  length: number;
  window: number;
  /** Offset of the segment inside its window. */
  at: number;
}

export interface MapPlan {
  windows: PlannedWindow[];
  segments: PlannedSegment[];
  /** Kernel mappings the plan creates. */
  vmas: number;
  /** Why the file is not one segment; undefined when it is. */
  limit?: MapLimit;
}

/** Pieces laid end to end in file order, cut into windows of at most maxBufferBytes. */
export function planComposed(pieces: readonly MapPiece[], maxBufferBytes: number): MapPlan {
  const windows: PlannedWindow[] = [];
  const segments: PlannedSegment[] = [];
  let current: PlannedWindow | null = null;
  let vmas = 0;
  for (const p of pieces) {
    let done = 0;
    while (done < p.len) {
      if (current === null || current.length === maxBufferBytes) {
        current = { ranges: [], length: 0 };
        windows.push(current);
        segments.push({ fileOffset: p.fileOffset + done, length: 0, window: windows.length - 1, at: 0 });
      }
      const n = Math.min(p.len - done, maxBufferBytes - current.length);
      current.ranges.push({ devIndex: p.devIndex, offset: p.offset + done, len: n });
      current.length += n;
      segments[segments.length - 1]!.length += n;
      vmas++;
      done += n;
    }
  }
  return { windows, segments, vmas, ...(windows.length > 1 ? { limit: 'buffer-size' as const } : {}) };
}

/** Device order first, then offset: how runs and windows of several devices are sorted. */
function byDeviceThenOffset(aDev: number, aOff: number, bDev: number, bOff: number): number {
  return aDev !== bDev ? aDev - bDev : aOff - bOff;
}

/**
 * The device ranges the pieces cover, merged (per device) and each cut into windows of at most
 * maxBufferBytes; the pieces, in file order, become segments inside them.
 */
export function planByDeviceRun(pieces: readonly MapPiece[], maxBufferBytes: number): MapPlan {
  const sorted = [...pieces].sort((a, b) => byDeviceThenOffset(a.devIndex, a.offset, b.devIndex, b.offset));
  const runs: DeviceRange[] = [];
  for (const p of sorted) {
    const last = runs[runs.length - 1];
    if (last && last.devIndex === p.devIndex && p.offset <= last.offset + last.len) {
      last.len = Math.max(last.len, p.offset + p.len - last.offset);
    } else {
      runs.push({ devIndex: p.devIndex, offset: p.offset, len: p.len });
    }
  }
  const windows: PlannedWindow[] = [];
  for (const r of runs) {
    for (let done = 0; done < r.len; done += maxBufferBytes) {
      const len = Math.min(maxBufferBytes, r.len - done);
      windows.push({ ranges: [{ devIndex: r.devIndex, offset: r.offset + done, len }], length: len });
    }
  }
  const segments: PlannedSegment[] = [];
  for (const p of pieces) {
    let done = 0;
    while (done < p.len) {
      const dev = p.offset + done;
      const w = windowHolding(windows, p.devIndex, dev);
      const win = windows[w]!;
      const at = dev - win.ranges[0]!.offset;
      const n = Math.min(p.len - done, win.length - at);
      const prev = segments[segments.length - 1];
      if (prev && prev.window === w && prev.at + prev.length === at) prev.length += n;
      else segments.push({ fileOffset: p.fileOffset + done, length: n, window: w, at });
      done += n;
    }
  }
  return { windows, segments, vmas: windows.length, ...(segments.length > 1 ? { limit: 'max-map-count' as const } : {}) };
}

/** Binary search: the window whose single range holds offset `dev` of device `devIndex`. */
function windowHolding(windows: readonly PlannedWindow[], devIndex: number, dev: number): number {
  let lo = 0;
  let hi = windows.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    const w = windows[mid]!;
    if (byDeviceThenOffset(w.ranges[0]!.devIndex, w.ranges[0]!.offset, devIndex, dev) <= 0) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}
