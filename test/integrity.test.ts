import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, renameSync, rmdirSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { after, describe, it } from 'node:test';
import { MemoryDevice } from '../src/device/device.js';
import { createEmulatedDevice } from '../src/device/emulated.js';
import { famfsCrc } from '../src/format/crc.js';
import { FM_ALL_HOSTS_RW } from '../src/format/file-meta.js';
import type { Fmap } from '../src/format/fmap.js';
import type { DeviceRange } from '../src/format/device-range.js';
import { ALLOC_UNIT, DEFAULT_LOG_LEN, LOG_OFFSET, MAX_DEVICE_SIZE, RELPATH_FIELD_SIZE } from '../src/format/layout.js';
import { LOG_ENTRY_CRC_COVERED, LOG_ENTRY_PAYLOAD_OFFSET, LOG_ENTRY_SIZE, encodeLogEntry } from '../src/format/log-entry.js';
import { entryOffset, logSlot } from '../src/format/log-header.js';
import { parseUuid } from '../src/format/uuid.js';
import { FamfsHandle } from '../src/fs/famfs.js';
import { mkfs } from '../src/fs/mkfs.js';
import { cleanupDevices, CLIENT_UUID, client, emuDevice, GiB, master, MASTER_UUID } from './helpers/emu.js';
import { famfs, FAMFS_BIN, hostEnv, mkfsCli, runPython, type RunResult } from './helpers/run.js';
import { appendForeign } from './helpers/foreign-log.js';
import { cleanupMounts, mountFamfs, umountFamfs } from './helpers/mounts.js';

/**
 * Media integrity (issue 15): what other software may have written in the log is never trusted
 * beyond what it may say, memory a log entry names is never handed out twice, names never alias,
 * and commands check everything before they write.
 */

after(() => {
  cleanupMounts();
  cleanupDevices();
});

const FIRST_FREE = LOG_OFFSET + DEFAULT_LOG_LEN;
const unit = (u: number): number => FIRST_FREE + u * ALLOC_UNIT;
/** Where a FILE entry's relpath lies in the entry (spec §2). */
const FILE_RELPATH = LOG_ENTRY_PAYLOAD_OFFSET + 24;
const FMAP_COUNT = LOG_ENTRY_PAYLOAD_OFFSET + 104 + 8;

function simple(...extents: [number, number][]): Fmap {
  return { kind: 'simple', extents: extents.map(([offset, len]): DeviceRange => ({ devIndex: 0, offset, len })) };
}

/** A FILE entry as another writer (an upstream host, a hostile one) may store it. */
function fileEntry(seqnum: number, path: string, size: number, fmap: Fmap, mode = 0o644): Buffer {
  return encodeLogEntry({ type: 'file', seqnum, path, size, flags: FM_ALL_HOSTS_RW, uid: 0, gid: 0, mode, fmap });
}

function withCrc(b: Buffer): Buffer {
  b.writeBigUInt64LE(BigInt(famfsCrc(b, 0, LOG_ENTRY_CRC_COVERED)), LOG_ENTRY_CRC_COVERED);
  return b;
}

/** `b` with its relpath replaced by these bytes (no encoder writes what a foreign writer may). */
function rawName(b: Buffer, name: Buffer): Buffer {
  b.fill(0, FILE_RELPATH, FILE_RELPATH + RELPATH_FIELD_SIZE);
  name.copy(b, FILE_RELPATH);
  return withCrc(b);
}

function freshFs(tag: string): string {
  const dev = emuDevice(8 * GiB, tag);
  mkfs(dev, { systemUuid: master });
  return dev;
}

/** Log entries within the log's first 2 MiB (log-writer.ts reserves the log in 2 MiB chunks). */
const LOG_CHUNK_ENTRIES = Math.floor((2 * 1024 * 1024 - entryOffset(logSlot(0))) / LOG_ENTRY_SIZE);
const MASTER_UUID_BYTES = parseUuid(MASTER_UUID);

/** Writes a file in `path`'s file system until it is full (ENOSPC). */
function fillUp(path: string): void {
  const fd = openSync(path, 'w');
  const block = Buffer.alloc(1024 * 1024, 1);
  try {
    for (;;) writeSync(fd, block);
  } catch (err) {
    if ((err as { code?: string }).code !== 'ENOSPC') throw err;
  } finally {
    closeSync(fd);
  }
}

function withFs<T>(dev: string, fn: (fs: FamfsHandle) => T): T {
  const fs = FamfsHandle.open(dev, { systemUuid: client });
  try {
    return fn(fs);
  } finally {
    fs.close();
  }
}

function fsckJson(dev: string): { status: number | null; report: { collisions: number; errors: { about: string; message: string }[]; deviceZeroOnly: { safe: boolean; filesOffPrimary: number } } } {
  const r = famfs(['fsck', '--json', dev]);
  return { status: r.status, report: JSON.parse(r.stdout) };
}

function oneLine(r: RunResult, what: RegExp): void {
  assert.notEqual(r.status, 0, `expected failure, stdout: ${r.stdout}`);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `one line expected, got: ${r.stderr}`);
  assert.match(lines[0]!, what);
}

/** The allocation bitmap test/independent/famfs_read.py builds from the spec alone. */
function independentBitmap(dev: string): { allocated_bits: number; collisions: number } {
  const py = runPython('famfs_read.py', [dev]);
  assert.equal(py.status, 0, py.stderr);
  return (JSON.parse(py.stdout) as { bitmap: { allocated_bits: number; collisions: number } }).bitmap;
}

/** The first `n` bytes of the device. */
function head(dev: string, n = 4096): Buffer {
  const d = MemoryDevice.open(dev, { writable: false });
  try {
    const m = d.map(0, LOG_OFFSET + 4096, { writable: false });
    try {
      return Buffer.from(m.buffer.subarray(0, n));
    } finally {
      m.unmap();
    }
  } finally {
    d.close();
  }
}

describe('issue 15: media integrity', () => {
  it('1. memory named by a log entry replay refuses stays allocated: creat never takes it, fsck reports the entry and fails', () => {
    const dev = freshFs('i15-refused');
    // Entries upstream hosts accept and this replay refuses, over the first free units.
    appendForeign(dev, (s) => fileEntry(s, 'size-zero', 0, simple([unit(0), ALLOC_UNIT])));
    appendForeign(dev, (s) => fileEntry(s, 'unaligned', ALLOC_UNIT, simple([unit(1) + 4096, ALLOC_UNIT])));
    appendForeign(dev, (s) => fileEntry(s, 'short', 2 * ALLOC_UNIT, simple([unit(3), ALLOC_UNIT])));
    appendForeign(dev, (s) => rawName(fileEntry(s, 'x', ALLOC_UNIT, simple([unit(4), ALLOC_UNIT])), Buffer.alloc(RELPATH_FIELD_SIZE, 0x61)));
    appendForeign(dev, (s) => {
      const b = fileEntry(s, 'seventeen', 16 * ALLOC_UNIT, simple(...Array.from({ length: 16 }, (_, i): [number, number] => [unit(5 + i), ALLOC_UNIT])));
      b.writeUInt32LE(17, FMAP_COUNT);
      return withCrc(b);
    });
    const r = famfs(['creat', '--device', dev, '-s', '8m', 'mine']);
    assert.equal(r.status, 0, r.stderr);
    const taken = withFs(dev, (fs) => fs.getmap('mine').fmap);
    for (const e of taken.kind === 'simple' ? taken.extents : taken.strips) {
      assert.ok(e.offset >= unit(21), `creat took 0x${e.offset.toString(16)}, memory a logged entry names`);
    }
    const f = famfs(['fsck', dev]);
    assert.equal(f.status, 1, f.stdout);
    assert.match(f.stdout, /No allocation errors found/);
    assert.match(f.stdout, /^ERROR: log entry 0 not applied \(its memory stays allocated\): file 'size-zero': size 0$/m);
    assert.match(f.stdout, /^ERROR: log entry 1 not applied .*'unaligned': extent 0x[0-9a-f]+\+0x200000 is not 2 MiB aligned$/m);
    assert.match(f.stdout, /^ERROR: log entry 2 not applied .*'short': extents hold/m);
    assert.match(f.stdout, /^ERROR: bad log entry 3: relative path is not NUL-terminated/m);
    assert.match(f.stdout, /^ERROR: bad log entry 4: fmap has 17 simple extents/m);
    // The independent reader, which marks every valid FILE entry as upstream's fsck does, agrees.
    const img = independentBitmap(dev);
    const ours = fsckJson(dev).report as unknown as { capacity: { allocated: number } };
    assert.deepEqual({ allocated: img.allocated_bits * ALLOC_UNIT, collisions: img.collisions }, { allocated: ours.capacity.allocated, collisions: 0 });
  });

  it('1. a file upstream placed past the device end keeps its in-device units', () => {
    const dev = freshFs('i15-pastend');
    appendForeign(dev, (s) => fileEntry(s, 'tail', 4 * ALLOC_UNIT, simple([8 * GiB - 2 * ALLOC_UNIT, 4 * ALLOC_UNIT])));
    withFs(dev, (fs) => {
      assert.equal(fs.lookup('tail'), undefined);
      assert.ok(fs.isUnitAllocated(0, 8 * GiB / ALLOC_UNIT - 1));
      assert.ok(fs.isUnitAllocated(0, 8 * GiB / ALLOC_UNIT - 2));
    });
    const { status, report } = fsckJson(dev);
    assert.equal(status, 1);
    assert.match(report.errors.map((e) => e.message).join('\n'), /'tail': extent .* is past the end of device 0/);
  });

  it('2. names are UTF-8 without U+FFFD everywhere: the CLI refuses others before writing; replay hides them, keeps their memory, fsck names their bytes', () => {
    const dev = freshFs('i15-names');
    const before = withFs(dev, (fs) => fs.logHeader().nextIndex);
    // A shell passes the raw byte 0x81 (Node would decode it to U+FFFD, as it does every such byte).
    for (const name of ["$(printf 'n\\201')", "$(printf 'd/n\\202')", "$(printf 'n\\357\\277\\275')"]) {
      const r = spawnSync('/bin/sh', ['-c', `exec "$0" "$1" creat --device "$2" -s 2m ${name}`, process.execPath, FAMFS_BIN, dev], {
        encoding: 'utf8', env: hostEnv(MASTER_UUID),
      });
      oneLine(r, /not UTF-8 \(or holds U\+FFFD\)/);
    }
    assert.equal(withFs(dev, (fs) => fs.logHeader().nextIndex), before, 'nothing was logged');
    // Through the master's mount, a name is the kernel's bytes: mkdir of one that is not UTF-8 is refused.
    const mnt = mountFamfs(dev, MASTER_UUID);
    try {
      assert.throws(() => mkdirSync(Buffer.from(`${mnt}/n\x81`, 'latin1')), (e: NodeJS.ErrnoException) => e.code === 'EINVAL');
      mkdirSync(`${mnt}/nok`);
      assert.throws(() => statSync(Buffer.from(`${mnt}/n\x81`, 'latin1')), (e: NodeJS.ErrnoException) => e.code === 'ENOENT');
    } finally {
      umountFamfs(mnt);
    }
    assert.equal(withFs(dev, (fs) => fs.logHeader().nextIndex), before + 1, 'only the UTF-8 name was logged');
    appendForeign(dev, (s) => rawName(fileEntry(s, 'x', ALLOC_UNIT, simple([unit(0), ALLOC_UNIT])), Buffer.from([0x6e, 0x81])));
    appendForeign(dev, (s) => rawName(fileEntry(s, 'x', ALLOC_UNIT, simple([unit(1), ALLOC_UNIT])), Buffer.from([0x6e, 0xef, 0xbf, 0xbd])));
    withFs(dev, (fs) => {
      assert.deepEqual([...fs.ns.walk()].map((n) => n.name), ['nok']);
      assert.ok(fs.isUnitAllocated(0, unit(0) / ALLOC_UNIT) && fs.isUnitAllocated(0, unit(1) / ALLOC_UNIT));
    });
    const f = famfs(['fsck', dev]);
    assert.equal(f.status, 1);
    assert.match(f.stdout, /^ERROR: log entry 1 not applied .*: file 'n\\x81': path is not UTF-8/m);
    assert.match(f.stdout, /^ERROR: log entry 2 not applied .*: file 'n\\xef\\xbf\\xbd': path is not UTF-8/m);
  });

  it('3. an extent over the log is refused (a mode-0666 file could rewrite it); its units count as a collision', () => {
    const dev = freshFs('i15-overlog');
    appendForeign(dev, (s) => fileEntry(s, 'evil', ALLOC_UNIT, simple([LOG_OFFSET + 2 * ALLOC_UNIT, ALLOC_UNIT]), 0o666));
    withFs(dev, (fs) => assert.equal(fs.lookup('evil'), undefined));
    const { status, report } = fsckJson(dev);
    assert.equal(report.collisions, 1);
    assert.equal(status, 1);
    assert.match(report.errors.map((e) => e.message).join('\n'), /'evil': extent 0x600000\+0x200000 overlaps the superblock or log of device 0/);
    assert.equal(independentBitmap(dev).collisions, 1, 'the independent reader counts the same collision');
  });

  it('4. an ADD_DAXDEV entry claiming 2^53-1 bytes is a counted bad entry, not a 512 MiB bitmap in every process', () => {
    const dev = freshFs('i15-bomb');
    appendForeign(dev, (s) => encodeLogEntry({ type: 'add_daxdev', seqnum: s, devIndex: 1, devSize: 2 ** 53 - 1, devUuid: Buffer.alloc(16, 5) }));
    withFs(dev, (fs) => {
      assert.equal(fs.deviceRecords().length, 1);
      assert.equal(fs.deviceUsage().length, 1);
    });
    assert.equal(famfs(['creat', '--device', dev, '-s', '2m', 'after']).status, 0);
    const { status, report } = fsckJson(dev);
    assert.equal(status, 1);
    assert.match(report.errors.map((e) => e.message).join('\n'), /device 1 claims 9007199254740991 bytes, more than/);
  });

  it('5. mkfs refuses a mounted device (as this host or another) and a log it could not open again, writing nothing', () => {
    const dev = freshFs('i15-mkfs');
    const sb = head(dev, 4096 + 64);
    const mnt = mountFamfs(dev, CLIENT_UUID);
    try {
      oneLine(mkfsCli(['-f', dev]), /is mounted at .*unmount it first/);
      oneLine(mkfsCli(['-f', '-k', dev]), /is mounted at/);
      assert.deepEqual(head(dev, 4096 + 64), sb);
    } finally {
      umountFamfs(mnt);
    }
    oneLine(mkfsCli(['-f', '-l', '4g', dev]), /invalid log length 4294967296: .*at most 2147483648 bytes/);
    assert.deepEqual(head(dev, 4096 + 64), sb);
    // A device whose bitmap no replay would build (ADD_DAXDEV's bound) is refused as the primary too.
    const huge = emuDevice(MAX_DEVICE_SIZE + ALLOC_UNIT, 'i15-huge');
    oneLine(mkfsCli([huge]), /unsupported memory device size .*more than 70368744177664/);
    assert.ok(head(huge, 8).equals(Buffer.alloc(8)));
    assert.equal(famfs(['fsck', dev]).status, 0);
  });

  it('6. on a full tmpfs, mkfs, creat -r, cp, verify and a log append fail with ENOSPC (no SIGBUS) and creat -r logs nothing', () => {
    const dir = mkdtempSync('/tmp/famfs-test-tmpfs-');
    const mount = (size: string): void => {
      const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
    };
    // Lazily: this process may still hold a mapping of a replayed log until it is collected.
    const umount = (): void => void spawnSync('umount', ['-l', dir]);
    try {
      // mkfs gives memory to the superblock's 2 MiB and the log's first page (the log is a hole
      // until appends fill it), so only a tmpfs smaller than 2 MiB refuses it.
      mount('1m');
      createEmulatedDevice(`${dir}/dev`, 8 * GiB);
      const m = mkfsCli([`${dir}/dev`]);
      oneLine(m, /cannot back .* \(it is full\)/);
      assert.equal(m.status, 2);
      assert.ok(head(`${dir}/dev`, 8).equals(Buffer.alloc(8)), 'no superblock was written');
      umount();

      mount('40m');
      const dev = `${dir}/dev`;
      createEmulatedDevice(dev, 8 * GiB);
      assert.equal(mkfsCli([dev]).status, 0);
      const c = famfs(['creat', '--device', dev, '-s', '64m', '-r', '-S', '3', '-q', 'big']);
      oneLine(c, /cannot back 67108864 bytes .* \(it is full\)/);
      assert.notEqual(c.status, 135);
      withFs(dev, (fs) => assert.equal(fs.lookup('big'), undefined, 'the file was not logged'));
      const src = `${mkdtempSync('/tmp/famfs-test-src-')}/src`;
      writeFileSync(src, Buffer.alloc(48 * 1024 * 1024, 7));
      try {
        const cp = famfs(['cp', '--device', dev, src, 'copied']);
        oneLine(cp, /cannot back .* \(it is full\)/);
        withFs(dev, (fs) => assert.equal(fs.lookup('copied'), undefined, 'the copy was not logged'));
      } finally {
        rmSync(dirname(src), { recursive: true });
      }
      assert.equal(famfs(['creat', '--device', dev, '-s', '256m', 'hole']).status, 0);
      const v = famfs(['verify', '--device', dev, '-S', '3', '-f', 'hole']);
      oneLine(v, /cannot back 268435456 bytes/);
      assert.notEqual(v.status, 135);

      // The log gets memory 2 MiB at a time as it fills (log-writer.ts reserveAhead): the first
      // entries have theirs; on a full tmpfs the append that needs the next chunk fails cleanly.
      const before = withFs(dev, (fs) => fs.logHeader().nextIndex);
      const master = FamfsHandle.open(dev, { writable: true, systemUuid: MASTER_UUID_BYTES });
      try {
        master.withLog((s) => {
          for (let i = 0; i < LOG_CHUNK_ENTRIES - before - 8; i++) s.mkdir(`d${i}`);
        });
      } finally {
        master.close();
      }
      fillUp(`${dir}/filler`);
      let made = 0;
      let failed: RunResult | undefined;
      for (let i = 0; i < 32 && !failed; i++) {
        const r = famfs(['mkdir', '--device', dev, `late${i}`]);
        if (r.status === 0) made++;
        else failed = r;
      }
      assert.ok(failed, 'an append into the next 2 MiB of the log failed');
      oneLine(failed, /cannot back .* \(it is full\)/);
      assert.notEqual(failed.status, 135);
      withFs(dev, (fs) => {
        assert.equal(fs.logHeader().nextIndex, LOG_CHUNK_ENTRIES - 8 + made, 'every append that succeeded is logged, the failed one is not');
        assert.equal(fs.lookup(`late${made}`), undefined);
      });
    } finally {
      umount();
      rmdirSync(dir);
    }
  });

  it('7. adddev warns about hosts that know only device 0; fsck says whether the file system is still safe for them, and fails when a device is missing', () => {
    const primary = freshFs('i15-md0');
    const second = emuDevice(8 * GiB, 'i15-md1');
    const a = famfs(['adddev', '--device', primary, second]);
    assert.equal(a.status, 0, a.stderr);
    assert.match(a.stderr, /^famfs adddev: warning: hosts that know only device 0 \(upstream famfs\) misread files placed on device 1/);
    assert.match(famfs(['fsck', primary]).stdout, /hosts that know only device 0 \(upstream famfs\): safe, no file is on another device/);
    assert.equal(famfs(['creat', '--device', primary, '-s', '64m', '-N', '4', '-B', '8', 'spread']).status, 0);
    const text = famfs(['fsck', primary]);
    assert.equal(text.status, 0, text.stdout);
    assert.match(text.stdout, /hosts that know only device 0 \(upstream famfs\): NOT SAFE, 1 files have extents on other devices/);
    assert.deepEqual(fsckJson(primary).report.deviceZeroOnly, { safe: false, filesOffPrimary: 1 });
    // A device this host cannot find is an error fsck prints, so its status says so.
    const away = mkdtempSync('/dev/shm/famfs-test-away-');
    renameSync(second, `${away}/dev`);
    try {
      const missing = famfs(['fsck', primary]);
      assert.equal(missing.status, 1, missing.stdout);
      assert.match(missing.stdout, /device 1: NOT FOUND/);
    } finally {
      renameSync(`${away}/dev`, second);
      rmdirSync(away);
    }
    assert.ok(existsSync(second));
  });

  it('8. creat -m takes the umask off, as upstream', () => {
    const dev = freshFs('i15-umask');
    const r = spawnSync('/bin/sh', ['-c', 'umask 027 && exec "$0" "$1" creat --device "$2" -s 2m -m 0666 f', process.execPath, FAMFS_BIN, dev], {
      encoding: 'utf8', env: hostEnv(MASTER_UUID),
    });
    assert.equal(r.status, 0, r.stderr);
    withFs(dev, (fs) => assert.equal(fs.lookup('f')?.mode, 0o640));
  });
});

