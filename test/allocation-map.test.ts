import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { FM_ALL_HOSTS_RW } from '../src/format/file-meta.js';
import { ALLOC_UNIT } from '../src/format/layout.js';
import { encodeLogEntry } from '../src/format/log-entry.js';
import { AllocationMap } from '../src/fs/allocation-map.js';
import { FamfsHandle } from '../src/fs/famfs.js';
import { mkfs } from '../src/fs/mkfs.js';
import { cleanupDevices, client, emuDevice, GiB, master } from './helpers/emu.js';
import { appendForeign } from './helpers/foreign-log.js';

after(cleanupDevices);

/** What the console serves of a map: files, directories and every unit's owner. */
function snapshot(m: AllocationMap): unknown {
  return { files: m.files, filesJson: m.filesJson, directories: m.directories, devices: m.devices, through: m.through };
}

/** Units the map shows as orphans (allocated, owned by no file): its UNIT_ORPHAN code. */
function orphans(m: AllocationMap): number {
  return m.devices.reduce((n, d) => n + d.units.filter((u) => u === -4).length, 0);
}

/**
 * A FILE entry the replay skips (its path exists) whose extent names `units` units at `offset`,
 * which must be free: interleaved strips start at each bucket's first unit (every 2 GiB here).
 */
function skippedFile(offset: number, units: number): (seqnum: number) => Buffer {
  return (seqnum) => encodeLogEntry({
    type: 'file', seqnum, path: 'a', size: ALLOC_UNIT, flags: FM_ALL_HOSTS_RW, uid: 0, gid: 0, mode: 0o644,
    fmap: { kind: 'simple', extents: [{ devIndex: 0, offset, len: units * ALLOC_UNIT }] },
  });
}

describe('allocation map (the console\'s)', () => {
  it('an update after new entries gives the map a full rebuild gives, and scans no unit unless an entry was skipped', () => {
    const dev = emuDevice(8 * GiB, 'allocmap');
    mkfs(dev, { systemUuid: master });
    const w = FamfsHandle.open(dev, { writable: true, systemUuid: master });
    const r = FamfsHandle.open(dev, { systemUuid: client });
    try {
      w.creat('a', { size: 3 * ALLOC_UNIT });
      w.mkdir('d');
      w.creat('d/striped', { size: 9 * ALLOC_UNIT, interleave: { nbuckets: 4, nstrips: 2, chunkSize: ALLOC_UNIT } });
      appendForeign(dev, skippedFile(6.5 * GiB, 2));
      r.refresh();
      const map = new AllocationMap(r);
      assert.equal(orphans(map), 2);
      const scanned: number[] = [];
      const isUnitAllocated = r.isUnitAllocated.bind(r);
      r.isUnitAllocated = (d, u) => {
        scanned.push(u);
        return isUnitAllocated(d, u);
      };

      // One new file: the update handles its units alone.
      w.creat('d/one', { size: ALLOC_UNIT + 1 });
      r.refresh();
      assert.equal(map.update(), true);
      assert.deepEqual(scanned, []);
      assert.deepEqual(snapshot(map), snapshot(new AllocationMap(r)));
      assert.equal(map.files.at(-1)!.path, 'd/one');

      // A new file and an entry the replay skips: its units are found, as a rebuild finds them.
      w.mkdir('e');
      w.creat('e/two', { size: 5 * ALLOC_UNIT });
      appendForeign(dev, skippedFile(7.5 * GiB, 3));
      r.refresh();
      assert.equal(map.update(), true);
      assert.equal(orphans(map), 5);
      assert.deepEqual(snapshot(map), snapshot(new AllocationMap(r)));
      assert.equal(map.update(), false);
    } finally {
      r.close();
      w.close();
    }
  });
});
