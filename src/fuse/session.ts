/**
 * The FUSE session: reads requests from a mounted /dev/fuse fd, dispatches every one through its
 * opcode table (the protocol's rows, which include the session's own INIT, INTERRUPT and DESTROY,
 * plus the file system's extension rows), and writes each reply with ONE write/writev. INIT is
 * negotiated by init-negotiation.ts; the session only supplies its wants and keeps the result.
 *
 * Reading (src/fuse/device-reader.ts): like libfuse's single-threaded loop, one thread reads a
 * request, handles it and writes the reply, and that thread is the main thread. The /dev/fuse fd
 * is non-blocking and watched by the event loop (a uv_poll_t from the addon, native/poll.c); on
 * each wake-up the reader reads and dispatches requests until a run of reads finds none (EAGAIN;
 * device-reader.ts SPIN_READS says how many and why). Synchronous handlers
 * reply before the next read; asynchronous ones reply from their promise, and reading pauses
 * while maxInflight requests are unanswered. The event loop stays free for timers and I/O between
 * wake-ups, and the watcher keeps the process alive only while the session reads.
 *
 * Not a worker thread blocked in read(2) that posts each request to the main thread: that puts
 * two cross-thread wake-ups in series on every request, and was slower at every request size and
 * for stat and readdir (bench/README.md, "stat and readdir through FUSE", has the A/B).
 *
 * Each reply is one writev(2) straight from the file system's buffers (zero copy for views of
 * mapped memory), made by the addon: fs.writevSync's bookkeeping cost more than the system call
 * for small replies. Notifications go through the libuv pool instead (see below).
 *
 * Transports: the above is the /dev/fuse transport. With FUSE over io_uring (ring-transport.ts,
 * chosen at INIT, see Transport) requests other than INIT, FORGET and INTERRUPT arrive in ring
 * entries instead, laid out as a read of /dev/fuse would give them, and go through the same
 * onRequest; write() hands a reply to the ring when the request came from it, else writes it to
 * /dev/fuse. Notifications always go to /dev/fuse.
 *
 * Shutdown: unmount (FuseServer.unmount / mount.ts unmount); the next read fails with ENODEV (or
 * ECONNABORTED after an abort), the watcher is closed, then the fd, and `closed` resolves.
 */
import { closeSync, writev as fsWritev } from 'node:fs';
import { getSystemErrorName } from 'node:util';
import {
  EXPIRE_ONLY, FUSE_KERNEL_MINOR_VERSION, FUSE_KERNEL_VERSION, FUSE_MIN_READ_BUFFER, InitFlag, NotifyCode, PAGE_SIZE,
  READ_BUFFER_HEADROOM,
} from './abi/constants.js';
import { decodeInHeader, encodeOutHeader, requestBody, type InHeader } from './abi/header.js';
import { decodeInitIn, describeInitFlags } from './abi/init.js';
import { encodeNotifyDelete, encodeNotifyInvalEntry, encodeNotifyInvalInode } from './abi/notify.js';
import { StructSize } from './abi/sizes.js';
import { errno, errnoOf, FuseError, ProtocolError } from './errors.js';
import { isPromise, type Filesystem, type InitResult, type MaybePromise, type RequestContext } from './filesystem.js';
import { layerWants, negotiateInit } from './init-negotiation.js';
import { RingTransport } from './ring-transport.js';
import { NOT_IMPLEMENTED, OPCODES, type OpcodeTable, type ReplyPayload, type SessionOps } from './opcodes.js';
import { DeviceReader } from './device-reader.js';
import { loadPollNative, type PollNative } from './native-poll.js';
import { RequestStats } from './request-stats.js';

const MiB = 1024 * 1024;
const DEFAULT_MAX_WRITE = MiB;
const DEFAULT_MAX_BACKGROUND = 64;
const DEFAULT_MAX_INFLIGHT = 256;
/** Timestamps are kept to the nanosecond. */
const TIME_GRAN_NS = 1;
/** Requests of this size or more (big WRITEs) move their buffer instead of being copied. */
const TRANSFER_THRESHOLD = 64 * 1024;
/** writev accepts at most IOV_MAX (1024) pieces; keep room for the header. */
const MAX_IOVECS = 1000;

/**
 * How requests other than INIT, FORGET and INTERRUPT travel after INIT: `dev`, read(2) and
 * writev(2) on /dev/fuse; `uring`, FUSE over io_uring (falls back to /dev/fuse with one notice
 * line saying why when the kernel does not offer it or the ring cannot be set up); `auto`, the
 * ring when the kernel offers FUSE_OVER_IO_URING (it does when fuse.enable_uring is on), else
 * /dev/fuse quietly (a notice only when an offered ring fails).
 */
export type Transport = 'auto' | 'uring' | 'dev';
export const TRANSPORTS: readonly Transport[] = ['auto', 'uring', 'dev'];

export interface SessionOptions {
  /** Largest WRITE payload (and READ, via max_pages); default 1 MiB. */
  readonly maxWrite?: number;
  /** Async requests (readahead, async direct I/O) the kernel may queue; default 64. */
  readonly maxBackground?: number;
  /** Unanswered (asynchronous) requests after which reading pauses; default 256. */
  readonly maxInflight?: number;
  /** Handler errors without an errno (answered EIO), failed reply writes, device read failures. */
  readonly onError?: (err: unknown, where: string) => void;
  /** One line per request and per INIT decision, for debugging. */
  readonly trace?: (line: string) => void;
  /** Request transport after INIT; default auto. */
  readonly transport?: Transport;
  /** Ring entries per queue on the io_uring transport; default 8. */
  readonly ringDepth?: number;
  /** One line when the transport asked for is not the one used (default: stderr). */
  readonly notice?: (line: string) => void;
}

type SessionEndReason = 'unmounted' | 'aborted' | 'error';

export interface SessionEnd {
  readonly reason: SessionEndReason;
  readonly error?: Error;
}

function payloadLength(payload: ReplyPayload): number {
  let n = 0;
  for (const b of payload) n += b.length;
  return n;
}

export class FuseSession {
  readonly fd: number;
  /** Resolves once INIT has been answered. */
  readonly initialized: Promise<InitResult>;
  /** Resolves when the kernel ends the connection (unmount, abort) and the fd is closed. */
  readonly closed: Promise<SessionEnd>;

  private readonly fs: Filesystem;
  private readonly maxWrite: number;
  private readonly maxBackground: number;
  private readonly maxInflight: number;
  private readonly onError: (err: unknown, where: string) => void;
  private readonly trace: ((line: string) => void) | undefined;
  private readonly transport: Transport;
  private readonly ringDepth: number | undefined;
  private readonly notice: (line: string) => void;
  /** The io_uring transport, from the INIT that accepted it until the session ends. */
  private ring: RingTransport | undefined;
  /** The protocol's opcode table with the file system's extension ops: the whole dispatch. */
  private readonly table: OpcodeTable;
  private readonly sessionOps: SessionOps = { init: (body) => this.answerInit(body) };
  private reader: DeviceReader | undefined;
  private native: PollNative | undefined;
  /** Requests, errors and latencies by opcode, for whoever exports them (read, never reset). */
  readonly requestStats = new RequestStats();
  private started = false;
  private ending = false;
  private ended = false;
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
    this.maxBackground = options.maxBackground ?? DEFAULT_MAX_BACKGROUND;
    this.maxInflight = options.maxInflight ?? DEFAULT_MAX_INFLIGHT;
    this.onError = options.onError ?? ((err, where) => console.error(`fuse: ${where}:`, err));
    this.trace = options.trace;
    this.transport = options.transport ?? 'auto';
    this.ringDepth = options.ringDepth;
    this.notice = options.notice ?? ((line) => process.stderr.write(`${line}\n`));
    this.table = OPCODES.withExtensions(fs.extensions ?? []);
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
    return (this.reader?.pending ?? 0) + (this.ring?.pending ?? 0);
  }

  /** The transport requests travel on: 'uring' from the INIT that accepted the ring (unless the kernel then refused it), else 'dev'. */
  get activeTransport(): 'uring' | 'dev' {
    return this.ring !== undefined ? 'uring' : 'dev';
  }

  /** The name of an opcode as this session knows it (a file system's extensions included). */
  opName(opcode: number): string {
    return this.table.nameOf(opcode);
  }

  /** Starts reading requests. Call after the mount(2) succeeded (reads fail with EPERM before). */
  start(): void {
    if (this.started) throw new FuseError('EBUSY', 'session already started');
    this.started = true;
    const bufferSize = Math.max(FUSE_MIN_READ_BUFFER, this.maxWrite + READ_BUFFER_HEADROOM);
    this.native = loadPollNative();
    this.reader = new DeviceReader(this.fd, { bufferSize, maxInflight: this.maxInflight, transferThreshold: TRANSFER_THRESHOLD }, {
      onRequest: (req) => this.onRequest(req),
      onEnd: (code, err) => this.readerEnded(code, err),
    });
    this.reader.start();
  }

  // ---------------------------------------------------------------------------------------------
  // Requests

  /** `buf` is one request, exactly as many bytes as the read returned (its header must agree). */
  private onRequest(buf: Buffer): void {
    let hdr: InHeader;
    try {
      hdr = decodeInHeader(buf, buf.length);
    } catch (err) {
      if (this.ring?.refuseRequest(buf) !== true) this.requestDone();
      this.onError(err, 'request header');
      return;
    }
    this.requestStats.received(hdr.opcode);
    const ctx: RequestContext = {
      unique: hdr.unique,
      opcode: hdr.opcode,
      nodeid: hdr.nodeid,
      uid: hdr.uid,
      gid: hdr.gid,
      pid: hdr.pid,
    };
    const body = requestBody(buf, hdr);
    if (this.trace) this.trace(`<- ${this.opName(hdr.opcode)} unique=${hdr.unique} nodeid=${hdr.nodeid} len=${hdr.len}`);

    const entry = this.table.get(hdr.opcode);
    if (entry?.run === undefined || (entry.needsInit && this.negotiatedInit === undefined)) {
      // Before INIT only the session's own ops are served (EIO for the rest, as libfuse answers);
      // after it an op nobody serves is ENOSYS.
      this.replyError(ctx.unique, errno(this.negotiatedInit === undefined ? 'EIO' : 'ENOSYS'));
      return;
    }
    if (body.length < entry.bodySize) {
      this.fail(ctx, new ProtocolError(`${entry.name}: body of ${body.length} bytes, need ${entry.bodySize}`), entry.reply);
      return;
    }
    const run = entry.run;
    this.execute(ctx, () => run(this.fs, ctx, body, this.sessionOps), entry.reply);
  }

  private execute(
    ctx: RequestContext,
    op: () => MaybePromise<ReplyPayload> | typeof NOT_IMPLEMENTED,
    reply: boolean,
  ): void {
    const started = performance.now();
    let result: MaybePromise<ReplyPayload> | typeof NOT_IMPLEMENTED;
    try {
      result = op();
    } catch (err) {
      this.fail(ctx, err, reply, started);
      return;
    }
    if (result === NOT_IMPLEMENTED) {
      this.requestStats.answered(ctx.opcode, performance.now() - started, true);
      if (reply) this.replyError(ctx.unique, errno('ENOSYS'));
      else this.requestDone();
      return;
    }
    if (isPromise(result)) {
      result.then(
        (payload) => this.succeed(ctx, payload, reply, started),
        (err: unknown) => this.fail(ctx, err, reply, started),
      );
    } else {
      this.succeed(ctx, result, reply, started);
    }
  }

  private succeed(ctx: RequestContext, payload: ReplyPayload, reply: boolean, started: number): void {
    if (reply) this.replyPayload(ctx.unique, payload);
    else this.requestDone();
    this.requestStats.answered(ctx.opcode, performance.now() - started, false);
  }

  /** `started`: when the handler was called (performance.now()), or undefined for a request never handed to one. */
  private fail(ctx: RequestContext, err: unknown, reply: boolean, started?: number): void {
    if (started !== undefined) this.requestStats.answered(ctx.opcode, performance.now() - started, true);
    let n = errnoOf(err);
    if (n === undefined) {
      n = errno('EIO');
      this.onError(err, `${this.opName(ctx.opcode)} nodeid=${ctx.nodeid}`);
    }
    this.trace?.(`-> ${this.opName(ctx.opcode)} unique=${ctx.unique} error=${n}`);
    if (reply) this.replyError(ctx.unique, n);
    else this.requestDone();
  }

  // ---------------------------------------------------------------------------------------------
  // INIT

  /** INIT's row: negotiate, remember the result; a refusal also fails `initialized`. */
  private async answerInit(body: Buffer): Promise<ReplyPayload> {
    try {
      return await this.negotiate(body);
    } catch (err) {
      this.rejectInit(err instanceof Error ? err : new Error(String(err)));
      throw err;
    }
  }

  private async negotiate(body: Buffer): Promise<ReplyPayload> {
    const offer = decodeInitIn(body);
    this.trace?.(`INIT offered ${offer.major}.${offer.minor} flags=${describeInitFlags(offer.flags)}`);
    // The file system is shown only an offer at our major; negotiateInit refuses or retries others.
    const wants = (offer.major === FUSE_KERNEL_VERSION ? await this.fs.init?.(offer) : undefined) ?? {};
    // The ring is set up before the reply accepts it: the kernel holds requests from then on until
    // every queue has a registered entry.
    const ringWanted = offer.major === FUSE_KERNEL_VERSION && this.openRing(offer.flags) ? InitFlag.OVER_IO_URING : 0n;
    const decision = negotiateInit(offer, {
      wanted: layerWants(this.fs) | (wants.flags ?? 0n) | ringWanted,
      maxMinor: wants.maxMinor ?? FUSE_KERNEL_MINOR_VERSION,
      maxWrite: this.maxWrite,
      maxBackground: this.maxBackground,
      timeGranNs: TIME_GRAN_NS,
    });
    const ringGranted = decision.kind === 'accept' && (decision.result.flags & InitFlag.OVER_IO_URING) !== 0n;
    if (!ringGranted) this.dropRing();
    if (decision.kind === 'refuse') throw decision.error;
    if (decision.kind === 'accept') {
      const result = decision.result;
      this.trace?.(`INIT reply ${result.major}.${result.minor} flags=${describeInitFlags(result.flags)}`);
      this.negotiatedInit = result;
      queueMicrotask(() => this.resolveInit(result));
      // The kernel takes REGISTER only once it has processed this reply, written after this returns.
      if (ringGranted) setImmediate(() => this.ring?.register());
    }
    return [decision.reply];
  }

  /**
   * Sets up the io_uring transport when asked for and the kernel offers it (`offered`: the INIT
   * flags), or says in one notice line why requests stay on /dev/fuse.
   */
  private openRing(offered: bigint): boolean {
    if (this.transport === 'dev' || this.ring !== undefined) return this.ring !== undefined;
    // The kernel offers the flag only while the fuse module's enable_uring parameter is on.
    if ((offered & InitFlag.OVER_IO_URING) === 0n || (offered & InitFlag.INIT_EXT) === 0n) {
      if (this.transport === 'uring') {
        this.notice('fuse: io_uring transport not offered by the kernel (CONFIG_FUSE_IO_URING off, or /sys/module/fuse/parameters/enable_uring is N): serving over /dev/fuse');
      }
      return false;
    }
    try {
      this.ring = new RingTransport(this.fd, { payloadSize: this.maxWrite, depth: this.ringDepth }, {
        onRequest: (req) => this.onRequest(req),
        onRefused: (reason) => {
          this.notice(`fuse: the kernel refused the io_uring transport (${reason}): serving over /dev/fuse`);
          this.dropRing();
        },
      });
    } catch (err) {
      this.notice(`fuse: io_uring transport unavailable (${(err as Error).message}): serving over /dev/fuse`);
      return false;
    }
    this.trace?.(`INIT: io_uring transport, ${this.maxWrite} byte payloads`);
    return true;
  }

  private dropRing(): void {
    this.ring?.close();
    this.ring = undefined;
  }

  // ---------------------------------------------------------------------------------------------
  // Replies

  /** `n`: an errno the kernel accepts in a reply, as errnoOf and errno() give (errors.ts). */
  private replyError(unique: bigint, n: number): void {
    this.write(unique, [encodeOutHeader(StructSize.OUT_HEADER, -n, unique)]);
  }

  private replyPayload(unique: bigint, payload: ReplyPayload): void {
    let parts = payload;
    if (parts.length > MAX_IOVECS) parts = [...parts.slice(0, MAX_IOVECS - 1), Buffer.concat(parts.slice(MAX_IOVECS - 1))];
    const len = StructSize.OUT_HEADER + payloadLength(parts);
    this.write(unique, [encodeOutHeader(len, 0, unique), ...parts]);
  }

  /** One reply = one writev(2). The kernel rejects split replies. */
  private write(unique: bigint, iov: Buffer[]): void {
    if (this.ended || this.native === undefined) return;
    const viaRing = this.ring?.reply(unique, iov);
    if (viaRing !== undefined) {
      if (viaRing < 0) this.writeFailed(unique, -viaRing);
      return;
    }
    const n = this.native.writevOrErrno(this.fd, iov);
    if (n < 0) this.writeFailed(unique, -n);
    this.requestDone();
  }

  private writeFailed(unique: bigint, err: number): void {
    const code = getSystemErrorName(-err);
    // ENOENT: the request is gone (interrupted, aborted, or raced with unmount). Not an error.
    if (code === 'ENOENT') return;
    if (code === 'ENODEV' || code === 'ECONNABORTED' || code === 'EBADF' || code === 'ENOTCONN') return;
    this.onError(new FuseError(err, `reply: ${code}`), `reply unique=${unique}`);
  }

  private requestDone(): void {
    this.reader?.requestDone();
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

  /** The device read failed for good (the reader has already stopped): ENODEV after unmount. */
  private readerEnded(code: string, err: Error): void {
    if (this.ending) return;
    if (code === 'ENODEV') this.endReason = { reason: 'unmounted' };
    else if (code === 'ECONNABORTED') this.endReason = { reason: 'aborted' };
    else {
      this.endReason = { reason: 'error', error: err };
      this.onError(err, 'device read');
    }
    this.ending = true;
    void this.finish();
  }

  private async finish(): Promise<void> {
    await this.notifyChain;
    this.ended = true;
    // The watchers must be gone before the fd is closed (libuv polls the fd number).
    this.reader?.close();
    this.ring?.close();
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
