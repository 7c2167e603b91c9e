import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  DAXDEV_OUT_SIZE, FAMFS_ABI_PROFILES, FUSE_DEV_IOC_DAXDEV_OPEN, daxFmapMask, decodeGetDaxdevIn, decodeGetFmapIn, encodeDaxdevOpenArg,
  encodeDaxdevOut, encodeFmapMessage, iow, startingProfile,
} from '../src/daemon/famfs-abi.js';
import { DaxdevPusher, type Ioctl } from '../src/daemon/daxdev-push.js';
import { cleanupDevices, emuDevice, GiB } from './helpers/emu.js';
import type { Fmap } from '../src/format/fmap.js';
import { FsError } from '../src/errors.js';

const v10 = FAMFS_ABI_PROFILES.v10!;
const MiB = 1024 ** 2;

/** Little-endian hex of fields, so expected bytes read like the tables in the spec. */
function le(...fields: [number | bigint, number][]): string {
  return fields.map(([v, n]) => {
    const b = Buffer.alloc(n);
    if (n === 8) b.writeBigUInt64LE(BigInt(v)); else if (n === 4) b.writeUInt32LE(Number(v)); else if (n === 2) b.writeUInt16LE(Number(v)); else b.writeUInt8(Number(v));
    return b.toString('hex');
  }).join('');
}

describe('GET_FMAP reply (kernel-famfs-and-bpf.md §1.4)', () => {
  it('simple: 32-byte header then 24-byte extents, devindex u32 at offset 0', () => {
    const fmap: Fmap = { kind: 'simple', extents: [{ devIndex: 0, offset: 0xa00000, len: 0x200000 }, { devIndex: 1, offset: 0x4000000, len: 0x400000 }] };
    const msg = encodeFmapMessage(fmap, 5 * MiB, v10);
    const expected = le([0, 1], [0, 1], [1, 2], [0, 4], [2, 4], [0, 4], [5 * MiB, 8], [0, 8])
      + le([0, 4], [0, 4], [0xa00000, 8], [0x200000, 8])
      + le([1, 4], [0, 4], [0x4000000, 8], [0x400000, 8]);
    assert.equal(msg.toString('hex'), expected);
    assert.equal(msg.length, 80);
  });
  it('interleaved: one iext (nstrips, u32 chunk, nbytes) then its strips', () => {
    const strips = [0, 1, 2].map((k) => ({ devIndex: 0, offset: (k + 1) * 1024 * MiB, len: 4 * MiB }));
    const fmap: Fmap = { kind: 'interleaved', nstrips: 3, chunkSize: 2 * MiB, strips };
    const msg = encodeFmapMessage(fmap, 11 * MiB, v10);
    const expected = le([0, 1], [0, 1], [1, 2], [1, 4], [1, 4], [0, 4], [11 * MiB, 8], [0, 8])
      + le([3, 4], [2 * MiB, 4], [11 * MiB, 8], [0, 8])
      + strips.map((s) => le([0, 4], [0, 4], [s.offset, 8], [s.len, 8])).join('');
    assert.equal(msg.toString('hex'), expected);
    assert.equal(msg.length, 32 + 24 + 72);
  });
  it('unrolled profile: one simple extent per chunk, in file order', () => {
    const strips = [0, 1].map((k) => ({ devIndex: 0, offset: (k + 1) * 1024 * MiB, len: 4 * MiB }));
    const msg = encodeFmapMessage({ kind: 'interleaved', nstrips: 2, chunkSize: 2 * MiB, strips }, 7 * MiB, FAMFS_ABI_PROFILES.simple!);
    assert.equal(msg.readUInt32LE(4), 0);
    assert.equal(msg.readUInt32LE(8), 4);
    const offs = [0, 1, 2, 3].map((i) => Number(msg.readBigUInt64LE(32 + i * 24 + 8)));
    assert.deepEqual(offs, [1024 * MiB, 2048 * MiB, 1024 * MiB + 2 * MiB, 2048 * MiB + 2 * MiB]);
  });
  it('refuses maps the profile cannot carry instead of sending what the kernel rejects', () => {
    const many: Fmap = { kind: 'simple', extents: Array.from({ length: 3 }, (_, i) => ({ devIndex: 0, offset: (i + 5) * 2 * MiB, len: 2 * MiB })) };
    assert.throws(() => encodeFmapMessage(many, 6 * MiB, FAMFS_ABI_PROFILES.rfc2025!), (e: unknown) => e instanceof FsError && e.code === 'ERANGE');
    const strips = Array.from({ length: 4 }, (_, k) => ({ devIndex: 0, offset: (k + 1) * 1024 * MiB, len: 2 * MiB }));
    assert.throws(() => encodeFmapMessage({ kind: 'interleaved', nstrips: 4, chunkSize: 2 * MiB, strips }, 8 * MiB, FAMFS_ABI_PROFILES.simple!, 0, 100), /does not fit/);
  });
});

describe('GET_DAXDEV and INIT (§1.2, §1.5)', () => {
  it('daxdev_out is 280 bytes: u16 index, reserved, NUL-terminated name at 24', () => {
    const out = encodeDaxdevOut(2, '/dev/dax0.0');
    assert.equal(out.length, DAXDEV_OUT_SIZE);
    assert.equal(out.readUInt16LE(0), 2);
    assert.ok(out.subarray(2, 24).every((b) => b === 0));
    assert.equal(out.subarray(24, 35).toString(), '/dev/dax0.0');
    assert.equal(out[35], 0);
    assert.throws(() => encodeDaxdevOut(0, `/dev/${'x'.repeat(260)}`), /longer than 255/);
  });
  it('requests decode from byte fixtures: index in nodeid (v10) or body (simple); fmap buffer size', () => {
    assert.equal(decodeGetDaxdevIn(3, Buffer.alloc(0), v10), 3);
    assert.equal(decodeGetDaxdevIn(0, Buffer.from('05000000', 'hex'), FAMFS_ABI_PROFILES.simple!), 5);
    assert.deepEqual(decodeGetFmapIn(Buffer.alloc(0)), {});
    assert.deepEqual(decodeGetFmapIn(Buffer.from('0010000000000000', 'hex')), { bufferBytes: 4096 });
  });
  it('DAX_FMAP is flags2 bit 11 in v10 (bit 43 of the 64-bit flags), bit 42 in the RFC', () => {
    assert.equal(daxFmapMask(v10) >> 32n, 0x800n);
    assert.equal(daxFmapMask(FAMFS_ABI_PROFILES.rfc2025!), 1n << 42n);
  });
});

describe('push2026: the mid-2026 daemon ABI (kernel-famfs-and-bpf.md §1.10, famfs_fused.c push mode)', () => {
  const push = FAMFS_ABI_PROFILES.push2026!;

  it('an interleaved file goes out unrolled: uniform 2 MiB simple extents in file order, hand-computed bytes', () => {
    const strips = [{ devIndex: 0, offset: 0x40000000, len: 4 * MiB }, { devIndex: 1, offset: 0x80000000, len: 4 * MiB }];
    const msg = encodeFmapMessage({ kind: 'interleaved', nstrips: 2, chunkSize: 2 * MiB, strips }, 7 * MiB, push);
    // Chunks 0..3 of a 7 MiB file: strip 0, strip 1, strip 0 + 2 MiB, strip 1 + 2 MiB.
    const expected = le([0, 1], [0, 1], [1, 2], [0, 4], [4, 4], [0, 4], [7 * MiB, 8], [0, 8])
      + le([0, 4], [0, 4], [0x40000000, 8], [2 * MiB, 8])
      + le([1, 4], [0, 4], [0x80000000, 8], [2 * MiB, 8])
      + le([0, 4], [0, 4], [0x40200000, 8], [2 * MiB, 8])
      + le([1, 4], [0, 4], [0x80200000, 8], [2 * MiB, 8]);
    assert.equal(msg.toString('hex'), expected);
  });

  it('the reply grows past 4 KiB when the kernel names a larger buffer, and is refused past it', () => {
    // 400 MiB in 200 chunks of 2 MiB: 32 + 200 * 24 = 4832 bytes, past one page.
    const strips = Array.from({ length: 8 }, (_, k) => ({ devIndex: 0, offset: (k + 1) * 1024 * MiB, len: 50 * MiB }));
    const fmap: Fmap = { kind: 'interleaved', nstrips: 8, chunkSize: 2 * MiB, strips };
    const { bufferBytes } = decodeGetFmapIn(Buffer.from(le([16384, 4], [0, 4]), 'hex'));
    assert.equal(bufferBytes, 16384);
    const msg = encodeFmapMessage(fmap, 400 * MiB, push, 0, bufferBytes);
    assert.equal(msg.length, 32 + 200 * 24);
    assert.equal(msg.readUInt32LE(8), 200);
    // Extent 199 is chunk 199: strip 199 % 8 = 7, row 24.
    assert.equal(Number(msg.readBigUInt64LE(32 + 199 * 24 + 8)), 8 * 1024 * MiB + 24 * 2 * MiB);
    assert.throws(() => encodeFmapMessage(fmap, 400 * MiB, push), /does not fit/, 'a kernel that names no buffer has 4 KiB');
  });

  it('FUSE_DEV_IOC_DAXDEV_OPEN: _IOW(229, 4, 16) and its argument, fd and index in fuse_backing_map\'s shape', () => {
    assert.equal(iow(229, 1, 16), 0x4010e501, 'the same macro gives FUSE_DEV_IOC_BACKING_OPEN');
    assert.equal(FUSE_DEV_IOC_DAXDEV_OPEN, 0x4010e504);
    assert.equal(encodeDaxdevOpenArg(7, 3).toString('hex'), le([7, 4], [0, 4], [3, 8]));
    assert.equal(encodeDaxdevOpenArg(-1, 0).toString('hex'), 'ffffffff000000000000000000000000');
  });

  it('devices are pushed densely, in index order, up to the highest a map names; a failure stops the round and a later lookup retries', () => {
    // The kernel side of the ioctl exists only on famfs kernels: the recorder stands in for it,
    // everything before it (the device opened read-write, the argument) is real.
    const a = emuDevice(GiB, 'push-a');
    const b = emuDevice(GiB, 'push-b');
    const calls: { request: number; fd: number; index: number }[] = [];
    let failNext = false;
    const ioctl: Ioctl = (_fuseFd, request, arg) => {
      if (failNext) {
        failNext = false;
        throw Object.assign(new Error('EIO'), { code: 'EIO' });
      }
      calls.push({ request, fd: arg.readInt32LE(0), index: Number(arg.readBigUInt64LE(8)) });
      return 0;
    };
    const log: string[] = [];
    const p = new DaxdevPusher(99, (i) => [a, b, b][i]!, (m) => log.push(m), ioctl);
    assert.equal(p.pushFor({ kind: 'simple', extents: [{ devIndex: 0, offset: 2 * MiB, len: 2 * MiB }] }), 1);
    failNext = true;
    const twoDevs: Fmap = { kind: 'interleaved', nstrips: 2, chunkSize: 2 * MiB, strips: [{ devIndex: 2, offset: 0, len: 2 * MiB }, { devIndex: 0, offset: 0, len: 2 * MiB }] };
    assert.equal(p.pushFor(twoDevs), 0);
    assert.match(log[0]!, /index 1 failed/);
    assert.equal(p.pushFor(twoDevs), 2);
    assert.equal(p.pushFor(twoDevs), 0, 'nothing twice');
    assert.deepEqual(calls.map((c) => [c.request, c.index]), [[FUSE_DEV_IOC_DAXDEV_OPEN, 0], [FUSE_DEV_IOC_DAXDEV_OPEN, 1], [FUSE_DEV_IOC_DAXDEV_OPEN, 2]]);
    assert.ok(calls.every((c) => c.fd > 2), 'each device was opened for the kernel');
    cleanupDevices();
  });

  // Whether a real /dev/fuse takes FUSE_DEV_IOC_DAXDEV_OPEN is famfs-abi-devfuse.test.ts's (a mount-group test: no /dev/fuse here).
  it('a mount starts on v10 for auto (it moves on at attach), on the named profile otherwise; an unknown name is undefined', () => {
    assert.equal(startingProfile('auto'), v10);
    assert.equal(startingProfile('push2026'), push);
    assert.equal(startingProfile('nope'), undefined);
  });
});
