/**
 * The FUSE session: reads requests from a mounted /dev/fuse fd, dispatches them to a Filesystem
 * through the opcode table, writes each reply with ONE write/writev, and answers INIT.
 *
 * Threading (measured on this 2-vCPU VM, Linux 6.18, Node 20; memfs with FOPEN_DIRECT_IO, TTL 0,
 * `dd` of a 512 MiB file, python os.stat loops; medians of 3–5 runs, the VM is noisy ±30 %):
 *
 *   device reads on                  dd bs=1M   dd bs=128K   stat/s (1 client)   stat/s each (2 clients)
 *   1 worker thread (chosen)         3.0 GB/s   1.6 GB/s     7 000               5 500
 *   2 worker threads                 2.5 GB/s   1.4 GB/s     6 000               4 300
 *   libuv pool, fs.read × 4          2.2 GB/s   1.2 GB/s     7 000               3 500
 *   libuv pool, fs.read × 2          2.1 GB/s   1.2 GB/s     4 700               3 400
 *   async (pool) writev of replies   no gain (2.4 GB/s with 2 workers)
 *
 * So a dedicated reader thread blocks in read(2) and posts each request (copied to its own
 * ArrayBuffer, or the whole buffer moved for big WRITEs) to the main thread, which runs the
 * Filesystem and writes the reply with writevSync: one syscall, straight from the file system's
 * buffers (zero copy for views of mapped memory, which cannot be handed to another thread anyway).
 * The reader does not wait for the reply, so many requests are in flight (up to maxInflight) while
 * the main thread's event loop stays free for timers and I/O.
 *
 * The pool variant lost, and it has two traps besides: every pending read pins one of the 4
 * default pool threads (starving fs.promises, dns, zlib — and deadlocking a process that serves and
 * uses its own mount), and UV_THREADPOOL_SIZE cannot be raised from an ESM entry module (verified:
 * the ESM loader's own async reads start the pool before the first line runs; only the real
 * environment works). Worker readers need no pool threads; the pool is used only for
 * notifications (see below). More readers only added wake-ups on 2 vCPUs; `readers` raises it.
 *
 * Shutdown: a reader blocked in read(2) keeps the process alive and makes process.exit() hang, so
 * unmount first (FuseServer.unmount / mount.ts unmount); every reader then gets ENODEV (or
 * ECONNABORTED after an abort), the fd is closed and `closed` resolves.
 */
import { closeSync, writev as fsWritev, writevSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import {
  EXPIRE_ONLY, FUSE_KERNEL_MINOR_VERSION, INIT_FLAGS_WORD_BITS, U32_MASK_BIG, FUSE_KERNEL_VERSION, FUSE_MIN_READ_BUFFER, InitFlag, NotifyCode, Opcode,
  PAGE_SIZE, READ_BUFFER_HEADROOM,
} from './abi/constants.js';
import { decodeInHeader, encodeOutHeader, requestBody, type InHeader } from './abi/header.js';
import { decodeInitIn, describeInitFlags, encodeInitOut } from './abi/init.js';
import { encodeNotifyDelete, encodeNotifyInvalEntry, encodeNotifyInvalInode } from './abi/notify.js';
import { StructSize } from './abi/sizes.js';
import { errno, errnoOf, FuseError, MAX_REPLY_ERRNO, syscallCode } from './errors.js';
import type { ExtensionOp, Filesystem, InitResult, MaybePromise, RequestContext } from './filesystem.js';
import { NOT_IMPLEMENTED, OPCODES, opcodeName, type ReplyPayload } from './opcodes.js';
import { CTL_INFLIGHT, CTL_SLOTS, type ReaderConfig, type ReaderEnd } from './reader-protocol.js';

const MiB = 1024 * 1024;
export const DEFAULT_MAX_WRITE = MiB;
export const DEFAULT_MAX_BACKGROUND = 64;
/** The kernel's default congestion threshold is 3/4 of max_background; keep that ratio. */
const CONGESTION_NUM = 3;
const CONGESTION_DEN = 4;
export const DEFAULT_READERS = 1;
export const DEFAULT_MAX_INFLIGHT = 256;
/** Timestamps are kept to the nanosecond. */
const TIME_GRAN_NS = 1;
/** Requests of this size or more (big WRITEs) move their buffer instead of being copied. */
const TRANSFER_THRESHOLD = 64 * 1024;
/** writev accepts at most IOV_MAX (1024) pieces; keep room for the header. */
const MAX_IOVECS = 1000;
const U16_MAX = 0xffff;

export interface SessionOptions {
  /** Largest WRITE payload (and READ, via max_pages); default 1 MiB. */
  readonly maxWrite?: number;
  /** Async requests (readahead, async direct I/O) the kernel may queue; default 64. */
  readonly maxBackground?: number;
  /** Device-reader threads; default 1 (see the measurements above). */
  readonly readers?: number;
  /** Unanswered requests after which readers pause; default 256. */
  readonly maxInflight?: number;
  /** Handler errors without an errno (answered EIO), failed reply writes, reader failures. */
  readonly onError?: (err: unknown, where: string) => void;
  /** One line per request and per INIT decision, for debugging. */
  readonly trace?: (line: string) => void;
}

export type SessionEndReason = 'unmounted' | 'aborted' | 'error';

export interface SessionEnd {
  readonly reason: SessionEndReason;
  readonly error?: Error;
}

export interface SessionStats {
  readonly requests: number;
  readonly byOpcode: ReadonlyMap<string, number>;
}

function isPromise<T>(v: MaybePromise<T>): v is Promise<T> {
  return typeof (v as { then?: unknown } | null)?.then === 'function';
}

function payloadLength(payload: ReplyPayload): number {
  let n = 0;
  for (const b of payload) n += b.length;
  return n;
}

/** Bits this layer asks for on every mount (each only if the kernel offers it). */
const BASE_WANTED =
  InitFlag.ASYNC_READ | InitFlag.BIG_WRITES | InitFlag.MAX_PAGES | InitFlag.PARALLEL_DIROPS |
  InitFlag.ABORT_ERROR | InitFlag.INIT_EXT;

export class FuseSession {
  readonly fd: number;
  /** Resolves once INIT has been answered. */
  readonly initialized: Promise<InitResult>;
  /** Resolves when the kernel ends the connection (unmount, abort) and the fd is closed. */
  readonly closed: Promise<SessionEnd>;

  private readonly fs: Filesystem;
  private readonly maxWrite: number;
  private readonly maxBackground: number;
  private readonly readerCount: number;
  private readonly maxInflight: number;
  private readonly onError: (err: unknown, where: string) => void;
  private readonly trace: ((line: string) => void) | undefined;
  private readonly extensions = new Map<number, ExtensionOp>();
  private readonly control = new SharedArrayBuffer(CTL_SLOTS * Int32Array.BYTES_PER_ELEMENT);
  private readonly ctl = new Int32Array(this.control);
  private readonly workers: Worker[] = [];
  private readonly counts = new Map<string, number>();
  private requestCount = 0;
  private started = false;
  private ending = false;
  private ended = false;
  private liveReaders = 0;
  private endReason: SessionEnd | undefined;
  private negotiatedInit: InitResult | undefined;
  private notifyChain: Promise<unknown> = Promise.resolve();
  private resolveInit!: (r: InitResult) => void;
  private rejectInit!: (e: Error) => void;
  private resolveClosed!: (e: SessionEnd) => void;

  /** Takes ownership of `fd` (a /dev/fuse fd already mounted) and closes it when the session ends. */
  constructor(fd: number, fs: Filesystem, options: SessionOptions = {}) {
    this.fd = fd;
    this.fs = fs;
    this.maxWrite = options.maxWrite ?? DEFAULT_MAX_WRITE;
    if (this.maxWrite < PAGE_SIZE || this.maxWrite % PAGE_SIZE !== 0) {
      throw new FuseError('EINVAL', `maxWrite must be a multiple of ${PAGE_SIZE}`);
    }
    this.maxBackground = Math.min(options.maxBackground ?? DEFAULT_MAX_BACKGROUND, U16_MAX);
    this.readerCount = options.readers ?? DEFAULT_READERS;
    this.maxInflight = options.maxInflight ?? DEFAULT_MAX_INFLIGHT;
    this.onError = options.onError ?? ((err, where) => console.error(`fuse: ${where}:`, err));
    this.trace = options.trace;
    for (const ext of fs.extensions ?? []) {
      if (this.extensions.has(ext.opcode)) throw new FuseError('EINVAL', `two extensions claim opcode ${ext.opcode}`);
      this.extensions.set(ext.opcode, ext);
    }
    this.initialized = new Promise<InitResult>((resolve, reject) => {
      this.resolveInit = resolve;
      this.rejectInit = reject;
    });
    // Callers that only await `closed` must not see an unhandled rejection from `initialized`.
    this.initialized.catch(() => undefined);
    this.closed = new Promise<SessionEnd>((resolve) => {
      this.resolveClosed = resolve;
    });
  }

  /** The negotiated INIT parameters, once known. */
  get negotiated(): InitResult | undefined {
    return this.negotiatedInit;
  }

  get inflight(): number {
    return Atomics.load(this.ctl, CTL_INFLIGHT);
  }

  get stats(): SessionStats {
    return { requests: this.requestCount, byOpcode: new Map(this.counts) };
  }

  /** Starts the reader threads. Call after the mount(2) succeeded (reads fail with EPERM before). */
  start(): void {
    if (this.started) throw new FuseError('EBUSY', 'session already started');
    this.started = true;
    const bufferSize = Math.max(FUSE_MIN_READ_BUFFER, this.maxWrite + READ_BUFFER_HEADROOM);
    const cfg: ReaderConfig = {
      fd: this.fd,
      bufferSize,
      control: this.control,
      maxInflight: this.maxInflight,
      transferThreshold: TRANSFER_THRESHOLD,
    };
    this.liveReaders = this.readerCount;
    for (let i = 0; i < this.readerCount; i++) {
      const w = new Worker(new URL('./reader-worker.js', import.meta.url), { workerData: cfg, name: `fuse-reader-${i}` });
      w.on('message', (msg: ArrayBuffer | ReaderEnd) => {
        if (msg instanceof ArrayBuffer) this.onRequest(Buffer.from(msg));
        else this.readerEnded(msg.code, new Error(msg.message));
      });
      w.on('error', (err) => this.readerEnded('EIO', err));
      this.workers.push(w);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Requests

  /** `raw` may be a whole transferred read buffer; the request is as long as its header says. */
  private onRequest(raw: Buffer): void {
    const buf = raw.length >= StructSize.IN_HEADER ? raw.subarray(0, Math.min(raw.readUInt32LE(0), raw.length)) : raw;
    let hdr: InHeader;
    try {
      hdr = decodeInHeader(buf, buf.length);
    } catch (err) {
      this.requestDone();
      this.onError(err, 'request header');
      return;
    }
    this.requestCount++;
    const ctx: RequestContext = {
      unique: hdr.unique,
      opcode: hdr.opcode,
      nodeid: hdr.nodeid,
      uid: hdr.uid,
      gid: hdr.gid,
      pid: hdr.pid,
    };
    const body = requestBody(buf, hdr);
    const name = this.countOp(hdr.opcode);
    this.trace?.(`<- ${name} unique=${hdr.unique} nodeid=${hdr.nodeid} len=${hdr.len}`);

    const ext = this.extensions.get(hdr.opcode);
    if (ext !== undefined) {
      const noReply = ext.noReply === true;
      this.execute(ctx, () => {
        const r = ext.handle(ctx, body);
        const wrap = (p: Buffer | readonly Buffer[]): ReplyPayload => (Buffer.isBuffer(p) ? [p] : p);
        return isPromise(r) ? r.then(wrap) : wrap(r);
      }, !noReply);
      return;
    }
    switch (hdr.opcode) {
      case Opcode.INIT:
        this.execute(ctx, () => this.handleInit(body).catch((err: unknown) => {
          this.rejectInit(err instanceof Error ? err : new Error(String(err)));
          throw err;
        }), true);
        return;
      case Opcode.INTERRUPT:
        // Policy: ENOSYS once. The kernel then sets no_interrupt and never sends INTERRUPT again;
        // handlers simply run to completion. (Replying to a finished request's interrupt gives ENOENT,
        // which the writer ignores.)
        this.replyError(ctx.unique, errno('ENOSYS'));
        return;
      case Opcode.DESTROY:
        // Only fuseblk mounts send it; the device read then reports ENODEV and the session ends.
        this.replyPayload(ctx.unique, []);
        return;
      case Opcode.NOTIFY_REPLY:
        this.requestDone();
        return;
    }
    if (this.negotiatedInit === undefined) {
      this.replyError(ctx.unique, errno('EIO'));
      return;
    }
    const entry = OPCODES.get(hdr.opcode);
    if (entry === undefined || entry.run === undefined) {
      this.replyError(ctx.unique, errno('ENOSYS'));
      return;
    }
    if (body.length < entry.bodySize) {
      this.fail(ctx, new FuseError('EIO', `${entry.name}: body of ${body.length} bytes, need ${entry.bodySize}`), entry.reply);
      return;
    }
    const run = entry.run;
    this.execute(ctx, () => run(this.fs, ctx, body), entry.reply);
  }

  private countOp(opcode: number): string {
    const ext = this.extensions.get(opcode);
    const name = ext !== undefined ? ext.name : opcodeName(opcode);
    this.counts.set(name, (this.counts.get(name) ?? 0) + 1);
    return name;
  }

  private execute(
    ctx: RequestContext,
    op: () => MaybePromise<ReplyPayload> | typeof NOT_IMPLEMENTED,
    reply: boolean,
  ): void {
    let result: MaybePromise<ReplyPayload> | typeof NOT_IMPLEMENTED;
    try {
      result = op();
    } catch (err) {
      this.fail(ctx, err, reply);
      return;
    }
    if (result === NOT_IMPLEMENTED) {
      if (reply) this.replyError(ctx.unique, errno('ENOSYS'));
      else this.requestDone();
      return;
    }
    if (isPromise(result)) {
      result.then(
        (payload) => this.succeed(ctx, payload, reply),
        (err: unknown) => this.fail(ctx, err, reply),
      );
    } else {
      this.succeed(ctx, result, reply);
    }
  }

  private succeed(ctx: RequestContext, payload: ReplyPayload, reply: boolean): void {
    if (reply) this.replyPayload(ctx.unique, payload);
    else this.requestDone();
  }

  private fail(ctx: RequestContext, err: unknown, reply: boolean): void {
    let n = errnoOf(err);
    if (n === undefined) {
      n = errno('EIO');
      this.onError(err, `${opcodeName(ctx.opcode)} nodeid=${ctx.nodeid}`);
    }
    this.trace?.(`-> ${opcodeName(ctx.opcode)} unique=${ctx.unique} error=${n}`);
    if (reply) this.replyError(ctx.unique, n);
    else this.requestDone();
  }

  // ---------------------------------------------------------------------------------------------
  // INIT

  private async handleInit(body: Buffer): Promise<ReplyPayload> {
    const offer = decodeInitIn(body);
    this.trace?.(`INIT offered ${offer.major}.${offer.minor} flags=${describeInitFlags(offer.flags)}`);
    if (offer.major < FUSE_KERNEL_VERSION) {
      throw new FuseError('EPROTO', `kernel speaks FUSE ${offer.major}.${offer.minor}, need ${FUSE_KERNEL_VERSION}.x`);
    }
    if (offer.major > FUSE_KERNEL_VERSION) {
      // Reply with our major only; the kernel then sends a new INIT at that version.
      return [encodeInitOut({
        major: FUSE_KERNEL_VERSION, minor: FUSE_KERNEL_MINOR_VERSION, maxReadahead: 0, flags: 0n,
        maxBackground: 0, congestionThreshold: 0, maxWrite: 0, timeGran: 0, maxPages: 0,
      })];
    }
    const wants = (await this.fs.init?.(offer)) ?? {};
    let wanted = BASE_WANTED | (wants.flags ?? 0n);
    if (this.fs.readdirplus !== undefined) {
      wanted |= InitFlag.DO_READDIRPLUS;
      // AUTO lets the kernel pick plain READDIR at times, so only with both methods present.
      if (this.fs.readdir !== undefined) wanted |= InitFlag.READDIRPLUS_AUTO;
    }
    let flags = wanted & offer.flags;
    // flags2 means nothing without INIT_EXT; drop the high word if it was not offered.
    if ((flags & InitFlag.INIT_EXT) === 0n) flags &= U32_MASK_BIG;
    const minor = Math.min(offer.minor, wants.maxMinor ?? FUSE_KERNEL_MINOR_VERSION);
    const maxPages = Math.min(this.maxWrite / PAGE_SIZE, U16_MAX);
    const result: InitResult = {
      major: FUSE_KERNEL_VERSION,
      minor,
      kernelMinor: offer.minor,
      offered: offer.flags,
      flags,
      maxWrite: this.maxWrite,
      maxPages,
      maxReadahead: offer.maxReadahead,
    };
    const out = encodeInitOut({
      major: FUSE_KERNEL_VERSION,
      minor,
      maxReadahead: offer.maxReadahead,
      flags,
      maxBackground: this.maxBackground,
      congestionThreshold: Math.floor((this.maxBackground * CONGESTION_NUM) / CONGESTION_DEN),
      maxWrite: this.maxWrite,
      timeGran: TIME_GRAN_NS,
      maxPages,
    });
    this.trace?.(`INIT reply ${FUSE_KERNEL_VERSION}.${minor} flags=${describeInitFlags(flags)}`);
    this.negotiatedInit = result;
    queueMicrotask(() => this.resolveInit(result));
    return [out];
  }

  // ---------------------------------------------------------------------------------------------
  // Replies

  private replyError(unique: bigint, n: number): void {
    // An errno outside (0, 1000) would make the kernel reject the reply and hang the caller.
    const safe = Number.isInteger(n) && n > 0 && n <= MAX_REPLY_ERRNO ? n : errno('EIO');
    this.write(unique, [encodeOutHeader(StructSize.OUT_HEADER, -safe, unique)]);
  }

  private replyPayload(unique: bigint, payload: ReplyPayload): void {
    let parts = payload;
    if (parts.length > MAX_IOVECS) parts = [...parts.slice(0, MAX_IOVECS - 1), Buffer.concat(parts.slice(MAX_IOVECS - 1))];
    const len = StructSize.OUT_HEADER + payloadLength(parts);
    this.write(unique, [encodeOutHeader(len, 0, unique), ...parts]);
  }

  /** One reply = one writev(2). The kernel rejects split replies. */
  private write(unique: bigint, iov: Buffer[]): void {
    if (this.ended) return;
    try {
      writevSync(this.fd, iov);
    } catch (err) {
      this.writeFailed(unique, err);
    }
    this.requestDone();
  }

  private writeFailed(unique: bigint, err: unknown): void {
    const code = syscallCode(err);
    // ENOENT: the request is gone (interrupted, aborted, or raced with unmount). Not an error.
    if (code === 'ENOENT') return;
    if (code === 'ENODEV' || code === 'ECONNABORTED' || code === 'EBADF') return;
    this.onError(err, `reply unique=${unique}`);
  }

  private requestDone(): void {
    Atomics.sub(this.ctl, CTL_INFLIGHT, 1);
    Atomics.notify(this.ctl, CTL_INFLIGHT);
  }

  // ---------------------------------------------------------------------------------------------
  // Notifications
  //
  // A notification can block inside the kernel on an inode lock held by a request we have not yet
  // answered. Written synchronously from the main thread that would deadlock (the reply that frees
  // the lock could never be written), so they go through async fs.writev on the libuv pool, one at
  // a time, while the main thread keeps answering requests.

  /** Drop cached attributes (off < 0) or pages [off, off+len) (len <= 0: to EOF). False if not cached. */
  notifyInvalInode(ino: number, off = 0, len = 0): Promise<boolean> {
    return this.notify(NotifyCode.INVAL_INODE, encodeNotifyInvalInode(ino, off, len));
  }

  /** Drop the dentry `name` in `parent` (or only expire it). False if the kernel did not have it. */
  notifyInvalEntry(parent: number, name: string, options: { expireOnly?: boolean } = {}): Promise<boolean> {
    return this.notify(NotifyCode.INVAL_ENTRY, encodeNotifyInvalEntry(parent, name, options.expireOnly ? EXPIRE_ONLY : 0));
  }

  /** Tell the kernel (and inotify watchers) that `name` → `child` was deleted from `parent`. */
  notifyDelete(parent: number, child: number, name: string): Promise<boolean> {
    return this.notify(NotifyCode.DELETE, encodeNotifyDelete(parent, child, name));
  }

  private notify(code: number, payload: Buffer): Promise<boolean> {
    if (this.negotiatedInit === undefined || this.ending) {
      return Promise.reject(new FuseError('ENOTCONN', 'session not initialised or already closed'));
    }
    const hdr = encodeOutHeader(StructSize.OUT_HEADER + payload.length, code, 0n);
    const p = this.notifyChain.then(
      () =>
        new Promise<boolean>((resolve, reject) => {
          fsWritev(this.fd, [hdr, payload], (err) => {
            if (err === null) resolve(true);
            else if (err.code === 'ENOENT') resolve(false);
            else reject(new FuseError(errnoOf(err) ?? errno('EIO'), `notify ${code}: ${err.message}`));
          });
        }),
    );
    this.notifyChain = p.catch(() => undefined);
    return p;
  }

  // ---------------------------------------------------------------------------------------------
  // End of session

  private readerEnded(code: string, err: Error): void {
    if (this.endReason === undefined) {
      if (code === 'ENODEV') this.endReason = { reason: 'unmounted' };
      else if (code === 'ECONNABORTED') this.endReason = { reason: 'aborted' };
      else {
        this.endReason = { reason: 'error', error: err };
        this.onError(err, 'device read');
      }
    }
    this.ending = true;
    this.liveReaders--;
    if (this.liveReaders > 0) return;
    void this.finish();
  }

  private async finish(): Promise<void> {
    await this.notifyChain;
    this.ended = true;
    try {
      closeSync(this.fd);
    } catch {
      // Already closed: nothing more to release.
    }
    const end = this.endReason ?? { reason: 'unmounted' };
    this.rejectInit(new FuseError('ENOTCONN', `session ended (${end.reason}) before INIT`));
    this.resolveClosed(end);
  }
}
