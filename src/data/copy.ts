import { readSync } from 'node:fs';
import type { FileMapping } from '../map/file-mapping.js';
import type { ProgressFn } from './fill.js';

/** Bytes per read(2): large enough that syscall overhead vanishes, small enough for smooth progress. */
export const COPY_CHUNK = 8 * 1024 * 1024;

/**
 * Compares a host file with the mapped famfs file (invalidating caches first). Returns the first
 * file offset where they differ, or -1.
 */
export function compareWithMapping(fd: number, m: FileMapping, progress?: ProgressFn): number {
  const scratch = Buffer.allocUnsafe(Math.min(COPY_CHUNK, m.size));
  for (const r of m.ranges()) {
    for (let at = 0; at < r.buffer.length;) {
      const want = Math.min(scratch.length, r.buffer.length - at);
      const got = readSync(fd, scratch, 0, want, r.offset + at);
      if (got === 0) return r.offset + at;
      m.invalidate(r.offset + at, got);
      const mine = r.buffer.subarray(at, at + got);
      if (!mine.equals(scratch.subarray(0, got))) return r.offset + at + firstDifference(mine, scratch);
      at += got;
      progress?.(got);
    }
  }
  return -1;
}

function firstDifference(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return n;
}
