/**
 * Reads FUSE requests on the main thread when the event loop says /dev/fuse is readable, the way
 * libfuse's single-threaded loop reads, handles and replies on one thread: the kernel wakes one
 * thread per request, where a reader thread posting to the main thread woke two in series.
 *
 * The fd is put in O_NONBLOCK mode and each wake-up reads requests until several reads in a row
 * find nothing (SPIN_READS), so a burst (the kernel's readahead, several callers) and a caller's
 * next request are taken in one turn of the loop. Synchronous handlers have
 * replied before the next read; asynchronous ones reply later from their promise, and reading
 * pauses while maxInflight requests are unanswered (the kernel then queues, as with a slow server).
 */
import { constants } from 'node:os';
import { getSystemErrorName } from 'node:util';
import { loadPollNative, type FdWatcher, type PollNative } from './native-poll.js';

const { EAGAIN, EINTR, ENOENT } = constants.errno;
/** A signal, or a request aborted while being copied out (go-fuse and libfuse retry too). */
const RETRY_ERRNOS: ReadonlySet<number> = new Set([EINTR, ENOENT]);
/**
 * Reads that may miss in a row before a wake-up ends. On a VM, sleeping in epoll and being woken
 * for the next request costs more than asking again: a caller's next request (stat after stat)
 * arrives a few microseconds after its reply. The bench's FUSE stat row shows the effect
 * (bench/README.md, "stat and readdir through FUSE").
 */
const SPIN_READS = 50;

export interface DeviceReaderHooks {
  /** One request; it owns `req` (the reader never writes into it again). */
  onRequest(req: Buffer): void;
  /** Reading stopped for good: `code` is the errno name (ENODEV: unmounted, ECONNABORTED: aborted). */
  onEnd(code: string, err: Error): void;
}

export interface DeviceReaderOptions {
  readonly bufferSize: number;
  readonly maxInflight: number;
  /** Requests at least this large (big WRITEs) keep the read buffer; smaller ones are copied out. */
  readonly transferThreshold: number;
}

export class DeviceReader {
  private readonly native: PollNative;
  private readonly watcher: FdWatcher;
  private buf: Buffer;
  private inflight = 0;
  private paused = false;
  private done = false;

  /** Switches `fd` to non-blocking mode; call start() once the mount exists. */
  constructor(
    private readonly fd: number,
    private readonly options: DeviceReaderOptions,
    private readonly hooks: DeviceReaderHooks,
  ) {
    this.native = loadPollNative();
    this.native.setNonBlocking(fd, true);
    this.buf = Buffer.allocUnsafeSlow(options.bufferSize);
    this.watcher = this.native.fdWatch(fd, (status) => this.drain(status));
  }

  /** Requests read and not yet answered (requestDone not called). */
  get pending(): number {
    return this.inflight;
  }

  start(): void {
    if (!this.done) this.watcher.start();
  }

  /** One request was answered (or needs no answer); may resume reading. */
  requestDone(): void {
    this.inflight--;
    if (this.paused && !this.done && this.inflight < this.options.maxInflight) {
      this.paused = false;
      this.watcher.start();
    }
  }

  /** Stops reading for good and releases the watcher; the caller closes the fd afterwards. */
  close(): void {
    if (this.done) return;
    this.done = true;
    this.watcher.close();
  }

  /**
   * Reads until SPIN_READS reads in a row found nothing, not just until a request was answered: a
   * caller's next request (GETATTR after LOOKUP) often arrives while the reply is being written,
   * and a read finds it without another turn of the event loop (two epoll calls, as Node measures
   * loop idle time) or a sleep.
   * `status` < 0: libuv saw an error condition (a disconnected device) and stopped the watcher.
   */
  private drain(status: number): void {
    let misses = 0;
    while (!this.done) {
      if (this.inflight >= this.options.maxInflight) {
        this.paused = true;
        this.watcher.stop();
        return;
      }
      const n = this.native.readOrErrno(this.fd, this.buf);
      if (n > 0) {
        misses = 0;
        this.inflight++;
        this.hooks.onRequest(this.take(n));
        continue;
      }
      if (n === -EAGAIN && status >= 0) {
        // An asynchronous reply needs the loop: no spinning while one is due.
        if (this.inflight > 0 || ++misses >= SPIN_READS) return;
        continue;
      }
      if (RETRY_ERRNOS.has(-n)) continue;
      // n === 0 never happens on /dev/fuse; EAGAIN after an error report would poll for ever.
      const code = n < 0 && n !== -EAGAIN ? getSystemErrorName(n) : 'EIO';
      this.end(code, new Error(`read /dev/fuse: ${code}${status < 0 ? ` (poll status ${status})` : ''}`));
      return;
    }
  }

  private take(n: number): Buffer {
    if (n >= this.options.transferThreshold) {
      // A big WRITE: hand over the whole buffer rather than copy a megabyte.
      const req = this.buf.subarray(0, n);
      this.buf = Buffer.allocUnsafeSlow(this.options.bufferSize);
      return req;
    }
    const req = Buffer.allocUnsafe(n);
    this.buf.copy(req, 0, 0, n);
    return req;
  }

  private end(code: string, err: Error): void {
    this.close();
    this.hooks.onEnd(code, err);
  }
}
