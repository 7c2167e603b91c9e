/**
 * The lifecycle of the addon's event-loop watches (native/uv_watch.c) through both of its users:
 * the /dev/fuse reader's fd watcher (native/poll.c, fdWatch) and the FUSE io_uring ring
 * (native/fuse_uring.c, uringCreate). A started watch holds its object, a stopped or never started
 * one does not: dropped without close(), it is collected and closes what it owns (the ring's
 * io_uring and eventfd). close() may come from the watch's own callback. A worker that ends with
 * watches open closes them, or its event loop could not close (Node aborts the process then).
 * The watchers watch FIFOs; the rings are made on /dev/null and never registered, so nothing here
 * needs /dev/fuse or FUSE over io_uring, only io_uring itself.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, constants, mkdtempSync, openSync, readdirSync, readlinkSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { setImmediate, setTimeout as sleep } from 'node:timers/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Worker } from 'node:worker_threads';
import { loadNative } from '../src/addon.js';
import { type FdWatcher, loadPollNative } from '../src/fuse/native-poll.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** The part of the addon's ring (src/fuse/ring-transport.ts NativeRing) these tests use. */
interface Ring {
  register(): number;
  start(): void;
  stop(): void;
  close(): void;
  readonly memory: ArrayBuffer;
}
interface RingNative {
  uringCreate(fd: number, queues: number, depth: number, payloadSize: number, onEvents: (count: number) => void): Ring;
}

/** The smallest ring the addon accepts: one queue of one entry with an 8 KiB payload. */
const RING_ARGS = [1, 1, 8192] as const;
/** Rounds of gc() and a pause for the finalizers, before a collection counts as not happening. */
const GC_ROUNDS = 50;
const GC_PAUSE_MS = 10;
const WORKER_TIMEOUT_MS = 10_000;
const EBADF = -9;

const dir = mkdtempSync(join(tmpdir(), 'famfs-watch-'));
const devNull = openSync('/dev/null', 'r');
const opened: number[] = [devNull];
after(() => {
  for (const fd of opened) closeSync(fd);
  rmSync(dir, { recursive: true, force: true });
});

const poll = loadPollNative();
const rings = loadNative() as unknown as RingNative;

/** Why this host cannot make an io_uring, or undefined when it can. */
function ringUnavailable(): string | undefined {
  try {
    rings.uringCreate(devNull, ...RING_ARGS, () => {}).close();
    return undefined;
  } catch (err) {
    return `no io_uring here: ${err instanceof Error ? err.message : String(err)}`;
  }
}
const noRing = ringUnavailable();

let fifos = 0;
/** A FIFO opened read-write and non-blocking: readable once a byte is written to it. */
function fifo(): number {
  const path = join(dir, `fifo${fifos++}`);
  const r = spawnSync('mkfifo', [path]);
  assert.equal(r.status, 0, r.stderr?.toString());
  const fd = openSync(path, constants.O_RDWR | constants.O_NONBLOCK);
  opened.push(fd);
  return fd;
}

/** What each open fd of this process points at. */
function openFds(): Map<string, string> {
  const out = new Map<string, string>();
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      out.set(fd, readlinkSync(`/proc/self/fd/${fd}`));
    } catch {
      // Closed since the listing (readdir's own fd among them).
    }
  }
  return out;
}

/** The io_uring and eventfd fds that `make` opened (a ring opens one of each). */
function ringFdsOf<T>(make: () => T): { made: T; fds: string[] } {
  const before = openFds();
  const made = make();
  const fds = [...openFds()].filter(([fd, target]) => !before.has(fd) && /^anon_inode:\[(io_uring|eventfd)\]$/.test(target)).map(([fd]) => fd);
  return { made, fds };
}

/** Which of `fds` are still open to an io_uring or an eventfd. */
function stillOpen(fds: readonly string[]): string[] {
  const now = openFds();
  return fds.filter((fd) => /^anon_inode:\[(io_uring|eventfd)\]$/.test(now.get(fd) ?? ''));
}

/**
 * Collects garbage until `done` holds or the rounds run out; returns whether it held. A WeakRef's
 * deref() keeps its target alive until the current task ends, so gc() runs in a later task than
 * the check.
 */
async function collectUntil(done: () => boolean): Promise<boolean> {
  for (let i = 0; i < GC_ROUNDS; i++) {
    if (done()) return true;
    await setImmediate();
    gc();
    await sleep(GC_PAUSE_MS);
  }
  return done();
}

/** Collects garbage for every round, for a test that something is NOT collected. */
async function collectAll(): Promise<void> {
  await collectUntil(() => false);
}

/** A watcher on `fd` that only a WeakRef refers to. */
function watcherOn(fd: number, onReadable: (status: number) => void): WeakRef<FdWatcher> {
  return new WeakRef(poll.fdWatch(fd, onReadable));
}

/** Starts a watcher on `fd` that closes itself in its callback, then tells `closed`. */
function closingItself(fd: number, closed: (watcher: FdWatcher) => void): void {
  const watcher = poll.fdWatch(fd, () => {
    watcher.close();
    closed(watcher);
  });
  watcher.start();
}

describe('uv watches: the fd watcher and the io_uring ring', () => {
  it('a watcher and a ring dropped without start() or close() are collected, and the ring\'s fds close', { skip: noRing }, async () => {
    const watcher = watcherOn(fifo(), () => {});
    const { made, fds } = ringFdsOf(() => new WeakRef(rings.uringCreate(devNull, ...RING_ARGS, () => {})));
    assert.equal(fds.length, 2, 'uringCreate opened an io_uring and an eventfd');
    const collected = await collectUntil(() => watcher.deref() === undefined && made.deref() === undefined && stillOpen(fds).length === 0);
    assert.ok(collected, `watcher ${watcher.deref() ? 'alive' : 'collected'}, ring ${made.deref() ? 'alive' : 'collected'}, fds open: ${stillOpen(fds).join(' ')}`);
  });

  it('started, they hold their objects and keep working; stopped, they are collected', { skip: noRing }, async () => {
    const fd = fifo();
    let readable = 0;
    const watcher = watcherOn(fd, (status) => {
      assert.equal(status, 0);
      readable++;
      poll.readOrErrno(fd, Buffer.alloc(16));
    });
    watcher.deref()!.start();
    const { made: ring, fds } = ringFdsOf(() => new WeakRef(rings.uringCreate(devNull, ...RING_ARGS, () => {})));
    ring.deref()!.start();

    await collectAll();
    assert.ok(watcher.deref() !== undefined && ring.deref() !== undefined, 'a started watch is not collected');
    assert.deepEqual(stillOpen(fds), fds);
    writeSync(fd, Buffer.from('x'));
    assert.ok(await collectUntil(() => readable === 1), 'the dropped, started watcher still calls back');

    watcher.deref()!.stop();
    ring.deref()!.stop();
    const collected = await collectUntil(() => watcher.deref() === undefined && ring.deref() === undefined && stillOpen(fds).length === 0);
    assert.ok(collected, 'once stopped, both are collected and the ring\'s fds closed');
  });

  it('close() from the watcher\'s own callback; a closed watch refuses start() and is collected', async () => {
    const fd = fifo();
    let calls = 0;
    let closed: FdWatcher | undefined;
    closingItself(fd, (watcher) => {
      calls++;
      closed = watcher;
    });
    writeSync(fd, Buffer.from('x'));
    assert.ok(await collectUntil(() => closed !== undefined), 'the callback ran');
    await sleep(GC_PAUSE_MS);
    assert.equal(calls, 1, 'no callback after close(), though the byte is still unread');
    assert.throws(() => closed!.start(), { code: 'EBADF' });
    closed!.close();
    const ref = new WeakRef(closed!);
    closed = undefined;
    assert.ok(await collectUntil(() => ref.deref() === undefined), 'a closed watcher is collected');
  });

  it('close() closes a ring\'s fds at once; its memory stays mapped for the ArrayBuffer', { skip: noRing }, () => {
    const { made: ring, fds } = ringFdsOf(() => rings.uringCreate(devNull, ...RING_ARGS, () => {}));
    const bytes = new Uint8Array(ring.memory);
    bytes.fill(0x5a);
    ring.start();
    ring.close();
    assert.deepEqual(stillOpen(fds), [], 'close() closed the io_uring and the eventfd');
    assert.ok(bytes.every((b) => b === 0x5a), 'the memory is still mapped and unchanged');
    assert.throws(() => ring.start(), { code: 'EBADF' });
    assert.equal(ring.register(), EBADF);
    ring.close();
  });

  it('a method called on the other kind\'s object is refused', { skip: noRing }, () => {
    const watcher = poll.fdWatch(fifo(), () => {});
    const ring = rings.uringCreate(devNull, ...RING_ARGS, () => {});
    try {
      assert.throws(() => ring.start.call(watcher), { code: 'EINVAL' });
      assert.throws(() => watcher.close.call(ring), { code: 'EINVAL' });
      assert.throws(() => watcher.start.call({}), { code: 'EINVAL' });
    } finally {
      watcher.close();
      ring.close();
    }
  });

  it('a worker that ends with watches open, started or not, closes them', { skip: noRing, timeout: WORKER_TIMEOUT_MS }, async () => {
    const started = fifo();
    const idle = fifo();
    const closing = fifo();
    // The worker loads the addon as the package does, then reports its rings' fds and waits.
    const worker = new Worker(`
      const { parentPort, workerData: w } = require('node:worker_threads');
      const { readdirSync, readlinkSync } = require('node:fs');
      const ringFds = () => readdirSync('/proc/self/fd').filter((fd) => {
        try { return /^anon_inode:\\[(io_uring|eventfd)\\]$/.test(readlinkSync('/proc/self/fd/' + fd)); } catch { return false; }
      });
      import(w.addon).then(({ loadNative }) => {
        const native = loadNative();
        const before = new Set(ringFds());
        const a = native.uringCreate(w.devNull, ...w.ringArgs, () => {});
        a.start();
        native.uringCreate(w.devNull, ...w.ringArgs, () => {});
        native.uringCreate(w.devNull, ...w.ringArgs, () => {}).close();
        globalThis.kept = [a, native.fdWatch(w.idle, () => {})];
        native.fdWatch(w.started, () => {}).start();
        const c = native.fdWatch(w.closing, () => { c.close(); parentPort.postMessage('closed in its callback'); });
        c.start();
        parentPort.postMessage(ringFds().filter((fd) => !before.has(fd)));
      });
    `, { eval: true, workerData: { addon: new URL('../src/addon.js', import.meta.url).href, devNull, ringArgs: RING_ARGS, started, idle, closing } });
    const exited = once(worker, 'exit');
    const [fds] = await once(worker, 'message') as [string[]];
    assert.equal(fds.length, 4, `two rings left open, an io_uring and an eventfd each: ${fds.join(' ')}`);
    writeSync(closing, Buffer.from('x'));
    const [said] = await once(worker, 'message') as [string];
    assert.equal(said, 'closed in its callback');
    // Its teardown waits for the watches' cleanup hooks; its loop closes only if every handle has.
    await worker.terminate();
    await exited;
    assert.deepEqual(stillOpen(fds), [], 'the worker\'s teardown closed its rings');
  });
});
