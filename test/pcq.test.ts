import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { crc32 } from 'node:zlib';
import { after, describe, it } from 'node:test';
import { Famfs, FormatError, FsError, QueueAccessError, QueueCorruptError } from '../src/api/index.js';
import { createEmulatedDevice } from '../src/device/emulated.js';
import { removeCaches } from '../src/device/noncoherent.js';
import { mkfs } from '../src/fs/mkfs.js';
import { cleanupDevices, CLIENT_UUID, emuDevice, GiB, master, MASTER_UUID } from './helpers/emu.js';
import { hostEnv, PCQ_BIN, runCli, runPython } from './helpers/run.js';
import { cleanupMounts, mountFamfs } from './helpers/mounts.js';

/** Child processes a test starts; any still running when the file ends (a test failed) is killed. */
const children = new Set<ChildProcess>();
function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.on('close', () => children.delete(child));
  return child;
}
after(() => {
  for (const c of children) c.kill('SIGKILL');
});
after(cleanupDevices);
after(cleanupMounts);

const here = dirname(fileURLToPath(import.meta.url));
const CONSUMER_CHILD = join(here, 'helpers', 'pcq-consumer.js');

/** Upstream's layout, written out again from src/pcq.h so the library's constants are not checking themselves. */
const UP = {
  magic: 0xbeebee3, consumerMagic: 0xbeebee4, nbuckets: 8, bucketSize: 16, arrayOffset: 24, producerIndex: 32, pNextSeq: 1064, pcqSize: 1072,
  consumerIndex: 8, cNextSeq: 1048592, pcqcSize: 1048600, twoMiB: 2 * 1024 * 1024,
};

function freshFs(): { dev: string; fs: Famfs } {
  const dev = emuDevice(8 * GiB, 'pcq');
  mkfs(dev, { systemUuid: master });
  return { dev, fs: Famfs.open(dev, { systemUuid: MASTER_UUID }) };
}

const pcqCli = (args: string[], host = MASTER_UUID, dev = '') => runCli(PCQ_BIN, args, { host, env: { FAMFS_DEVICE: dev } });

/** A message whose payload starts with its sequence number. */
function numbered(seq: number, size: number): Buffer {
  const b = Buffer.alloc(size, seq & 0xff);
  b.writeBigUInt64LE(BigInt(seq), 0);
  return b;
}

describe('pcq on-media format', () => {
  it('decodes a queue built byte by byte the way upstream lays it out', () => {
    const { fs } = freshFs();
    try {
      const nb = 16;
      const bs = 256;
      fs.creat('hand.consumer', { size: UP.twoMiB });
      fs.creat('hand', { size: UP.twoMiB + nb * bs });
      const c = fs.map('hand.consumer', { writable: true });
      const p = fs.map('hand', { writable: true });
      // Consumer: magic (u32) and pad, index 3, next_seq 103, pcqc_size.
      c.buffer.writeUInt32LE(UP.consumerMagic, 0);
      c.buffer.writeUInt32LE(0, 4);
      c.buffer.writeBigUInt64LE(3n, UP.consumerIndex);
      c.buffer.writeBigUInt64LE(103n, UP.cNextSeq);
      c.buffer.writeBigUInt64LE(BigInt(UP.twoMiB), UP.pcqcSize);
      // Producer: 4 messages in buckets 3..6 with sequence numbers 103..106.
      const b = p.buffer;
      b.writeBigUInt64LE(BigInt(UP.magic), 0);
      b.writeBigUInt64LE(BigInt(nb), UP.nbuckets);
      b.writeBigUInt64LE(BigInt(bs), UP.bucketSize);
      b.writeBigUInt64LE(BigInt(UP.twoMiB), UP.arrayOffset);
      b.writeBigUInt64LE(7n, UP.producerIndex);
      b.writeBigUInt64LE(107n, UP.pNextSeq);
      b.writeBigUInt64LE(BigInt(p.size), UP.pcqSize);
      const payloads: Buffer[] = [];
      for (let i = 3; i < 7; i++) {
        const bucket = b.subarray(UP.twoMiB + i * bs, UP.twoMiB + (i + 1) * bs);
        const payload = Buffer.from(`message ${i} `.repeat(40)).subarray(0, bs - 16);
        payloads.push(payload);
        payload.copy(bucket, 0);
        bucket.writeBigUInt64LE(BigInt(100 + i), bs - 16);
        bucket.writeBigUInt64LE(BigInt(crc32(bucket.subarray(0, bs - 8))), bs - 8);
      }
      p.flush();
      c.flush();
      p.unmap();
      c.unmap();

      const info = fs.queueInfo('hand');
      assert.deepEqual(
        [info.nbuckets, info.bucketSize, info.payloadSize, info.messages, info.producerNextSeq, info.consumerNextSeq],
        [nb, bs, bs - 16, 4, 107, 103],
      );
      const consumer = fs.openConsumer('hand');
      for (let i = 0; i < 4; i++) {
        assert.deepEqual(consumer.receive(), payloads[i]);
        assert.equal(consumer.nextSeq, 103 + i, 'the message held is the one expected next');
      }
      assert.equal(consumer.receive(), null);
      consumer.close();
      // The consumer's index and next_seq moved in the upstream places.
      const after = fs.map('hand.consumer');
      assert.equal(after.buffer.readBigUInt64LE(UP.consumerIndex), 7n);
      assert.equal(after.buffer.readBigUInt64LE(UP.cNextSeq), 107n);
      after.unmap();
      // And a producer continues the upstream sequence in upstream bytes.
      const producer = fs.openProducer('hand');
      assert.equal(producer.send(Buffer.from('next')), true);
      producer.close();
      const p2 = fs.map('hand');
      const bucket = p2.buffer.subarray(UP.twoMiB + 7 * bs, UP.twoMiB + 8 * bs);
      assert.equal(bucket.readBigUInt64LE(bs - 16), 107n);
      assert.equal(bucket.readBigUInt64LE(bs - 8), BigInt(crc32(bucket.subarray(0, bs - 8))));
      assert.deepEqual(bucket.subarray(0, bs - 16), Buffer.concat([Buffer.from('next'), Buffer.alloc(bs - 20)]));
      assert.equal(p2.buffer.readBigUInt64LE(UP.producerIndex), 8n);
      p2.unmap();
    } finally {
      fs.close();
    }
  });

  it('writes a queue the independent Python reader decodes', () => {
    const { dev, fs } = freshFs();
    try {
      fs.createQueue('dir-less-q', { bucketSize: 128, nbuckets: 32 });
      const p = fs.openProducer('dir-less-q');
      for (let i = 0; i < 40; i++) {
        if (i >= 31) break;
        assert.equal(p.send(numbered(i, 100)), true);
      }
      const c = fs.openConsumer('dir-less-q');
      for (let i = 0; i < 29; i++) assert.notEqual(c.receive(), null);
      c.close();
      p.close();
      const py = runPython('pcq_read.py', [dev, 'dir-less-q']);
      assert.equal(py.status, 0, py.stderr);
      const r = JSON.parse(py.stdout) as {
        producer: Record<string, number>; consumer: Record<string, number>;
        messages: { bucket: number; seq: number; crc_ok: boolean; payload_hex: string }[];
      };
      assert.deepEqual(r.producer, {
        magic: UP.magic, nbuckets: 32, bucket_size: 128, bucket_array_offset: UP.twoMiB, producer_index: 31, next_seq: 31,
        pcq_size: UP.twoMiB + 32 * 128,
      });
      assert.deepEqual(r.consumer, { magic: UP.consumerMagic, consumer_index: 29, next_seq: 29, pcqc_size: UP.twoMiB });
      assert.deepEqual(r.messages.map((m) => [m.bucket, m.seq, m.crc_ok]), [[29, 29, true], [30, 30, true]]);
      assert.equal(r.messages[1]!.payload_hex, Buffer.concat([numbered(30, 100), Buffer.alloc(12)]).toString('hex'));
    } finally {
      fs.close();
    }
  });
});

describe('pcq API in one process', () => {
  it('sends and receives; a full queue refuses without overwriting; lag and free', () => {
    const { fs } = freshFs();
    try {
      const info = fs.createQueue('q', { bucketSize: 64, nbuckets: 8 });
      assert.equal(info.payloadSize, 48);
      const p = fs.openProducer('q');
      const c = fs.openConsumer('q');
      assert.equal(c.receive(), null);
      assert.equal(p.free, 7);
      for (let i = 0; i < 7; i++) assert.equal(p.send(numbered(i, 48)), true);
      assert.equal(p.free, 0);
      assert.equal(c.lag, 7);
      assert.equal(p.send(numbered(99, 48)), false, 'a full queue refuses');
      assert.equal(p.fullCount, 1);
      assert.equal(p.sendBatch([numbered(99, 48)]), 0);
      const first = c.receive()!;
      assert.equal(first.readBigUInt64LE(0), 0n);
      assert.equal(p.free, 0, 'a message held by the consumer is not yet given back');
      const second = c.receive()!;
      assert.equal(second.readBigUInt64LE(0), 1n);
      assert.equal(p.free, 1);
      assert.equal(p.send(numbered(7, 10)), true);
      const rest: number[] = [];
      for (let m = c.receive(); m !== null; m = c.receive()) rest.push(Number(m.readBigUInt64LE(0)));
      assert.deepEqual(rest, [2, 3, 4, 5, 6, 7]);
      assert.equal(c.lag, 0);
      assert.equal(p.free, 7);
      // Batches wrap around the ring and keep their order.
      const sent = p.sendBatch(Array.from({ length: 10 }, (_, i) => numbered(8 + i, 48)));
      assert.equal(sent, 7);
      assert.deepEqual(c.receiveBatch(100).map((m) => Number(m.readBigUInt64LE(0))), [8, 9, 10, 11, 12, 13, 14]);
      assert.throws(() => p.send(Buffer.alloc(49)), (e: unknown) => e instanceof FsError && e.code === 'EINVAL');
      p.close();
      c.close();
      assert.throws(() => c.receive(), (e: unknown) => e instanceof FsError && e.code === 'EBADF');
      assert.equal(fs.queueInfo('q').consumerNextSeq, 15);
    } finally {
      fs.close();
    }
  });

  it('for await, streams and AbortSignal', async () => {
    const { fs } = freshFs();
    try {
      fs.createQueue('s', { bucketSize: 1024, nbuckets: 64 });
      const p = fs.openProducer('s');
      const c = fs.openConsumer('s');
      const producing = (async () => {
        for (let i = 0; i < 500; i++) await p.sendAsync(numbered(i, 1000));
      })();
      let n = 0;
      for await (const m of c) {
        assert.equal(Number(m.readBigUInt64LE(0)), n);
        if (++n === 500) break;
      }
      await producing;
      assert.equal(c.lag, 0, 'breaking out of the loop consumed the last message');

      // A Writable into the queue, a Readable out of it, ended by an abort.
      const ac = new AbortController();
      const out: number[] = [];
      const reading = pipeline(c.createReadStream({ signal: ac.signal }), async (source: AsyncIterable<Buffer>) => {
        for await (const m of source) {
          out.push(Number(m.readBigUInt64LE(0)));
          if (out.length === 2000) ac.abort();
        }
      }).catch((err: unknown) => err);
      await pipeline(Readable.from(Array.from({ length: 2000 }, (_, i) => numbered(500 + i, 1008))), p.createWriteStream());
      const err = await reading;
      assert.equal((err as Error).name, 'AbortError');
      assert.deepEqual(out, Array.from({ length: 2000 }, (_, i) => 500 + i));

      // Waiting on an empty queue stops when aborted, and costs no busy core meanwhile.
      const idle = new AbortController();
      const cpu = process.cpuUsage();
      const started = Date.now();
      setTimeout(() => idle.abort(), 500);
      await assert.rejects(c.receiveAsync({ signal: idle.signal }), { name: 'AbortError' });
      const used = process.cpuUsage(cpu);
      assert.ok(Date.now() - started >= 490);
      assert.ok((used.user + used.system) / 1000 < 150, `waiting 500 ms used ${(used.user + used.system) / 1000} ms of CPU`);
      p.close();
      c.close();
    } finally {
      fs.close();
    }
  });

  it('refuses bad geometry, a file that is not a queue, a second producer and a corrupted bucket', () => {
    const { dev, fs } = freshFs();
    try {
      for (const [bucketSize, nbuckets] of [[1000, 8], [16, 8], [0, 8], [64, 1]] as const) {
        assert.throws(() => fs.createQueue(`bad-${bucketSize}-${nbuckets}`, { bucketSize, nbuckets }),
          (e: unknown) => e instanceof FsError && e.code === 'EINVAL');
        assert.equal(fs.exists(`bad-${bucketSize}-${nbuckets}.consumer`), false, 'nothing is created');
      }
      fs.createQueue('q', { bucketSize: 64, nbuckets: 8 });
      assert.throws(() => fs.createQueue('q', { bucketSize: 64, nbuckets: 8 }), (e: unknown) => e instanceof FsError && e.code === 'EEXIST');
      assert.throws(() => fs.openConsumer('nothing'), (e: unknown) => e instanceof FsError && e.code === 'ENOENT');
      // Not a queue: a file of the right size holding other bytes.
      fs.creat('plain', { size: UP.twoMiB + 512 });
      fs.creat('plain.consumer', { size: UP.twoMiB });
      assert.throws(() => fs.openConsumer('plain'), (e: unknown) => e instanceof FormatError && /not a pcq producer file/.test(e.message));
      assert.throws(() => fs.queueInfo('plain'), FormatError);
      const r = pcqCli(['--info', 'plain'], MASTER_UUID, dev);
      assert.equal(r.status, 1);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);

      const p = fs.openProducer('q');
      assert.throws(() => fs.openProducer('q'), (e: unknown) => e instanceof QueueAccessError && e.code === 'EBUSY');
      for (let i = 0; i < 3; i++) p.send(numbered(i, 48));
      // Flip a payload byte of the second message.
      const raw = fs.map('q', { writable: true });
      raw.buffer[UP.twoMiB + 64 + 5]! ^= 0xff;
      raw.flush();
      const c = fs.openConsumer('q');
      assert.equal(Number(c.receive()!.readBigUInt64LE(0)), 0);
      assert.throws(() => c.receive(), (e: unknown) => e instanceof QueueCorruptError && e.seq === 1 && e.bucket === 1 && e.code === 'EBADMSG'
        && /CRC mismatch/.test(e.message));
      assert.equal(c.retries, 1);
      assert.equal(c.lag, 2, 'the bad message and the one after it stay in the queue');
      // A sequence number that is not the one expected is refused too.
      raw.buffer[UP.twoMiB + 64 + 5]! ^= 0xff;
      raw.buffer.writeBigUInt64LE(7n, UP.twoMiB + 64 + 48);
      raw.buffer.writeBigUInt64LE(BigInt(crc32(raw.buffer.subarray(UP.twoMiB + 64, UP.twoMiB + 128 - 8))), UP.twoMiB + 128 - 8);
      assert.throws(() => c.receive(), (e: unknown) => e instanceof QueueCorruptError && /sequence number 7 where 1/.test(e.message));
      raw.unmap();
      c.close();
      p.close();
      // The command stops at the bad message as upstream's consumer does: one line, status 255.
      for (const args of [['--consumer', '-N', '2'], ['--drain']]) {
        const r = pcqCli([...args, 'q'], MASTER_UUID, dev);
        assert.equal(r.status, 255, r.stderr);
        assert.match(r.stderr, /^pcq: 'q': bad message seq=1 in bucket 1 after 2 retries: sequence number 7 where 1 was expected\n$/);
      }
    } finally {
      fs.close();
    }
  });
});

interface ChildResult { code: number | null; lines: string[]; stderr: string }

function startConsumer(dev: string, queue: string, count: number, host: string, every = 0) {
  // stdin is a pipe the child watches: it exits when this process goes away.
  const child = spawn(process.execPath, [CONSUMER_CHILD, dev, queue, String(count), String(every)], {
    env: hostEnv(host), stdio: ['pipe', 'pipe', 'pipe'],
  });
  track(child);
  const lines: string[] = [];
  let stderr = '';
  let partial = '';
  child.stdout.on('data', (d: Buffer) => {
    const parts = (partial + d.toString()).split('\n');
    partial = parts.pop()!;
    lines.push(...parts);
  });
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  const done = new Promise<ChildResult>((resolve) => child.on('close', (code) => resolve({ code, lines, stderr })));
  return { child, lines, done };
}

/** Sends messages numbered from `from` to `to` (exclusive) in batches, waiting while full. */
async function produceRange(p: ReturnType<Famfs['openProducer']>, from: number, to: number, size: number): Promise<void> {
  const batch = Array.from({ length: 256 }, () => Buffer.alloc(size));
  for (let seq = from; seq < to;) {
    const n = Math.min(batch.length, to - seq);
    for (let i = 0; i < n; i++) batch[i]!.writeBigUInt64LE(BigInt(seq + i), 0);
    const sent = n === batch.length ? await sendSome(p, batch) : await sendSome(p, batch.slice(0, n));
    seq += sent;
  }
}

async function sendSome(p: ReturnType<Famfs['openProducer']>, msgs: Buffer[]): Promise<number> {
  const n = p.sendBatch(msgs);
  if (n > 0) return n;
  await p.sendAsync(msgs[0]!);
  return 1;
}

describe('pcq across processes and hosts', () => {
  it('a million 64-byte messages to a consumer process: none lost, duplicated or reordered', async () => {
    const { dev, fs } = freshFs();
    try {
      const N = 1_000_000;
      fs.createQueue('million', { bucketSize: 64, nbuckets: 8192 });
      const consumer = startConsumer(dev, 'million', N, MASTER_UUID);
      const p = fs.openProducer('million');
      await produceRange(p, 0, N, 48);
      p.close();
      const r = await consumer.done;
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(JSON.parse(r.lines.at(-1)!), { received: N, first: 0, last: N - 1 });
      const info = fs.queueInfo('million');
      assert.deepEqual([info.messages, info.producerNextSeq, info.consumerNextSeq], [0, N, N]);
    } finally {
      fs.close();
    }
  });

  it('a consumer killed with SIGKILL mid-run is restarted at the next unconsumed message', async () => {
    const { dev, fs } = freshFs();
    try {
      const N = 200_000;
      fs.createQueue('kill', { bucketSize: 128, nbuckets: 1024 });
      const p = fs.openProducer('kill');
      const producing = produceRange(p, 0, N, 112);
      const first = startConsumer(dev, 'kill', N, MASTER_UUID, 1000);
      await new Promise<void>((resolve) => {
        const t = setInterval(() => {
          if (first.lines.filter((l) => l.startsWith('at ')).length >= 20) {
            clearInterval(t);
            resolve();
          }
        }, 5);
      });
      first.child.kill('SIGKILL');
      const killed = await first.done;
      assert.equal(killed.code, null);
      const ats = killed.lines.filter((l) => l.startsWith('at ')).map((l) => Number(l.slice(3)));
      assert.deepEqual(ats, ats.map((_, i) => 999 + 1000 * i), 'the killed consumer saw every message in order');
      const resumeAt = fs.queueInfo('kill').consumerNextSeq;
      assert.ok(resumeAt >= ats.at(-1)! && resumeAt < N, `resumes at ${resumeAt}, last reported ${ats.at(-1)}`);

      const second = startConsumer(dev, 'kill', N - resumeAt, MASTER_UUID);
      await producing;
      p.close();
      const r = await second.done;
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(JSON.parse(r.lines.at(-1)!), { received: N - resumeAt, first: resumeAt, last: N - 1 });
      assert.equal(fs.queueInfo('kill').messages, 0);
    } finally {
      fs.close();
    }
  });

  it('master produces, a client consumes once granted the consumer file (emulated hosts, API)', async () => {
    const { dev, fs } = freshFs();
    try {
      fs.createQueue('q', { bucketSize: 4096, nbuckets: 64 });
      const asClient = Famfs.open(dev, { systemUuid: CLIENT_UUID });
      try {
        assert.equal(asClient.role, 'client');
        assert.throws(() => asClient.openConsumer('q'), (e: unknown) => e instanceof QueueAccessError && e.code === 'EACCES' && /setperm/.test(e.message));
        assert.throws(() => asClient.openProducer('q'), QueueAccessError);
        asClient.setQueuePerm('q', 'c');
        assert.throws(() => asClient.openProducer('q'), QueueAccessError);
      } finally {
        asClient.close();
      }
      const N = 20_000;
      const consumer = startConsumer(dev, 'q', N, CLIENT_UUID);
      const p = fs.openProducer('q');
      await produceRange(p, 0, N, 4080);
      p.close();
      const r = await consumer.done;
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(JSON.parse(r.lines.at(-1)!), { received: N, first: 0, last: N - 1 });
    } finally {
      fs.close();
    }
  });
});

describe('pcq on a non-coherent device', () => {
  it('a client sees only what the master flushed, through its own invalidates; the master sees the client\'s index once flushed', () => {
    const dev = `/dev/shm/famfs-pcq-nc-${process.pid}`;
    createEmulatedDevice(dev, 8 * GiB, { noncoherent: true });
    let fs: Famfs | undefined;
    let cl: Famfs | undefined;
    try {
      mkfs(dev, { systemUuid: master });
      fs = Famfs.open(dev, { systemUuid: MASTER_UUID });
      fs.createQueue('lost', { bucketSize: 256, nbuckets: 16 });
      fs.createQueue('q', { bucketSize: 256, nbuckets: 16 });
      cl = Famfs.open(dev, { systemUuid: CLIENT_UUID });
      cl.setQueuePerm('lost', 'c');
      cl.setQueuePerm('q', 'c');

      // Without the producer's flushes nothing reaches the device: the client sees no message, and
      // once a later producer publishes past them, the first one never written back is caught.
      const unflushed = fs.openProducer('lost', { dontFlush: true });
      for (let i = 0; i < 3; i++) assert.equal(unflushed.send(numbered(i, 240)), true);
      unflushed.close();
      const lostConsumer = cl.openConsumer('lost');
      assert.equal(lostConsumer.receive(), null);
      assert.equal(lostConsumer.lag, 0);
      const flushing = fs.openProducer('lost');
      flushing.send(numbered(3, 240));
      flushing.close();
      assert.throws(() => lostConsumer.receive(), (e: unknown) => e instanceof QueueCorruptError && e.seq === 0 && /CRC mismatch/.test(e.message));
      lostConsumer.close();

      // With them every message arrives; the client's cache held stale buckets, read again once.
      const p = fs.openProducer('q');
      const c = cl.openConsumer('q');
      for (let i = 0; i < 5; i++) assert.equal(p.send(numbered(i, 240)), true);
      const got: number[] = [];
      for (let m = c.receive(); m !== null; m = c.receive()) got.push(Number(m.readBigUInt64LE(0)));
      assert.deepEqual(got, [0, 1, 2, 3, 4]);
      assert.ok(c.retries >= 1, 'stale buckets in the client\'s cache were invalidated and read again');
      assert.equal(p.free, 15, 'the client flushed its consumer index, and the master read it afresh');
      c.close();
      p.close();
      assert.deepEqual([fs.queueInfo('q').consumerNextSeq, cl.queueInfo('q').producerNextSeq], [5, 5]);
    } finally {
      cl?.close();
      fs?.close();
      rmSync(dev, { force: true });
      removeCaches(dev);
    }
  });
});

describe('pcq command', () => {
  it('runs upstream smoke test steps and their status file values', () => {
    const { dev, fs } = freshFs();
    fs.close();
    const status = join(tmpdir(), `pcq-status-${process.pid}`);
    try {
      const good = (args: string[]) => {
        const r = pcqCli(args, MASTER_UUID, dev);
        assert.equal(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
        return r.stdout;
      };
      const st = () => Number(readFileSync(status, 'utf8'));
      assert.match(good(['--create', '-u', '0', '-g', '0', '-D', '-v', '--bsize', '1024', '--nbuckets', '1024', 'q0']), /pcq_create: Created queue q0/);
      good(['--create', '-v', '--bsize', '64K', '--nbuckets', '16', 'q2']);
      assert.match(good(['--info', 'q0']), /^get_queue_info: queue q0 contains 0 messages p next_seq 0 c next_seq 0$/m);
      assert.match(good(['--drain', '-v', 'q0']), /pcq drain: nreceived=0 nerrors=0 nempty=1 retries=0/);
      good(['--producer', '-N', '128', '--statusfile', status, 'q0']);
      assert.equal(st(), 128);
      good(['--consumer', '-N', '64', '--statusfile', status, 'q0']);
      assert.equal(st(), 64);
      good(['--drain', '--statusfile', status, 'q0']);
      assert.equal(st(), 64);
      const pc = good(['-pc', '--seed', '43', '-N', '1000', '--statusfile', status, 'q2']);
      assert.equal(st(), 2000);
      assert.match(pc, /^pcq producer: nsent=1000 nerrors=0 nfull=\d+$/m);
      assert.match(pc, /^pcq consumer: nreceived=1000 nerrors=0 nempty=\d+ retries=0$/m);
      assert.match(pc, /^pcq: 1000 messages of 65520 bytes in [\d.]+ s: \d+ messages\/s, [\d.]+ MB\/s$/m);
      assert.match(good(['-pc', '-s', '1', '-t', '1', 'q0']), /pcq producer: nsent=\d+/);
      for (const [args, msg] of [
        [['--info', '--create', 'q0'], /info not compatible/],
        [['--drain', '--producer', 'q0'], /drain can't be used/],
        [['--time', '10', '--nmessages', '100', 'q0'], /cannot be used together/],
        [['--create', 'q9'], /create requires bsize and nbuckets/],
        [['--create', '--bsize', '1000', '--nbuckets', '4', 'q9'], /must be a power of 2/],
        [['--create', '--bsize', '1024', '--nbuckets', '4', 'q0'], /already exists/],
        [['--setperm', 'x', 'q0'], /invalid --setperm arg/],
        [['--consumer', '-N', '1', 'missing'], /pcq files not found/],
        [['--producer', '-N', '1', '/not/in/a/mount'], /not in a famfs mount/],
      ] as const) {
        const r = pcqCli([...args], MASTER_UUID, (args as readonly string[]).includes('/not/in/a/mount') ? '' : dev);
        assert.equal(r.status, 1, `${args.join(' ')}: ${r.stdout} ${r.stderr}`);
        assert.match(r.stderr, msg);
        assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      }
      assert.equal(pcqCli(['-?'], MASTER_UUID, dev).status, 0);
      // A seed mismatch is counted, reported per message and is the exit status.
      good(['--producer', '-S', '1', '-N', '3', 'q0']);
      const bad = pcqCli(['--consumer', '-S', '2', '-N', '3', 'q0'], MASTER_UUID, dev);
      assert.equal(bad.status, 3);
      assert.equal(bad.stderr.match(/run_consumer: miscompare seq=\d+ ofs=0/g)?.length, 3);
    } finally {
      if (existsSync(status)) rmSync(status);
    }
  });

  it('draws a progress line on a terminal and only there', async () => {
    const { dev, fs } = freshFs();
    fs.close();
    assert.equal(pcqCli(['--create', '-b', '1024', '-n', '1024', 'tty'], MASTER_UUID, dev).status, 0);
    assert.match(pcqCli(['--version'], MASTER_UUID, dev).stdout, /^\d+\.\d+\.\d+/);
    // script(1) runs the command in a pseudo-terminal; a timed run outlasts the first redraw.
    const out = await new Promise<{ status: number | null; text: string }>((resolve) => {
      const child = spawn('script', ['-qfec', `${process.execPath} ${PCQ_BIN} -pc -t 2 tty`, '/dev/null'], {
        env: hostEnv(MASTER_UUID, { FAMFS_DEVICE: dev, TERM: 'xterm' }), stdio: ['ignore', 'pipe', 'pipe'],
      });
      let text = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => { text += d; });
      child.on('close', (status) => resolve({ status, text }));
    });
    assert.equal(out.status, 0, out.text);
    assert.match(out.text, /\r\x1b\[Kpcq: sent \d+ received \d+ \d+ messages\/s/);
    assert.match(out.text, /pcq: \d+ messages of 1008 bytes in [\d.]+ s: \d+ messages\/s/);
    const piped = pcqCli(['-pc', '-t', '1', 'tty'], MASTER_UUID, dev);
    assert.equal(piped.status, 0);
    assert.equal(piped.stderr, '', 'no progress when stderr is not a terminal');
  });

  it('master and client mounts: --setperm, then a consumer on the client and a producer on the master', async () => {
    const { dev, fs } = freshFs();
    fs.close();
    const mm = mountFamfs(dev, MASTER_UUID);
    const cm = mountFamfs(dev, CLIENT_UUID);
    const created = pcqCli(['--create', '--bsize', '4096', '--nbuckets', '256', `${mm}/shared_queue`]);
    assert.equal(created.status, 0, created.stderr);
    assert.equal(pcqCli(['--setperm', 'p', `${mm}/shared_queue`]).status, 0);
    const refused = pcqCli(['--consumer', '-N', '1', `${cm}/shared_queue`], CLIENT_UUID);
    assert.equal(refused.status, 1);
    assert.match(refused.stderr, /may not write the consumer file/);
    assert.equal(pcqCli(['--setperm', 'c', `${cm}/shared_queue`], CLIENT_UUID).status, 0);
    const consumer = spawn(process.execPath, [PCQ_BIN, '--consumer', '--nmessages', '10000', '--seed', '42', `${cm}/shared_queue`], {
      env: hostEnv(CLIENT_UUID), stdio: ['ignore', 'pipe', 'pipe'],
    });
    track(consumer);
    let out = '';
    let err = '';
    consumer.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    consumer.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    const exited = new Promise<number | null>((resolve) => consumer.on('close', resolve));
    const prod = await new Promise<{ code: number | null; out: string }>((resolve) => {
      const c = spawn(process.execPath, [PCQ_BIN, '--producer', '--nmessages', '10000', '--seed', '42', `${mm}/shared_queue`], {
        env: hostEnv(MASTER_UUID), stdio: ['ignore', 'pipe', 'inherit'],
      });
      track(c);
      let o = '';
      c.stdout.on('data', (d: Buffer) => { o += d.toString(); });
      c.on('close', (code) => resolve({ code, out: o }));
    });
    assert.equal(prod.code, 0);
    assert.match(prod.out, /pcq producer: nsent=10000 nerrors=0/);
    assert.equal(await exited, 0, err);
    assert.match(out, /pcq consumer: nreceived=10000 nerrors=0/);
    assert.match(pcqCli(['--info', `${cm}/shared_queue`], CLIENT_UUID).stdout, /contains 0 messages p next_seq 10000 c next_seq 10000/);
  });
});

describe('the README queue example', () => {
  it('runs as written: the master produces, then a client consumes', () => {
    const root = join(here, '..', '..');
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const m = /```js\n([\s\S]*?)```/.exec(readme.slice(readme.indexOf('## Producer/consumer queues')));
    assert.ok(m, 'the README has a js example in its queue section');
    // Inside the package, so `import 'famfs-ts'` resolves to this build through package.json's exports.
    const scratch = mkdtempSync(join(root, 'dist', 'readme-pcq-'));
    try {
      const file = join(scratch, 'example.mjs');
      writeFileSync(file, m[1]!);
      const dev = emuDevice(4 * GiB, 'pcq-readme');
      mkfs(dev, { systemUuid: master });
      const run = (host: string) => runCli(file, [], { host, env: { FAMFS_DEVICE: dev } });
      let r = run(MASTER_UUID);
      assert.equal(r.status, 0, r.stderr);
      r = run(CLIENT_UUID);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout, '1000 job 999\n');
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  });
});
