import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Famfs as ApiFamfs } from '../src/api/famfs.js';
import { MemoryDevice } from '../src/device/device.js';
import { createEmulatedDevice, removeEmulatedDevice } from '../src/device/emulated.js';
import { cacheDirOf, CACHE_LINE_BYTES, SKIP_ENV } from '../src/device/noncoherent.js';
import { LOG_OFFSET } from '../src/format/layout.js';
import { entryOffset, logSlot } from '../src/format/log-header.js';
import { LOG_ENTRY_SIZE } from '../src/format/log-entry.js';
import { cleanupDevices, CLIENT_UUID, client, emuDevice, GiB, master, MASTER_UUID, MiB } from './helpers/emu.js';
import { famfs, mkfsCli } from './helpers/run.js';
import { cleanupMounts, mountFamfs } from './helpers/mounts.js';
import { eventually } from './helpers/wait.js';

/**
 * The non-coherent emulation (src/device/noncoherent.ts): each host sees a non-coherent emulated
 * device through its own cache; another host's writes show only after the writer flushes and
 * the reader invalidates. Then: famfs's own flushes and invalidates are what make the log and the
 * data reach other hosts, shown by leaving one of them out (FAMFS_EMU_SKIP) and watching the
 * other host miss the entry or the bytes.
 */

after(() => {
  cleanupMounts();
  cleanupDevices();
});

const OFF = 64 * MiB;

function ncDevice(tag: string): string {
  const path = emuDevice(8 * GiB, tag);
  createEmulatedDevice(path, 8 * GiB, { force: true, noncoherent: true });
  return path;
}

function withSkip<T>(skip: string, fn: () => T): T {
  process.env[SKIP_ENV] = skip;
  try {
    return fn();
  } finally {
    delete process.env[SKIP_ENV];
  }
}

/** Device byte range of log entry `index` as `flush:<start>-<end>` / `invalidate:...`. */
function entryRange(op: 'flush' | 'invalidate', index: number): string {
  const start = LOG_OFFSET + entryOffset(logSlot(index));
  return `${op}:${start}-${start + LOG_ENTRY_SIZE}`;
}

describe('a non-coherent emulated device', () => {
  it('shows another host\'s write only after the writer flushes and the reader invalidates', () => {
    const dev = ncDevice('nc-basic');
    const a = MemoryDevice.open(dev, { writable: true, host: master });
    const b = MemoryDevice.open(dev, { writable: false, host: client });
    try {
      const wa = a.map(OFF, 4096);
      const rb = b.map(OFF, 4096);
      const data = Buffer.alloc(4096, 0x5a);
      wa.buffer.set(data);
      assert.ok(wa.buffer.equals(data), 'a host reads its own writes');
      rb.invalidate();
      assert.equal(rb.buffer[0], 0, 'not flushed: the reader still sees zeros after invalidating');
      wa.flush();
      assert.equal(rb.buffer[0], 0, 'flushed but not invalidated: the reader sees its cached zeros');
      rb.invalidate();
      assert.ok(rb.buffer.equals(data), 'flushed and invalidated: the reader sees the write');
    } finally {
      a.close();
      b.close();
    }
  });

  it('a coherent emulated device shows the same write at once (the control)', () => {
    const dev = emuDevice(8 * GiB, 'nc-control');
    createEmulatedDevice(dev, 8 * GiB, { force: true, noncoherent: false });
    const a = MemoryDevice.open(dev, { writable: true, host: master });
    const b = MemoryDevice.open(dev, { writable: false, host: client });
    try {
      assert.ok(a.coherent && b.coherent);
      a.map(OFF, 4096).buffer.fill(7);
      assert.equal(b.map(OFF, 4096).buffer[100], 7);
    } finally {
      a.close();
      b.close();
    }
  });

  it('a flush writes back only the lines this host changed; a line both changed goes whole, as hardware does', () => {
    const dev = ncDevice('nc-lines');
    const a = MemoryDevice.open(dev, { writable: true, host: master });
    const b = MemoryDevice.open(dev, { writable: true, host: client });
    try {
      assert.ok(!a.coherent && !b.coherent);
      const ma = a.map(OFF, 4096);
      const mb = b.map(OFF, 4096);
      ma.buffer.fill(1, 0, CACHE_LINE_BYTES);
      mb.buffer.fill(2, CACHE_LINE_BYTES, 2 * CACHE_LINE_BYTES);
      ma.flush();
      mb.flush(); // whole range: b's clean line 0 (zeros) must not overwrite a's
      ma.invalidate();
      assert.equal(ma.buffer[0], 1);
      assert.equal(ma.buffer[CACHE_LINE_BYTES], 2);
      // One line, different bytes: the later write-back carries its whole line.
      ma.buffer[200] = 0xaa;
      mb.invalidate();
      mb.buffer[201] = 0xbb;
      ma.flush(200, 1);
      mb.flush(201, 1);
      ma.invalidate();
      assert.deepEqual([ma.buffer[200], ma.buffer[201]], [0, 0xbb], 'b\'s line replaced a\'s byte');
    } finally {
      a.close();
      b.close();
    }
  });

  it('the processes of one host share its cache; the mode is recorded beside the device and removed with it', () => {
    const dev = ncDevice('nc-host');
    const a1 = MemoryDevice.open(dev, { writable: true, host: master });
    const a2 = MemoryDevice.open(dev, { writable: false, host: master });
    try {
      a1.map(OFF, 4096).buffer.fill(9);
      assert.equal(a2.map(OFF, 4096).buffer[10], 9, 'same host: seen without flush or invalidate');
      assert.ok(readdirSync(cacheDirOf(dev)).some((f) => f.startsWith(MASTER_UUID)));
    } finally {
      a1.close();
      a2.close();
    }
    removeEmulatedDevice(dev);
    assert.ok(!existsSync(dev) && !existsSync(cacheDirOf(dev)));
  });

  it('famfs emu create --noncoherent makes the mode; FAMFS_EMU_NONCOHERENT=1 makes it the default', () => {
    const dev = emuDevice(8 * GiB, 'nc-cli');
    assert.equal(famfs(['emu', 'create', '-f', '--size', '8g', '--noncoherent', dev]).status, 0);
    assert.ok(existsSync(cacheDirOf(dev)));
    assert.equal(famfs(['emu', 'create', '-f', '--size', '8g', dev], MASTER_UUID, { FAMFS_EMU_NONCOHERENT: '0' }).status, 0);
    assert.ok(!existsSync(cacheDirOf(dev)), 'a coherent re-create drops the caches');
    assert.equal(famfs(['emu', 'create', '-f', '--size', '8g', dev], MASTER_UUID, { FAMFS_EMU_NONCOHERENT: '1' }).status, 0);
    assert.ok(existsSync(cacheDirOf(dev)));
    assert.equal(famfs(['emu', 'remove', dev]).status, 0);
    assert.ok(!existsSync(cacheDirOf(dev)));
  });
});

describe('famfs on a non-coherent device: each flush and invalidate is needed', () => {
  function fsOn(tag: string): string {
    const dev = ncDevice(tag);
    const r = mkfsCli([dev]);
    assert.equal(r.status, 0, r.stderr);
    return dev;
  }

  function clientSees(dev: string, path: string): boolean {
    const c = ApiFamfs.open(dev, { systemUuid: CLIENT_UUID });
    try {
      return c.exists(path);
    } finally {
      c.close();
    }
  }

  it('a log entry the master does not flush is not seen by a client until the master writes it back', () => {
    const dev = fsOn('nc-logflush');
    assert.equal(clientSees(dev, 'x'), false); // the client's cache holds the empty log
    const env = { FAMFS_DEVICE: dev };
    const skipped = famfs(['creat', '-s', '2m', 'lost'], MASTER_UUID, { ...env, [SKIP_ENV]: entryRange('flush', 0) });
    assert.equal(skipped.status, 0, skipped.stderr);
    assert.equal(clientSees(dev, 'lost'), false, 'the entry never left the master\'s cache');
    const m = ApiFamfs.open(dev, { systemUuid: MASTER_UUID });
    try {
      assert.ok(m.exists('lost'), 'the master sees its own entry');
    } finally {
      m.close();
    }
    const ok = famfs(['creat', '-s', '2m', 'kept'], MASTER_UUID, env);
    assert.equal(ok.status, 0, ok.stderr);
    const c = ApiFamfs.open(dev, { systemUuid: CLIENT_UUID });
    try {
      assert.ok(c.exists('kept'), 'the flushed entry is seen');
      // As x86's clflush, an invalidate writes dirty lines back first: the master's next session
      // invalidated the log it replays, which published the entry the first one left in its cache.
      assert.ok(c.exists('lost'));
    } finally {
      c.close();
    }
  });

  it('a client that does not invalidate the new entries does not see them; one that does, does', () => {
    const dev = fsOn('nc-loginval');
    assert.equal(clientSees(dev, 'f'), false); // the client's cache now holds the empty log
    const r = famfs(['creat', '-s', '2m', 'f'], MASTER_UUID, { FAMFS_DEVICE: dev });
    assert.equal(r.status, 0, r.stderr);
    const stale = withSkip(entryRange('invalidate', 0), () => {
      const c = ApiFamfs.open(dev, { systemUuid: CLIENT_UUID });
      try {
        return { sees: c.exists('f') };
      } finally {
        c.close();
      }
    });
    assert.equal(stale.sees, false, 'the stale cached slot hides the entry');
    assert.equal(clientSees(dev, 'f'), true);
  });

  it('file data written through map() reaches a client only through flush() and invalidate()', () => {
    const dev = fsOn('nc-map');
    const size = 2 * MiB;
    const data = Buffer.alloc(size, 0x3c);
    const m = ApiFamfs.open(dev, { systemUuid: MASTER_UUID });
    try {
      m.creat('d', { size });
    } finally {
      m.close();
    }
    const c = ApiFamfs.open(dev, { systemUuid: CLIENT_UUID });
    const w = ApiFamfs.open(dev, { systemUuid: MASTER_UUID });
    try {
      const r = c.map('d');
      r.invalidate(); // the client caches the file's zeros
      const wm = w.map('d', { writable: true });
      wm.buffer.set(data);
      r.invalidate();
      assert.equal(r.buffer[0], 0, 'without the writer\'s flush the client reads zeros');
      wm.flush();
      assert.equal(r.buffer[0], 0, 'without the reader\'s invalidate the client reads its cache');
      r.invalidate();
      assert.ok(r.buffer.equals(data));
    } finally {
      c.close();
      w.close();
    }
  });

  it('a queue producer that leaves out its flushes (dontFlush) delivers nothing to a consumer on another host; one that flushes, delivers', () => {
    const dev = fsOn('nc-pcq');
    const m = ApiFamfs.open(dev, { systemUuid: MASTER_UUID });
    const c = ApiFamfs.open(dev, { systemUuid: CLIENT_UUID });
    try {
      const msg = Buffer.alloc(100, 0x42);
      for (const [name, dontFlush] of [['unflushed', true], ['flushed', false]] as const) {
        m.createQueue(name, { bucketSize: 4096, nbuckets: 8 });
        c.setQueuePerm(name, 'c');
        const consumer = c.openConsumer(name);
        const producer = m.openProducer(name, { dontFlush });
        try {
          assert.equal(producer.send(msg), true);
          const got = consumer.receive();
          if (dontFlush) assert.equal(got, null, 'the message never left the master\'s cache');
          else assert.ok(got !== null && got.subarray(0, msg.length).equals(msg), 'the flushed message arrives whole');
        } finally {
          producer.close();
          consumer.close();
        }
      }
    } finally {
      m.close();
      c.close();
    }
  });

  it('famfs cp leaves a client nothing when its data flush is left out; the log-following daemon shows the file and, once flushed, its bytes', async () => {
    const dev = fsOn('nc-daemon');
    const mnt = mountFamfs(dev, CLIENT_UUID, ['--follow', '100']);
    const src = join(mnt, '..', `nc-src-${process.pid}`);
    const data = Buffer.alloc(2 * MiB, 0x61);
    writeFileSync(src, data);
    try {
      // The data range is where the first file lands: the first unit after the log.
      const dataStart = LOG_OFFSET + 8 * MiB;
      const skip = `flush:${dataStart}-${dataStart + 2 * MiB}`;
      const r = famfs(['cp', src, 'nodata'], MASTER_UUID, { FAMFS_DEVICE: dev, [SKIP_ENV]: skip });
      assert.equal(r.status, 0, r.stderr);
      const map = famfs(['getmap', '--device', dev, 'nodata'], MASTER_UUID);
      assert.match(map.stdout, new RegExp(`\\b(0x)?${dataStart.toString(16)}\\b`), `the file is at the range skipped: ${map.stdout}`);
      await eventually('the client daemon shows the file', () => existsSync(join(mnt, 'nodata')));
      assert.ok(readFileSync(join(mnt, 'nodata')).every((b) => b === 0), 'the client reads zeros: the data never left the master');
      const ok = famfs(['cp', src, 'withdata'], MASTER_UUID, { FAMFS_DEVICE: dev });
      assert.equal(ok.status, 0, ok.stderr);
      await eventually('the client daemon shows the second file', () => existsSync(join(mnt, 'withdata')));
      assert.ok(readFileSync(join(mnt, 'withdata')).equals(data), 'flushed by cp, invalidated by the daemon\'s read');
    } finally {
      rmSync(src, { force: true });
    }
  });
});
