import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Famfs, FamfsError, FsError, MapLimitError, ReadOnlyMappingError, RoleError, randomizeBuffer, verifyBuffer } from '../src/api/index.js';
import type { DeviceRange, FileMapping, Fmap } from '../src/api/index.js';
import { planByDeviceRun, planComposed } from '../src/map/map-plan.js';
import { FamfsHandle } from '../src/fs/famfs.js';
import { fsck } from '../src/fs/fsck.js';
import { mkfs } from '../src/fs/mkfs.js';
import { CLIENT_UUID, cleanupDevices, emuDevice, GiB, master, MASTER_UUID, MiB } from './helpers/emu.js';
import { cleanupMounts, mountFamfs } from './helpers/mounts.js';
import { readPlaced } from './helpers/device-io.js';

after(cleanupDevices);

/** Spec §3, written again here from the text so the library's own math is not checking itself. */
function deviceOffsetOf(fmap: Fmap, fileOffset: number): number {
  if (fmap.kind === 'simple') {
    let o = fileOffset;
    for (const e of fmap.extents) {
      if (o < e.len) return e.offset + o;
      o -= e.len;
    }
    throw new Error(`file offset ${fileOffset} is past the extents`);
  }
  const chunkNum = Math.floor(fileOffset / fmap.chunkSize);
  const chunkOff = fileOffset % fmap.chunkSize;
  const strip = chunkNum % fmap.nstrips;
  const stripe = Math.floor(chunkNum / fmap.nstrips);
  return fmap.strips[strip]!.offset + stripe * fmap.chunkSize + chunkOff;
}

/** Block size for reading the raw device: divides every extent and chunk (2 MiB multiples). */
const RAW_BLOCK = 256 * 1024;

/** The file's bytes as the raw device file holds them at the fmap's offsets. */
function readRaw(dev: string, fmap: Fmap, size: number): Buffer {
  const ranges = [];
  for (let off = 0; off < size; off += RAW_BLOCK) ranges.push({ fileOffset: off, offset: deviceOffsetOf(fmap, off), len: Math.min(RAW_BLOCK, size - off) });
  return readPlaced(dev, size, ranges);
}

/**
 * The allocator only ever makes one extent per simple file (spec §4.2), so multi-extent files are
 * built by hand — out of order, with gaps, of mixed lengths — high on the device where nothing else
 * is, and logged through a log session like any other file. addFile refuses an fmap that overlaps a
 * logged file, and fsck below confirms there are no collisions.
 */
function handExtents(base: number, lengthsInUnits: number[], gapUnits: number): DeviceRange[] {
  const unit = 2 * MiB;
  const placed: DeviceRange[] = [];
  let at = base;
  for (const units of lengthsInUnits) {
    placed.push({ devIndex: 0, offset: at, len: units * unit });
    at += (units + gapUnits) * unit;
  }
  return placed.reverse();
}

interface TestFile {
  path: string;
  size: number;
  seed: number;
}

describe('Famfs.map(): zero-copy file mappings', () => {
  let dev = '';
  let m: Famfs;
  let c: Famfs;
  const files: TestFile[] = [];

  before(() => {
    dev = emuDevice(16 * GiB, 'api');
    mkfs(dev, { systemUuid: master });
    const three = handExtents(4 * GiB, [2, 1, 3], 2);
    const sixteen = handExtents(5 * GiB, Array.from({ length: 16 }, (_, i) => (i % 2) + 1), 1);
    const core = FamfsHandle.open(dev, { writable: true, systemUuid: master });
    try {
      core.withLog((s) => {
        s.mkdir('multi');
        s.addFile('multi/three', { size: 12 * MiB - 777, fmap: { kind: 'simple', extents: three } });
        s.addFile('multi/sixteen', { size: sixteen.reduce((t, e) => t + e.len, 0) - 4097, fmap: { kind: 'simple', extents: sixteen } });
      });
    } finally {
      core.close();
    }
    m = Famfs.open(dev, { systemUuid: MASTER_UUID });
    c = Famfs.open(dev, { systemUuid: CLIENT_UUID });
    m.creat('one', { size: 3 * MiB + 5 });
    m.creat('striped', { size: 26 * MiB + 12345, interleave: { nbuckets: 8, nstrips: 4, chunkSize: 2 * MiB } });
    for (const [i, path] of ['one', 'multi/three', 'multi/sixteen', 'striped'].entries()) {
      files.push({ path, size: m.stat(path).size, seed: 100 + i });
    }
  });
  after(() => {
    m?.close();
    c?.close();
  });

  it('has the shapes under test: 1, 3 and 16 extents, and 4 strips of 2 MiB chunks over 8 buckets', () => {
    const shape = (p: string) => {
      const f = m.getmap(p).fmap;
      return f.kind === 'simple' ? `simple ${f.extents.length}` : `interleaved ${f.nstrips}x${f.chunkSize}`;
    };
    assert.deepEqual(files.map((f) => shape(f.path)), ['simple 1', 'simple 3', 'simple 16', `interleaved 4x${2 * MiB}`]);
  });

  it('master writes through its mapping; a client mapping and the raw device see the same bytes', () => {
    for (const f of files) {
      const w = m.map(f.path, { writable: true });
      assert.equal(w.contiguous, true);
      assert.equal(w.segments.length, 1);
      assert.equal(w.buffer.length, f.size);
      randomizeBuffer(w.buffer, f.seed);
      w.flush();
      w.unmap();
    }
    for (const f of files) {
      const r = c.map(f.path);
      try {
        assert.equal(r.writable, false);
        assert.equal(r.buffer.length, f.size);
        r.invalidate();
        assert.equal(verifyBuffer(r.buffer, f.seed), -1, `${f.path} through the client mapping`);
        const { fmap, pieces } = c.getmap(f.path);
        const raw = readRaw(dev, fmap, f.size);
        assert.ok(raw.equals(r.buffer), `${f.path}: the mapping shows the device bytes at the §3 offsets`);
        // getmap's pieces, in file order, agree with the §3 math too.
        let at = 0;
        for (const p of pieces) {
          assert.equal(p.fileOffset, at);
          assert.equal(p.offset, deviceOffsetOf(fmap, p.fileOffset));
          assert.equal(p.offset + p.len - 1, deviceOffsetOf(fmap, p.fileOffset + p.len - 1));
          at += p.len;
        }
        assert.equal(at, f.size);
      } finally {
        r.unmap();
      }
    }
    const core = FamfsHandle.open(dev, { systemUuid: master });
    try {
      assert.equal(fsck(core).collisions, 0, 'the hand-built extents overlap nothing');
    } finally {
      core.close();
    }
  });

  it('refuses a writable mapping on a client, and on a master opened read-only, saying it is read-only', () => {
    assert.throws(() => c.map('one', { writable: true }), (e: unknown) =>
      e instanceof ReadOnlyMappingError && /client/.test(e.message) && /read-only/.test(e.message));
    assert.throws(() => c.createWriteStream('one'), ReadOnlyMappingError);
    const ro = Famfs.open(dev, { systemUuid: MASTER_UUID, readOnly: true });
    try {
      assert.throws(() => ro.map('one', { writable: true }), (e: unknown) => e instanceof ReadOnlyMappingError && /read-only/.test(e.message));
    } finally {
      ro.close();
    }
    const r = c.map('one');
    try {
      assert.throws(() => r.write(Buffer.from('x')), ReadOnlyMappingError);
    } finally {
      r.unmap();
    }
  });

  it('a mapping is read-only unless asked for (on the master too): writable says so, write() throws EROFS, a store to its Buffer is SIGSEGV', () => {
    const r = m.map('one');
    try {
      assert.equal(r.writable, false);
      assert.throws(() => r.write(Buffer.from('x'), 0), (e: unknown) => e instanceof ReadOnlyMappingError && e.code === 'EROFS' && /mapped read-only/.test(e.message));
    } finally {
      r.unmap();
    }
    const w = m.map('one', { writable: true });
    try {
      assert.equal(w.writable, true);
      assert.equal(w.write(Buffer.from('ok'), 0), 2);
      assert.equal(w.write(2, Buffer.from('!')), 1, 'the (offset, buffer) order too');
      assert.equal(w.buffer.subarray(0, 3).toString(), 'ok!');
    } finally {
      w.unmap();
    }
    // What the checked write() is for: the pages of a read-only mapping have no write permission.
    const store = spawnSync(process.execPath, ['--input-type=module', '-e', `
      const { Famfs } = await import(${JSON.stringify(new URL('../src/api/index.js', import.meta.url).href)});
      const fs = Famfs.open(process.argv[1], { systemUuid: process.argv[2] });
      fs.map('one').buffer[0] = 1;
      process.stdout.write('stored');
    `, dev, MASTER_UUID], { encoding: 'utf8' });
    assert.equal(store.signal, 'SIGSEGV', `status ${store.status}: ${store.stdout} ${store.stderr}`);
  });

  it('mapping a directory or a missing file is a typed error', () => {
    assert.throws(() => m.map('multi'), (e: unknown) => e instanceof FsError && e.code === 'EISDIR');
    assert.throws(() => m.map('nope'), (e: unknown) => e instanceof FsError && e.code === 'ENOENT');
    assert.throws(() => m.map('one/below'), (e: unknown) => e instanceof FsError && e.code === 'ENOTDIR');
  });

  it('falls back to segments when vm.max_map_count would be exceeded, and says so', () => {
    const f = files[3]!;
    const chunks = Math.ceil(f.size / (2 * MiB));
    const s = c.map(f.path, { limits: { maxMappings: 8 } });
    try {
      assert.equal(s.limit, 'max-map-count');
      assert.equal(s.contiguous, false);
      assert.equal(s.segments.length, chunks);
      assert.throws(() => s.buffer, (e: unknown) => e instanceof MapLimitError && e.limit === 'max-map-count' && /vm\.max_map_count/.test(e.message));
      let at = 0;
      for (const seg of s.segments) {
        assert.equal(seg.offset, at);
        at += seg.buffer.length;
      }
      assert.equal(at, f.size);
      const whole = Buffer.alloc(f.size);
      assert.equal(s.read(whole, 0), f.size);
      assert.equal(verifyBuffer(whole, f.seed), -1);
    } finally {
      s.unmap();
    }
    assert.throws(() => c.map(f.path, { limits: { maxMappings: 8 }, allowSegments: false }), MapLimitError);
    assert.throws(() => c.map(f.path, { limits: { maxMappings: 2 } }), (e: unknown) => e instanceof MapLimitError && e.limit === 'max-map-count');
  });

  it('falls back to segments over the Buffer size limit, and ranges() and read() span them', () => {
    const f = files[2]!;
    const window = 8 * MiB;
    const s = c.map(f.path, { limits: { maxBufferBytes: window } });
    try {
      assert.equal(s.limit, 'buffer-size');
      assert.throws(() => s.buffer, (e: unknown) => e instanceof MapLimitError && e.limit === 'buffer-size' && /Buffer/.test(e.message));
      assert.ok(s.segments.every((seg) => seg.buffer.length <= window));
      assert.equal(s.segments.length, Math.ceil(f.size / window));
      const via = Buffer.concat([...s.ranges(window - 3, 2 * window)].map((r) => r.buffer));
      const direct = Buffer.alloc(2 * window);
      s.read(direct, window - 3);
      assert.ok(via.equals(direct));
      const whole = Buffer.alloc(f.size);
      s.read(whole);
      assert.equal(verifyBuffer(whole, f.seed), -1);
    } finally {
      s.unmap();
    }
  });

  it('maps a 5 GiB file as two segments (one Buffer holds at most 4 GiB)', () => {
    // A device of its own: on the shared one the strips and hand-built extents leave no 5 GiB run.
    const bigDev = emuDevice(8 * GiB, 'api-big');
    mkfs(bigDev, { systemUuid: master });
    const bm = Famfs.open(bigDev, { systemUuid: MASTER_UUID });
    const bc = Famfs.open(bigDev, { systemUuid: CLIENT_UUID });
    try {
      bigFile(bm, bc);
    } finally {
      bm.close();
      bc.close();
    }
  });

  function bigFile(m: Famfs, c: Famfs): void {
    const size = 5 * GiB + 4096;
    m.creat('big', { size });
    const w = m.map('big', { writable: true });
    const marks: Array<[number, string]> = [[0, 'head'], [4 * GiB - 3, 'across'], [size - 4, 'tail']];
    try {
      assert.equal(w.limit, 'buffer-size');
      assert.deepEqual(w.segments.map((s) => [s.offset, s.buffer.length]), [[0, 4 * GiB], [4 * GiB, GiB + 4096]]);
      for (const [at, text] of marks) {
        w.write(Buffer.from(text), at);
        // Only what was written: flushing all 5 GiB would fault in every page of the emulated device.
        w.flush(at, text.length);
      }
    } finally {
      w.unmap();
    }
    const r = c.map('big');
    try {
      for (const [at, text] of marks) {
        const got = Buffer.alloc(text.length);
        r.read(got, at);
        assert.equal(got.toString(), text);
      }
    } finally {
      r.unmap();
    }
  }

  it('unmap() is idempotent, empties buffers taken earlier, and close() unmaps what is left', () => {
    const r = c.map('one');
    const view = r.buffer;
    assert.equal(view.length, files[0]!.size);
    r.unmap();
    r.unmap();
    assert.equal(r.mapped, false);
    assert.equal(view.length, 0);
    assert.throws(() => r.buffer, (e: unknown) => e instanceof FsError && e.code === 'EBADF');
    const other = Famfs.open(dev, { systemUuid: CLIENT_UUID });
    const left = other.map('one');
    other.close();
    assert.equal(left.mapped, false);
  });

  it('a mapping that is garbage-collected is unmapped', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const leak = (): Buffer => c.map('multi/three').buffer;
    const view = leak();
    assert.ok(view.length > 0);
    for (let i = 0; i < 50 && view.length > 0; i++) {
      gc();
      await sleep(10);
    }
    assert.equal(view.length, 0, 'the FinalizationRegistry released the collected mapping');
  });

  it('streams: the master writes a file through a Writable, a client reads it back through a Readable', async () => {
    const f = files[1]!;
    const data = Buffer.alloc(f.size);
    randomizeBuffer(data, 4242);
    const odd = 100 * 1024 + 3;
    async function* chunks(): AsyncGenerator<Buffer> {
      for (let at = 0; at < data.length; at += odd) yield data.subarray(at, at + odd);
    }
    await pipeline(Readable.from(chunks()), m.createWriteStream(f.path));
    const got: Buffer[] = [];
    for await (const chunk of c.createReadStream(f.path)) got.push(chunk as Buffer);
    assert.ok(Buffer.concat(got).equals(data));
    const part: Buffer[] = [];
    for await (const chunk of c.createReadStream(f.path, { start: 10, end: 5 * MiB })) part.push(chunk as Buffer);
    assert.ok(Buffer.concat(part).equals(data.subarray(10, 5 * MiB + 1)));
    await assert.rejects(pipeline(Readable.from([Buffer.alloc(16)]), m.createWriteStream(f.path, { start: f.size - 8 })),
      (e: unknown) => e instanceof FsError && e.code === 'EFBIG');
  });

  it('a FileMapping stream over a mapping the caller keeps', async () => {
    const w: FileMapping = m.map('one', { writable: true });
    try {
      await pipeline(Readable.from([Buffer.from('hello, '), Buffer.from('famfs')]), w.createWriteStream({ start: 7 }));
      const out: Buffer[] = [];
      for await (const chunk of w.createReadStream({ start: 7, end: 18 })) out.push(chunk as Buffer);
      assert.equal(Buffer.concat(out).toString(), 'hello, famfs');
      assert.equal(w.mapped, true, 'streams over a caller-held mapping leave it mapped');
    } finally {
      w.unmap();
    }
  });
});

describe('mapping plans', () => {
  const piece = (fileOffset: number, offset: number, len: number) => ({ fileOffset, devIndex: 0, offset, len });

  it('composed: pieces back to back, cut at the window size', () => {
    const p = planComposed([piece(0, 100 * MiB, 6 * MiB), piece(6 * MiB, 10 * MiB, 4 * MiB)], 8 * MiB);
    assert.equal(p.limit, 'buffer-size');
    assert.equal(p.vmas, 3);
    assert.deepEqual(p.windows.map((w) => w.ranges), [
      [{ devIndex: 0, offset: 100 * MiB, len: 6 * MiB }, { devIndex: 0, offset: 10 * MiB, len: 2 * MiB }],
      [{ devIndex: 0, offset: 12 * MiB, len: 2 * MiB }],
    ]);
    assert.deepEqual(p.segments.map((s) => [s.fileOffset, s.length, s.window, s.at]), [[0, 8 * MiB, 0, 0], [8 * MiB, 2 * MiB, 1, 0]]);
  });

  it('by device run: one mapping per run, the pieces as views into them', () => {
    const chunk = 2 * MiB;
    const pieces = [piece(0, 50 * MiB, chunk), piece(chunk, 10 * MiB, chunk), piece(2 * chunk, 52 * MiB, chunk), piece(3 * chunk, 12 * MiB, chunk)];
    const p = planByDeviceRun(pieces, GiB);
    assert.equal(p.vmas, 2);
    assert.equal(p.limit, 'max-map-count');
    assert.deepEqual(p.windows.map((w) => w.ranges[0]), [{ devIndex: 0, offset: 10 * MiB, len: 4 * MiB }, { devIndex: 0, offset: 50 * MiB, len: 4 * MiB }]);
    assert.deepEqual(p.segments.map((s) => [s.fileOffset, s.window, s.at]), [[0, 1, 0], [chunk, 0, 0], [2 * chunk, 1, chunk], [3 * chunk, 0, chunk]]);
  });
});

describe('Famfs.open by mount and role', () => {
  let dev = '';
  let mnt = '';
  before(() => {
    dev = emuDevice(4 * GiB, 'api-open');
    mkfs(dev, { systemUuid: master });
    mnt = mountFamfs(dev, MASTER_UUID);
  });
  after(cleanupMounts);

  it('a mount root names its device and acts as the host that mounted it', () => {
    const fs = Famfs.open(mnt);
    try {
      assert.equal(fs.device, dev);
      assert.equal(fs.role, 'master');
      fs.creat('via-mount', { size: MiB });
    } finally {
      fs.close();
    }
    const client = Famfs.open(dev, { systemUuid: CLIENT_UUID });
    try {
      assert.equal(client.role, 'client');
      assert.equal(client.stat('via-mount').size, MiB);
    } finally {
      client.close();
    }
  });

  it("role 'client' opens read-only on the master's host; role 'master' refuses a client host", () => {
    const fs = Famfs.open(mnt, { role: 'client' });
    try {
      assert.equal(fs.role, 'client');
      assert.throws(() => fs.creat('no', { size: MiB }), (e: unknown) => e instanceof FamfsError);
      assert.throws(() => fs.map('via-mount', { writable: true }), ReadOnlyMappingError);
    } finally {
      fs.close();
    }
    assert.throws(() => Famfs.open(dev, { systemUuid: CLIENT_UUID, role: 'master' }), RoleError);
  });

  it('a directory that is not a mount root is refused with one line', () => {
    assert.throws(() => Famfs.open('/tmp'), (e: unknown) => e instanceof FsError && e.code === 'ENODEV' && /not the root of a famfs mount/.test(e.message));
  });
});
