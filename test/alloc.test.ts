import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Allocator } from '../src/alloc/allocator.js';
import { Bitmap } from '../src/alloc/bitmap.js';
import { FsError } from '../src/errors.js';
import { fmapExtents } from '../src/format/fmap.js';
import { ALLOC_UNIT } from '../src/format/layout.js';
import { FamfsHandle } from '../src/fs/famfs.js';
import { fsck } from '../src/fs/fsck.js';
import { mkfs } from '../src/fs/mkfs.js';
import { cleanupDevices, emuDevice, GiB, master, MiB } from './helpers/emu.js';
import { runPython } from './helpers/run.js';
import { seededRandomInt } from './helpers/prng.js';

after(cleanupDevices);

describe('allocator', () => {
  it('first fit from the start of the data area, in order, as upstream', () => {
    const dev = emuDevice(8 * GiB, 'ff');
    mkfs(dev, { systemUuid: master });
    const fs = FamfsHandle.open(dev, { writable: true, systemUuid: master });
    try {
      const a = fs.creat('a', { size: 1 }).file.fmap;
      const b = fs.creat('b', { size: 3 * MiB }).file.fmap;
      const c = fs.creat('c', { size: 2 * MiB }).file.fmap;
      assert.deepEqual(a, { kind: 'simple', extents: [{ devIndex: 0, offset: 0xa00000, len: 0x200000 }] });
      assert.deepEqual(b, { kind: 'simple', extents: [{ devIndex: 0, offset: 0xc00000, len: 0x400000 }] });
      assert.deepEqual(c, { kind: 'simple', extents: [{ devIndex: 0, offset: 0x1000000, len: 0x200000 }] });
    } finally {
      fs.close();
    }
  });

  it('a search for free units after the allocated prefix finds what a search of every bit finds, also after bits below it are set from outside or cleared', () => {
    const b = new Bitmap(4096);
    const scan = (count: number, from: number, to: number): number => {
      for (let run = 0, i = from; i < Math.min(to, b.nbits); i++) {
        run = b.isSet(i) ? 0 : run + 1;
        if (run === count) return i - count + 1;
      }
      return -1;
    };
    const random = seededRandomInt(7);
    for (let step = 0; step < 3000; step++) {
      const count = 1 + random(6);
      const from = random(3) === 0 ? random(4096) : 0;
      const to = random(5) === 0 ? from + random(4096) : 4096;
      const want = scan(count, from, to);
      assert.equal(b.findFree(count, from, to), want, `step ${step}: ${count} from ${from} to ${to}`);
      if (want >= 0) b.mark(want, count);
      // The replay marks the bytes in place; a failed allocation gives units back.
      if (random(10) === 0) b.bytes[random(512)] = 0xff;
      if (random(10) === 0) b.unmark(random(4096), 1 + random(3));
    }
  });

  it('interleaved: nstrips strips in distinct buckets, each a whole number of chunks', () => {
    const bm = Bitmap.forDevice(8 * GiB);
    bm.markRange(0, 10 * MiB);
    const alloc = new Allocator(bm, 8 * GiB, 0, seededRandomInt(7));
    const f = alloc.allocate(100 * MiB, { nbuckets: 8, nstrips: 4, chunkSize: 2 * MiB });
    assert.equal(f.kind, 'interleaved');
    if (f.kind !== 'interleaved') return;
    // 50 units, stripe of 4 chunks of 1 unit -> 13 stripes -> strips of 13 units.
    assert.equal(f.strips.length, 4);
    const buckets = new Set(f.strips.map((s) => Math.floor(s.offset / GiB)));
    assert.equal(buckets.size, 4);
    for (const s of f.strips) assert.equal(s.len, 13 * ALLOC_UNIT);
    // Smaller than a chunk: contiguous instead.
    assert.equal(alloc.allocate(MiB, { nbuckets: 8, nstrips: 4, chunkSize: 4 * MiB }).kind, 'simple');
  });

  it('rejects bad interleave parameters, including those upstream crashes on', () => {
    const alloc = new Allocator(Bitmap.forDevice(8 * GiB), 8 * GiB);
    const bad = [
      { nbuckets: 8, nstrips: 0, chunkSize: 2 * MiB },
      { nbuckets: 8, nstrips: 17, chunkSize: 2 * MiB },
      { nbuckets: 4, nstrips: 5, chunkSize: 2 * MiB },
      { nbuckets: 65, nstrips: 4, chunkSize: 2 * MiB },
      { nbuckets: 16, nstrips: 4, chunkSize: 2 * MiB },
      { nbuckets: 8, nstrips: 4, chunkSize: 3 * MiB },
      { nbuckets: 8, nstrips: 4, chunkSize: MiB },
    ];
    for (const p of bad) assert.throws(() => alloc.allocate(64 * MiB, p), (e: unknown) => e instanceof FsError && e.code === 'EINVAL', JSON.stringify(p));
  });

  it('never allocates past the device end, even with a partial last unit', () => {
    const size = 4 * GiB + MiB;
    const bm = Bitmap.forDevice(size);
    assert.equal(bm.nbits, 2048);
    const alloc = new Allocator(bm, size);
    let total = 0;
    for (;;) {
      try {
        const f = alloc.allocate(100 * MiB);
        for (const e of fmapExtents(f)) assert.ok(e.offset + e.len <= size);
        total++;
      } catch (e) {
        assert.ok(e instanceof FsError && e.code === 'ENOSPC');
        break;
      }
    }
    assert.equal(total, 40);
  });

  it('2,000 random simple and interleaved creates until full: no overlap, fsck and an independent reader agree', () => {
    const dev = emuDevice(8 * GiB, 'rand');
    mkfs(dev, { systemUuid: master });
    const rnd = seededRandomInt(12345);
    const fs = FamfsHandle.open(dev, { writable: true, systemUuid: master, random: seededRandomInt(99) });
    let made = 0;
    let full = 0;
    try {
      fs.withLog((s) => {
        for (let i = 0; i < 2000; i++) {
          const interleave = rnd(3) === 0 ? { nbuckets: 8, nstrips: 1 + rnd(8), chunkSize: (1 + rnd(2)) * 2 * MiB } : undefined;
          const size = 1 + rnd(interleave ? 48 * MiB : 24 * MiB);
          try {
            s.creat(`f${i}`, { size, interleave });
            made++;
          } catch (e) {
            assert.ok(e instanceof FsError && e.code === 'ENOSPC', String(e));
            full++;
          }
        }
      });
      const r = fsck(fs);
      assert.equal(r.collisions, 0);
      assert.equal(r.files, made);
      assert.ok(full > 0, 'the device filled up');
      assert.ok(r.capacity.percentUsed > 90, `device used ${r.capacity.percentUsed}%`);
      const all = [...fs.ns.walk()].flatMap((n) => (n.kind === 'file' ? fmapExtents(n.fmap).map((e) => ({ ...e, size: n.size })) : []));
      const seen = new Set<number>();
      for (const e of all) {
        assert.equal(e.offset % ALLOC_UNIT, 0);
        assert.ok(e.offset >= 10 * MiB && e.offset + e.len <= 8 * GiB);
        for (let u = e.offset / ALLOC_UNIT; u < (e.offset + e.len) / ALLOC_UNIT; u++) {
          assert.ok(!seen.has(u), `unit ${u} allocated twice`);
          seen.add(u);
        }
      }
    } finally {
      fs.close();
    }
    const py = runPython('famfs_read.py', [dev]);
    assert.equal(py.status, 0, py.stderr);
    const img = JSON.parse(py.stdout) as { bitmap: { collisions: number }; entries: { crc_ok: boolean }[]; padding_nonzero: string[] };
    assert.equal(img.bitmap.collisions, 0);
    assert.equal(img.entries.length, made);
    assert.ok(img.entries.every((e) => e.crc_ok));
    assert.deepEqual(img.padding_nonzero, []);
  });
});
