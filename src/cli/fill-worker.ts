/**
 * One worker of cli/fill-pool.ts: takes a FillJob, opens the file system as the job's host, maps
 * the file and fills or checks it, and answers with a FillResult. Bundled as dist/bin/fill-worker.cjs.
 */
import { parentPort } from 'node:worker_threads';
import { FamfsError } from '../errors.js';
import { FamfsHandle } from '../fs/famfs.js';
import { parseUuid } from '../format/uuid.js';
import { mapFile } from '../map/file-mapping.js';
import type { FillJob, FillResult } from './fill-pool.js';
import { randomizeFile, verifyFile } from '../data/fill.js';

async function run(job: FillJob): Promise<FillResult> {
  const writable = job.kind === 'randomize';
  let fs: FamfsHandle | undefined;
  try {
    fs = FamfsHandle.open(job.device, {
      writable, systemUuid: job.systemUuid === undefined ? undefined : parseUuid(job.systemUuid), deviceMap: new Map(job.deviceMap ?? []),
    });
    const m = mapFile(fs, job.relpath, { writable });
    try {
      if (!writable) {
        m.populate();
        return { size: m.size, bad: await verifyFile(m, job.seed) };
      }
      await randomizeFile(m, job.seed);
      return { size: m.size, bad: -1 };
    } finally {
      m.unmap();
    }
  } catch (err) {
    if (!(err instanceof FamfsError)) throw err;
    return { size: 0, bad: -1, error: err.message };
  } finally {
    fs?.close();
  }
}

parentPort?.on('message', (job: FillJob) => {
  void run(job).then((r) => parentPort!.postMessage(r));
});
