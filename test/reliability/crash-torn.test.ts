import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { FamfsError } from '../../src/errors.js';
import { FM_ALL_HOSTS_RW } from '../../src/format/file-meta.js';
import { ALLOC_UNIT, LOG_OFFSET } from '../../src/format/layout.js';
import { LOG_ENTRY_CRC_COVERED, LOG_ENTRY_SIZE, decodeLogEntry, encodeLogEntry, type LogEntry } from '../../src/format/log-entry.js';
import { LOG_HEADER_OFF, LOG_HEADER_SIZE, decodeLogHeader, entryOffset } from '../../src/format/log-header.js';
import { SUPERBLOCK_SIZE, decodeSuperblock, encodeSuperblock, type Superblock } from '../../src/format/superblock.js';
import { MemoryDevice } from '../../src/device/device.js';
import { readSuperblock } from '../../src/fs/role.js';
import { Cluster } from '../hosts/harness.js';
import { isMounted } from '../helpers/mounts.js';
import { cleanProblems, inspect } from './support.js';
import { readAt, writeAt } from '../helpers/device-io.js';

/**
 * The crash points a random kill rarely hits, made on purpose by writing the device's bytes:
 * an entry written but never published (next_index not bumped), an entry torn at every length
 * but published, and a superblock torn at every length. Each must be ignored or detected, never
 * trusted, and the file system must go on working.
 */

const MiB = 1024 ** 2;
const GHOST = 'ghost';
/** Somewhere past every file the tests create: the ghost's memory must not matter. */
const GHOST_OFFSET = 1024 * ALLOC_UNIT;
/** The device size is the u64 at 112; on an 8 GiB device its last non-zero byte is at 116. */
const SB_DEV_SIZE_END = 117;

function logHeaderOf(device: string, logLen: number): ReturnType<typeof decodeLogHeader> {
  return decodeLogHeader(readAt(device, LOG_OFFSET, LOG_HEADER_SIZE), logLen);
}

function ghostEntry(seqnum: number): LogEntry {
  return {
    type: 'file', seqnum, path: GHOST, size: 4 * MiB, flags: FM_ALL_HOSTS_RW, uid: 0, gid: 0, mode: 0o644,
    fmap: { kind: 'simple', extents: [{ devIndex: 0, offset: GHOST_OFFSET, len: 4 * MiB }] },
  };
}

/** Publish slots up to `next` the way the append protocol does (next_seqnum, then next_index). */
function bumpNextIndex(device: string, next: number): void {
  const b = Buffer.alloc(16);
  b.writeBigUInt64LE(BigInt(next), 0);
  b.writeBigUInt64LE(BigInt(next), 8);
  writeAt(device, LOG_OFFSET + LOG_HEADER_OFF.nextSeqnum, b);
}

/** Decoding either throws the project's typed error or yields exactly one of `allowed`. */
function decodesToOneOf<T>(decode: () => T, allowed: T[], ctx: string): 'refused' | 'whole' {
  let v: T;
  try {
    v = decode();
  } catch (err) {
    assert.ok(err instanceof FamfsError, `${ctx}: threw ${String(err)}, not a FamfsError`);
    return 'refused';
  }
  assert.ok(allowed.some((a) => { try { assert.deepEqual(v, a); return true; } catch { return false; } }), `${ctx}: decoded to something never written`);
  return 'whole';
}

describe('deterministic crash points', () => {
  let c: Cluster;
  let logLen = 0;

  before(async () => {
    c = await Cluster.up({ clients: 1, noMount: true, tag: 'torn' });
    for (const args of [['mkdir', '-p', 'd/e'], ['creat', '-s', '3m', 'd/e/a'], ['creat', '-s', '1m', 'b']]) {
      const r = c.master.onDevice(args);
      assert.equal(r.status, 0, r.stderr);
    }
    logLen = inspect(c.device).report.superblock.logLen;
  });
  after(() => c?.down());

  it('an entry written but not published (crash before next_index is bumped) is invisible, and the next append takes its slot', async () => {
    const before = logHeaderOf(c.device, logLen).nextIndex;
    writeAt(c.device, LOG_OFFSET + entryOffset(before), encodeLogEntry(ghostEntry(before)));
    const seen = inspect(c.device);
    assert.deepEqual(cleanProblems(seen.report), []);
    assert.equal(seen.report.log.entriesUsed, before);
    assert.equal(seen.nodes.has(GHOST), false, 'an unpublished entry was replayed');
    const mnt = await c.clients[0]!.mount();
    try {
      assert.equal(readdirSync(mnt).includes(GHOST), false, 'a client mount shows an unpublished entry');
    } finally {
      c.clients[0]!.umount();
    }
    const r = c.master.onDevice(['creat', '-s', '2m', 'after-ghost']);
    assert.equal(r.status, 0, r.stderr);
    const after = inspect(c.device);
    assert.deepEqual(cleanProblems(after.report), []);
    assert.equal(after.nodes.has(GHOST), false);
    assert.equal(after.nodes.get('after-ghost')?.logIndex, before, 'the next append did not reuse the unpublished slot');
  });

  it('an entry torn at every length is refused or whole, never half-trusted (fresh slot and over a stale entry)', () => {
    const index = 7;
    const whole = ghostEntry(index);
    const stale = { ...ghostEntry(index), path: 'stale-entry', size: 2 * MiB };
    const fresh = encodeLogEntry(whole);
    const old = encodeLogEntry(stale);
    let refusedOverZeros = 0;
    for (let k = 0; k < LOG_ENTRY_SIZE; k++) {
      const overZeros = Buffer.alloc(LOG_ENTRY_SIZE);
      fresh.copy(overZeros, 0, 0, k);
      if (decodesToOneOf(() => decodeLogEntry(overZeros, index), [whole], `torn at ${k}`) === 'refused') refusedOverZeros++;
      const overStale = Buffer.from(old);
      fresh.copy(overStale, 0, 0, k);
      decodesToOneOf(() => decodeLogEntry(overStale, index), [whole, stale], `torn at ${k} over a stale entry`);
    }
    // Only the CRC's zero high word may be missing for a torn entry to still decode.
    assert.equal(refusedOverZeros, LOG_ENTRY_CRC_COVERED + 4);
  });

  it('a published torn entry is reported by replay and fsck, hidden from clients, and appends go on after it', async () => {
    const index = logHeaderOf(c.device, logLen).nextIndex;
    const torn = Buffer.alloc(LOG_ENTRY_SIZE);
    encodeLogEntry(ghostEntry(index)).copy(torn, 0, 0, LOG_ENTRY_SIZE / 2);
    writeAt(c.device, LOG_OFFSET + entryOffset(index), torn);
    bumpNextIndex(c.device, index + 1);
    const seen = inspect(c.device);
    assert.deepEqual(seen.report.badEntries.map((b) => b.index), [index]);
    assert.equal(seen.nodes.has(GHOST), false);
    const fsckOut = c.master.onDevice(['fsck', c.device]);
    assert.match(fsckOut.stdout, /1 bad log entr/, 'fsck does not report the torn entry');
    const r = c.master.onDevice(['creat', '-s', '1m', 'after-torn']);
    assert.equal(r.status, 0, r.stderr);
    const mnt = await c.clients[0]!.mount();
    try {
      const names = readdirSync(mnt);
      assert.ok(names.includes('after-torn') && names.includes('b') && !names.includes(GHOST), `client sees ${names.join(',')}`);
    } finally {
      c.clients[0]!.umount();
    }
    assert.equal(inspect(c.device).nodes.get('after-torn')?.logIndex, index + 1);
  });

  it('a superblock torn at every length is refused or whole (over zeros and over an older superblock)', () => {
    const saved = readAt(c.device, 0, SUPERBLOCK_SIZE);
    const real = decodeSuperblock(saved);
    const older: Superblock = { ...real, uuid: Buffer.alloc(16, 0xab), devUuid: Buffer.alloc(16, 0xcd), devName: '/dev/shm/some-older-famfs' };
    const oldBytes = encodeSuperblock(older);
    // The device name is not CRC-protected and only reported: a torn one may be a prefix or the old one.
    const norm = (sb: Superblock): Omit<Superblock, 'devName'> => { const { devName: _n, ...rest } = sb; return rest; };
    let refusedOverZeros = 0;
    try {
      for (let k = 0; k < SUPERBLOCK_SIZE; k++) {
        for (const [under, ok] of [[Buffer.alloc(SUPERBLOCK_SIZE), [real]], [oldBytes, [real, older]]] as const) {
          const sb = Buffer.from(under);
          saved.copy(sb, 0, 0, k);
          writeAt(c.device, 0, sb);
          // As every opener reads it: decoded, then checked against the device (the size is outside the CRC).
          const read = (): Omit<Superblock, 'devName'> => {
            const dev = MemoryDevice.open(c.device, { writable: false });
            try {
              return norm(readSuperblock(dev));
            } finally {
              dev.close();
            }
          };
          if (decodesToOneOf(read, ok.map(norm), `superblock torn at ${k}`) === 'refused' && under !== oldBytes) refusedOverZeros++;
        }
      }
    } finally {
      writeAt(c.device, 0, saved);
    }
    // Over zeros, everything up to the last non-zero byte of the device size must be refused.
    assert.ok(refusedOverZeros >= SB_DEV_SIZE_END - 1, `only ${refusedOverZeros} torn superblocks were refused`);
  });

  it('fsck and mount of a device with a torn superblock fail with one line, leaving no mount behind', async () => {
    const saved = readAt(c.device, 0, SUPERBLOCK_SIZE);
    try {
      for (const k of [1, 40, 90, 100, 112, 116]) {
        const torn = Buffer.alloc(SUPERBLOCK_SIZE);
        saved.copy(torn, 0, 0, k);
        writeAt(c.device, 0, torn);
        const f = c.master.famfs(['fsck', c.device]);
        assert.notEqual(f.status, 0, `fsck trusted a superblock torn at ${k}`);
        assert.equal(f.stderr.trim().split('\n').length, 1, `fsck at ${k}: ${f.stderr}`);
        const client = c.clients[0]!;
        await assert.rejects(client.mount(), /famfs mount failed/, `mount of a superblock torn at ${k}`);
        assert.equal(isMounted(client.mnt), false);
        client.umount();
      }
    } finally {
      writeAt(c.device, 0, saved);
    }
    // The superblock is whole again: fsck reads the file system, and its only error is the torn
    // entry published on purpose above (an error, so its status is 1).
    const f = c.master.famfs(['fsck', c.device]);
    assert.match(f.stdout, /Famfs Superblock:/, f.stderr);
    assert.deepEqual(f.stdout.split('\n').filter((l) => l.startsWith('ERROR')).map((l) => /bad log entry \d+: CRC mismatch/.test(l)), [true]);
    assert.equal(f.status, 1);
  });
});
