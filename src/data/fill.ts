import { setImmediate as turnOfEventLoop } from 'node:timers/promises';
import type { FileMapping } from '../map/file-mapping.js';
import { type Seed, TestDataStream } from './prng.js';

/** Work on a mapped file in pieces of this size: progress reports stay frequent, and each cache
 * invalidate or flush touches memory about to be (or just) used. A multiple of the PRNG word. */
const DATA_CHUNK = 64 * 1024 * 1024;

export type ProgressFn = (bytes: number) => void;

/**
 * Fills the whole file with the test-data stream for `seed` (upstream's creat -r), then flushes it.
 * Yields to the event loop after each chunk, so signal handlers (Ctrl-C restoring the terminal) run
 * within one chunk's time.
 */
export async function randomizeFile(m: FileMapping, seed: Seed, progress?: ProgressFn): Promise<void> {
  const stream = new TestDataStream(seed);
  for (const r of m.ranges()) {
    for (let at = 0; at < r.buffer.length; at += DATA_CHUNK) {
      const piece = r.buffer.subarray(at, at + DATA_CHUNK);
      stream.fill(piece);
      m.flush(r.offset + at, piece.length);
      progress?.(piece.length);
      await turnOfEventLoop();
    }
  }
}

/** Checks the file against the stream for `seed`, invalidating caches first (upstream's verify).
 * Returns the offset of the first bad 4-byte word, or -1. Yields after each chunk, as above. */
export async function verifyFile(m: FileMapping, seed: Seed, progress?: ProgressFn): Promise<number> {
  const stream = new TestDataStream(seed);
  for (const r of m.ranges()) {
    for (let at = 0; at < r.buffer.length; at += DATA_CHUNK) {
      const piece = r.buffer.subarray(at, at + DATA_CHUNK);
      m.invalidate(r.offset + at, piece.length);
      const bad = stream.verify(piece);
      if (bad >= 0) return r.offset + at + bad;
      progress?.(piece.length);
      await turnOfEventLoop();
    }
  }
  return -1;
}
