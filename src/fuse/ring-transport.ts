/**
 * FUSE over io_uring (Linux >= 6.14 with fuse.enable_uring=Y): requests arrive in ring entries
 * registered with the kernel, and each reply goes back with the command that fetches the entry's
 * next request (FUSE_IO_URING_CMD_COMMIT_AND_FETCH), so a request costs no read(2) and no
 * writev(2), and a batch of replies one io_uring_enter.
 *
 * One io_uring, owned by the main thread, carries every queue (native/fuse_uring.c): the kernel
 * has one queue per possible CPU and delivers a request on the queue of the CPU its caller runs
 * on; it needs entries registered on every queue, not a thread per queue. Completions wake the
 * event loop through an eventfd, as /dev/fuse readiness does for the DeviceReader, and each
 * request is handed to the session laid out as a read of /dev/fuse would give it
 * (abi/uring.ts ringRequest), so both transports feed the same dispatch and take the same reply
 * pieces. INIT, FORGET, INTERRUPT and notifications stay on /dev/fuse (the kernel sends and takes
 * them only there), so the DeviceReader keeps running beside the ring.
 */
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { getSystemErrorName } from 'node:util';
import { loadNative } from '../addon.js';
import { encodeOutHeader } from './abi/header.js';
import { StructSize } from './abi/sizes.js';
import { ringRequest, ringRequestUnique, URING_HEADER_SIZE, URING_HEADROOM, writeRingReply } from './abi/uring.js';
import { errno, FuseError } from './errors.js';

/** Entries per queue: libfuse's default. Memory: queues x depth x the payload size, touched only as used. */
const DEFAULT_DEPTH = 8;
const ENOTCONN = errno('ENOTCONN');

/** The addon's ring (native/fuse_uring.c). */
interface NativeRing {
  register(): number;
  commit(entry: number): number;
  /** Sends the commits made so far and waits briefly for more completions: how many it put in `events`. */
  next(): number;
  start(): void;
  stop(): void;
  close(): void;
  readonly memory: ArrayBuffer;
  /** (entry, res) pairs of the completions onEvents reports. */
  readonly events: Int32Array;
  readonly slotOffset: number;
  readonly slotSize: number;
  readonly entries: number;
  readonly headroom: number;
  readonly headerSize: number;
}

interface RingNative {
  uringCreate(fd: number, queues: number, depth: number, payloadSize: number, onEvents: (count: number) => void): NativeRing;
}

export interface RingTransportOptions {
  /** Bytes of each entry's payload: at least the negotiated max_write and max_pages pages. */
  readonly payloadSize: number;
  /** Entries per queue; default 8. */
  readonly depth?: number;
}

export interface RingTransportHooks {
  /** One request, a view of its ring entry, valid until its reply is sent. */
  onRequest(req: Buffer): void;
  /** The kernel refused the ring (registration failed): it serves this connection over /dev/fuse. */
  onRefused(reason: string): void;
}

/** The CPUs the kernel may ever run a caller on: it has one FUSE queue for each. */
function possibleCpus(): number {
  try {
    const text = readFileSync('/sys/devices/system/cpu/possible', 'utf8').trim();
    let max = -1;
    for (const range of text.split(',')) max = Math.max(max, Number(range.split('-').at(-1)));
    if (Number.isInteger(max) && max >= 0) return max + 1;
  } catch {
    // No sysfs (a container without it): the CPUs Node sees.
  }
  return cpus().length;
}

export class RingTransport {
  private readonly headers: Buffer[] = [];
  private readonly slots: Buffer[] = [];
  /** Requests taken from the ring and not yet answered: unique -> entry. */
  private readonly serving = new Map<bigint, number>();
  private registered = false;
  private refused = false;
  private closed = false;

  private readonly ring: NativeRing;

  /**
   * Sets up the ring and its buffers for the /dev/fuse fd `fd` (nothing is registered yet).
   * Throws the setup's error (io_uring disabled: EPERM; no io_uring: ENOSYS).
   */
  constructor(fd: number, options: RingTransportOptions, private readonly hooks: RingTransportHooks) {
    const native = loadNative() as unknown as RingNative;
    const ring = native.uringCreate(fd, possibleCpus(), options.depth ?? DEFAULT_DEPTH, options.payloadSize,
      (count) => this.onEvents(count));
    if (ring.headerSize !== URING_HEADER_SIZE || ring.headroom !== URING_HEADROOM) {
      ring.close();
      throw new FuseError('EPROTO', 'the addon and abi/uring.ts disagree on the ring entry layout');
    }
    this.ring = ring;
    for (let i = 0; i < ring.entries; i++) {
      this.headers.push(Buffer.from(ring.memory, i * URING_HEADER_SIZE, URING_HEADER_SIZE));
      this.slots.push(Buffer.from(ring.memory, ring.slotOffset + i * ring.slotSize, ring.slotSize));
    }
  }

  /** Requests taken and not yet answered. */
  get pending(): number {
    return this.serving.size;
  }

  /**
   * Registers every entry: call once the INIT reply accepting FUSE_OVER_IO_URING was written. The
   * kernel switches request delivery to the ring when each queue has an entry.
   */
  register(): void {
    if (this.closed || this.registered) return;
    this.registered = true;
    this.ring.start();
    const rc = this.ring.register();
    if (rc < 0) this.refuse(`REGISTER: ${getSystemErrorName(rc)}`);
  }

  /**
   * Sends the reply `iov` (fuse_out_header first, as for writev on /dev/fuse) if `unique` came
   * from the ring: 0 or -errno. undefined: not a ring request.
   */
  reply(unique: bigint, iov: readonly Buffer[]): number | undefined {
    const entry = this.serving.get(unique);
    if (entry === undefined) return undefined;
    this.serving.delete(unique);
    if (this.closed) return -ENOTCONN;
    const header = this.headers[entry]!;
    const slot = this.slots[entry]!;
    if (writeRingReply(header, slot, iov) < 0) {
      writeRingReply(header, slot, [encodeOutHeader(StructSize.OUT_HEADER, -errno('EIO'), unique)]);
      this.ring.commit(entry);
      return -errno('EOVERFLOW');
    }
    return this.ring.commit(entry);
  }

  /** Answers EIO to a ring request the session could not decode; false if `req` is not one. */
  refuseRequest(req: Buffer): boolean {
    if (req.length < StructSize.IN_HEADER) return false;
    const unique = req.readBigUInt64LE(8);
    return this.reply(unique, [encodeOutHeader(StructSize.OUT_HEADER, -errno('EIO'), unique)]) !== undefined;
  }

  /** Stops and closes the ring (the kernel cancels what is still registered). Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.serving.clear();
    this.ring.close();
  }

  /**
   * Serves a batch of completions, then, while every request taken has been answered, the next
   * batch ring.next() brings (a caller's next request typically comes a few microseconds after
   * its reply), so a busy caller is served in one callback, as the DeviceReader reads in a loop.
   * A request answered later (a promise) needs the event loop: the callback returns, and the
   * loop's own wake-up takes what comes next.
   */
  private onEvents(count: number): void {
    const ev = this.ring.events;
    for (let n = count; n > 0; n = this.closed || this.serving.size > 0 ? 0 : this.ring.next()) {
      for (let k = 0; k < n; k++) {
        const entry = ev[2 * k]!;
        const res = ev[2 * k + 1]!;
        if (res === 0) this.take(entry);
        else if (res === -ENOTCONN) continue; // the connection is going away: /dev/fuse ends the session
        else this.refuse(`entry ${entry}: ${getSystemErrorName(res)}`);
      }
    }
  }

  private take(entry: number): void {
    const header = this.headers[entry]!;
    let req: Buffer;
    try {
      req = ringRequest(header, this.slots[entry]!);
    } catch {
      const unique = ringRequestUnique(header);
      this.serving.set(unique, entry);
      this.reply(unique, [encodeOutHeader(StructSize.OUT_HEADER, -errno('EIO'), unique)]);
      return;
    }
    this.serving.set(req.readBigUInt64LE(8), entry);
    this.hooks.onRequest(req);
  }

  /** Reported once: the kernel then serves the connection over /dev/fuse. */
  private refuse(reason: string): void {
    if (this.refused) return;
    this.refused = true;
    this.hooks.onRefused(reason);
  }
}
