import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { famfs, mkfsCli } from '../helpers/emu.js';
import { addTestUser, removeTestUser, tryAsUser, type TestUser } from '../helpers/users.js';

/**
 * An operator's tools in an operator's hands: emulated devices, mounts, unmounts and the daemon
 * behave as a careful administrator (and an ordinary local user) would expect.
 */

const shmPaths = new Set<string>();
function shmPath(tag: string): string {
  const p = `/dev/shm/famfs-op-${tag}-${process.pid}-${randomBytes(4).toString('hex')}`;
  shmPaths.add(p);
  return p;
}
after(() => {
  for (const p of shmPaths) rmSync(p, { force: true });
});

describe('famfs emu', () => {
  it('remove and create --force refuse anything that is not an emulated device this tool made, with one line', () => {
    const dir = mkdtempSync('/tmp/famfs-op-emu-');
    try {
      const config = join(dir, 'system.conf');
      writeFileSync(config, 'precious\n');
      const r1 = famfs(['emu', 'remove', config]);
      assert.notEqual(r1.status, 0);
      assert.match(r1.stderr, /^famfs emu remove: .*not an emulated device \(not on tmpfs or hugetlbfs\)\n$/);
      const r2 = famfs(['emu', 'create', '--force', '--size', '2m', config]);
      assert.notEqual(r2.status, 0);
      assert.equal(r2.stderr.split('\n').length, 2, r2.stderr);
      assert.equal(readFileSync(config, 'utf8'), 'precious\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    // On tmpfs, but someone else's file (a shared-memory segment, say).
    const other = shmPath('other');
    writeFileSync(other, 'not ours');
    for (const args of [['emu', 'remove', other], ['emu', 'create', '-f', '--size', '2m', other]]) {
      const r = famfs(args);
      assert.notEqual(r.status, 0);
      assert.match(r.stderr, /not an emulated device \(on tmpfs, but neither made by famfs emu create nor holding a famfs superblock\)\n$/);
    }
    assert.equal(readFileSync(other, 'utf8'), 'not ours');
    // Ours: made by emu create, or holding a famfs superblock (made by mkfs), may be replaced and removed.
    const dev = shmPath('ours');
    assert.equal(famfs(['emu', 'create', '--size', '8g', dev]).status, 0);
    assert.equal(mkfsCli([dev]).status, 0);
    assert.equal(famfs(['emu', 'create', '-f', '--size', '4m', dev]).status, 0);
    assert.equal(statSync(dev).size, 4 * 1024 * 1024);
    const r = famfs(['emu', 'remove', dev]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(existsSync(dev), false);
  });

  describe('as an ordinary user', () => {
    let user: TestUser;
    let other: TestUser;
    after(() => {
      removeTestUser(user);
      removeTestUser(other);
    });

    it('a device is created 0600; --mode and --group open it deliberately', () => {
      user = addTestUser();
      other = addTestUser();
      const dev = shmPath('mode');
      assert.equal(famfs(['emu', 'create', '--size', '8g', dev]).status, 0);
      assert.equal(statSync(dev).mode & 0o7777, 0o600);
      assert.equal(mkfsCli([dev]).status, 0);
      assert.equal(tryAsUser(user, 'read', dev), 'EACCES');
      const shared = shmPath('group');
      const r = famfs(['emu', 'create', '--size', '2m', '--mode', '0640', '--group', user.name, shared]);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(statSync(shared).mode & 0o7777, 0o640);
      assert.equal(statSync(shared).gid, user.gid);
      assert.equal(tryAsUser(user, 'read', shared), 'ok');
      assert.equal(tryAsUser(other, 'read', shared), 'EACCES');
      const bad = famfs(['emu', 'create', '--size', '2m', '--mode', '4755', shmPath('suid')]);
      assert.notEqual(bad.status, 0);
      assert.match(bad.stderr, /no set-id/);
    });
  });
});

