import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { join } from 'node:path';
import { MAX_MAPPING_BYTES, MemoryDevice } from '../src/device/device.js';
import { createEmulatedDevice } from '../src/device/emulated.js';
import { isNativeError, loadNative, nativeAddonPath } from '../src/addon.js';
import { DeviceError, type ErrnoName } from '../src/errors.js';
import { readAt, writeAt } from './helpers/device-io.js';
import { seededBytes } from './helpers/prng.js';

const MIB = 1024 ** 2;
const GIB = 1024 ** 3;
const DEVICE_SIZE = 8 * GIB;
const CHUNK = 2 * MIB;
const CHILD_TIMEOUT_MS = 10_000;

let dir = '';
let devPath = '';
let dev: MemoryDevice | undefined;

function cleanup(): void {
  dev?.close();
  dev = undefined;
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
  dir = '';
}
// `after` runs even when tests fail; the exit hook also covers an aborted run.
process.once('exit', cleanup);

function device(): MemoryDevice {
  assert.ok(dev, 'device not opened');
  return dev;
}

function assertDeviceError(fn: () => unknown, code: ErrnoName, text?: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof DeviceError, `expected DeviceError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    assert.ok(!err.message.includes('\n'), 'message is one line');
    if (text) assert.match(err.message, text);
    return true;
  });
}

before(() => {
  dir = mkdtempSync('/dev/shm/famfs-device-test-');
  devPath = join(dir, 'dev0');
  createEmulatedDevice(devPath, DEVICE_SIZE);
  dev = MemoryDevice.open(devPath, { writable: true });
});

after(cleanup);

describe('MemoryDevice.open', () => {
  test('a sparse regular file is an emulated device sized like the file', () => {
    const d = device();
    assert.equal(d.kind, 'emulated');
    assert.equal(d.size, DEVICE_SIZE);
    assert.equal(d.path, devPath);
    assert.equal(d.writable, true);
    assert.equal(d.alignment, loadNative().PAGE_SIZE);
    assert.ok(statSync(devPath).blocks * 512 < DEVICE_SIZE, 'file is sparse');
  });

  test('a missing path, a directory, an empty file and a non-DAX char device are refused', () => {
    const missing = join(dir, 'missing');
    assertDeviceError(() => MemoryDevice.open(missing, { writable: false }), 'ENOENT', new RegExp(missing));
    const sub = join(dir, 'subdir');
    mkdirSync(sub);
    assertDeviceError(() => MemoryDevice.open(sub, { writable: false }), 'EISDIR', new RegExp(sub));
    const empty = join(dir, 'empty');
    writeFileSync(empty, '');
    assertDeviceError(() => MemoryDevice.open(empty, { writable: true }), 'EINVAL', /size 0/);
    assertDeviceError(() => MemoryDevice.open('/dev/null', { writable: false }), 'ENODEV', /\/dev\/null/);
  });

  test('a read-only device refuses a writable mapping', () => {
    const ro = MemoryDevice.open(devPath, { writable: false });
    try {
      assertDeviceError(() => ro.map(0, 4096, { writable: true }), 'EROFS');
      const m = ro.map(0, 4096);
      assert.equal(m.writable, false);
    } finally {
      ro.close();
    }
  });
});

describe('createEmulatedDevice', () => {
  test('refuses an existing path unless forced, and sizes that are not whole 2 MiB units', () => {
    const path = join(dir, 'emu');
    createEmulatedDevice(path, CHUNK);
    assertDeviceError(() => createEmulatedDevice(path, CHUNK), 'EEXIST');
    writeFileSync(path, 'old bytes');
    createEmulatedDevice(path, 2 * CHUNK, { force: true });
    assert.equal(statSync(path).size, 2 * CHUNK);
    assert.deepEqual(readAt(path, 0, 9), Buffer.alloc(9), 'force leaves no old bytes');
    for (const bad of [0, -CHUNK, MIB, CHUNK + 1, 1.5 * CHUNK]) {
      assertDeviceError(() => createEmulatedDevice(join(dir, 'bad'), bad), 'EINVAL');
    }
    assertDeviceError(() => createEmulatedDevice(dir, CHUNK, { force: true }), 'EEXIST', /not a regular file/);
  });
});

describe('DeviceMapping', () => {
  test('a window at 5 GiB: bytes written through the mapping are in the file after flush', () => {
    const offset = 5 * GIB;
    const length = 4 * MIB;
    const m = device().map(offset, length);
    try {
      assert.equal(m.offset, offset);
      assert.equal(m.length, length);
      assert.equal(m.buffer.length, length);
      const data = seededBytes(length, 5);
      data.copy(m.buffer);
      m.flush();
      assert.ok(readAt(devPath, offset, length).equals(data), 'file bytes match what was written through the mapping');
    } finally {
      m.unmap();
    }
  });

  test('release(): earlier views stay mapped and readable after the device closes; the mapping itself is done', () => {
    const offset = 6 * GIB;
    const data = seededBytes(64 * 1024, 9);
    writeAt(devPath, offset, data);
    const own = MemoryDevice.open(devPath, { writable: false });
    const m = own.map(offset, data.length);
    const view = m.buffer.subarray(0, data.length);
    m.release();
    own.close();
    assert.equal(m.mapped, false);
    assert.equal(m.buffer.length, 0);
    assert.throws(() => m.invalidate(), (e: unknown) => e instanceof DeviceError && e.code === 'EBADF');
    assert.ok(view.equals(data), 'the view still shows the device bytes');
    m.release(); // idempotent
  });

  test('an unaligned offset maps the enclosing pages and shows exactly the asked range', () => {
    const offset = 5 * GIB + 12_345;
    const length = 10_000;
    writeAt(devPath, offset - 1, Buffer.from([0xa5]));
    writeAt(devPath, offset + length, Buffer.from([0x5a]));
    const m = device().map(offset, length);
    try {
      assert.equal(m.buffer.length, length);
      const data = seededBytes(length, 77);
      data.copy(m.buffer);
      m.flush(100, 200);
      m.flush();
      assert.ok(readAt(devPath, offset, length).equals(data));
      assert.deepEqual(readAt(devPath, offset - 1, 1), Buffer.from([0xa5]), 'byte before the range untouched');
      assert.deepEqual(readAt(devPath, offset + length, 1), Buffer.from([0x5a]), 'byte after the range untouched');
      // and the other way: a write(2) to the file shows in the mapping
      writeAt(devPath, offset + 10, Buffer.from('via fd'));
      m.invalidate(10, 6);
      assert.equal(m.buffer.subarray(10, 16).toString(), 'via fd');
    } finally {
      m.unmap();
    }
  });

  test('two mappings of the same range see each other\'s writes', () => {
    const offset = 6 * GIB + 3 * CHUNK;
    const a = device().map(offset, CHUNK);
    const b = device().map(offset, CHUNK);
    const ro = device().map(offset, CHUNK, { writable: false });
    try {
      a.buffer.write('from a', 0);
      b.buffer.write('from b', CHUNK - 6);
      assert.equal(b.buffer.subarray(0, 6).toString(), 'from a');
      assert.equal(a.buffer.subarray(CHUNK - 6).toString(), 'from b');
      assert.equal(ro.buffer.subarray(0, 6).toString(), 'from a');
      b.buffer.writeUInt32LE(0xdeadbeef, 4096);
      assert.equal(a.buffer.readUInt32LE(4096), 0xdeadbeef);
    } finally {
      a.unmap();
      b.unmap();
      ro.unmap();
    }
  });

  test('a window may reach the 4 GiB ArrayBuffer cap but not exceed it', () => {
    assert.equal(MAX_MAPPING_BYTES, 4 * GIB);
    const whole = device().map(4 * GIB, MAX_MAPPING_BYTES, { writable: false });
    assert.equal(whole.buffer.length, MAX_MAPPING_BYTES);
    whole.unmap();
    assertDeviceError(() => device().map(0, MAX_MAPPING_BYTES + 1), 'EFBIG', /limit/);
    // the enclosing page-aligned window of an unaligned range counts too
    assertDeviceError(() => device().map(1, MAX_MAPPING_BYTES), 'EFBIG', /smaller windows/);
  });

  test('ranges past the end of the device or malformed are refused', () => {
    assertDeviceError(() => device().map(DEVICE_SIZE - 4096, 8192), 'ERANGE', /past the end/);
    assertDeviceError(() => device().map(DEVICE_SIZE, 1), 'ERANGE');
    assertDeviceError(() => device().map(-4096, 4096), 'EINVAL');
    assertDeviceError(() => device().map(0, 0), 'EINVAL');
    assertDeviceError(() => device().map(0.5, 4096), 'EINVAL');
    const m = device().map(0, 4096);
    try {
      assertDeviceError(() => m.flush(4000, 200), 'ERANGE');
      assertDeviceError(() => m.invalidate(-1, 1), 'EINVAL');
    } finally {
      m.unmap();
    }
  });

  test('unmap is idempotent and leaves nothing that reaches the old memory', () => {
    const m = device().map(7 * GIB, CHUNK);
    const old = m.buffer;
    const view = old.subarray(100, 200);
    old[0] = 1;
    m.unmap();
    m.unmap();
    assert.equal(m.mapped, false);
    assert.equal(m.buffer.length, 0);
    assert.equal(old.length, 0, 'earlier Buffer is detached');
    assert.equal(view.length, 0, 'views of it too');
    assert.equal(old[0], undefined);
    assertDeviceError(() => m.flush(), 'EBADF');
    assertDeviceError(() => m.invalidate(), 'EBADF');
  });

  test('close() unmaps every live mapping and refuses further use', () => {
    const d = MemoryDevice.open(devPath, { writable: true });
    const m1 = d.map(0, 4096);
    const m2 = d.mapExtents([{ offset: 0, len: CHUNK }]);
    d.close();
    d.close();
    assert.equal(m1.mapped, false);
    assert.equal(m2.mapped, false);
    assert.equal(m1.buffer.length, 0);
    assertDeviceError(() => d.map(0, 4096), 'EBADF');
    assertDeviceError(() => d.lock(), 'EBADF');
  });

  test('flush and invalidate of cache lines run on any sub-range without fault', () => {
    const native = loadNative();
    assert.ok(['clflushopt', 'clflush', 'fence'].includes(native.CACHE_FLUSH_METHOD));
    assert.ok(native.CACHE_LINE_SIZE > 0);
    const m = device().map(3 * GIB + 4096, 3 * 4096);
    try {
      m.buffer.fill(0x3c);
      m.flush(1, 4095 + 4096);
      m.invalidate(63, 65);
      m.flush(m.length - 1, 1);
      m.flush(5, 0);
      m.invalidate();
      native.flushCache(m.buffer, 7, 333);
      native.invalidateCache(m.buffer, 0, m.length);
      assert.equal(m.buffer[5000], 0x3c);
      assert.ok(readAt(devPath, 3 * GIB + 4096, m.length).equals(Buffer.alloc(m.length, 0x3c)));
    } finally {
      m.unmap();
    }
  });
});

describe('contiguous view of scattered extents (reserve + mapFixed)', () => {
  const pieces = [
    { offset: 7 * GIB + 10 * MIB, len: CHUNK },
    { offset: CHUNK, len: CHUNK },
    { offset: 5 * GIB + 6 * MIB, len: CHUNK },
    { offset: 3 * GIB + 123 * CHUNK, len: CHUNK },
  ];

  test('MemoryDevice.mapExtents shows 4 pieces as one 8 MiB Buffer, every byte in place', () => {
    pieces.forEach((p, i) => writeAt(devPath, p.offset, seededBytes(p.len, 1000 + i)));
    const m = device().mapExtents(pieces);
    try {
      assert.equal(m.buffer.length, 4 * CHUNK);
      assert.equal(m.offset, pieces[0]!.offset);
      assert.deepEqual(m.extents, pieces);
      pieces.forEach((p, i) => {
        const want = seededBytes(p.len, 1000 + i);
        const got = m.buffer.subarray(i * CHUNK, (i + 1) * CHUNK);
        assert.ok(got.equals(want), `piece ${i} (device offset ${p.offset}) in place`);
      });
      // writes through the view land at the right device offsets
      const fresh = seededBytes(CHUNK, 2002);
      fresh.copy(m.buffer, 2 * CHUNK);
      m.flush(2 * CHUNK - 10, CHUNK + 20);
      assert.ok(readAt(devPath, pieces[2]!.offset, CHUNK).equals(fresh));
      assert.ok(readAt(devPath, pieces[1]!.offset, CHUNK).equals(seededBytes(CHUNK, 1001)), 'neighbour piece unchanged');
    } finally {
      m.unmap();
    }
  });

  test('the addon\'s reserve + mapFixed directly, with a 2 MiB aligned reservation', () => {
    const native = loadNative();
    pieces.forEach((p, i) => writeAt(devPath, p.offset, seededBytes(p.len, 3000 + i)));
    const region = native.reserve(4 * CHUNK, CHUNK);
    try {
      pieces.forEach((p, i) => {
        native.mapFixed(region, i * CHUNK, device().fd, p.offset, p.len, native.PROT_READ | native.PROT_WRITE);
      });
      const view = Buffer.from(region);
      assert.equal(view.length, 4 * CHUNK);
      for (let i = 0; i < pieces.length; i++) {
        const want = seededBytes(CHUNK, 3000 + i);
        for (let j = 0; j < CHUNK; j++) {
          if (view[i * CHUNK + j] !== want[j]) assert.fail(`byte ${j} of piece ${i}: ${view[i * CHUNK + j]} != ${want[j]}`);
        }
      }
      native.madvise(region, 0, 4 * CHUNK, native.MADV_WILLNEED);
      native.msync(region, 1, 10, native.MS_SYNC);
    } finally {
      native.munmap(region);
    }
    assert.equal(region.byteLength, 0);
    assert.throws(() => native.mapFixed(region, 0, device().fd, 0, CHUNK, native.PROT_READ), /live reservation/);
  });

  test('misaligned extents are refused', () => {
    assertDeviceError(() => device().mapExtents([{ offset: 4096 + 1, len: 4096 }]), 'EINVAL', /aligned/);
    assertDeviceError(() => device().mapExtents([]), 'EINVAL');
    assertDeviceError(() => device().mapExtents([{ offset: DEVICE_SIZE, len: 4096 }]), 'ERANGE');
  });
});

describe('lock', () => {
  /** Another process's try at an exclusive non-blocking flock on the device file. */
  function childTryLock(): string {
    const script = [
      'const a = require(process.argv[1]);',
      'const fd = require("node:fs").openSync(process.argv[2], "r");',
      'process.stdout.write(a.flock(fd, a.LOCK_EX | a.LOCK_NB) ? "acquired" : "busy");',
    ].join('\n');
    const r = spawnSync(process.execPath, ['-e', script, nativeAddonPath(), devPath],
      { encoding: 'utf8', timeout: CHILD_TIMEOUT_MS });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout;
  }

  test('lock() excludes another process until unlocked', () => {
    const unlock = device().lock();
    try {
      assert.equal(childTryLock(), 'busy');
      assert.equal(device().tryLock(), null, 'held through this device');
      assertDeviceError(() => device().lock(), 'EBUSY', /not reentrant/);
      const other = MemoryDevice.open(devPath, { writable: false });
      try {
        assert.equal(other.tryLock(), null, 'a second open of the device conflicts too');
      } finally {
        other.close();
      }
    } finally {
      unlock();
    }
    unlock();
    assert.equal(childTryLock(), 'acquired');
    const again = device().tryLock();
    assert.ok(again, 'free again');
    again();
  });

  test('one lock file description per device, kept between locks and closed with the device', () => {
    const fds = (): number => readdirSync('/proc/self/fd').length;
    const before = fds();
    const d = MemoryDevice.open(devPath, { writable: false });
    for (let i = 0; i < 20; i++) d.lock()();
    assert.equal(fds(), before + 2, 'the device fd and one lock fd');
    const unlock = d.lock();
    assert.equal(childTryLock(), 'busy', 'the kept description still locks');
    unlock();
    d.close();
    assert.equal(fds(), before);
  });
});

describe('native addon', () => {
  test('errors carry the errno name, number and syscall', () => {
    const native = loadNative();
    assert.throws(() => native.mmap(-1, 0, 4096, native.PROT_READ, native.MAP_SHARED), (err: unknown) => {
      assert.ok(isNativeError(err));
      assert.equal(err.code, 'EBADF');
      assert.equal(err.errno, osConstants.errno.EBADF);
      assert.equal(err.syscall, 'mmap');
      assert.match(err.message, /^mmap: /);
      return true;
    });
    assert.throws(() => native.flock(-1, native.LOCK_EX), { code: 'EBADF', syscall: 'flock' });
    assert.throws(() => native.ioctl(device().fd, 0x5401), { code: 'ENOTTY', syscall: 'ioctl' });
  });

  test('64-bit offsets, explicit munmap, memcpy and msync', () => {
    const native = loadNative();
    const offset = 7 * GIB + 64 * MIB;
    const region = native.mmap(device().fd, offset, CHUNK, native.PROT_READ | native.PROT_WRITE, native.MAP_SHARED);
    try {
      const src = seededBytes(1000, 9);
      native.memcpy(region, 17, src, 0, src.length);
      native.msync(region, 0, CHUNK, native.MS_SYNC);
      assert.ok(readAt(devPath, offset + 17, src.length).equals(src));
      const back = Buffer.alloc(1000);
      native.memcpy(back, 0, region, 17, 1000);
      assert.ok(back.equals(src));
      assert.throws(() => native.memcpy(back, 1, region, 0, 1000), { code: 'ERANGE' });
    } finally {
      native.munmap(region);
      native.munmap(region);
    }
    assert.throws(() => native.munmap(new ArrayBuffer(8)), { code: 'EINVAL' });
    assert.ok(native.PROT_WRITE > 0 && native.MS_SYNC > 0 && native.MADV_HUGEPAGE > 0 && native.LOCK_NB > 0);
  });
});
