import assert from 'node:assert/strict';
import { randomFillSync } from 'node:crypto';
import { closeSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Famfs, type FileMapping } from '../../src/api/index.js';
import { type DeviceMapping, MemoryDevice } from '../../src/device/device.js';
import { Cluster } from '../hosts/harness.js';
import { RUN_SEED, envInt, reportFigure } from './support.js';
import { prng, randInt } from '../helpers/prng.js';
import { readUpTo } from '../helpers/device-io.js';

/**
 * fsx for famfs: random interleavings of writes through the master's mappings (src/api map())
 * and, on two clients (page-cache and direct-I/O mounts), FUSE preads and reads of an mmap of the
 * FUSE file, every read checked against a model of each file's bytes.
 */

const SECONDS = envInt('FAMFS_FSX_SECONDS', 10);
const MAX_IO = 64 * 1024;
/** Recent operations printed with a mismatch, to replay it by hand. */
const HISTORY = 20;
const MiB = 1024 ** 2;

interface FileSpec { name: string; size: number; interleave: string[] }
/** Odd sizes (partial last page and unit), one contiguous, one striped across 4 buckets, one tiny. */
const FILES: FileSpec[] = [
  { name: 'contig', size: 3 * MiB + 123, interleave: [] },
  { name: 'striped', size: 8 * MiB + 7, interleave: ['-N', '4', '-B', '8'] },
  { name: 'tiny', size: 5000, interleave: [] },
];

interface ClientView { name: string; path: (f: string) => string; maps: Map<string, { dev: MemoryDevice; m: DeviceMapping }> }

describe('fsx: mapped writes on the master, FUSE and mmap reads on clients, against a model', () => {
  it(`${SECONDS} s of random operations (seed ${RUN_SEED})`, async () => {
    const rnd = prng(RUN_SEED ^ 0xf5);
    const c = await Cluster.up({ clients: 2, noMount: true, tag: 'fsx' });
    const views: ClientView[] = [];
    let fs: Famfs | undefined;
    const maps = new Map<string, FileMapping>();
    try {
      for (const f of FILES) {
        const r = c.master.onDevice(['creat', '-s', String(f.size), ...f.interleave, f.name]);
        assert.equal(r.status, 0, r.stderr);
      }
      fs = Famfs.open(c.device, { systemUuid: c.master.uuid });
      const model = new Map<string, Buffer>();
      for (const f of FILES) {
        const m = fs.map(f.name, { writable: true });
        const init = randomFillSync(Buffer.alloc(f.size));
        m.write(init, 0);
        m.flush();
        maps.set(f.name, m);
        model.set(f.name, init);
      }
      for (const [k, [name, args]] of ([['normal', ['-c', 'normal']], ['direct', ['-c', 'never']]] as const).entries()) {
        const h = c.clients[k]!;
        await h.mount([...args, '--follow', '50']);
        const v: ClientView = { name: `${h.name}/${name}`, path: (f) => join(h.mnt, f), maps: new Map() };
        for (const f of FILES) {
          const dev = MemoryDevice.open(v.path(f.name), { writable: false });
          v.maps.set(f.name, { dev, m: dev.map(0, f.size, { writable: false }) });
        }
        views.push(v);
      }
      const history: string[] = [];
      const check = (got: Buffer, want: Buffer, what: string): void => {
        if (got.equals(want)) return;
        let at = 0;
        while (at < got.length && got[at] === want[at]) at++;
        assert.fail(`${what}: differs at +${at} (${got.length} bytes read, ${want.length} expected)\nlast operations:\n${history.slice(-HISTORY).join('\n')}`);
      };
      let ops = 0;
      for (const end = Date.now() + SECONDS * 1000; Date.now() < end; ops++) {
        const f = FILES[randInt(rnd, 0, FILES.length - 1)]!;
        const want = model.get(f.name)!;
        const off = randInt(rnd, 0, f.size - 1);
        const len = Math.min(randInt(rnd, 1, MAX_IO), f.size - off);
        const v = views[randInt(rnd, 0, views.length - 1)]!;
        const p = rnd();
        if (p < 0.4) {
          const data = randomFillSync(Buffer.alloc(len));
          const m = maps.get(f.name)!;
          m.write(data, off);
          m.flush(off, len);
          data.copy(want, off);
          history.push(`write ${f.name} ${off}+${len}`);
        } else if (p < 0.7) {
          history.push(`fuse read ${v.name} ${f.name} ${off}+${len}`);
          check(readUpTo(v.path(f.name), off, len), want.subarray(off, off + len), history.at(-1)!);
        } else if (p < 0.95) {
          history.push(`mmap read ${v.name} ${f.name} ${off}+${len}`);
          const { m } = v.maps.get(f.name)!;
          // On a stock kernel a FUSE mmap is backed by the client's page cache (in both cache modes):
          // another host's writes show only after an open drops those pages (no KEEP_CACHE), the
          // stand-in here for the cache invalidation famfs asks of readers of shared memory.
          closeSync(openSync(v.path(f.name), 'r'));
          m.invalidate(off, len);
          check(Buffer.from(m.buffer.subarray(off, off + len)), want.subarray(off, off + len), history.at(-1)!);
        } else {
          // Past the end: a read returns exactly the tail, nothing of the allocation behind it.
          const tail = Math.min(f.size, randInt(rnd, 1, 100));
          history.push(`read past EOF ${v.name} ${f.name} ${f.size - tail}+${tail + 100}`);
          check(readUpTo(v.path(f.name), f.size - tail, tail + 100), want.subarray(f.size - tail), history.at(-1)!);
        }
        // Let the daemons' timers and the test runner breathe.
        if (ops % 200 === 0) await new Promise((r) => setImmediate(r));
      }
      reportFigure('fsx_operations', ops);
      assert.ok(ops > 100, `only ${ops} operations in ${SECONDS} s`);
    } finally {
      for (const v of views) for (const { dev, m } of v.maps.values()) { m.unmap(); dev.close(); }
      for (const m of maps.values()) m.unmap();
      fs?.close();
      c.down();
    }
  });
});

