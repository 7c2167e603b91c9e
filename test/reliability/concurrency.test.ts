import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fmapExtents } from '../../src/format/fmap.js';
import { LOG_OFFSET } from '../../src/format/layout.js';
import { FamfsHandle } from '../../src/fs/famfs.js';
import type { FsNode } from '../../src/fs/namespace.js';
import { GiB } from '../helpers/emu.js';
import { FAMFS_BIN, runCliAsync, type RunResult } from '../helpers/run.js';
import { eventually } from '../helpers/wait.js';
import { MemoryDevice } from '../../src/device/device.js';
import { Cluster } from '../hosts/harness.js';
import { OBSERVER_UUID, RUN_SEED, cleanProblems, envInt, inspect, reportFigure } from './support.js';
import { prng, randInt } from '../helpers/prng.js';

/**
 * Several writers and readers at once: two master processes appending under the log lock must
 * lose nothing and never hand out the same memory twice; a client replaying while the master
 * appends must never see a partial entry; clients following one master must converge on its tree.
 */

const FILES_PER_WRITER = envInt('FAMFS_CONC_FILES', 1000);
const FOLLOWERS = envInt('FAMFS_FOLLOWERS', 3);
const FOLLOW_MS = 50;
const CONVERGE_MS = 15_000;
/** Files up to one allocation unit, so 2 × 1,000 of them fit easily. */
const MAX_FILE = 2 * 1024 ** 2;

/** `-M name,size` arguments for `n` files named `<prefix><i>`. */
function multiArgs(prefix: string, n: number, rnd: () => number): { args: string[]; sizes: Map<string, number> } {
  const args: string[] = [];
  const sizes = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const size = randInt(rnd, 1, MAX_FILE);
    args.push('-M', `${prefix}${i},${size}`);
    sizes.set(`${prefix}${i}`, size);
  }
  return { args, sizes };
}

/** Every extent of every file, sorted; adjacent ones must not overlap, nor touch the metadata or pass the device end. */
function overlapProblems(nodes: Map<string, FsNode>, devSize: number, metadataEnd: number): string[] {
  const ext: { path: string; offset: number; end: number }[] = [];
  for (const [path, n] of nodes) {
    if (n.kind !== 'file') continue;
    for (const e of fmapExtents(n.fmap)) ext.push({ path, offset: e.offset, end: e.offset + e.len });
  }
  ext.sort((a, b) => a.offset - b.offset);
  const out: string[] = [];
  for (let i = 0; i < ext.length; i++) {
    const e = ext[i]!;
    if (e.offset < metadataEnd) out.push(`${e.path} overlaps the superblock or log`);
    if (e.end > devSize) out.push(`${e.path} ends past the device`);
    if (i > 0 && ext[i - 1]!.end > e.offset) out.push(`${ext[i - 1]!.path} and ${e.path} share memory`);
  }
  return out;
}

/** How long the writers may take to start and reach the log lock. */
const LOCK_WAIT_MS = 20_000;
const POLL_MS = 10;

/** Processes blocked in flock(2) on this file, from /proc/locks ("-> FLOCK" lines name its inode). */
function flockWaiters(path: string): number {
  const ino = statSync(path).ino;
  return readFileSync('/proc/locks', 'utf8').split('\n')
    .filter((l) => l.includes('-> FLOCK') && l.split(/\s+/).some((f) => f.endsWith(`:${ino}`))).length;
}

/** The tree a mount shows: path → size (-1 for a directory), without the meta files. */
function mountTree(mnt: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const p of readdirSync(mnt, { recursive: true }) as string[]) {
    if (p.startsWith('.meta')) continue;
    const st = statSync(join(mnt, p));
    out.set(p, st.isDirectory() ? -1 : st.size);
  }
  return out;
}

function logTree(device: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const [p, n] of inspect(device).nodes) out.set(p, n.kind === 'dir' ? -1 : n.size);
  return out;
}

describe('concurrency', () => {
  const rnd = prng(RUN_SEED ^ 0x5eed);

  it(`two master processes append ${FILES_PER_WRITER} files each at once: nothing lost, no memory shared`, async () => {
    const c = await Cluster.up({ clients: 0, noMount: true, devSize: 16 * GiB, tag: 'conc' });
    try {
      const as = { host: c.master.uuid, env: { FAMFS_DEVICE: c.device } };
      const a = multiArgs('a', FILES_PER_WRITER, rnd);
      const b = multiArgs('b', FILES_PER_WRITER, rnd);
      // One writer allocates interleaved files, the other contiguous ones: both allocators share the bitmap.
      // Both start while this process holds the log lock, and are let go together once both wait
      // on it: process start-up varies by more than the time either needs for its 1,000 files.
      const holder = MemoryDevice.open(c.device, { writable: false });
      const unlock = holder.lock();
      let running: Promise<RunResult[]>;
      try {
        running = Promise.all([
          runCliAsync(FAMFS_BIN, ['creat', '-q', ...a.args], as),
          runCliAsync(FAMFS_BIN, ['creat', '-q', '-N', '2', '-B', '8', ...b.args], as),
        ]);
        await eventually('both writers waiting on the log lock', () => flockWaiters(c.device) >= 2, LOCK_WAIT_MS, POLL_MS);
      } finally {
        unlock();
        holder.close();
      }
      const [ra, rb] = (await running) as [RunResult, RunResult];
      assert.equal(ra.status, 0, ra.stderr);
      assert.equal(rb.status, 0, rb.stderr);
      const { report, nodes } = inspect(c.device);
      assert.deepEqual(cleanProblems(report), []);
      assert.equal(report.log.entriesUsed, 2 * FILES_PER_WRITER, 'log entries lost or duplicated');
      for (const [p, size] of [...a.sizes, ...b.sizes]) {
        const n = nodes.get(p);
        assert.equal(n?.kind === 'file' ? n.size : undefined, size, `${p} missing or wrong size`);
      }
      // The two writers really raced: their entries alternate in the log, not one block after the other.
      const order = [...nodes.values()].sort((x, y) => x.logIndex - y.logIndex).map((n) => n.name[0]);
      const switches = order.filter((w, i) => i > 0 && w !== order[i - 1]).length;
      assert.ok(switches > 2, `the writers did not overlap (${switches} switches)`);
      assert.deepEqual(overlapProblems(nodes, report.superblock.devSize, LOG_OFFSET + report.superblock.logLen), []);
      reportFigure('concurrent_appends', 2 * FILES_PER_WRITER);
    } finally {
      c.down();
    }
  });

  it('a client replaying in a loop while the master appends never sees a partial entry', async () => {
    const c = await Cluster.up({ clients: 0, noMount: true, tag: 'replay' });
    try {
      const as = { host: c.master.uuid, env: { FAMFS_DEVICE: c.device } };
      const files = multiArgs('r', FILES_PER_WRITER / 2, rnd);
      let done = false;
      const writer = runCliAsync(FAMFS_BIN, ['creat', '-q', ...files.args], as).then((r) => { done = true; return r; });
      const follower = FamfsHandle.open(c.device, { systemUuid: OBSERVER_UUID });
      let replays = 0;
      let seenMax = 0;
      try {
        while (!done) {
          // Both paths a client takes: following (refresh) and a fresh replay from slot 0.
          follower.refresh();
          assert.deepEqual(follower.stats.badEntries, [], 'the follower read a partial entry');
          assert.deepEqual(follower.stats.skipped, []);
          const fresh = inspect(c.device);
          assert.deepEqual(cleanProblems(fresh.report), [], 'a fresh replay read a partial entry');
          for (const [p, n] of fresh.nodes) assert.equal(n.kind === 'file' ? n.size : -1, files.sizes.get(p), `${p} replayed with a size never written`);
          seenMax = Math.max(seenMax, fresh.nodes.size);
          replays++;
          await new Promise((r) => setImmediate(r));
        }
      } finally {
        follower.close();
      }
      const r = await writer;
      assert.equal(r.status, 0, r.stderr);
      assert.ok(replays > 1 && seenMax > 0, `only ${replays} replays overlapped the appends`);
      assert.equal(inspect(c.device).nodes.size, files.sizes.size);
    } finally {
      c.down();
    }
  });

  it(`${FOLLOWERS} clients following one master see the same tree`, async () => {
    const c = await Cluster.up({ clients: FOLLOWERS, followMs: FOLLOW_MS, tag: 'follow' });
    try {
      const m = c.master;
      for (let d = 0; d < 5; d++) {
        const r = m.famfs(['mkdir', '-p', join(m.mnt, `dir${d}`, 'sub')]);
        assert.equal(r.status, 0, r.stderr);
      }
      const files = multiArgs('dir0/sub/f', 100, rnd);
      const writer = runCliAsync(FAMFS_BIN, ['creat', '-q', ...files.args], { host: m.uuid, env: { FAMFS_DEVICE: c.device } });
      // While the master appends, whatever a client shows must be something the master made.
      let views = 0;
      for (let settled = false; !settled;) {
        settled = await Promise.race([writer.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), FOLLOW_MS))]);
        for (const h of c.clients) {
          // The mount first: the log only grows, so what the mount showed must be in the later log.
          const shown = mountTree(h.mnt);
          const log = logTree(c.device);
          for (const [p, size] of shown) assert.equal(log.get(p), size, `${h.name} shows ${p} (${size}) that the log does not hold`);
          views++;
        }
      }
      assert.equal((await writer).status, 0);
      const want = logTree(c.device);
      assert.equal(want.size, 10 + files.sizes.size);
      const end = Date.now() + CONVERGE_MS;
      for (const h of c.clients) {
        let got = mountTree(h.mnt);
        while (got.size !== want.size && Date.now() < end) {
          await new Promise((r) => setTimeout(r, FOLLOW_MS));
          got = mountTree(h.mnt);
        }
        assert.deepEqual([...got].sort(), [...want].sort(), `${h.name} did not converge on the master's tree`);
      }
      assert.ok(views > 0);
    } finally {
      c.down();
    }
  });
});
