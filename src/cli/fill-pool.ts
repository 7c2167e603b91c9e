import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { packageRoot } from '../addon.js';
import { BIN_DIR } from './bin.js';

/**
 * `creat -t` and `verify -t` with several files: each file filled or checked on a worker thread,
 * up to `threads` at once, as upstream's thread pool does. Each worker opens the file system and
 * maps the file itself (a mapping cannot cross threads); the bytes are exactly the single-thread
 * path's (data/fill.ts).
 */

export interface FillJob {
  kind: 'randomize' | 'verify';
  device: string;
  /** The host to act as (canonical UUID text), as the command's target says. */
  systemUuid?: string;
  deviceMap?: Array<[number, string]>;
  relpath: string;
  seed: bigint;
}

export interface FillResult {
  /** The file's size. */
  size: number;
  /** verify: offset of the first bad word, or -1. */
  bad: number;
  /** One line when the file could not be opened, mapped or given memory. */
  error?: string;
}

/** The worker, bundled as its own file (tools/bundle.mjs). */
const FILL_WORKER_FILE = 'fill-worker.cjs';

/** Runs every job, `threads` at a time; `done` is called as each finishes (in completion order). */
export async function fillInParallel(jobs: readonly FillJob[], threads: number, done: (index: number, r: FillResult) => void): Promise<void> {
  let next = 0;
  const lane = (): Promise<void> => new Promise((resolve, reject) => {
    const worker = new Worker(join(packageRoot(), BIN_DIR, FILL_WORKER_FILE));
    let current = -1;
    const feed = (): void => {
      if (next >= jobs.length) {
        void worker.terminate().then(() => resolve());
        return;
      }
      current = next++;
      worker.postMessage(jobs[current]);
    };
    worker.on('message', (r: FillResult) => {
      done(current, r);
      feed();
    });
    worker.on('error', reject);
    feed();
  });
  await Promise.all(Array.from({ length: Math.max(1, Math.min(threads, jobs.length)) }, lane));
}
