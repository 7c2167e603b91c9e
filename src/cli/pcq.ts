#!/usr/bin/env node
import { writeFileSync } from 'node:fs';
import { Famfs } from '../api/famfs.js';
import { randomizeBuffer, verifyBuffer } from '../data/prng.js';
import { FamfsError, UsageError } from '../errors.js';
import { waitFor } from '../queue/backoff.js';
import { QueueCorruptError } from '../queue/errors.js';
import { QUEUE_PERMS, type QueuePerm } from '../queue/grants.js';
import type { Consumer, Producer } from '../queue/queue.js';
import { parseSize, parseUint } from './args.js';
import { Command, CommanderError, InvalidArgumentError } from './commander.js';
import { runCommand } from './run.js';
import { resolveTarget } from './target.js';
import { exitQuietlyOnBrokenPipe, onTerminalAbort } from './terminal.js';
import { packageVersion } from './version.js';

/**
 * pcq: upstream's producer/consumer queue tool (src/pcq.c), same options and exit statuses:
 * 0 on success, 1 for usage errors and a queue that cannot be opened or made, the number of
 * errors (at most 127) when messages miscompare, and 255 (upstream's exit(-1)) when the consumer
 * finds a bad message. A path inside a famfs mount names the queue, or a famfs path with --device.
 */
const PROG = 'pcq';
const EXIT_USAGE = 1;
const EXIT_FAILED = 1;
/** Upstream's consumer exit(-1) on a bad message. */
const EXIT_BAD_MESSAGE = 255;
const MAX_EXIT = 127;
/** Messages put or taken per batch by the tool (one index publish each). */
const BATCH = 256;
const PROGRESS_MS = 250;

interface PcqOptions {
  create?: boolean; bsize?: number; nbuckets?: number; nmessages?: number; time?: number; seed?: number;
  status?: number; producer?: boolean; consumer?: boolean; info?: boolean; drain?: boolean; dontflush?: boolean;
  setperm?: QueuePerm; uid?: number; gid?: number; statusfile?: string; verbose?: number; device?: string;
}

interface SideStats { count: number; errors: number; full: number; empty: number; retries: number }

function parsePerm(text: string): QueuePerm {
  if (!(QUEUE_PERMS as readonly string[]).includes(text)) throw new InvalidArgumentError(`invalid --setperm arg (${text}): one of p, c, b, n`);
  return text as QueuePerm;
}

exitQuietlyOnBrokenPipe();
const program = new Command(PROG)
  .description('create and run a producer/consumer queue over famfs (upstream pcq)')
  .version(packageVersion(), '-V, --version')
  .argument('<queue>', 'the queue: a path inside a famfs mount (or a famfs path with --device)')
  .option('-C, --create', 'create a producer/consumer queue')
  .option('-b, --bsize <bucketsize>', 'bucket size including the 16-byte sequence number and CRC (a power of 2)', parseSize)
  .option('-n, --nbuckets <nbuckets>', 'number of buckets in the queue', parseSize)
  .option('-u, --uid <uid>', 'owner of the queue files (with --create)', parseUint)
  .option('-g, --gid <gid>', 'group of the queue files (with --create)', parseUint)
  .option('-P, --setperm <p|c|b|n>', 'which queue file this host may write: (p)roducer, (c)onsumer, (b)oth, (n)either', parsePerm)
  .option('-N, --nmessages <n>', 'number of messages to send and/or receive', parseSize)
  .option('-t, --time <seconds>', 'run for this many seconds', parseUint)
  .option('-S, --seed <seed>', 'fill each payload from this seed (the consumer verifies it)', parseUint)
  .option('-p, --producer', 'run the producer')
  .option('-c, --consumer', 'run the consumer')
  .option('-s, --status <interval>', 'print status every <interval> seconds', parseUint)
  .option('-i, --info', 'print the state of a queue')
  .option('-d, --drain', 'consume until the queue is empty, then exit')
  .option('-D, --dontflush', 'issue no processor cache flushes or invalidates (testing only)')
  .option('-f, --statusfile <file>', 'write the outcome to this file (for tests)')
  .option('-v, --verbose', 'verbose (twice: more)', (_v: string, prev: number) => prev + 1, 0)
  .option('--device <dev>', 'address the file system by its memory device; the queue is then a famfs path (default: $FAMFS_DEVICE)')
  .exitOverride()
  .configureOutput({ outputError: (str, write) => write(`${PROG}: ${str.replace(/^error: /, '')}`) })
  .action((queue: string, o: PcqOptions) => runCommand(PROG, async () => {
    try {
      return await pcq(queue, o);
    } catch (err) {
      // Upstream exits 1 whenever a queue cannot be made, opened or read (pcq_worker's exit(1)).
      if (!(err instanceof FamfsError)) throw err;
      process.stderr.write(`${PROG}: ${err.message}\n`);
      return EXIT_FAILED;
    }
  }));

function checkCombination(o: PcqOptions): void {
  const running = o.create || o.producer || o.consumer || o.drain;
  if (o.info && running) throw new UsageError('info not compatible with operating on a pcq');
  if (o.create && (!o.bsize || !o.nbuckets)) throw new UsageError('create requires bsize and nbuckets');
  if (!o.create && (o.uid !== undefined || o.gid !== undefined)) throw new UsageError('uid/gid only apply with --create');
  if (o.drain && (o.producer || o.nmessages || o.time)) throw new UsageError("drain can't be used with producer, time or nmessages options");
  if (o.time && o.nmessages) throw new UsageError('the --nmessages and --time args cannot be used together');
  if (o.setperm && running) throw new UsageError('--setperm is incompatible with --create|--drain|--producer|--consumer');
}

function writeStatus(o: PcqOptions, value: number): void {
  if (o.statusfile) writeFileSync(o.statusfile, String(value));
}

async function pcq(queue: string, o: PcqOptions): Promise<number> {
  checkCombination(o);
  if (o.bsize !== undefined) process.stdout.write(`bucket_size=${o.bsize}\n`);
  if (o.nbuckets !== undefined) process.stdout.write(`nbuckets=${o.nbuckets}\n`);
  const t = resolveTarget([queue], o);
  const path = t.relpaths[0]!;
  const fs = Famfs.open(t.device, t.systemUuid ? { systemUuid: t.systemUuid } : {});
  try {
    if (o.setperm) {
      fs.setQueuePerm(path, o.setperm);
      return 0;
    }
    if (o.create) {
      if (o.verbose) process.stdout.write(`pcq_create: creating queue  ${queue} / ${queue}.consumer\n`);
      const q = fs.createQueue(path, { bucketSize: o.bsize!, nbuckets: o.nbuckets!, uid: o.uid ?? process.geteuid?.() ?? 0, gid: o.gid ?? process.getegid?.() ?? 0 });
      if (o.verbose) process.stdout.write(`pcq_create: sizeof(crc)=8\npcq_create: bucket_size=${q.bucketSize}\npcq_create: payload_size=${q.payloadSize}\n`);
      process.stdout.write(`pcq_create: Created queue ${queue}\n`);
      return 0;
    }
    if (o.info) {
      let messages = -1;
      try {
        const q = fs.queueInfo(path);
        messages = q.messages;
        process.stdout.write(`get_queue_info: queue ${queue} contains ${q.messages} messages p next_seq ${q.producerNextSeq} c next_seq ${q.consumerNextSeq}\n`);
      } finally {
        writeStatus(o, messages);
      }
      return 0;
    }
    if (o.drain) return await drain(fs, queue, path, o);
    if (!o.producer && !o.consumer) throw new UsageError('nothing to do: give --create, --producer, --consumer, --drain, --info or --setperm');
    return await run(fs, queue, path, o);
  } finally {
    fs.close();
  }
}

function openedVerbose(o: PcqOptions, q: Producer | Consumer): void {
  if (o.verbose) process.stdout.write(`pcq_open: sizeof(crc)=8\npcq_open: bucket_size=${q.bucketSize}\npcq_open: payload_size=${q.payloadSize}\n`);
}

/** Consumes until empty. A bad message is one line and exit 255, as upstream's consumer. */
async function drain(fs: Famfs, queue: string, path: string, o: PcqOptions): Promise<number> {
  const c = fs.openConsumer(path, { dontFlush: !!o.dontflush });
  const stats: SideStats = { count: 0, errors: 0, full: 0, empty: 0, retries: 0 };
  process.stdout.write(`pcq:    ${queue}\n`);
  try {
    openedVerbose(o, c);
    for (;;) {
      const batch = c.receiveBatch(BATCH);
      if (batch.length === 0) break;
      stats.errors += verifyAll(batch, c, o);
    }
  } catch (err) {
    return badMessage(err, o);
  } finally {
    stats.empty = c.emptyCount;
    stats.retries = c.retries;
    c.close();
  }
  stats.count = c.received;
  process.stdout.write(`pcq drain: nreceived=${stats.count} nerrors=${stats.errors} nempty=${stats.empty} retries=${stats.retries}\n`);
  if (stats.errors) {
    writeStatus(o, -stats.errors);
    return Math.min(stats.errors, MAX_EXIT);
  }
  if (o.statusfile) process.stdout.write(`pcq: drained ${stats.count} messages from queue ${queue}, with no errors\n`);
  writeStatus(o, stats.count);
  return 0;
}

function badMessage(err: unknown, o: PcqOptions): number {
  if (!(err instanceof QueueCorruptError)) throw err;
  process.stderr.write(`${PROG}: ${err.message}\n`);
  writeStatus(o, -1);
  return EXIT_BAD_MESSAGE;
}

const expectedPayloads = new WeakMap<Consumer, Buffer>();

/**
 * With a seed, every payload is upstream's random buffer for it (the producer fills each message
 * from the same seed): compared whole, and on a difference searched for its first bad word.
 * Returns the count of miscompares.
 */
function verifyAll(batch: readonly Buffer[], c: Consumer, o: PcqOptions): number {
  let errors = 0;
  let expected: Buffer | undefined;
  if (o.seed !== undefined) {
    expected = expectedPayloads.get(c);
    if (!expected) {
      expected = Buffer.alloc(c.payloadSize);
      randomizeBuffer(expected, o.seed);
      expectedPayloads.set(c, expected);
    }
  }
  for (let i = 0; i < batch.length; i++) {
    const seq = c.nextSeq + i;
    if (o.verbose) process.stdout.write(`pcq_consumer_get: seq=${seq}\n`);
    if (o.seed === undefined || batch[i]!.equals(expected!)) continue;
    const ofs = verifyBuffer(batch[i]!, o.seed);
    if (ofs !== -1) {
      process.stderr.write(`run_consumer: miscompare seq=${seq} ofs=${ofs}\n`);
      errors++;
    }
  }
  return errors;
}

async function run(fs: Famfs, queue: string, path: string, o: PcqOptions): Promise<number> {
  const opts = { dontFlush: !!o.dontflush };
  const producer = o.producer ? fs.openProducer(path, opts) : undefined;
  let consumer: Consumer | undefined;
  try {
    consumer = o.consumer ? fs.openConsumer(path, opts) : undefined;
  } catch (err) {
    producer?.close();
    throw err;
  }
  const stop = new AbortController();
  const prod: SideStats = { count: 0, errors: 0, full: 0, empty: 0, retries: 0 };
  const cons: SideStats = { count: 0, errors: 0, full: 0, empty: 0, retries: 0 };
  const timer = o.time ? setTimeout(() => stop.abort(), o.time * 1000) : undefined;
  const started = process.hrtime.bigint();
  const progress = startProgress(prod, cons, started);
  const status = o.status ? setInterval(() => printStatus(queue, prod, cons), o.status * 1000) : undefined;
  let bad: number | undefined;
  try {
    if (producer) openedVerbose(o, producer);
    else if (consumer) openedVerbose(o, consumer);
    const work: Promise<void>[] = [];
    if (producer) work.push(produce(producer, o, prod, stop.signal));
    if (consumer) work.push(consume(consumer, o, cons, stop.signal));
    const results = await Promise.allSettled(work);
    for (const r of results) {
      if (r.status === 'rejected') {
        stop.abort();
        bad = badMessage(r.reason, o);
      }
    }
  } finally {
    clearTimeout(timer);
    clearInterval(status);
    progress.stop();
    if (producer) {
      prod.full = producer.fullCount;
      producer.close();
    }
    if (consumer) {
      cons.empty = consumer.emptyCount;
      cons.retries = consumer.retries;
      consumer.close();
    }
  }
  if (bad !== undefined) return bad;
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  process.stdout.write(`pcq:    ${queue}\n`);
  process.stdout.write(`pcq producer: nsent=${prod.count} nerrors=${prod.errors} nfull=${prod.full}\n`);
  process.stdout.write(`pcq consumer: nreceived=${cons.count} nerrors=${cons.errors} nempty=${cons.empty} retries=${cons.retries}\n`);
  const messages = consumer ? cons.count : prod.count;
  const payload = (producer ?? consumer)!.payloadSize;
  process.stdout.write(`pcq: ${messages} messages of ${payload} bytes in ${seconds.toFixed(3)} s: `
    + `${Math.round(messages / seconds)} messages/s, ${((messages * payload) / seconds / 1e6).toFixed(1)} MB/s\n`);
  const errors = prod.errors + cons.errors;
  if (errors) {
    writeStatus(o, -errors);
    return Math.min(errors, MAX_EXIT);
  }
  writeStatus(o, prod.count + cons.count);
  return 0;
}

const stopped = (signal: AbortSignal, n: number | undefined, done: number): boolean => signal.aborted || (n !== undefined && done >= n);

async function waitOrStop(ready: () => boolean, signal: AbortSignal): Promise<boolean> {
  try {
    await waitFor(ready, { signal });
    return true;
  } catch (err) {
    if (signal.aborted) return false;
    throw err;
  }
}

async function produce(p: Producer, o: PcqOptions, s: SideStats, signal: AbortSignal): Promise<void> {
  const msg = Buffer.alloc(p.payloadSize);
  if (o.seed !== undefined) randomizeBuffer(msg, o.seed);
  const batch = new Array<Buffer>(Math.max(1, Math.min(BATCH, Math.floor((p.nbuckets - 1) / 2)))).fill(msg);
  const n = o.nmessages;
  let turns = 0;
  while (!stopped(signal, n, s.count)) {
    const want = Math.min(o.verbose ? 1 : batch.length, n === undefined ? batch.length : n - s.count);
    const seq = p.nextSeq;
    const sent = p.sendBatch(want === batch.length ? batch : batch.slice(0, want));
    if (o.verbose) for (let i = 0; i < sent; i++) process.stdout.write(`pcq_producer_put: seq=${seq + i}\n`);
    s.count += sent;
    // Let the consumer (-pc), the timer and the status lines run between batches.
    if (sent === 0) {
      if (!(await waitOrStop(() => p.free > 0, signal))) return;
    } else if (++turns % 16 === 0) {
      await new Promise<void>((r) => setImmediate(r));
    }
  }
}

async function consume(c: Consumer, o: PcqOptions, s: SideStats, signal: AbortSignal): Promise<void> {
  const n = o.nmessages;
  let turns = 0;
  while (!stopped(signal, n, s.count)) {
    const want = Math.min(o.verbose ? 1 : BATCH, n === undefined ? BATCH : n - s.count);
    const batch = c.receiveBatch(want);
    s.errors += verifyAll(batch, c, o);
    s.count += batch.length;
    s.empty = c.emptyCount;
    s.retries = c.retries;
    if (batch.length === 0) {
      if (!(await waitOrStop(() => c.lag > 0, signal))) return;
    } else if (++turns % 16 === 0) {
      await new Promise<void>((r) => setImmediate(r));
    }
  }
}

function printStatus(queue: string, p: SideStats, c: SideStats): void {
  const d = new Date();
  const two = (v: number): string => String(v).padStart(2, '0');
  const when = `${two(d.getMonth() + 1)}-${two(d.getDate())} ${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
  process.stdout.write(`${when} pcq=${queue} prod(nsent=${p.count} nfull=${p.full}) cons(nrcvd=${c.count} nempty=${c.empty} `
    + `nretries= ${p.errors + c.retries} nerrors=${c.errors})\n`);
}

/** A line on stderr, redrawn while running, only when stderr is a terminal. */
function startProgress(p: SideStats, c: SideStats, started: bigint): { stop(): void } {
  if (!process.stderr.isTTY) return { stop() {} };
  const erase = (): void => { process.stderr.write('\r\x1b[K'); };
  const unhook = onTerminalAbort(erase);
  const timer = setInterval(() => {
    const s = Number(process.hrtime.bigint() - started) / 1e9;
    const rate = Math.round(Math.max(p.count, c.count) / s);
    process.stderr.write(`\r\x1b[Kpcq: sent ${p.count} received ${c.count} ${rate} messages/s`);
  }, PROGRESS_MS);
  return {
    stop() {
      clearInterval(timer);
      unhook();
      erase();
    },
  };
}

exitQuietlyOnBrokenPipe();
if (process.argv.includes('-?')) {
  program.outputHelp();
} else {
  program.parseAsync(process.argv).catch((err: unknown) => {
    if (!(err instanceof CommanderError)) {
      process.stderr.write(`${PROG}: ${err instanceof FamfsError ? err.message : String(err)}\n`);
      process.exitCode = EXIT_USAGE;
      return;
    }
    process.exitCode = err.code === 'commander.helpDisplayed' || err.code === 'commander.help' || err.code === 'commander.version' ? 0 : EXIT_USAGE;
  });
}
