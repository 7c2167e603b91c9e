/**
 * Choosing the FUSE request transport (`famfs mount --transport`, `-o io_uring`, `famfs_fused`):
 * what auto decides, the one log line of a fallback, and the one stderr line of a contradictory or
 * unknown choice. The conformance suite on each transport is fuse-generic.test.ts.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { daemonLogTail } from '../src/cli/commands/mount.js';
import { mkfs } from '../src/fs/mkfs.js';
import { readRecord } from '../src/mounts/registry.js';
import { cleanupDevices, emuDevice, GiB, master, MASTER_UUID } from './helpers/emu.js';
import { famfs, FUSED_BIN, runCli } from './helpers/run.js';
import { cleanupMounts, isMounted, trackedMountpoint, umountFamfs } from './helpers/mounts.js';
import { type DevFuseWrites, holdsIoUring, repliesOnDevFuse, uringUnavailable } from './helpers/uring.js';

const ENABLE_URING = '/sys/module/fuse/parameters/enable_uring';
const LOG_LINES = 50;
/** Lookups of names that are not there the transport probe makes: one LOOKUP request each. */
const PROBE_LOOKUPS = 50;

const oldEnable = existsSync(ENABLE_URING) ? readFileSync(ENABLE_URING, 'utf8').trim() : undefined;
after(() => {
  if (oldEnable !== undefined) writeFileSync(ENABLE_URING, oldEnable);
  cleanupMounts();
  cleanupDevices();
});

function setEnable(on: boolean): void {
  if (oldEnable !== undefined) writeFileSync(ENABLE_URING, on ? 'Y' : 'N');
}

/** Mounts a fresh file system with `args`; returns the mount point, the daemon pid and its log. */
function mountWith(args: string[]): { mnt: string; pid: number; log: string } {
  const dev = emuDevice(4 * GiB, 'transport');
  mkfs(dev, { systemUuid: master });
  const mnt = trackedMountpoint();
  const r = famfs(['mount', ...args, dev, mnt], MASTER_UUID);
  assert.equal(r.status, 0, r.stderr);
  const pid = readRecord(mnt)!.pid;
  // One request through the mount, so the transport has carried something.
  const c = famfs(['creat', '-s', '4k', join(mnt, 'f')], MASTER_UUID);
  assert.equal(c.status, 0, c.stderr);
  assert.equal(readFileSync(join(mnt, 'f')).length, 4096);
  return { mnt, pid, log: daemonLogTail(mnt, LOG_LINES) };
}

/** What the daemon of `m` writes to /dev/fuse while PROBE_LOOKUPS names that are not there are looked up. */
function probe(m: { mnt: string; pid: number }): Promise<DevFuseWrites> {
  return repliesOnDevFuse(m.pid, () => {
    for (let i = 0; i < PROBE_LOOKUPS; i++) assert.equal(existsSync(join(m.mnt, `missing-${i}`)), false);
  });
}

function fallbackLines(log: string): string[] {
  return log.split('\n').filter((l) => /serving over \/dev\/fuse/.test(l));
}

describe('transport choice', () => {
  it('--transport uring where the kernel does not offer it: served over /dev/fuse, one log line says why', { skip: process.getuid?.() !== 0 ? 'needs root' : undefined }, async () => {
    setEnable(false);
    const m = mountWith(['--transport', 'uring']);
    assert.equal(holdsIoUring(m.pid), false);
    const writes = await probe(m);
    assert.ok(writes.replies >= PROBE_LOOKUPS, `${writes.replies} replies on /dev/fuse for ${PROBE_LOOKUPS} lookups`);
    const lines = fallbackLines(m.log);
    assert.equal(lines.length, 1, m.log);
    assert.match(lines[0]!, /io_uring transport not offered by the kernel .*enable_uring/);
    assert.match(m.log, /transport dev\)/);
    umountFamfs(m.mnt);
    assert.equal(isMounted(m.mnt), false);
  });

  it('auto without the kernel offering it: /dev/fuse, quietly', { skip: process.getuid?.() !== 0 ? 'needs root' : undefined }, async () => {
    setEnable(false);
    const m = mountWith([]);
    assert.equal(holdsIoUring(m.pid), false);
    const writes = await probe(m);
    assert.ok(writes.replies >= PROBE_LOOKUPS, `${writes.replies} replies on /dev/fuse for ${PROBE_LOOKUPS} lookups`);
    assert.deepEqual(fallbackLines(m.log), []);
    assert.match(m.log, /transport dev\)/);
    umountFamfs(m.mnt);
  });

  it('auto and -o io_uring when the kernel offers it: the ring, no fallback line', { skip: uringUnavailable() }, async () => {
    setEnable(true);
    for (const args of [[], ['-o', 'io_uring']]) {
      const m = mountWith(args);
      assert.ok(holdsIoUring(m.pid), `${args.join(' ')}: the daemon holds an io_uring`);
      // Requests travel on it: no reply to the lookups is written to /dev/fuse (fuse-generic.test.ts says why).
      const writes = await probe(m);
      assert.equal(writes.replies, 0, `${args.join(' ')}: ${writes.replies} replies on /dev/fuse for ${PROBE_LOOKUPS} lookups`);
      assert.deepEqual(fallbackLines(m.log), []);
      assert.match(m.log, /transport uring\)/);
      umountFamfs(m.mnt);
    }
    setEnable(false);
  });

  it('a contradictory or unknown transport is one stderr line and a non-zero exit, nothing mounted', () => {
    const mnt = trackedMountpoint();
    const dev = emuDevice(4 * GiB, 'transport-bad');
    for (const args of [['--transport', 'dev', '-o', 'io_uring'], ['--transport', 'fast']]) {
      const r = famfs(['mount', ...args, dev, mnt], MASTER_UUID);
      assert.notEqual(r.status, 0, args.join(' '));
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, /io_uring|transport/);
      assert.equal(isMounted(mnt), false);
    }
    const shadow = mkdtempSync('/tmp/famfs-test-shadow-');
    mkdirSync(join(shadow, 'root'));
    for (const args of [['--transport', 'fast', mnt], ['--transport', 'dev', '-o', `source=${shadow},daxdev=${dev},io_uring`, mnt]]) {
      const r = runCli(FUSED_BIN, args);
      assert.equal(r.status, 1, `${args.join(' ')}: ${r.stderr}`);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, /transport/);
      assert.equal(isMounted(mnt), false);
    }
    rmSync(shadow, { recursive: true });
  });
});
