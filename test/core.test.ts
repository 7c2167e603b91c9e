import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { FamfsHandle } from '../src/fs/famfs.js';
import { fsck } from '../src/fs/fsck.js';
import { mkfs } from '../src/fs/mkfs.js';
import { pathOf } from '../src/fs/namespace.js';
import { FsError, RoleError } from '../src/errors.js';
import { cleanupDevices, client, emuDevice, GiB, master, MiB } from './helpers/emu.js';

after(cleanupDevices);

describe('two hosts on one device', () => {
  it('master creates 1,000 files in 50 directories; a client sees the same tree and cannot create', () => {
    const dev = emuDevice(16 * GiB, 'hosts');
    mkfs(dev, { systemUuid: master });
    const m = FamfsHandle.open(dev, { writable: true, systemUuid: master });
    try {
      assert.equal(m.role, 'master');
      m.withLog((s) => {
        for (let d = 0; d < 50; d++) s.mkdir(`dir${d}`, { mode: 0o750 + (d % 8), uid: d, gid: 100 + d });
        for (let i = 0; i < 1000; i++) {
          s.creat(`dir${i % 50}/file${i}`, { size: 1 + i * 4099, mode: 0o600 + (i % 64), uid: i, gid: i * 2 });
        }
      });
    } finally {
      m.close();
    }
    const snapshot = (fs: FamfsHandle) => [...fs.ns.walk()].map((n) => ({
      path: pathOf(n), kind: n.kind, mode: n.mode, uid: n.uid, gid: n.gid, ino: n.ino,
      ...(n.kind === 'file' ? { size: n.size, fmap: n.fmap } : {}),
    })).sort((a, b) => (a.path < b.path ? -1 : 1));

    const m2 = FamfsHandle.open(dev, { systemUuid: master });
    const c = FamfsHandle.open(dev, { systemUuid: client });
    try {
      assert.equal(c.role, 'client');
      const seen = snapshot(c);
      assert.equal(seen.length, 1050);
      assert.deepEqual(seen, snapshot(m2));
      const f = c.stat('dir7/file57');
      assert.equal(f.kind, 'file');
      assert.equal(f.kind === 'file' && f.size, 1 + 57 * 4099);
      assert.equal(f.mode, 0o600 + 57);
      assert.throws(() => c.creat('dir1/evil', { size: MiB }), RoleError);
      assert.throws(() => c.mkdir('evil'), RoleError);
      const r = fsck(c);
      assert.equal(r.collisions, 0);
      assert.equal(r.files, 1000);
      assert.equal(r.directories, 50);
      assert.equal(r.superblock.role, 'client');
    } finally {
      m2.close();
      c.close();
    }
  });

  it('a client following the master sees new entries after refresh', () => {
    const dev = emuDevice(8 * GiB, 'follow');
    mkfs(dev, { systemUuid: master });
    const m = FamfsHandle.open(dev, { writable: true, systemUuid: master });
    const c = FamfsHandle.open(dev, { systemUuid: client });
    try {
      assert.equal(c.lookup('late'), undefined);
      m.mkdir('late');
      m.creat('late/f', { size: 5 * MiB });
      assert.equal(c.refresh(), 2);
      assert.equal(c.stat('late/f').kind, 'file');
      assert.equal(c.refresh(), 0);
    } finally {
      m.close();
      c.close();
    }
  });
});

describe('namespace rules', () => {
  const dev = emuDevice(8 * GiB, 'ns');
  mkfs(dev, { systemUuid: master });

  it('mkdir -p makes one entry per missing component and tolerates existing ones', () => {
    const fs = FamfsHandle.open(dev, { writable: true, systemUuid: master });
    try {
      const before = fs.logHeader().nextIndex;
      fs.mkdir('p/q/r/s', { parents: true });
      assert.equal(fs.logHeader().nextIndex - before, 4);
      fs.mkdir('p/q/r/s', { parents: true });
      assert.equal(fs.logHeader().nextIndex - before, 4);
      assert.throws(() => fs.mkdir('p/q'), (e: unknown) => e instanceof FsError && e.code === 'EEXIST');
      assert.throws(() => fs.mkdir('nope/x'), (e: unknown) => e instanceof FsError && e.code === 'ENOENT');
    } finally {
      fs.close();
    }
  });

  it('creat: same size is a no-op, another size fails, a file in the path fails', () => {
    const fs = FamfsHandle.open(dev, { writable: true, systemUuid: master });
    try {
      assert.equal(fs.creat('p/f', { size: 3 * MiB }).created, true);
      const n = fs.logHeader().nextIndex;
      assert.equal(fs.creat('p/f', { size: 3 * MiB }).created, false);
      assert.equal(fs.creat('p/f', {}).created, false);
      assert.equal(fs.logHeader().nextIndex, n);
      assert.throws(() => fs.creat('p/f', { size: 4 * MiB }), (e: unknown) => e instanceof FsError && e.code === 'EEXIST');
      assert.throws(() => fs.creat('p/f/g', { size: MiB }), (e: unknown) => e instanceof FsError && e.code === 'ENOTDIR');
      assert.throws(() => fs.mkdir('p/f/g', { parents: true }), (e: unknown) => e instanceof FsError && e.code === 'ENOTDIR');
      assert.throws(() => fs.creat('p', { size: MiB }), (e: unknown) => e instanceof FsError && e.code === 'EISDIR');
      assert.throws(() => fs.creat('p/zero', { size: 0 }), (e: unknown) => e instanceof FsError && e.code === 'EINVAL');
      assert.equal(fs.logHeader().nextIndex, n, 'failed calls append nothing');
    } finally {
      fs.close();
    }
  });

  it('hostile names are refused before anything is written', () => {
    const fs = FamfsHandle.open(dev, { writable: true, systemUuid: master });
    try {
      const n = fs.logHeader().nextIndex;
      for (const bad of ['a/../b', '..', '.', 'x/./y', 'nul\0byte', 'ctl\u0001x', 'new\nline', 'x'.repeat(80), `d/${'y'.repeat(78)}`]) {
        assert.throws(() => fs.creat(bad, { size: MiB }), FsError, JSON.stringify(bad));
        assert.throws(() => fs.mkdir(bad, { parents: true }), FsError, JSON.stringify(bad));
      }
      assert.equal(fs.logHeader().nextIndex, n);
      fs.creat('x'.repeat(79), { size: MiB });
      assert.equal(fs.stat('/' + 'x'.repeat(79)).kind, 'file', 'a leading / is the famfs root');
    } finally {
      fs.close();
    }
  });
});
