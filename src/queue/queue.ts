import type { InterleaveParams } from '../alloc/interleave.js';
import type { FileMapping } from '../map/file-mapping.js';
import { FormatError, FsError } from '../errors.js';
import { checkBuckets, decodeBucket, payloadSize, sealBuckets } from '../format/pcq-bucket.js';
import {
  consumerPath, decodePcqConsumer, encodePcqConsumer, PCQ_CONSUMER_FILE_SIZE, PCQ_CONSUMER_OFF, type PcqConsumer,
} from '../format/pcq-consumer.js';
import {
  decodePcqHeader, encodePcqHeader, PCQ_BUCKET_ARRAY_OFFSET, type PcqHeader, PCQ_HEADER_OFF, PCQ_HEADER_SIZE, producerFileSize, queueGeometryProblem,
} from '../format/pcq-header.js';
import { type BackoffOptions, waitFor } from './backoff.js';
import { QueueAccessError, QueueCorruptError } from './errors.js';
import { lockRole, mayWrite, type QueueKey, queuePerm } from './grants.js';
import type { Readable, Writable } from 'node:stream';
import { consumerReadStream, producerWriteStream } from './streams.js';

/**
 * A producer/consumer queue over two famfs files, byte for byte upstream's pcq (src/pcq_lib.c):
 * the producer file (struct pcq, then a ring of buckets at 2 MiB) and `<queue>.consumer`. The
 * producer writes only its file and the consumer only its own, so each host writes memory no other
 * host writes, and everything one side writes is flushed before the other side is told about it:
 *
 * - put: full when (producer_index + 1) % nbuckets == consumer_index (the consumer index is
 *   invalidated and read again while it looks full); the bucket gets its sequence number and CRC,
 *   is flushed, then producer_index moves on and is flushed.
 * - get: empty when consumer_index == producer_index (invalidated before each look); a bucket
 *   whose CRC or sequence number is wrong is invalidated and read again up to twice
 *   (CONSUMER_NRETRIES) before the queue is declared corrupt; then next_seq and consumer_index
 *   move on and the index is flushed.
 *
 * Batches (sendBatch, receiveBatch, the streams) publish the index once for many buckets and flush
 * the buckets of a batch in one pass: the same protocol, with the other side seeing several
 * messages appear (or free up) at once.
 */

/** What the queue needs from an open file system; the API's Famfs provides it. */
export interface QueueFiles {
  readonly fsUuid: string;
  readonly systemUuid: string;
  readonly role: 'master' | 'client';
  /** The namespace's spelling of an existing file's path (ENOENT if none). */
  canonicalPath(path: string): string;
  exists(path: string): boolean;
  /** Creates and allocates a file (master only). */
  createFile(path: string, size: number, opts: FileCreateOptions): void;
  /** Maps a file; `writable` on a client only for a file this host was granted (grants.ts). */
  map(path: string, writable: boolean): FileMapping;
}

/** Owner and placement of the queue's two files. */
interface FileCreateOptions {
  uid?: number;
  gid?: number;
  /** Stripe the files across the device's buckets (not in upstream pcq, which makes them contiguous). */
  interleave?: InterleaveParams;
}

export interface QueueCreateOptions extends FileCreateOptions {
  /** Bytes per bucket: a power of two of at least 32; each message is bucketSize - 16 bytes. */
  bucketSize: number;
  nbuckets: number;
}

export interface QueueOpenOptions {
  /**
   * Issue no cache flushes or invalidates (upstream's --dontflush): for measuring what they cost on
   * one host only; another host would not see the messages, or would see stale ones.
   */
  dontFlush?: boolean;
}

export interface QueueInfo {
  path: string;
  consumerPath: string;
  nbuckets: number;
  bucketSize: number;
  payloadSize: number;
  /** Messages in the queue (upstream pcq_nmessages). */
  messages: number;
  producerIndex: number;
  consumerIndex: number;
  producerNextSeq: number;
  consumerNextSeq: number;
}

/** Upstream pcq_create: both files must be new; the consumer file is made and initialised first. */
export function createQueue(files: QueueFiles, path: string, opts: QueueCreateOptions): QueueInfo {
  const problem = queueGeometryProblem(opts.nbuckets, opts.bucketSize);
  if (problem) throw new FsError('EINVAL', `'${path}': ${problem}`);
  const cpath = consumerPath(path);
  if (files.exists(path) || files.exists(cpath)) {
    throw new FsError('EEXIST', `'${path}': can't create pcq - something with that name already exists`);
  }
  const fileOpts: FileCreateOptions = {
    ...(opts.uid !== undefined ? { uid: opts.uid } : {}),
    ...(opts.gid !== undefined ? { gid: opts.gid } : {}),
    ...(opts.interleave !== undefined ? { interleave: opts.interleave } : {}),
  };
  files.createFile(cpath, PCQ_CONSUMER_FILE_SIZE, fileOpts);
  const c = files.map(cpath, true);
  try {
    encodePcqConsumer(c.buffer, { consumerIndex: 0, nextSeq: 0, pcqcSize: c.size });
    c.flush(0, PCQ_CONSUMER_OFF.pcqcSize + 8);
  } finally {
    c.unmap();
  }
  const size = producerFileSize(opts.nbuckets, opts.bucketSize);
  files.createFile(path, size, fileOpts);
  const p = files.map(path, true);
  try {
    encodePcqHeader(p.buffer, {
      nbuckets: opts.nbuckets, bucketSize: opts.bucketSize, bucketArrayOffset: PCQ_BUCKET_ARRAY_OFFSET,
      producerIndex: 0, nextSeq: 0, pcqSize: p.size,
    });
    p.flush(0, PCQ_HEADER_SIZE);
  } finally {
    p.unmap();
  }
  return queueInfo(files, path);
}

/** Upstream get_queue_info: both files read-only, checked (pcq_valid), and the fill. */
export function queueInfo(files: QueueFiles, path: string): QueueInfo {
  const { p, c } = mapPair(files, path, false, false);
  try {
    p.invalidate(0, PCQ_HEADER_SIZE);
    c.invalidate(0, 16);
    c.invalidate(PCQ_CONSUMER_OFF.nextSeq, 8);
    const h = decodePcqHeader(p.buffer, p.size, `'${path}'`);
    const k = decodePcqConsumer(c.buffer, h.nbuckets, `'${consumerPath(path)}'`);
    return {
      path, consumerPath: consumerPath(path), nbuckets: h.nbuckets, bucketSize: h.bucketSize, payloadSize: payloadSize(h.bucketSize),
      messages: (h.producerIndex - k.consumerIndex + h.nbuckets) % h.nbuckets,
      producerIndex: h.producerIndex, consumerIndex: k.consumerIndex, producerNextSeq: h.nextSeq, consumerNextSeq: k.nextSeq,
    };
  } finally {
    p.unmap();
    c.unmap();
  }
}

function keyOf(files: QueueFiles, path: string): QueueKey {
  return { fsUuid: files.fsUuid, systemUuid: files.systemUuid, path: files.canonicalPath(path) };
}

/** Upstream pcq_open's first check, in its words. */
function checkExists(files: QueueFiles, path: string): void {
  const cpath = consumerPath(path);
  if (!files.exists(path) || !files.exists(cpath)) throw new FsError('ENOENT', `pcq files not found for queue '${path}' (it needs ${path} and ${cpath})`);
}

function mapPair(files: QueueFiles, path: string, producerWritable: boolean, consumerWritable: boolean): { p: FileMapping; c: FileMapping } {
  checkExists(files, path);
  const cpath = consumerPath(path);
  const p = files.map(path, producerWritable);
  let c: FileMapping;
  try {
    c = files.map(cpath, consumerWritable);
  } catch (err) {
    p.unmap();
    throw err;
  }
  if (!p.contiguous || !c.contiguous) {
    p.unmap();
    c.unmap();
    throw new FsError('EFBIG', `'${path}': the queue does not fit one contiguous mapping`);
  }
  return { p, c };
}

/** One side of a queue just opened: both files mapped, the header and consumer record read, the side's lock held. */
interface OpenedSide {
  p: FileMapping;
  c: FileMapping;
  h: PcqHeader;
  k: PcqConsumer;
  unlock: () => void;
}

/** Opens one side: checks this host's grant, takes the side's lock, maps and validates both files. */
function openSide(files: QueueFiles, path: string, side: 'producer' | 'consumer'): OpenedSide {
  checkExists(files, path);
  const key = keyOf(files, path);
  const perm = queuePerm(key, files.role);
  if (!mayWrite(perm, side)) {
    throw new QueueAccessError('EACCES', `'${path}': this host (${files.systemUuid}, ${files.role}) may not write the ${side} file `
      + `(pcq --setperm is ${perm}); run 'pcq --setperm ${side === 'producer' ? 'p' : 'c'}' (or b) on this host first`);
  }
  const unlock = lockRole(key, side);
  try {
    const { p, c } = mapPair(files, path, side === 'producer', side === 'consumer');
    try {
      p.invalidate(0, PCQ_HEADER_SIZE);
      c.invalidate(0, 16);
      c.invalidate(PCQ_CONSUMER_OFF.nextSeq, 8);
      const h = decodePcqHeader(p.buffer, p.size, `'${path}'`);
      const k = decodePcqConsumer(c.buffer, h.nbuckets, `'${consumerPath(path)}'`);
      return { p, c, h, k, unlock };
    } catch (err) {
      p.unmap();
      c.unmap();
      throw err;
    }
  } catch (err) {
    unlock();
    throw err;
  }
}

const TWO_32 = 2 ** 32;

/** A u64 field as 32-bit words of a mapping (index = byte offset / 4): stores are single instructions. */
function words(m: FileMapping, length: number): Uint32Array {
  const b = m.buffer;
  return new Uint32Array(b.buffer, b.byteOffset, length >> 2);
}

function readIndex(w: Uint32Array, byteOff: number, nbuckets: number, what: string): number {
  const lo = w[byteOff >> 2]!;
  if (w[(byteOff >> 2) + 1] !== 0 || lo >= nbuckets) throw new FormatError(`${what} is not below nbuckets ${nbuckets}`);
  return lo;
}

function storeU64(w: Uint32Array, byteOff: number, value: number): void {
  w[byteOff >> 2] = value % TWO_32;
  w[(byteOff >> 2) + 1] = Math.floor(value / TWO_32);
}

/**
 * What both sides of a queue hold: the two files mapped, the side's lock, the queue's geometry
 * read from the producer header, and the cache-maintenance switch. A side writes only its own
 * file (the producer `p`, the consumer `c`) and reads the other's index through `pw`/`cw`.
 */
abstract class QueueSide {
  readonly path: string;
  readonly nbuckets: number;
  readonly bucketSize: number;
  /** Bytes in every message: bucketSize - 16. Shorter messages are padded with zeros. */
  readonly payloadSize: number;
  protected readonly p: FileMapping;
  protected readonly c: FileMapping;
  /** The producer file's bytes: the header, then the buckets. */
  protected readonly pb: Buffer;
  /** The producer header and the consumer file as 32-bit words (storeU64, readIndex). */
  protected readonly pw: Uint32Array;
  protected readonly cw: Uint32Array;
  /** Cache flushes and invalidates on (off only for --dontflush). */
  protected readonly maintain: boolean;
  readonly #side: 'producer' | 'consumer';
  readonly #unlock: () => void;
  #closed = false;

  /** Takes over what openSide() opened for `side`; the subclass reads its indexes from the same header and record. */
  protected constructor(opened: OpenedSide, path: string, side: 'producer' | 'consumer', opts: QueueOpenOptions) {
    const { p, c, h, unlock } = opened;
    this.#side = side;
    this.maintain = opts.dontFlush !== true;
    this.path = path;
    this.p = p;
    this.c = c;
    this.#unlock = unlock;
    this.pb = p.buffer;
    this.pw = words(p, PCQ_HEADER_SIZE);
    this.cw = words(c, c.size);
    this.nbuckets = h.nbuckets;
    this.bucketSize = h.bucketSize;
    this.payloadSize = payloadSize(h.bucketSize);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Runs `beforeUnmap` (the side's last stores and flushes), then unmaps and unlocks. Idempotent. */
  protected closeWith(beforeUnmap: () => void): void {
    if (this.#closed) return;
    try {
      beforeUnmap();
    } finally {
      this.#closed = true;
      this.p.unmap();
      this.c.unmap();
      this.#unlock();
    }
  }

  protected bucketOffset(index: number): number {
    return PCQ_BUCKET_ARRAY_OFFSET + index * this.bucketSize;
  }

  protected live(): void {
    if (this.#closed) throw new FsError('EBADF', `'${this.path}': the ${this.#side} is closed`);
  }
}

/** The producing side of a queue (upstream run_producer / pcq_producer_put). One per queue. */
export class Producer extends QueueSide {
  /** Messages sent by this handle. */
  sent = 0;
  /** Times a send found the queue full (upstream nfull). */
  fullCount = 0;
  #pi = 0;
  #ci = 0;
  #seq = 0;

  /** @internal Use Famfs#openProducer. */
  constructor(files: QueueFiles, path: string, opts: QueueOpenOptions = {}) {
    const opened = openSide(files, path, 'producer');
    super(opened, path, 'producer', opts);
    this.#pi = opened.h.producerIndex;
    this.#ci = opened.k.consumerIndex;
    this.#seq = opened.h.nextSeq;
    // next_seq is flushed only on close; after a producer on a non-coherent host died without
    // closing, the last bucket put (flushed before its index was published) says where it was.
    if (this.#pi !== this.#ci || this.#seq > 0) {
      const last = decodeBucket(this.pb, this.bucketOffset((this.#pi - 1 + this.nbuckets) % this.nbuckets), this.bucketSize);
      if (last.crcOk && last.seq >= this.#seq) this.#seq = last.seq + 1;
    }
  }

  /** Buckets free for messages now (the consumer index is read afresh). */
  get free(): number {
    this.live();
    this.#readConsumerIndex();
    return this.#freeCached();
  }

  /** The sequence number the next message gets. */
  get nextSeq(): number {
    return this.#seq;
  }

  /** Puts one message and publishes it; false (nothing written) when the queue is full. */
  send(msg: Uint8Array): boolean {
    this.live();
    this.#checkSize(msg);
    if (!this.#room(1)) return false;
    const off = this.bucketOffset(this.#pi);
    this.#fill(msg, off);
    sealBuckets(this.pb, off, this.bucketSize, 1, this.#seq);
    if (this.maintain) this.p.flush(off, this.bucketSize);
    this.#publish(1);
    return true;
  }

  /** Puts as many of `msgs` as there is room for, in order, and publishes them at once; returns how many. */
  sendBatch(msgs: readonly Uint8Array[]): number {
    this.live();
    for (const m of msgs) this.#checkSize(m);
    if (msgs.length === 0 || !this.#room(1)) return 0;
    const n = Math.min(msgs.length, this.#freeCached());
    let done = 0;
    while (done < n) {
      const run = Math.min(n - done, this.nbuckets - ((this.#pi + done) % this.nbuckets));
      const first = this.bucketOffset((this.#pi + done) % this.nbuckets);
      for (let i = 0; i < run; i++) this.#fill(msgs[done + i]!, first + i * this.bucketSize);
      sealBuckets(this.pb, first, this.bucketSize, run, this.#seq + done);
      if (this.maintain) this.p.flush(first, run * this.bucketSize);
      done += run;
    }
    this.#publish(n);
    return n;
  }

  /** send(), waiting (with back-off) while the queue is full. */
  async sendAsync(msg: Uint8Array, opts: BackoffOptions = {}): Promise<void> {
    if (this.send(msg)) return;
    await waitFor(() => this.send(msg), opts);
  }

  /** sendBatch() of all of `msgs`, waiting for room as needed. */
  async sendAllAsync(msgs: readonly Uint8Array[], opts: BackoffOptions = {}): Promise<void> {
    let done = this.sendBatch(msgs);
    while (done < msgs.length) {
      const rest = msgs.slice(done);
      await waitFor(() => this.#room(1), opts);
      done += this.sendBatch(rest);
    }
  }

  /** A Writable whose chunks are messages, written in batches; see producerWriteStream. */
  createWriteStream(opts: BackoffOptions & { highWaterMark?: number } = {}): Writable {
    this.live();
    return producerWriteStream(this, opts);
  }

  /** Writes next_seq back for other hosts and unmaps. Idempotent. */
  close(): void {
    this.closeWith(() => {
      if (this.maintain) this.p.flush(PCQ_HEADER_OFF.nextSeq, 8);
    });
  }

  #freeCached(): number {
    return (this.#ci - this.#pi - 1 + this.nbuckets) % this.nbuckets;
  }

  #readConsumerIndex(): void {
    if (this.maintain) this.c.invalidate(PCQ_CONSUMER_OFF.consumerIndex, 8);
    this.#ci = readIndex(this.cw, PCQ_CONSUMER_OFF.consumerIndex, this.nbuckets, `'${this.path}': consumer_index`);
  }

  /** Room for `n` by the index last read, else read it again (upstream invalidates it while full). */
  #room(n: number): boolean {
    if (this.#freeCached() >= n) return true;
    this.#readConsumerIndex();
    if (this.#freeCached() >= n) return true;
    this.fullCount++;
    return false;
  }

  #fill(msg: Uint8Array, off: number): void {
    this.pb.set(msg, off);
    if (msg.length < this.payloadSize) this.pb.fill(0, off + msg.length, off + this.payloadSize);
  }

  #publish(n: number): void {
    this.#seq += n;
    this.sent += n;
    storeU64(this.pw, PCQ_HEADER_OFF.nextSeq, this.#seq);
    this.#pi = (this.#pi + n) % this.nbuckets;
    storeU64(this.pw, PCQ_HEADER_OFF.producerIndex, this.#pi);
    if (this.maintain) this.p.flush(PCQ_HEADER_OFF.producerIndex, 8);
  }

  #checkSize(msg: Uint8Array): void {
    if (msg.length > this.payloadSize) {
      throw new FsError('EINVAL', `'${this.path}': a message of ${msg.length} bytes does not fit a bucket's payload (${this.payloadSize} bytes)`);
    }
  }
}

/** Upstream CONSUMER_NRETRIES: reads of a bad bucket after invalidating it, before giving up. */
const CONSUMER_RETRIES = 2;

/** The consuming side of a queue (upstream run_consumer / pcq_consumer_get). One per queue. */
export class Consumer extends QueueSide {
  /** Messages consumed (handed back) through this handle. */
  received = 0;
  /** Times a receive found the queue empty (upstream nempty). */
  emptyCount = 0;
  /** Reads that found a bad bucket and invalidated it to read again (upstream retries). */
  retries = 0;
  /** Next bucket to consume: the first of the messages held by the caller, if any. */
  #ci = 0;
  /** Sequence number expected in bucket #ci. */
  #seq = 0;
  /** Messages handed out and not yet given back (they are consumed on the next receive). */
  #held = 0;
  /** Buckets after the held ones already checked (CRC and sequence number). */
  #verified = 0;

  /** @internal Use Famfs#openConsumer. */
  constructor(files: QueueFiles, path: string, opts: QueueOpenOptions = {}) {
    const opened = openSide(files, path, 'consumer');
    super(opened, path, 'consumer', opts);
    const producerIndex = opened.h.producerIndex;
    this.#ci = opened.k.consumerIndex;
    this.#seq = opened.k.nextSeq;
    // A consumer killed between its two stores (next_seq, then consumer_index) left next_seq one
    // ahead of a bucket it had not given back; that bucket is still in the queue and says so.
    if (producerIndex !== this.#ci && this.#seq > 0) {
      const b = decodeBucket(this.pb, this.bucketOffset(this.#ci), this.bucketSize);
      if (b.crcOk && b.seq === this.#seq - 1) {
        this.#seq--;
        storeU64(this.cw, PCQ_CONSUMER_OFF.nextSeq, this.#seq);
      }
    }
  }

  /** Messages in the queue not yet consumed, including any handed out and not yet given back. */
  get lag(): number {
    this.live();
    return (this.#readProducerIndex() - this.#ci + this.nbuckets) % this.nbuckets;
  }

  /** The sequence number of the next message to be consumed (the first held one, if any). */
  get nextSeq(): number {
    return this.#seq;
  }

  /**
   * The next message as a view of its bucket (payloadSize bytes), or null when the queue is empty.
   * The view is valid until the next receive (or close): that call consumes the message, handing
   * its bucket back to the producer. A consumer that dies holding a message gets it again.
   */
  receive(): Buffer | null {
    const m = this.#poll();
    if (m === null) this.emptyCount++;
    return m;
  }

  /** Up to `max` messages as views, consumed together on the next receive; empty when none. */
  receiveBatch(max: number): Buffer[] {
    this.live();
    this.#release();
    if (this.#verified === 0 && !this.#fetch()) {
      this.emptyCount++;
      return [];
    }
    const n = Math.min(max, this.#verified);
    const out = new Array<Buffer>(n);
    for (let i = 0; i < n; i++) {
      const off = this.bucketOffset(this.#ci + i);
      out[i] = this.pb.subarray(off, off + this.payloadSize);
    }
    this.#held = n;
    this.#verified -= n;
    return out;
  }

  /** receive(), waiting with back-off while the queue is empty. */
  async receiveAsync(opts: BackoffOptions = {}): Promise<Buffer> {
    let m = this.#poll();
    if (m !== null) return m;
    this.emptyCount++;
    await waitFor(() => (m = this.#poll()) !== null, opts);
    return m!;
  }

  /** Messages as they come, each consumed when the loop asks for the next one or ends. */
  async *messages(opts: BackoffOptions = {}): AsyncGenerator<Buffer, void, undefined> {
    try {
      while (!this.closed) yield await this.receiveAsync(opts);
    } finally {
      if (!this.closed) this.#release();
    }
  }

  [Symbol.asyncIterator](): AsyncGenerator<Buffer, void, undefined> {
    return this.messages();
  }

  /** A Readable of message copies in object mode; see consumerReadStream. */
  createReadStream(opts: BackoffOptions & { highWaterMark?: number } = {}): Readable {
    this.live();
    return consumerReadStream(this, opts);
  }

  /** Gives back any held messages, writes next_seq back for other hosts and unmaps. Idempotent. */
  close(): void {
    this.closeWith(() => {
      this.#release();
      if (this.maintain) this.c.flush(PCQ_CONSUMER_OFF.nextSeq, 8);
    });
  }

  #poll(): Buffer | null {
    this.live();
    this.#release();
    if (this.#verified === 0 && !this.#fetch()) return null;
    const off = this.bucketOffset(this.#ci);
    this.#held = 1;
    this.#verified--;
    return this.pb.subarray(off, off + this.payloadSize);
  }

  #readProducerIndex(): number {
    if (this.maintain) this.p.invalidate(PCQ_HEADER_OFF.producerIndex, 8);
    return readIndex(this.pw, PCQ_HEADER_OFF.producerIndex, this.nbuckets, `'${this.path}': producer_index`);
  }

  /** Consumes the held messages: next_seq first, then consumer_index (see the constructor), flushed. */
  #release(): void {
    const n = this.#held;
    if (n === 0) return;
    this.#held = 0;
    this.#seq += n;
    this.received += n;
    this.#ci = (this.#ci + n) % this.nbuckets;
    storeU64(this.cw, PCQ_CONSUMER_OFF.nextSeq, this.#seq);
    storeU64(this.cw, PCQ_CONSUMER_OFF.consumerIndex, this.#ci);
    if (this.maintain) this.c.flush(PCQ_CONSUMER_OFF.consumerIndex, 8);
  }

  /** Looks for published buckets from #ci and checks them up to the ring's end; false when none. */
  #fetch(): boolean {
    const avail = (this.#readProducerIndex() - this.#ci + this.nbuckets) % this.nbuckets;
    if (avail === 0) return false;
    const run = Math.min(avail, this.nbuckets - this.#ci);
    const off = this.bucketOffset(this.#ci);
    let good = checkBuckets(this.pb, off, this.bucketSize, run, this.#seq);
    // The first bucket is bad: it may be a stale copy in this CPU's cache (the producer is on
    // another host). Invalidate and read again, as upstream does, before giving up; the buckets
    // published with it are likely stale too, so the whole run is invalidated at once.
    for (let attempt = 0; good === 0 && attempt < CONSUMER_RETRIES; attempt++) {
      if (attempt === 0) this.retries++;
      if (this.maintain) this.p.invalidate(off, run * this.bucketSize);
      good = checkBuckets(this.pb, off, this.bucketSize, run, this.#seq);
    }
    if (good === 0) {
      const b = decodeBucket(this.pb, off, this.bucketSize);
      const why = b.crcOk
        ? `sequence number ${b.seq} where ${this.#seq} was expected`
        : `CRC mismatch (stored 0x${b.storedCrc.toString(16)}, computed 0x${b.computedCrc.toString(16)})`;
      throw new QueueCorruptError(`'${this.path}': bad message seq=${this.#seq} in bucket ${this.#ci} after ${CONSUMER_RETRIES} retries: ${why}`,
        this.#seq, this.#ci);
    }
    this.#verified = good;
    return true;
  }
}
