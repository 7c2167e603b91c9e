import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { processAlive } from '../../src/mounts/process-state.js';
import { mountFile, readRecord, RUN_DIR_ENV, writeRecord } from '../../src/mounts/registry.js';
import { DEFAULT_LOG_LEN, LOG_OFFSET } from '../../src/format/layout.js';
import { getSystemUuid } from '../../src/format/system-uuid.js';
import { CLIENT_UUID, MASTER_UUID, TEST_RUN_DIR } from '../helpers/emu.js';
import { famfs, FAMFS_BIN, mkfsCli, runCliAsync } from '../helpers/run.js';
import { cleanupMounts, isMounted, mountFamfs, trackedMountpoint } from '../helpers/mounts.js';
import { eventually } from '../helpers/wait.js';
import { readAt, writeAt } from '../helpers/device-io.js';
import { inspect } from './support.js';

/** Everything a mount's daemon has logged so far. */
function daemonLog(mnt: string): string {
  return readFileSync(mountFile(mnt, 'log'), 'utf8');
}
import { addTestUser, removeTestUser, tryAsUser, type TestUser } from '../helpers/users.js';
import { removeCaches } from '../../src/device/noncoherent.js';

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
  for (const p of shmPaths) {
    rmSync(p, { force: true });
    removeCaches(p);
  }
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

describe('who can read what', () => {
  let user: TestUser;
  after(() => {
    removeTestUser(user);
    cleanupMounts();
  });

  it('fsck warns when a device is readable by other users, and not otherwise', () => {
    const open = shmPath('open');
    assert.equal(famfs(['emu', 'create', '--size', '8g', '--mode', '0644', open]).status, 0);
    assert.equal(mkfsCli([open]).status, 0);
    const r = famfs(['fsck', open]);
    assert.match(r.stderr, /warning: .* is readable by other users \(mode 0644\)/);
    const closed = shmPath('closed');
    assert.equal(famfs(['emu', 'create', '--size', '8g', closed]).status, 0);
    assert.equal(mkfsCli([closed]).status, 0);
    assert.doesNotMatch(famfs(['fsck', closed]).stderr, /readable by other users/);
  });

  it("the daemon's records and logs are root's only (0700 directory, 0600 files), as is the system UUID file", () => {
    user = addTestUser();
    const dev = shmPath('run');
    assert.equal(famfs(['emu', 'create', '--size', '8g', dev]).status, 0);
    assert.equal(mkfsCli([dev]).status, 0);
    const runDir = join(TEST_RUN_DIR, `nested-${randomBytes(4).toString('hex')}`, 'mounts');
    const env = { [RUN_DIR_ENV]: runDir };
    const mnt = trackedMountpoint();
    const r = famfs(['mount', dev, mnt], MASTER_UUID, env);
    assert.equal(r.status, 0, r.stderr);
    try {
      assert.equal(statSync(runDir).mode & 0o777, 0o700);
      const files = readdirSync(runDir);
      assert.deepEqual(files.map((f) => f.split('.').at(-1)).sort(), ['json', 'lock', 'log']);
      for (const f of files) assert.equal(statSync(join(runDir, f)).mode & 0o777, 0o600, f);
      assert.equal(tryAsUser(user, 'list', runDir), 'EACCES');
    } finally {
      assert.equal(famfs(['umount', mnt], MASTER_UUID, env).status, 0);
    }
    const dir = mkdtempSync('/tmp/famfs-op-uuid-');
    try {
      const path = join(dir, 'system_uuid');
      getSystemUuid({}, path);
      assert.equal(statSync(path).mode & 0o777, 0o600);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('famfs umount', () => {
  const children: ChildProcess[] = [];
  after(() => {
    for (const ch of children) ch.kill('SIGKILL');
    cleanupMounts();
  });

  /** A fresh file system with a 2 MiB file `f`, mounted by its master. */
  function mountedFs(tag: string): string {
    const dev = shmPath(tag);
    assert.equal(famfs(['emu', 'create', '--size', '8g', dev]).status, 0);
    assert.equal(mkfsCli([dev]).status, 0);
    const mnt = mountFamfs(dev, MASTER_UUID);
    assert.equal(famfs(['creat', '-s', '2m', join(mnt, 'f')]).status, 0);
    return mnt;
  }

  it('never signals a process that merely reuses a dead daemon\'s pid', async () => {
    const mnt = mountedFs('pid');
    const rec = readRecord(mnt)!;
    assert.ok(rec.pidStart, 'the record names the daemon by pid and start time');
    process.kill(rec.pid, 'SIGKILL');
    await eventually('the daemon is gone', () => !processAlive(rec.pid));
    // An unrelated process now has the pid the record names (as after pid reuse).
    const bystander = spawn('sleep', ['300'], { stdio: 'ignore' });
    children.push(bystander);
    writeRecord({ ...rec, pid: bystander.pid! });
    const r = famfs(['umount', mnt]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(isMounted(mnt), false, 'the dead mount is recovered');
    await new Promise((res) => setTimeout(res, 200));
    assert.equal(bystander.exitCode, null, 'the bystander was signalled');
    assert.equal(bystander.signalCode, null, 'the bystander was signalled');
  });

  it('a mount in use is refused with EBUSY naming its users; -f detaches it', async () => {
    const mnt = mountedFs('busy');
    const file = join(mnt, 'f');
    // A writer that keeps its file open and writes every 20 ms.
    const writer = spawn(process.execPath, ['-e', `
      const fs = require('node:fs');
      const fd = fs.openSync(process.argv[1], 'r+');
      process.stdout.write('open\\n');
      setInterval(() => { try { fs.writeSync(fd, 'w', 0); } catch (e) { process.stdout.write(e.code + '\\n'); process.exit(3); } }, 20);
    `, file], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(writer);
    let out = '';
    writer.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
    await eventually('the writer has its file open', () => out.includes('open'));
    const r = famfs(['umount', mnt]);
    assert.equal(r.status, 32, r.stderr);
    assert.match(r.stderr, new RegExp(`^famfs umount: ${mnt} is busy: in use by .*\\b${writer.pid} \\(node\\)`));
    assert.equal(r.stderr.split('\n').length, 2, r.stderr);
    assert.equal(isMounted(mnt), true);
    await new Promise((res) => setTimeout(res, 300));
    assert.equal(writer.exitCode, null, `the writer was cut off: ${out}`);
    assert.equal(readFileSync(file).subarray(0, 1).toString(), 'w', 'the mount still serves');
    const f = famfs(['umount', '-f', mnt]);
    assert.equal(f.status, 0, f.stderr);
    assert.equal(isMounted(mnt), false);
  });
});

describe('famfs mount', () => {
  after(() => cleanupMounts());

  it('bad input is one line and a status, never a stack: an unknown --abi, a path of 5,000 components', () => {
    const abi = famfs(['mount', '--abi', 'bogus', '/dev/null', '/tmp']);
    assert.equal(abi.status, 1);
    assert.match(abi.stderr, /^famfs: option '--abi <profile>' argument 'bogus' is invalid\. Allowed choices are auto, v10, rfc2025, simple, push2026\.\n$/);
    const dev = shmPath('deep');
    assert.equal(famfs(['emu', 'create', '--size', '8g', dev]).status, 0);
    assert.equal(mkfsCli([dev]).status, 0);
    const mnt = mountFamfs(dev, MASTER_UUID);
    const deep = mnt + '/a'.repeat(5000);
    for (const args of [['creat', '-s', '1m', `${deep}/x`], ['mkdir', '-p', deep], ['ls', deep], ['getmap', deep]]) {
      const r = famfs(args);
      assert.notEqual(r.status, 0, args[0]);
      assert.doesNotMatch(r.stderr, /internal error|RangeError/, args[0]);
      assert.equal(r.stderr.split('\n').length, 2, `${args[0]}: ${r.stderr.slice(0, 300)}`);
    }
    assert.equal(famfs(['creat', '-s', '1m', `${deep}/x`]).status, 36, 'ENAMETOOLONG');
  });

  it('of several mounts of one device by one host started together, exactly one succeeds', async () => {
    const dev = shmPath('race');
    assert.equal(famfs(['emu', 'create', '--size', '8g', dev]).status, 0);
    assert.equal(mkfsCli([dev]).status, 0);
    const tries = 4;
    const results = await Promise.all(Array.from({ length: tries }, () => {
      const mnt = trackedMountpoint();
      return runCliAsync(FAMFS_BIN, ['mount', dev, mnt]);
    }));
    const ok = results.filter((r) => r.status === 0);
    assert.equal(ok.length, 1, results.map((r) => `${r.status}: ${r.stderr.trim()}`).join('\n'));
    for (const r of results.filter((x) => x.status !== 0)) {
      assert.match(r.stderr, /^famfs mount: .* is already mounted by this host.*\n$/);
    }
    const mounted = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.includes(` ${dev} `));
    assert.equal(mounted.length, 1, mounted.join('\n'));
  });
});

describe('a daemon whose file system leaves its device', () => {
  after(() => cleanupMounts());

  /** Overwrites the device's superblock and log with those of a file system made elsewhere. */
  function remakeUnderneath(dev: string): void {
    const scratch = shmPath('scratch');
    assert.equal(famfs(['emu', 'create', '--size', '8g', scratch]).status, 0);
    assert.equal(mkfsCli([scratch]).status, 0);
    writeAt(dev, 0, readAt(scratch, 0, LOG_OFFSET + DEFAULT_LOG_LEN));
  }

  /** What `famfs mkfs -k` does to the superblock: its magic zeroed. */
  function killUnderneath(dev: string): void {
    writeAt(dev, 0, Buffer.alloc(8));
  }

  for (const [what, change] of [['killed (mkfs -k)', killUnderneath], ['made again (mkfs)', remakeUnderneath]] as const) {
    it(`${what}: the daemons answer EIO, log it once, append nothing and exit cleanly at unmount`, async () => {
      const dev = shmPath('gone');
      assert.equal(famfs(['emu', 'create', '--size', '8g', dev]).status, 0);
      assert.equal(mkfsCli([dev]).status, 0);
      const m = mountFamfs(dev, MASTER_UUID);
      const c = mountFamfs(dev, CLIENT_UUID, ['--follow', '50']);
      assert.equal(famfs(['mkdir', join(m, 'd')]).status, 0);
      const pids = [m, c].map((mnt) => readRecord(mnt)!);
      change(dev);
      // A lookup that misses makes the daemon look at the log at once; the client's follow does too.
      for (const mnt of [m, c]) assert.throws(() => statSync(join(mnt, 'new-name')), { code: 'EIO' });
      assert.throws(() => mkdirSync(join(m, 'e')), { code: 'EIO' });
      await new Promise((res) => setTimeout(res, 600)); // twelve of the client's follow periods
      for (const mnt of [m, c]) assert.throws(() => readdirSync(mnt), { code: 'EIO' });
      if (change === remakeUnderneath) {
        assert.equal(inspect(dev).report.log.entriesUsed, 0, 'the old tree was appended to the new file system');
      }
      for (const mnt of [m, c]) {
        const lines = daemonLog(mnt).split('\n');
        assert.equal(lines.filter((l) => / is gone from /.test(l)).length, 1, daemonLog(mnt));
        assert.equal(lines.filter((l) => /log follow/.test(l)).length, 0, daemonLog(mnt));
      }
      for (const [i, mnt] of [m, c].entries()) {
        const r = famfs(['umount', mnt]);
        assert.equal(r.status, 0, r.stderr);
        await eventually('the daemon exits', () => !processAlive(pids[i]!.pid));
      }
    });
  }
});
