/**
 * famfs status on a healthy and on a broken file system: a dead daemon, a bad log entry, a missing
 * device. Real mounts (a master and a client host on one machine), real corrupted media; the exit
 * status is the health check.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FsStatus } from '../src/status/report.js';
import { readRecord } from '../src/mounts/registry.js';
import { LOG_OFFSET } from '../src/format/layout.js';
import { entryOffset, logSlot } from '../src/format/log-header.js';
import { cleanupDevices, CLIENT_UUID, emuDevice, GiB, MASTER_UUID, MiB } from './helpers/emu.js';
import { famfs, mkfsCli } from './helpers/run.js';
import { cleanupMounts, isMounted, mountFamfs } from './helpers/mounts.js';
import { eventually } from './helpers/wait.js';
import { readAt, writeAt } from './helpers/device-io.js';

after(() => {
  cleanupMounts();
  cleanupDevices();
});

function statusJson(args: string[], host = MASTER_UUID): { status: FsStatus; exit: number | null } {
  const r = famfs(['status', '--json', ...args], host);
  assert.equal(r.stderr, '', 'nothing on stderr');
  return { status: JSON.parse(r.stdout) as FsStatus, exit: r.status };
}

describe('famfs status', () => {
  let dev = '';
  let m = '';
  let c = '';

  before(() => {
    dev = emuDevice(8 * GiB, 'status');
    assert.equal(mkfsCli([dev]).status, 0);
    m = mountFamfs(dev, MASTER_UUID);
    c = mountFamfs(dev, CLIENT_UUID);
    assert.equal(famfs(['mkdir', join(m, 'd')]).status, 0);
    assert.equal(famfs(['creat', '-s', '10M', join(m, 'd', 'a')]).status, 0);
    assert.equal(famfs(['creat', '-s', '3M', join(m, 'b')]).status, 0);
  });

  it('on a healthy file system: the host\'s role, log and device fill, both mounts, exit 0', async () => {
    const r = famfs(['status', m]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /this host 11111111-1111-4111-8111-111111111111: master/);
    assert.match(r.stdout, /log {7}\[\.+\] 3 \/ 15420 entries/);
    assert.match(r.stdout, /2 files, 1 directories/);
    assert.match(r.stdout, /problems: none/);

    // The client host sees itself as a client; its daemon catches up within its follow interval.
    await eventually('client caught up', () => {
      const s = statusJson([c], CLIENT_UUID).status;
      return s.mounts.find((x) => x.mountpoint === c)?.followLag?.entries === 0;
    });
    const { status: s, exit } = statusJson(['--device', dev]);
    assert.equal(exit, 0);
    assert.equal(s.version, 1);
    assert.equal(s.role, 'master');
    assert.equal(s.masterSystemUuid, MASTER_UUID);
    assert.deepEqual(s.log.entriesUsed, 3);
    assert.equal(s.files, 2);
    assert.equal(s.directories, 1);
    const d0 = s.devices[0]!;
    assert.equal(d0.size, 8 * GiB);
    // Superblock (2 MiB) and log (8 MiB), a 10 MiB and a 3 MiB (two units) file.
    assert.equal(d0.allocated, (1 + 4 + 5 + 2) * 2 * MiB);
    assert.equal(d0.free, 8 * GiB - d0.allocated);
    assert.equal(d0.largestFreeRun, d0.free, 'allocation is contiguous from the start');
    assert.deepEqual(s.mounts.map((x) => [x.mountpoint, x.role, x.systemUuid, x.daemonAlive]).sort(),
      [[m, 'master', MASTER_UUID, true], [c, 'client', CLIENT_UUID, true]].sort());
    for (const x of s.mounts) {
      assert.deepEqual(x.followLag, { entries: 0, ms: 0 });
      assert.equal(typeof x.requestsPerSecond, 'number');
      assert.equal(x.pid, readRecord(x.mountpoint)!.pid);
    }
    assert.deepEqual(s.problems, []);
    assert.equal(statusJson([c], CLIENT_UUID).status.role, 'client');
  });

  it('lists a dead daemon with the famfs umount that fixes it, exit 1; healthy again after the fix', async () => {
    const pid = readRecord(c)!.pid;
    process.kill(pid, 'SIGKILL');
    await eventually('daemon gone', () => {
      try {
        process.kill(pid, 0);
        return false;
      } catch {
        return true;
      }
    });
    const r = famfs(['status', '--device', dev]);
    assert.equal(r.status, 1);
    assert.match(r.stdout, new RegExp(`pid ${pid} DEAD`));
    const { status: s, exit } = statusJson(['--device', dev]);
    assert.equal(exit, 1);
    assert.deepEqual(s.problems.map((p) => [p.kind, p.fix]), [['dead-daemon', `famfs umount ${c}`]]);
    assert.equal(famfs(['umount', c]).status, 0);
    assert.equal(isMounted(c), false);
    assert.equal(statusJson(['--device', dev]).exit, 0);
  });

  it('refuses bad input with one line and a non-zero exit', () => {
    for (const args of [['/nonexistent/famfs'], ['--device', '/dev/shm/famfs-status-no-such-device'], [m, '--device', dev]]) {
      const r = famfs(['status', ...args]);
      assert.notEqual(r.status, 0, args.join(' '));
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, /^famfs status: /);
    }
  });
});

describe('famfs status on damaged media', () => {
  it('lists a bad log entry (exit 1) and is healthy once it is repaired', () => {
    const dev = emuDevice(8 * GiB, 'statusbad');
    assert.equal(mkfsCli([dev]).status, 0);
    assert.equal(famfs(['creat', '--device', dev, '-s', '2M', 'x']).status, 0);
    assert.equal(famfs(['creat', '--device', dev, '-s', '2M', 'y']).status, 0);
    const at = LOG_OFFSET + entryOffset(logSlot(1)) + 30;
    const byte = readAt(dev, at, 1)[0]!;
    writeAt(dev, at, Buffer.from([byte ^ 0x01]));
    const { status: s, exit } = statusJson(['--device', dev]);
    assert.equal(exit, 1);
    assert.equal(s.files, 1);
    assert.deepEqual(s.problems.map((p) => p.kind), ['bad-log-entry']);
    assert.match(s.problems[0]!.message, /log entry 1: CRC mismatch/);
    assert.match(famfs(['status', '--device', dev]).stdout, /problems: 1\n {2}bad-log-entry: log entry 1: CRC mismatch/);
    writeAt(dev, at, Buffer.from([byte]));
    assert.equal(statusJson(['--device', dev]).exit, 0);
  });

  it('lists a device this host cannot find (exit 1)', () => {
    const primary = emuDevice(8 * GiB, 'statusmd0');
    const second = emuDevice(8 * GiB, 'statusmd1');
    assert.equal(mkfsCli([primary]).status, 0);
    assert.equal(famfs(['adddev', '--device', primary, second]).status, 0);
    const healthy = statusJson(['--device', primary]);
    assert.equal(healthy.exit, 0);
    assert.deepEqual(healthy.status.devices.map((d) => [d.index, d.path]), [[0, primary], [1, second]]);
    rmSync(second);
    const { status: s, exit } = statusJson(['--device', primary]);
    assert.equal(exit, 1);
    assert.equal(s.devices[1]!.path, null);
    assert.deepEqual(s.problems.map((p) => p.kind), ['missing-device']);
    assert.match(famfs(['status', '--device', primary]).stdout, /device 1 {2}\[\.+\] NOT FOUND/);
  });
});
