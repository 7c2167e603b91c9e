import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FormatError } from '../src/errors.js';
import { encodeLogHeader, decodeLogHeader, lastIndexFor, LOG_HEADER_SIZE, logSlot } from '../src/format/log-header.js';
import { decodeLogEntry, encodeLogEntry, LOG_ENTRY_SIZE, type LogEntry } from '../src/format/log-entry.js';
import { decodeSuperblock, encodeSuperblock, newSuperblock, SUPERBLOCK_SIZE, SuperblockError } from '../src/format/superblock.js';
import { decodeSystemUuidFile, encodeSystemUuidFile } from '../src/format/system-uuid.js';
import { formatUuid, parseUuid } from '../src/format/uuid.js';
import { famfsCrc } from '../src/format/crc.js';
import { crc32 as zlibCrc32 } from 'node:zlib';

const seqBytes = (start: number): Buffer => Buffer.from(Array.from({ length: 16 }, (_, i) => start + i));
const crcOf = (b: Buffer, off: number): number => Number(b.readBigUInt64LE(off));

function vectorSuperblock(uuids: [Buffer, Buffer, Buffer]) {
  return newSuperblock({ logLen: 0x800000, devSize: 8 << 30, devName: '/dev/dax0.0', uuid: uuids[0], devUuid: uuids[1], systemUuid: uuids[2] });
}

describe('superblock (spec §1.2, vectors §1.9)', () => {
  it('CRC vector with uuids 00..0f, 10..1f, 20..2f', () => {
    const b = encodeSuperblock(vectorSuperblock([seqBytes(0), seqBytes(0x10), seqBytes(0x20)]));
    assert.equal(b.length, SUPERBLOCK_SIZE);
    assert.equal(crcOf(b, 96), 0x5eff8a3a);
  });
  it('CRC vector with zero uuids', () => {
    const z = Buffer.alloc(16);
    assert.equal(crcOf(encodeSuperblock(vectorSuperblock([z, z, z])), 96), 0xa95718de);
  });
  it('field bytes at their offsets, padding zero, round trip', () => {
    const sb = vectorSuperblock([seqBytes(0), seqBytes(0x10), seqBytes(0x20)]);
    const b = encodeSuperblock(sb);
    assert.equal(b.readBigUInt64LE(0), 0x87b282ffn);
    assert.equal(b.readBigUInt64LE(8), 48n);
    assert.equal(b.readBigUInt64LE(16), 0x200000n);
    assert.equal(b.readBigUInt64LE(24), 0x800000n);
    assert.equal(b.readBigUInt64LE(32), 0x200000n);
    assert.equal(b.readUInt32LE(40), 2);
    assert.equal(b.readUInt32LE(44), 2);
    assert.deepEqual(b.subarray(48, 64), seqBytes(0));
    assert.deepEqual(b.subarray(80, 96), seqBytes(0x20));
    assert.equal(b.readUInt32LE(100), 0, 'upper half of the crc');
    assert.deepEqual(b.subarray(108, 112), Buffer.alloc(4));
    assert.equal(b.readBigUInt64LE(112), BigInt(8 << 30));
    assert.deepEqual(b.subarray(120, 136), Buffer.alloc(16));
    assert.equal(b.subarray(136, 147).toString(), '/dev/dax0.0');
    assert.deepEqual(b.subarray(147, 200), Buffer.alloc(53));
    assert.deepEqual(decodeSuperblock(b), sb);
  });
  it('rejects bad magic, wrong version (naming it), bad CRC', () => {
    const good = encodeSuperblock(vectorSuperblock([seqBytes(0), seqBytes(0x10), seqBytes(0x20)]));
    const magic = Buffer.from(good); magic[0]! ^= 1;
    assert.throws(() => decodeSuperblock(magic), (e: unknown) => e instanceof SuperblockError && e.reason === 'magic');
    const ver = Buffer.from(good); ver.writeBigUInt64LE(47n, 8);
    assert.throws(() => decodeSuperblock(ver), (e: unknown) => e instanceof SuperblockError && e.reason === 'version' && /version 47/.test(e.message));
    const crc = Buffer.from(good); crc[60]! ^= 0x80;
    assert.throws(() => decodeSuperblock(crc), (e: unknown) => e instanceof SuperblockError && e.reason === 'crc');
  });
  it('device size and name are outside the CRC, as upstream', () => {
    const b = encodeSuperblock(vectorSuperblock([seqBytes(0), seqBytes(0x10), seqBytes(0x20)]));
    b.writeBigUInt64LE(12n << 30n, 112);
    assert.equal(decodeSuperblock(b).devSize, 12 * 2 ** 30);
  });
});

describe('log header (spec §1.6, vectors §1.9)', () => {
  it('8 MiB log: last index 15419 and CRC 0xa5875078', () => {
    assert.equal(lastIndexFor(0x800000), 15419);
    const b = encodeLogHeader({ len: 0x800000, lastIndex: 15419, nextSeqnum: 0, nextIndex: logSlot(0) });
    assert.equal(b.length, LOG_HEADER_SIZE);
    assert.equal(b.readBigUInt64LE(0), 0xbadcafef00dn);
    assert.equal(crcOf(b, 24), 0xa5875078);
  });
  it('256 MiB log: last index 493446 and CRC 0xe077f1d4', () => {
    assert.equal(lastIndexFor(256 << 20), 493446);
    assert.equal(crcOf(encodeLogHeader({ len: 256 << 20, lastIndex: 493446, nextSeqnum: 0, nextIndex: logSlot(0) }), 24), 0xe077f1d4);
  });
  it('next index and seqnum are outside the CRC; round trip; validation', () => {
    const h = { len: 0x800000, lastIndex: 15419, nextSeqnum: 7, nextIndex: logSlot(7) };
    const b = encodeLogHeader(h);
    assert.deepEqual(decodeLogHeader(b, 0x800000), h);
    assert.throws(() => decodeLogHeader(b, 0x1000000), FormatError);
    const past = Buffer.from(b); past.writeBigUInt64LE(15421n, 40);
    assert.throws(() => decodeLogHeader(past, 0x800000), /past the last slot/);
    const bad = Buffer.from(b); bad[9]! ^= 1;
    assert.throws(() => decodeLogHeader(bad, 0x800000), /CRC/);
  });
});

describe('log entries (spec §2, vectors §2.10)', () => {
  it('MKDIR vector CRC 0xd6db820b', () => {
    const b = encodeLogEntry({ type: 'mkdir', seqnum: 0, uid: 0, gid: 0, mode: 0o755, path: 'dir1' });
    assert.equal(b.length, LOG_ENTRY_SIZE);
    assert.equal(crcOf(b, 536), 0xd6db820b);
    assert.equal(b.subarray(28, 32).toString(), 'dir1');
    assert.deepEqual(b.subarray(108, 536), Buffer.alloc(428));
  });
  it('FILE vector CRC 0xbbb30d42', () => {
    const e: LogEntry = {
      type: 'file', seqnum: 1, size: 1048576, flags: 2, uid: 0, gid: 0, mode: 0o644, path: 'file1',
      fmap: { kind: 'simple', extents: [{ devIndex: 0, offset: 0xa00000, len: 0x200000 }] },
    };
    const b = encodeLogEntry(e);
    assert.equal(crcOf(b, 536), 0xbbb30d42);
    assert.equal(b.readUInt32LE(128), 1, 'nextents');
    assert.equal(b.readBigUInt64LE(144), 0xa00000n, 'se[0].se_offset');
    assert.deepEqual(decodeLogEntry(b, 1), e);
  });
  it('interleaved FILE: nstrips @136, chunk @144, strip k @152+24k, round trip', () => {
    const strips = [0, 1, 2, 3].map((k) => ({ devIndex: 0, offset: (k + 1) * 2 ** 30, len: 8 << 20 }));
    const e: LogEntry = {
      type: 'file', seqnum: 5, size: 30 << 20, flags: 2, uid: 10, gid: 20, mode: 0o600, path: 'a/b/striped',
      fmap: { kind: 'interleaved', nstrips: 4, chunkSize: 2 << 20, strips },
    };
    const b = encodeLogEntry(e);
    assert.equal(b.readUInt32LE(120), 1);
    assert.equal(b.readUInt32LE(128), 1, 'niext');
    assert.equal(b.readBigUInt64LE(136), 4n);
    assert.equal(b.readBigUInt64LE(144), 2n << 20n);
    assert.equal(b.readBigUInt64LE(152 + 24 * 3 + 8), 4n << 30n);
    assert.deepEqual(decodeLogEntry(b, 5), e);
  });
  it('ADD_DAXDEV round trip', () => {
    const e: LogEntry = { type: 'add_daxdev', seqnum: 2, devSize: 16 << 30, devUuid: seqBytes(0x40), devIndex: 1 };
    const b = encodeLogEntry(e);
    assert.equal(b.readUInt32LE(8), 3);
    assert.equal(b.readUInt32LE(40), 1);
    assert.deepEqual(decodeLogEntry(b, 2), e);
  });
  it('refuses a bad CRC, a wrong seqnum, an unknown type, and a name longer than 79 bytes', () => {
    const b = encodeLogEntry({ type: 'mkdir', seqnum: 3, uid: 0, gid: 0, mode: 0o755, path: 'd' });
    assert.throws(() => decodeLogEntry(b, 4), /seqnum/);
    const flipped = Buffer.from(b); flipped[50]! ^= 1;
    assert.throws(() => decodeLogEntry(flipped, 3), /CRC/);
    assert.throws(() => encodeLogEntry({ type: 'mkdir', seqnum: 0, uid: 0, gid: 0, mode: 0o755, path: 'x'.repeat(80) }), /at most 79/);
    encodeLogEntry({ type: 'mkdir', seqnum: 0, uid: 0, gid: 0, mode: 0o755, path: 'x'.repeat(79) });
  });
});

describe('uuids and the system uuid file (spec §1.4)', () => {
  it('bytes are in textual order', () => {
    const u = parseUuid('00112233-4455-6677-8899-aabbccddeeff');
    assert.equal(u[0], 0x00);
    assert.equal(u[15], 0xff);
    assert.equal(formatUuid(u), '00112233-4455-6677-8899-aabbccddeeff');
  });
  it('system uuid file is 36 chars plus NUL', () => {
    const u = parseUuid('00112233-4455-6677-8899-aabbccddeeff');
    const f = encodeSystemUuidFile(u);
    assert.equal(f.length, 37);
    assert.equal(f[36], 0);
    assert.deepEqual(decodeSystemUuidFile(f), u);
  });
});

describe('CRC-32 (native/crc32.c)', () => {
  it('equals zlib crc32 on every length 0..600 at every alignment 0..7, and on random data', () => {
    const data = Buffer.alloc(1 << 16);
    for (let i = 0; i < data.length; i++) data[i] = (i * 2654435761) >>> 24;
    for (let off = 0; off < 8; off++) {
      for (let len = 0; len <= 600; len++) assert.equal(famfsCrc(data, off, len), zlibCrc32(data.subarray(off, off + len)), `off ${off} len ${len}`);
    }
    assert.equal(famfsCrc(data), zlibCrc32(data));
  });

  it('ranges outside the buffer are refused', () => {
    const data = Buffer.alloc(100);
    assert.throws(() => famfsCrc(data, data.length - 1, 2), /ERANGE|outside/);
  });
});
