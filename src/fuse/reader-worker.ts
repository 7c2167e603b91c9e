/**
 * A device-reader thread: blocks in read(2) on /dev/fuse, hands each request to the session on the
 * main thread, and reads the next one at once, so the kernel always finds a waiting reader while the
 * main thread works. Replies are written by the main thread, where the file system's buffers live.
 */
import { readSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { CTL_INFLIGHT, type ReaderConfig, type ReaderEnd } from './reader-protocol.js';

/** Transient read failures: a signal, or a request aborted while being copied out (go-fuse retries too). */
const RETRY_CODES = new Set(['EINTR', 'EAGAIN', 'ENOENT']);

function run(cfg: ReaderConfig): void {
  const port = parentPort;
  if (port === null) throw new Error('reader-worker must run as a worker thread');
  const ctl = new Int32Array(cfg.control);
  let buf = Buffer.allocUnsafeSlow(cfg.bufferSize);
  for (;;) {
    for (;;) {
      const inflight = Atomics.load(ctl, CTL_INFLIGHT);
      if (inflight < cfg.maxInflight) break;
      Atomics.wait(ctl, CTL_INFLIGHT, inflight);
    }
    let n: number;
    try {
      n = readSync(cfg.fd, buf, 0, cfg.bufferSize, null);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
      if (RETRY_CODES.has(code)) continue;
      const end: ReaderEnd = { kind: 'end', code, message: (err as Error).message };
      port.postMessage(end);
      return;
    }
    Atomics.add(ctl, CTL_INFLIGHT, 1);
    let out: ArrayBuffer;
    if (n >= cfg.transferThreshold) {
      // Big WRITEs: hand over the whole buffer rather than copy a megabyte.
      out = buf.buffer as ArrayBuffer;
      buf = Buffer.allocUnsafeSlow(cfg.bufferSize);
    } else {
      out = new ArrayBuffer(n);
      buf.copy(new Uint8Array(out), 0, 0, n);
    }
    port.postMessage(out, [out]);
  }
}

run(workerData as ReaderConfig);
