// pcq: messages from a producer process to a consumer process through a queue in famfs (upstream's
// pcq layout: a sequence number and CRC in every bucket, checked by the consumer; cache flushes at
// every publish), next to the same messages through a Unix domain socket between two processes,
// measured in the same run. Message sizes are the queue's bucket sizes 64 B, 1 KiB and 64 KiB;
// a message is the bucket's payload (the size less the 16-byte sequence number and CRC), and the
// socket carries payloads of that same size, which its consumer takes out of the byte stream one
// view per message, as the queue's consumer gets them. Both sides batch: the producer puts up to
// 256 messages per publish (sendBatch) and writes 256 messages per socket write. The queue also
// checks every message's CRC and sequence number, and flushes every bucket from the CPU cache
// (upstream's protocol, for hosts without coherent caches), which the socket does not.
// Goals: >= 1,000,000 messages/s at 64 B, >= 5 GB/s at 64 KiB, faster than the socket at every size.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GB, KIB, MIB, QUICK, cleanupNow, elapsedNs, emit, nowNs, onCleanup, phase, privateRunDir, row, runMain, summary } from './lib/common.mjs';
import { makeFs, openApi } from './lib/famfs-setup.mjs';

const SELF = fileURLToPath(import.meta.url);
const RUNS = QUICK ? 1 : 3;
const BATCH = 256;
/** Bucket size, buckets in the ring, messages per run. */
const CASES = [
  { bucket: 64, nbuckets: 64 * 1024, count: QUICK ? 500_000 : 3_000_000, label: '64 B' },
  { bucket: KIB, nbuckets: 8 * 1024, count: QUICK ? 100_000 : 1_000_000, label: '1 KiB' },
  { bucket: 64 * KIB, nbuckets: 512, count: QUICK ? 5_000 : 40_000, label: '64 KiB' },
];

/** Child: consume `count` messages from the queue, print `done` and exit. */
async function pcqConsumer(dev, queue, count) {
  const fs = openApi(dev);
  const c = fs.openConsumer(queue);
  process.stdout.write('ready\n');
  let got = 0;
  while (got < count) {
    const n = c.receiveBatch(Math.min(BATCH * 4, count - got)).length;
    if (n === 0) {
      await c.receiveAsync();
      got++;
    } else {
      got += n;
    }
  }
  c.close();
  fs.close();
  process.stdout.write('done\n');
}

/**
 * Child: accept one connection on the socket path and take `count` messages of `size` bytes from
 * the byte stream, each as a view (as the queue hands them out; one that straddles two reads is
 * put together in a buffer first), then print `done`.
 */
async function socketConsumer(path, size, count) {
  const server = createServer();
  server.listen(path);
  await once(server, 'listening');
  process.stdout.write('ready\n');
  const [conn] = await once(server, 'connection');
  let got = 0;
  let views = 0;
  const partial = Buffer.alloc(size);
  let have = 0;
  conn.on('error', () => {});
  await new Promise((resolve) => {
    conn.on('data', (d) => {
      let at = 0;
      if (have > 0) {
        const n = Math.min(size - have, d.length);
        d.copy(partial, have, 0, n);
        have += n;
        at = n;
        if (have === size) {
          views += partial.subarray(0, size).length;
          got++;
          have = 0;
        }
      }
      for (; at + size <= d.length; at += size) {
        views += d.subarray(at, at + size).length;
        got++;
      }
      if (at < d.length) have = d.copy(partial, 0, at);
      if (got >= count) resolve();
    });
  });
  if (views !== count * size) throw new Error(`socket consumer framed ${views} bytes, expected ${count * size}`);
  process.stdout.write('done\n');
  conn.end();
  server.close();
}

function startChild(args) {
  const child = spawn(process.execPath, [SELF, '--child', ...args], { stdio: ['ignore', 'pipe', 'inherit'], env: process.env });
  // A failed run must not leave a consumer waiting for messages that will never come.
  const kill = onCleanup(() => child.kill('SIGKILL'));
  child.on('exit', () => cleanupNow(kill));
  let out = '';
  const waitFor = (word) => new Promise((resolve, reject) => {
    const check = () => { if (out.includes(`${word}\n`)) resolve(); };
    child.stdout.on('data', (d) => { out += d.toString(); check(); });
    child.on('exit', (code) => reject(new Error(`consumer exited ${code} before '${word}'`)));
    check();
  });
  return { child, ready: waitFor('ready'), done: waitFor('done') };
}

async function pcqRun(fs, dev, c, run) {
  const queue = `q-${c.bucket}-${run}`;
  fs.createQueue(queue, { bucketSize: c.bucket, nbuckets: c.nbuckets });
  const consumer = startChild(['pcq', dev, queue, String(c.count)]);
  await consumer.ready;
  const p = fs.openProducer(queue);
  const batchLen = Math.min(BATCH, c.nbuckets >> 2);
  const batch = Array.from({ length: batchLen }, (_, i) => Buffer.alloc(c.bucket - 16, i));
  const t0 = nowNs();
  let sent = 0;
  while (sent < c.count) {
    const want = Math.min(batchLen, c.count - sent);
    const n = p.sendBatch(want === batchLen ? batch : batch.slice(0, want));
    if (n === 0) await p.sendAsync(batch[0]).then(() => { sent++; });
    sent += n;
  }
  await consumer.done;
  const ns = elapsedNs(t0);
  p.close();
  return ns;
}

async function socketRun(c, run) {
  const path = join(tmpdir(), `famfs-bench-pcq-sock-${process.pid}-${run}`);
  rmSync(path, { force: true });
  const payload = c.bucket - 16;
  const consumer = startChild(['socket', path, String(payload), String(c.count)]);
  await consumer.ready;
  const sock = createConnection(path);
  // The consumer closes its end once it has every byte; nothing more is written by then.
  sock.on('error', () => {});
  await once(sock, 'connect');
  const batchLen = Math.min(BATCH, c.nbuckets >> 2);
  const chunk = Buffer.alloc(payload * batchLen, 7);
  const t0 = nowNs();
  for (let sent = 0; sent < c.count;) {
    const n = Math.min(batchLen, c.count - sent);
    const ok = sock.write(n === batchLen ? chunk : chunk.subarray(0, n * payload));
    sent += n;
    if (!ok) await once(sock, 'drain');
  }
  await consumer.done;
  const ns = elapsedNs(t0);
  sock.destroy();
  rmSync(path, { force: true });
  return ns;
}

async function main() {
  if (process.argv[2] === '--child') {
    const [kind, a, b, n] = process.argv.slice(3);
    if (kind === 'pcq') await pcqConsumer(a, b, Number(n));
    else await socketConsumer(a, Number(b), Number(n));
    return;
  }
  privateRunDir();
  const maxRing = Math.max(...CASES.map((c) => 2 * MIB + c.nbuckets * c.bucket));
  const dev = makeFs('pcq', RUNS * CASES.length * (maxRing + 4 * MIB) + 64 * MIB);
  const fs = openApi(dev);
  const rows = [];
  try {
    for (const c of CASES) {
      phase(`pcq: ${c.label} messages x ${c.count}`);
      const q = [];
      const s = [];
      for (let run = 0; run < RUNS; run++) {
        q.push(await pcqRun(fs, dev, c, run));
        s.push(await socketRun(c, run));
      }
      const payload = c.bucket - 16;
      const rate = (ns) => c.count / (ns / 1e9);
      const qRate = summary(q.map(rate));
      const sRate = summary(s.map(rate));
      const mbs = (r) => ((r.median * payload) / 1e6).toFixed(0);
      const detail = `${payload}-byte payloads in ${c.bucket}-byte buckets, ${c.nbuckets} buckets; ${mbs(qRate)} MB/s vs socket ${mbs(sRate)} MB/s`;
      rows.push(row({ name: `pcq ${c.label} messages, two processes`, unit: 'msgs/s', value: qRate, ref: sRate, refName: 'Unix socket', goal: { kind: 'ratio', op: '>=', target: 1 }, detail }));
      if (c.bucket === 64) {
        rows.push(row({ name: 'pcq 64 B messages, two processes', unit: 'msgs/s', value: qRate, goal: { kind: 'value', op: '>=', target: 1_000_000 }, detail }));
      }
      if (c.bucket === 64 * KIB) {
        const gb = (r) => summary(r.map((ns) => (c.count * payload) / (ns / 1e9) / GB));
        rows.push(row({ name: 'pcq 64 KiB messages, two processes', unit: 'GB/s', value: gb(q), ref: gb(s), refName: 'Unix socket', goal: { kind: 'value', op: '>=', target: 5 }, detail }));
      }
    }
  } finally {
    fs.close();
  }
  emit(rows);
}

runMain(main);
