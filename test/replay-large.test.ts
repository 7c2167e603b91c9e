import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { ALLOC_UNIT, LOG_OFFSET } from '../src/format/layout.js';
import type { DeviceRange } from '../src/format/device-range.js';
import { FamfsHandle } from '../src/fs/famfs.js';
import { mkfs } from '../src/fs/mkfs.js';
import { pathOf } from '../src/fs/namespace.js';
import { cleanupDevices, client, emuDevice, GiB, master, MiB } from './helpers/emu.js';

after(cleanupDevices);

/**
 * A large log replayed in a fresh handle (the log read in chunks, the index sized from the
 * header, its arrays past the sizes a small log reaches): what was written is exactly what is
 * replayed. A full 256 MiB log (~493,000 entries) is the bench's (bench/million.mjs); this
 * 64 MiB one (~123,000) fits the unit group's time.
 */
const LOG_LEN = 64 * MiB;
const DIRS = 300;

/** What the master created: file i is dir(i % DIRS)/file-i. */
interface Written {
  path: string;
  size: number;
  extent: DeviceRange;
}

/** 1 to 3 allocation units, and never a whole number of them. */
function sizeOf(i: number): number {
  return 1 + (i % 3) * ALLOC_UNIT + (i % 1000);
}

describe('replay of a 64 MiB log', () => {
  const dev = emuDevice(1024 * GiB, 'replay-large');
  mkfs(dev, { systemUuid: master, logLen: LOG_LEN });
  const written: Written[] = [];
  const fs = FamfsHandle.open(dev, { writable: true, systemUuid: master });
  try {
    fs.withLog((s) => {
      for (let d = 0; d < DIRS; d++) s.mkdir(`dir${d}`, { mode: 0o750 + (d % 8) });
      for (let i = 0; s.freeSlots() > 0; i++) {
        const path = `dir${i % DIRS}/file-${i}`;
        const { file } = s.creat(path, { size: sizeOf(i) });
        assert.equal(file.fmap.kind, 'simple');
        written.push({ path, size: sizeOf(i), extent: file.fmap.extents[0]! });
      }
    });
  } finally {
    fs.close();
  }

  it('holds every entry: the counts, each file\'s size and extent, the directories\' children in log order', () => {
    const r = FamfsHandle.open(dev, { systemUuid: client });
    try {
      assert.ok(written.length > 120_000, `${written.length} files`);
      assert.equal(r.logHeader().nextIndex, DIRS + written.length);
      assert.deepEqual({ files: r.stats.files, dirs: r.stats.dirs, bad: r.stats.badEntries.length, skipped: r.stats.skipped.length },
        { files: written.length, dirs: DIRS, bad: 0, skipped: 0 });
      assert.equal(r.stats.fileBytes, written.reduce((s, w) => s + w.size, 0));
      for (const w of written) {
        const node = r.lookup(w.path);
        assert.ok(node?.kind === 'file', w.path);
        assert.equal(node.size, w.size, w.path);
        assert.deepEqual(node.fmap, { kind: 'simple', extents: [w.extent] }, w.path);
      }
      const dir7 = r.lookup('dir7');
      assert.ok(dir7?.kind === 'dir');
      assert.equal(dir7.mode, 0o757);
      assert.deepEqual([...dir7.children.keys()], written.filter((_, i) => i % DIRS === 7).map((w) => w.path.slice('dir7/'.length)));
      assert.deepEqual([...r.ns.root.children.keys()], Array.from({ length: DIRS }, (_, d) => `dir${d}`));
      const last = written[written.length - 1]!;
      assert.equal(pathOf(r.lookup(last.path)!), last.path);
      assert.equal(r.lookup('dir7/file-8'), undefined, 'file 8 is in dir8');
      assert.throws(() => r.lookup('dir7/file-7/x'), { code: 'ENOTDIR' });
    } finally {
      r.close();
    }
  });

  it('marks exactly the units the files were given, and the superblock and log', () => {
    const r = FamfsHandle.open(dev, { systemUuid: client });
    try {
      const units = new Set<number>();
      for (let u = 0; u < (LOG_OFFSET + LOG_LEN) / ALLOC_UNIT; u++) units.add(u);
      for (const w of written) {
        assert.equal(w.extent.devIndex, 0);
        for (let u = w.extent.offset / ALLOC_UNIT; u < (w.extent.offset + w.extent.len) / ALLOC_UNIT; u++) {
          assert.ok(!units.has(u), `unit ${u} given twice`);
          units.add(u);
        }
      }
      const usage = r.deviceUsage()[0]!;
      assert.equal(usage.allocatedUnits, units.size);
      assert.equal(r.collisions(), 0);
      let highest = 0;
      for (const u of units) highest = Math.max(highest, u);
      for (let u = 0; u <= highest + 2; u++) assert.equal(r.isUnitAllocated(0, u), units.has(u), `unit ${u}`);
    } finally {
      r.close();
    }
  });
});
