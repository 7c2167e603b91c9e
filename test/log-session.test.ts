import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Famfs, FsError } from '../src/api/index.js';
import { FamfsHandle } from '../src/fs/famfs.js';
import { fsck } from '../src/fs/fsck.js';
import { mkfs } from '../src/fs/mkfs.js';
import { cleanupDevices, client, emuDevice, master, MASTER_UUID } from './helpers/emu.js';
import { entryOffset } from '../src/format/log-header.js';
import { decodeLogEntry, encodeLogEntry, LOG_ENTRY_SIZE } from '../src/format/log-entry.js';
import type { FileNode } from '../src/fs/namespace.js';
import type { Fmap } from '../src/format/fmap.js';
import { ALLOC_UNIT, LOG_OFFSET } from '../src/format/layout.js';
import { placementMessage, placementProblem } from '../src/fs/placement.js';
import { readAt, writeAt } from './helpers/device-io.js';

after(cleanupDevices);

const MiB = 1024 * 1024;

/** Allocation collisions a fresh replay of the device finds. */
function collisions(dev: string): number {
  const fs = FamfsHandle.open(dev, { systemUuid: master });
  try {
    return fsck(fs).collisions;
  } finally {
    fs.close();
  }
}

function freshFs(): string {
  const dev = emuDevice();
  mkfs(dev, { systemUuid: master });
  return dev;
}

/** Every file's first extent offset, by path, as a fresh open replays them. */
function layout(dev: string): Map<string, number> {
  const fs = FamfsHandle.open(dev, { systemUuid: master });
  try {
    const out = new Map<string, number>();
    const walk = (path: string): void => {
      for (const n of fs.readdir(path)) {
        const p = path ? `${path}/${n.name}` : n.name;
        if (n.kind === 'dir') walk(p);
        else out.set(p, n.fmap.kind === 'simple' ? n.fmap.extents[0]!.offset : n.fmap.strips[0]!.offset);
      }
    };
    walk('');
    return out;
  } finally {
    fs.close();
  }
}

describe('log sessions: per-call creates reuse what the lock already knows', () => {
  it('creatMany logs one durable entry per file, and a fresh replay agrees', () => {
    const dev = freshFs();
    const api = Famfs.open(dev, { systemUuid: MASTER_UUID });
    try {
      api.mkdir('d');
      const made = api.creatMany(Array.from({ length: 50 }, (_, i) => ({ path: `d/f${i}`, size: 1 + i * MiB })));
      assert.equal(made.length, 50);
      assert.deepEqual(made.map((s) => s.size), Array.from({ length: 50 }, (_, i) => 1 + i * MiB));
      assert.equal(api.usage().logSlotsFree, api.usage().logSlots - 51);
    } finally {
      api.close();
    }
    assert.equal(layout(dev).size, 50);
    assert.equal(collisions(dev), 0);
  });

  it('creatMany stops at the first failure and keeps the files before it', () => {
    const dev = freshFs();
    const api = Famfs.open(dev, { systemUuid: MASTER_UUID });
    try {
      assert.throws(() => api.creatMany([{ path: 'a', size: 1 }, { path: 'missing/b', size: 1 }, { path: 'c', size: 1 }]),
        (err: unknown) => err instanceof FsError && err.code === 'ENOENT');
      assert.ok(api.exists('a'));
      assert.ok(!api.exists('c'));
    } finally {
      api.close();
    }
  });

  it('one creat per call allocates as a fresh process would, also after another process appended', () => {
    const dev = freshFs();
    const a = FamfsHandle.open(dev, { writable: true, systemUuid: master });
    const b = FamfsHandle.open(dev, { writable: true, systemUuid: master });
    try {
      for (let i = 0; i < 5; i++) {
        a.creat(`a${i}`, { size: 3 * MiB });
        // b's append moves the log on under a's feet: a must not reuse its stale bitmaps.
        b.creat(`b${i}`, { size: MiB });
      }
      // A session that failed midway must not leave its bitmaps behind either.
      assert.throws(() => a.withLog((s) => {
        s.creat('x', { size: MiB });
        throw new FsError('EIO', 'abandoned');
      }));
      a.creat('after', { size: MiB });
    } finally {
      a.close();
      b.close();
    }
    const offsets = [...layout(dev).values()];
    assert.equal(new Set(offsets).size, offsets.length, 'no two files share memory');
    assert.equal(collisions(dev), 0);
  });

  it('a file made in a session keeps its fmap after the file system is closed, as a replayed one does', () => {
    const dev = freshFs();
    const fs = FamfsHandle.open(dev, { writable: true, systemUuid: master });
    const made = fs.creat('kept', { size: 3 * MiB }).file;
    fs.close();
    assert.equal(made.fmap.kind, 'simple');
    assert.equal(made.fmap.kind === 'simple' && made.fmap.extents[0]!.len, 4 * MiB);
  });

  it('a replayed file whose entry is rewritten afterwards (with a valid CRC) refuses its map: EIO, never the new extents', () => {
    const dev = freshFs();
    const setup = FamfsHandle.open(dev, { writable: true, systemUuid: master });
    setup.creat('victim', { size: 2 * MiB });
    setup.creat('untouched', { size: 2 * MiB });
    setup.close();
    const reader = FamfsHandle.open(dev, { systemUuid: client });
    const victim = reader.stat('victim') as FileNode;
    const untouched = reader.stat('untouched') as FileNode;
    // Another writer points entry 0 at other memory and recomputes its CRC.
    const at = LOG_OFFSET + entryOffset(victim.logIndex);
    const decoded = decodeLogEntry(readAt(dev, at, LOG_ENTRY_SIZE), victim.logIndex);
    assert.ok(decoded.type === 'file' && decoded.fmap.kind === 'simple');
    decoded.fmap.extents[0]!.offset += 64 * MiB;
    writeAt(dev, at, encodeLogEntry(decoded));
    assert.throws(() => victim.fmap, (e: unknown) => e instanceof FsError && e.code === 'EIO' && /changed after it was replayed/.test(e.message));
    assert.equal(untouched.fmap.kind, 'simple');
    reader.close();
  });

  it('memory handed out by allocate() and never logged is not offered to the next session', () => {
    const dev = freshFs();
    const fs = FamfsHandle.open(dev, { writable: true, systemUuid: master });
    try {
      fs.creat('first', { size: MiB });
      const stray = fs.withLog((s) => s.allocate(MiB));
      const next = fs.creat('second', { size: MiB }).file;
      // Not logged, so a later session may use it again: exactly what a fresh copy of the log gives.
      assert.equal(next.fmap.kind, 'simple');
      assert.equal(next.fmap.kind === 'simple' && next.fmap.extents[0]!.offset, stray.kind === 'simple' && stray.extents[0]!.offset);
    } finally {
      fs.close();
    }
    assert.equal(collisions(dev), 0);
  });

  it('addFile refuses memory the replay would not place, in the replay\'s words, and logs nothing', () => {
    const dev = freshFs();
    const fs = FamfsHandle.open(dev, { writable: true, systemUuid: master });
    try {
      const free = fs.creat('taken', { size: MiB }).file;
      const at = free.fmap.kind === 'simple' ? free.fmap.extents[0]!.offset + 4 * ALLOC_UNIT : 0;
      const devices = { sizes: [fs.sb.devSize], primaryMetadataEnd: LOG_OFFSET + fs.sb.logLen };
      const simple = (devIndex: number, offset: number, len = ALLOC_UNIT): Fmap => ({ kind: 'simple', extents: [{ devIndex, offset, len }] });
      const bad: [Fmap, number, string][] = [
        [simple(1, at), ALLOC_UNIT, 'UNKNOWN_DEVICE'],
        [simple(0, at + 4096), ALLOC_UNIT, 'UNALIGNED'],
        [simple(0, 0), ALLOC_UNIT, 'IN_METADATA'],
        [simple(0, fs.sb.devSize - ALLOC_UNIT, 2 * ALLOC_UNIT), ALLOC_UNIT, 'PAST_END'],
        [simple(0, at), ALLOC_UNIT + 1, 'SHORT'],
      ];
      const before = fs.nextSlot;
      for (const [fmap, size, status] of bad) {
        const problem = placementProblem(fmap, size, devices);
        assert.equal(problem?.status, status);
        assert.throws(() => fs.withLog((s) => s.addFile('x', { size, fmap })),
          (e: unknown) => e instanceof FsError && e.code === 'EINVAL' && e.message === `'x': ${placementMessage(problem!, fmap, size)}`);
      }
      assert.equal(fs.nextSlot, before);
      // The checks every new file gets, creat or addFile: the same refusal in the same words.
      for (const [path, size, code] of [['nodir/x', MiB, 'ENOENT'], ['taken/x', MiB, 'ENOTDIR'], ['x', 0, 'EINVAL']] as const) {
        const viaCreat = (() => { try { fs.creat(path, { size }); } catch (e) { return e; } })() as FsError;
        const viaAdd = (() => { try { fs.withLog((s) => s.addFile(path, { size, fmap: simple(0, at) })); } catch (e) { return e; } })() as FsError;
        assert.equal(viaCreat.code, code);
        assert.deepEqual([viaAdd.code, viaAdd.message], [viaCreat.code, viaCreat.message]);
      }
      assert.equal(fs.nextSlot, before);
      assert.equal(fs.withLog((s) => s.addFile('x', { size: ALLOC_UNIT, fmap: simple(0, at) })).size, ALLOC_UNIT);
    } finally {
      fs.close();
    }
    assert.equal(collisions(dev), 0);
  });
});
