import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { FamfsHandle } from '../src/fs/famfs.js';
import { mkfs } from '../src/fs/mkfs.js';
import { LOG_OFFSET } from '../src/format/layout.js';
import { entryOffset, logSlot } from '../src/format/log-header.js';
import { cleanupDevices, CLIENT_UUID, emuDevice, GiB, master, MASTER_UUID, MiB } from './helpers/emu.js';
import { famfs, mkfsCli } from './helpers/run.js';
import { digestAt, readAt, writeAt } from './helpers/device-io.js';

after(cleanupDevices);

/** The superblock region and the default-size log: digested before and after, "the file system is exactly as it was". */
const META_BYTES = LOG_OFFSET + 8 * MiB;

/** A refused command: non-zero status, one line on stderr that says `what`. */
function refused(r: { status: number | null; stderr: string }, what: RegExp, status?: number): void {
  assert.notEqual(r.status, 0, `expected failure, stderr: ${r.stderr}`);
  if (status !== undefined) assert.equal(r.status, status, r.stderr);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `one line expected, got: ${r.stderr}`);
  assert.match(lines[0]!, what);
}

function freshFs(tag: string): string {
  const dev = emuDevice(8 * GiB, tag);
  mkfs(dev, { systemUuid: master });
  const fs = FamfsHandle.open(dev, { writable: true, systemUuid: master });
  try {
    fs.mkdir('d');
    fs.creat('d/f', { size: 3 * MiB });
  } finally {
    fs.close();
  }
  return dev;
}

describe('mkfs refuses bad input and leaves the device alone', () => {
  it('a device under 4 GiB', () => {
    const dev = emuDevice(2 * GiB, 'small');
    refused(mkfsCli([dev]), /<4GiB/, 2);
    assert.ok(readAt(dev, 0, 4096).every((b) => b === 0));
  });
  it('log lengths that are not a power of two or under 8 MiB', () => {
    const dev = freshFs('loglen');
    const before = digestAt(dev, 0, META_BYTES);
    for (const len of ['1', '1m', '11m', '12m', '4m']) refused(mkfsCli(['-f', '-l', len, dev]), /log length/, 2);
    refused(mkfsCli(['-l', '10mm', dev]), /not a size/);
    assert.equal(digestAt(dev, 0, META_BYTES), before);
  });
  it('an existing file system without -f, and one owned by another host', () => {
    const dev = freshFs('exists');
    const before = digestAt(dev, 0, META_BYTES);
    refused(mkfsCli([dev]), /already has a famfs superblock/, 2);
    refused(mkfsCli([dev], CLIENT_UUID), /owned by another host/, 2);
    refused(mkfsCli(['-k', dev]), /needs -f/, 2);
    assert.equal(digestAt(dev, 0, META_BYTES), before);
  });
  it('-k -f kills, and a new mkfs then works', () => {
    const dev = freshFs('kill');
    const r = mkfsCli(['-f', '-k', dev]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /Famfs superblock killed/);
    refused(famfs(['fsck', dev]), /bad magic/);
    assert.equal(mkfsCli([dev]).status, 0);
    assert.equal(famfs(['fsck', dev]).status, 0);
  });
});

describe('corrupt media is detected, named and not trusted', () => {
  it('superblock: bad magic, bad CRC, another version (named)', () => {
    const dev = freshFs('sb');
    const good = readAt(dev, 0, 200);
    writeAt(dev, 0, Buffer.from([0x00]));
    refused(famfs(['fsck', dev]), /bad magic/);
    writeAt(dev, 0, good);
    writeAt(dev, 50, Buffer.from([good[50]! ^ 0xff]));
    refused(famfs(['fsck', dev]), /superblock CRC mismatch/);
    writeAt(dev, 0, good);
    const v = Buffer.alloc(8);
    v.writeBigUInt64LE(47n);
    writeAt(dev, 8, v);
    refused(famfs(['fsck', dev]), /version 47/);
    refused(famfs(['creat', '--device', dev, '-s', '1m', 'x']), /version 47/);
    writeAt(dev, 0, good);
    assert.equal(famfs(['fsck', dev]).status, 0);
  });
  it('a log entry with a bad CRC is skipped and counted; the rest replays', () => {
    const dev = freshFs('entry');
    const at = LOG_OFFSET + entryOffset(logSlot(0)) + 30;
    writeAt(dev, at, Buffer.from([readAt(dev, at, 1)[0]! ^ 0x01]));
    const r = famfs(['fsck', dev]);
    assert.equal(r.status, 1, 'fsck exits non-zero on anything it reports as an error');
    assert.match(r.stdout, /  1 bad log entries detected/);
    assert.match(r.stdout, /^ERROR: bad log entry 0: CRC mismatch/m);
    assert.match(r.stdout, /^ERROR: log entry 1 not applied \(its memory stays allocated\): file 'd\/f': parent directory does not exist/m);
    const ls = famfs(['logplay', '-v', '--device', dev]);
    assert.match(ls.stdout, /bad entry 0: log entry 0: CRC mismatch/);
    assert.match(ls.stdout, /skipped entry 1: file 'd\/f': parent directory does not exist/);
    assert.equal(ls.status, 2, "logplay's status counts the bad and skipped entries (at most 127), as upstream's");
  });
  it('a torn entry past next_index is invisible (crash before publish)', () => {
    const dev = freshFs('torn');
    writeAt(dev, LOG_OFFSET + entryOffset(logSlot(2)), Buffer.alloc(300, 0xab));
    const r = famfs(['fsck', dev]);
    assert.equal(r.status, 0);
    assert.match(r.stdout, /2 of 15420 entries used\n  0 bad log entries detected/);
    assert.equal(famfs(['creat', '--device', dev, '-s', '1m', 'after']).status, 0, 'the slot is reused');
    assert.match(famfs(['fsck', dev]).stdout, /  2 files/);
  });
});

describe('the CLI refuses bad requests with one line and changes nothing', () => {
  it('hostile names, existing paths of another size, bad sizes', () => {
    const dev = freshFs('cli');
    const before = digestAt(dev, 0, META_BYTES);
    const env = { FAMFS_DEVICE: dev };
    refused(famfs(['creat', '-s', '1m', 'a/../b'], MASTER_UUID, env), /contains '\.\.'/);
    refused(famfs(['creat', '-s', '1m', 'x'.repeat(80)], MASTER_UUID, env), /at most 79/);
    refused(famfs(['mkdir', 'tab\there'], MASTER_UUID, env), /control character/);
    refused(famfs(['creat', '-s', '4m', 'd/f'], MASTER_UUID, env), /exists with size 3145728/);
    refused(famfs(['creat', '-s', '10mm', 'd/g'], MASTER_UUID, env), /not a size/);
    refused(famfs(['creat', '-s', '0', 'd/g'], MASTER_UUID, env), /cannot be empty/);
    refused(famfs(['creat', 'd/g'], MASTER_UUID, env), /no size was given/);
    refused(famfs(['mkdir', 'd'], MASTER_UUID, env), /already exists/);
    refused(famfs(['creat', '-s', '1m', '-N', '0', '-B', '4', 'd/s'], MASTER_UUID, env), /nstrips 0/);
    assert.equal(famfs(['creat', '-s', '3m', 'd/f'], MASTER_UUID, env).status, 0, 'same size is fine');
    assert.equal(digestAt(dev, 0, META_BYTES), before);
  });
  it('a client cannot create or mkdir', () => {
    const dev = freshFs('client');
    const before = digestAt(dev, 0, META_BYTES);
    refused(famfs(['creat', '--device', dev, '-s', '1m', 'c'], CLIENT_UUID), /client/, 1);
    refused(famfs(['mkdir', '--device', dev, 'c'], CLIENT_UUID), /client/, 1);
    assert.equal(digestAt(dev, 0, META_BYTES), before);
    assert.match(famfs(['fsck', dev], CLIENT_UUID).stdout, /role of this node: Client/);
  });
  it('a full log: ENOSPC and no partial entry', () => {
    const dev = freshFs('logfull');
    const fs = FamfsHandle.open(dev, { writable: true, systemUuid: master });
    try {
      fs.withLog((s) => {
        for (let i = 0; s.freeSlots() > 2; i++) s.mkdir(`d/${i}`);
      });
    } finally {
      fs.close();
    }
    const env = { FAMFS_DEVICE: dev };
    refused(famfs(['mkdir', '-p', 'x/y/z'], MASTER_UUID, env), /log full: 3 entries needed, 2 free/, 28);
    assert.equal(famfs(['creat', '-s', '1m', 'last1'], MASTER_UUID, env).status, 0);
    assert.equal(famfs(['creat', '-s', '1m', 'last2'], MASTER_UUID, env).status, 0);
    const before = digestAt(dev, 0, META_BYTES);
    refused(famfs(['creat', '-s', '1m', 'over'], MASTER_UUID, env), /log full/, 28);
    assert.equal(digestAt(dev, 0, META_BYTES), before);
    const r = famfs(['fsck', dev]);
    assert.equal(r.status, 0);
    assert.match(r.stdout, /15420 of 15420 entries used\n  0 bad log entries detected/);
  });
  it('a full device: ENOSPC, nothing logged', () => {
    const dev = freshFs('devfull');
    const env = { FAMFS_DEVICE: dev };
    assert.equal(famfs(['creat', '-s', '8000m', 'big'], MASTER_UUID, env).status, 0);
    const before = digestAt(dev, 0, META_BYTES);
    refused(famfs(['creat', '-s', '1g', 'more'], MASTER_UUID, env), /out of space/, 28);
    assert.equal(digestAt(dev, 0, META_BYTES), before);
  });
  it('unknown and missing commands use upstream statuses', () => {
    assert.equal(famfs([]).status, 1);
    assert.equal(famfs(['frobnicate']).status, 3);
    assert.equal(famfs(['fsck', '-?']).status, 0);
  });
});
