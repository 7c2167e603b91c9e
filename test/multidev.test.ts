import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Allocator } from '../src/alloc/allocator.js';
import { Bitmap } from '../src/alloc/bitmap.js';
import { Famfs as ApiFamfs } from '../src/api/famfs.js';
import { defaultConfig } from '../src/mounts/daemon-protocol.js';
import { FamfsFuse } from '../src/daemon/famfs-fs.js';
import { FamfsError, FsError } from '../src/errors.js';
import type { Fmap } from '../src/format/fmap.js';
import { ALLOC_UNIT } from '../src/format/layout.js';
import { newSecondarySuperblock } from '../src/format/secondary-superblock.js';
import { encodeSuperblock } from '../src/format/superblock.js';
import { randomUuidBytes } from '../src/format/uuid.js';
import { FamfsHandle } from '../src/fs/famfs.js';
import { mkfs } from '../src/fs/mkfs.js';
import { resolveRange } from '../src/fs/resolve.js';
import { FuseError, nodeId } from '../src/fuse/index.js';
import { cleanupDevices, CLIENT_UUID, client, emuDevice, GiB, master, MASTER_UUID, MiB } from './helpers/emu.js';
import { famfs, mkfsCli, runPython } from './helpers/run.js';
import { cleanupMounts, isMounted, mountFamfs, trackedMountpoint, umountFamfs } from './helpers/mounts.js';
import { mountFile } from '../src/mounts/registry.js';
import { readAt, writeAt } from './helpers/device-io.js';
import { seededBytes, seededRandomInt } from './helpers/prng.js';

const scratch = mkdtempSync('/tmp/famfs-test-multidev-');
after(() => {
  cleanupMounts();
  cleanupDevices();
  rmSync(scratch, { recursive: true, force: true });
});

/** `famfs getmap` text: the interleave parameters, the strips with their devices, the device paths. */
function parseGetmap(text: string): { nstrips: number; chunkSize: number; strips: { devIndex: number; offset: number; len: number }[]; paths: Map<number, string> } {
  // upstream's layout: the chunk size in decimal, then each strip's hex offset (no 0x) and length.
  const il = /^Interleave_Param chunk_size: (\d+)\nInterleaved extent has (\d+) strips:$/m.exec(text);
  assert.ok(il, text);
  const strips = [...text.matchAll(/^\t\t([0-9a-f]+)\t(\d+)(?:\tdevice (\d+))?$/gm)].map((m) => ({
    devIndex: Number(m[3] ?? 0), offset: parseInt(m[1]!, 16), len: Number(m[2]),
  }));
  const line = /^\tdevices: (.*)$/m.exec(text);
  assert.ok(line, text);
  const paths = new Map(line[1]!.split(' ').map((kv) => {
    const [i, p] = kv.split('=');
    return [Number(i), p!] as [number, string];
  }));
  return { nstrips: Number(il[2]), chunkSize: Number(il[1]), strips, paths };
}

/** The log's next index and the first page of a device: what "unchanged" means after a refused adddev. */
function snapshot(primary: string, other?: string): string {
  const fs = FamfsHandle.open(primary, { systemUuid: client });
  try {
    const head = `${fs.logHeader().nextIndex}/${fs.deviceRecords().length}`;
    return other ? `${head}/${readAt(other, 0, 4096).toString('hex')}` : head;
  } finally {
    fs.close();
  }
}

const INTERLEAVE = { nbuckets: 8, nstrips: 4, chunkSize: 2 * MiB };
/** Not a whole number of chunks or stripes: the tail of the last strip is exercised too. */
const FILE_SIZE = 37 * MiB + 12345;

describe('a file system spanning two devices', () => {
  let primary = '';
  let second = '';

  before(() => {
    primary = emuDevice(8 * GiB, 'md0');
    second = emuDevice(8 * GiB, 'md1');
    const r = mkfsCli([primary]);
    assert.equal(r.status, 0, r.stderr);
  });

  it('famfs adddev on the master records device 1 (ADD_DAXDEV) and writes its secondary superblock', () => {
    const r = famfs(['adddev', '--device', primary, second]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /is device 1 of famfs/);
    const fs = FamfsHandle.open(primary, { systemUuid: client });
    try {
      assert.deepEqual(fs.deviceRecords().map((d) => [d.index, d.size]), [[0, 8 * GiB], [1, 8 * GiB]]);
      assert.equal(fs.stats.devicesAdded, 1);
    } finally {
      fs.close();
    }
    // The spec-only reader decodes the entry and finds every unused byte zero (upstream-readable).
    const py = runPython('famfs_read.py', [primary]);
    assert.equal(py.status, 0, py.stderr);
    const img = JSON.parse(py.stdout) as { entries: { type: string; dev_index?: number; dev_size?: number; crc_ok: boolean }[]; padding_nonzero: string[] };
    const add = img.entries.find((e) => e.type === 'ADD_DAXDEV');
    assert.ok(add?.crc_ok);
    assert.equal(add.dev_index, 1);
    assert.equal(add.dev_size, 8 * GiB);
    assert.deepEqual(img.padding_nonzero, []);
  });

  it('refuses bad adddevs with one line and a non-zero status, leaving the file system unchanged', () => {
    const small = emuDevice(2 * GiB, 'mdsmall');
    const other = emuDevice(8 * GiB, 'mdother');
    mkfs(other, { systemUuid: master });
    const before = snapshot(primary);
    const cases: { args: string[]; host?: string; why: RegExp; untouched?: string }[] = [
      { args: [second], why: /already added .* as device 1/ },
      { args: [primary], why: /is the primary device/ },
      { args: [small], why: /unsupported memory device size .*<4GiB/, untouched: small },
      { args: [scratch], why: /is a directory, not a memory device/ },
      { args: ['/dev/null'], why: /not a DAX device/ },
      { args: [join(scratch, 'missing')], why: /no such file/ },
      { args: [other], why: /holds a famfs superblock .*use -f/, untouched: other },
      { args: [emuDevice(8 * GiB, 'mdclient')], host: CLIENT_UUID, why: /client/ },
    ];
    for (const c of cases) {
      const firstPage = c.untouched ? readAt(c.untouched, 0, 4096) : undefined;
      const r = famfs(['adddev', '--device', primary, ...c.args], c.host ?? MASTER_UUID);
      assert.notEqual(r.status, 0, `${c.args.join(' ')}: ${r.stdout}`);
      const lines = r.stderr.trim().split('\n');
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0]!, /^famfs adddev: /);
      assert.match(lines[0]!, c.why);
      if (c.untouched) assert.deepEqual(readAt(c.untouched, 0, 4096), firstPage, `${c.untouched} was written`);
      assert.equal(snapshot(primary), before, `${c.args.join(' ')} changed the file system`);
    }
  });

  it('a secondary device is not a file system by itself: opening, fsck and mkfs of it say so', () => {
    assert.throws(() => FamfsHandle.open(second, { systemUuid: master }), (e: unknown) => e instanceof FamfsError && /added to famfs .*not its primary/.test(e.message));
    const r = famfs(['fsck', second]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /not its primary/);
    const m = mkfsCli([second]);
    assert.notEqual(m.status, 0);
    assert.match(m.stderr, /superblock/);
  });

  it('the master writes an interleaved file across both devices through map(); a client reads it through map()', () => {
    const fs = FamfsHandle.open(primary, { writable: true, systemUuid: master, random: seededRandomInt(3) });
    let fmap: Fmap;
    try {
      fmap = fs.creat('striped', { size: FILE_SIZE, interleave: INTERLEAVE }).file.fmap;
    } finally {
      fs.close();
    }
    assert.equal(fmap.kind, 'interleaved');
    if (fmap.kind !== 'interleaved') return;
    // Strip k prefers device k mod 2: consecutive chunks alternate devices.
    assert.deepEqual(fmap.strips.map((s) => s.devIndex), [0, 1, 0, 1]);
    for (const s of fmap.strips) assert.ok(s.offset >= ALLOC_UNIT, 'no strip on a superblock');

    const data = seededBytes(FILE_SIZE, 1);
    const m = ApiFamfs.open(primary, { systemUuid: MASTER_UUID });
    try {
      const w = m.map('striped', { writable: true });
      assert.ok(w.contiguous);
      w.buffer.set(data);
      w.flush();
      w.unmap();
    } finally {
      m.close();
    }
    const c = ApiFamfs.open(primary, { systemUuid: CLIENT_UUID });
    try {
      assert.deepEqual(c.devices().map((d) => [d.index, d.path]), [[0, primary], [1, second]]);
      const r = c.map('striped');
      assert.equal(r.writable, false);
      r.invalidate();
      assert.ok(r.buffer.equals(data), 'client mapping differs from what the master wrote');
      r.unmap();
      // A segmented mapping (forced by a small window) is split per device and still reads right.
      const seg = c.map('striped', { limits: { maxBufferBytes: 4 * MiB } });
      assert.ok(!seg.contiguous);
      const back = Buffer.alloc(FILE_SIZE);
      assert.equal(seg.read(back, 0), FILE_SIZE);
      assert.ok(back.equals(data));
      seg.unmap();
      assert.equal(c.usage().collisions, 0);
    } finally {
      c.close();
    }
  });

  it('each device holds its chunks at the offsets `famfs getmap` prints', () => {
    const r = famfs(['getmap', '--device', primary, 'striped'], CLIENT_UUID);
    assert.equal(r.status, 0, r.stderr);
    const g = parseGetmap(r.stdout);
    assert.deepEqual(g.paths, new Map([[0, primary], [1, second]]));
    const data = seededBytes(FILE_SIZE, 1);
    const fmap: Fmap = { kind: 'interleaved', nstrips: g.nstrips, chunkSize: g.chunkSize, strips: g.strips };
    const onDevice = new Set<number>();
    for (let o = 0; o < FILE_SIZE; o += g.chunkSize) {
      const n = Math.min(g.chunkSize, FILE_SIZE - o);
      let at = o;
      for (const p of resolveRange(fmap, FILE_SIZE, o, n)) {
        assert.ok(readAt(g.paths.get(p.devIndex)!, p.offset, p.len).equals(data.subarray(at, at + p.len)), `chunk at ${o} on device ${p.devIndex}`);
        onDevice.add(p.devIndex);
        at += p.len;
      }
    }
    assert.deepEqual([...onDevice].sort(), [0, 1]);
  });

  it('a client reads it through a FUSE mount; the master writes a second interleaved file through its own mount', () => {
    const c = mountFamfs(primary, CLIENT_UUID, ['--follow', '100']);
    const m = mountFamfs(primary, MASTER_UUID);
    try {
      assert.ok(readFileSync(join(c, 'striped')).equals(seededBytes(FILE_SIZE, 1)));
      const cr = famfs(['creat', '-s', String(FILE_SIZE), '-N', '4', '-B', '8', '-C', '2m', join(m, 'second')]);
      assert.equal(cr.status, 0, cr.stderr);
      const data = seededBytes(FILE_SIZE, 2);
      // In 3 MiB parts, so writes cross chunk and device boundaries.
      for (let o = 0; o < FILE_SIZE; o += 3 * MiB) writeAt(join(m, 'second'), o, data.subarray(o, Math.min(FILE_SIZE, o + 3 * MiB)));
      const api = ApiFamfs.open(primary, { systemUuid: CLIENT_UUID });
      try {
        const map = api.getmap('second');
        assert.deepEqual(new Set(map.pieces.map((p) => p.devIndex)), new Set([0, 1]));
        const r = api.map('second');
        r.invalidate();
        assert.ok(r.buffer.equals(data), 'what the master wrote through FUSE is not what a client maps');
        r.unmap();
      } finally {
        api.close();
      }
      assert.ok(readFileSync(join(c, 'second')).equals(data));
    } finally {
      umountFamfs(m);
      umountFamfs(c);
    }
  });

  it('GET_DAXDEV answers each device index with its path on this host; unknown indexes are EINVAL', () => {
    const fs = FamfsHandle.open(primary, { systemUuid: client });
    try {
      const ffs = new FamfsFuse(fs, defaultConfig(primary, '/nowhere', CLIENT_UUID));
      const op = ffs.extensions.find((e) => e.name === 'GET_DAXDEV')!;
      const ask = (index: number): Buffer => op.handle({ unique: BigInt(index + 1), opcode: op.opcode, nodeid: nodeId(index), uid: 0, gid: 0, pid: 0 }, Buffer.alloc(0)) as Buffer;
      for (const [index, path] of [[0, primary], [1, second]] as const) {
        const out = ask(index);
        assert.equal(out.length, 280);
        assert.equal(out.readUInt16LE(0), index);
        assert.equal(out.subarray(24, 24 + path.length + 1).toString('latin1'), `${path}\0`);
      }
      assert.throws(() => ask(2), (e: unknown) => e instanceof FuseError && e.errno === 22);
      // GET_FMAP carries the device index of each strip (u32 at offset 0 of a strip record).
      const node = fs.lookup('striped')!;
      const fm = ffs.extensions.find((e) => e.name === 'GET_FMAP')!.handle({ unique: 9n, opcode: 54, nodeid: nodeId(node.ino), uid: 0, gid: 0, pid: 0 }, Buffer.alloc(0)) as Buffer;
      const strips = [0, 1, 2, 3].map((k) => fm.readUInt32LE(32 + 24 + 24 * k));
      assert.deepEqual(strips, [0, 1, 0, 1]);
      ffs.close();
    } finally {
      fs.close();
    }
  });

  it('a host that sees device 1 elsewhere names it with a device map, which is checked against the superblock', () => {
    const alias = join(scratch, 'dax-alias');
    symlinkSync(second, alias);
    const fs = FamfsHandle.open(primary, { systemUuid: client, deviceMap: new Map([[1, alias]]) });
    try {
      assert.equal(fs.deviceAt(1).path, alias);
      const ffs = new FamfsFuse(fs, defaultConfig(primary, '/nowhere', CLIENT_UUID));
      const out = ffs.extensions.find((e) => e.name === 'GET_DAXDEV')!.handle({ unique: 1n, opcode: 55, nodeid: nodeId(1), uid: 0, gid: 0, pid: 0 }, Buffer.alloc(0)) as Buffer;
      assert.equal(out.subarray(24, 24 + alias.length).toString(), alias);
      ffs.close();
    } finally {
      fs.close();
    }
    // A map entry naming the wrong device is refused, not trusted; data on device 0 stays readable.
    const wrong = ApiFamfs.open(primary, { systemUuid: CLIENT_UUID, deviceMap: { 1: primary } });
    try {
      assert.throws(() => wrong.map('striped'), (e: unknown) => e instanceof FamfsError && e.code === 'ENODEV' && /device map is not it/.test(e.message));
      assert.match(wrong.devices()[1]!.problem!, /primary famfs superblock/);
    } finally {
      wrong.close();
    }
    const g = famfs(['getmap', '--device', primary, '--device-map', `1=${alias}`, 'striped'], CLIENT_UUID);
    assert.equal(g.status, 0, g.stderr);
    assert.match(g.stdout, new RegExp(`devices: 0=${primary} 1=${alias}`));
    const bad = famfs(['getmap', '--device', primary, '--device-map', 'x=/dev/null', 'striped'], CLIENT_UUID);
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /bad device map item/);
  });

  it('a mount refuses when device 1 is missing unless -o allow-missing, which serves the rest (its files EIO, logged once); a wrong map entry is an error', () => {
    const hide = mkdtempSync('/dev/shm/famfs-md-hide-');
    const hidden = join(hide, 'second');
    renameSync(second, hidden);
    try {
      const mnt = trackedMountpoint();
      const refused = famfs(['mount', primary, mnt], CLIENT_UUID);
      assert.equal(refused.status, 1);
      assert.match(refused.stderr, /^famfs mount: device 1 of famfs .* was not found on this host.*-o allow-missing serves the rest.*\n$/);
      assert.equal(isMounted(mnt), false);
      for (const [map, why] of [['5=/dev/null', /the device map names device 5, but famfs .* has 2 devices/], [`1=${primary}`, /given in the device map is not it/]] as const) {
        const r = famfs(['mount', '-o', 'allow-missing', '--device-map', map, primary, mnt], CLIENT_UUID);
        assert.equal(r.status, 1, r.stderr);
        assert.match(r.stderr, why);
        assert.equal(r.stderr.split('\n').length, 2, r.stderr);
        assert.equal(isMounted(mnt), false);
      }
      const c = mountFamfs(primary, CLIENT_UUID, ['-o', 'allow-missing']);
      try {
        assert.ok(readdirSync(c).includes('striped'), 'the tree is served');
        assert.equal(readFileSync(join(c, '.meta', '.superblock')).length, 2 * MiB, 'device 0 is served');
        for (let i = 0; i < 2; i++) assert.throws(() => readFileSync(join(c, 'striped')), { code: 'EIO' });
        const log = readFileSync(mountFile(c, 'log'), 'utf8');
        assert.match(log, /serving without device 1: /);
        assert.equal(log.split('\n').filter((l) => /striped: has extents on device 1/.test(l)).length, 1, log);
      } finally {
        umountFamfs(c);
      }
    } finally {
      renameSync(hidden, second);
      rmSync(hide, { recursive: true });
    }
  });

  it('fsck reports every device and counts allocation across all of them, collisions on device 1 included', () => {
    const r = famfs(['fsck', '--json', primary], CLIENT_UUID);
    assert.equal(r.status, 0, r.stderr);
    const rep = JSON.parse(r.stdout) as { devices: number; collisions: number; deviceTable: { index: number; path?: string; allocated: number; bitmap: number }[]; capacity: { device: number } };
    assert.equal(rep.devices, 2);
    assert.equal(rep.collisions, 0);
    assert.equal(rep.capacity.device, 16 * GiB);
    assert.deepEqual(rep.deviceTable.map((d) => [d.index, d.path]), [[0, primary], [1, second]]);
    // Device 1: its superblock unit plus two strips of each of the two files.
    const fs = FamfsHandle.open(primary, { systemUuid: client });
    const strips1 = ['striped', 'second'].flatMap((f) => {
      const fm = fs.getmap(f).fmap;
      return fm.kind === 'interleaved' ? fm.strips.filter((s) => s.devIndex === 1) : [];
    });
    fs.close();
    assert.equal(rep.deviceTable[1]!.allocated, ALLOC_UNIT + strips1.reduce((s, x) => s + x.len, 0));
    const text = famfs(['fsck', primary], CLIENT_UUID);
    assert.match(text.stdout, new RegExp(`device 1: ${second}   ${8 * GiB}`));

    // A deliberate cross-link on device 1 (as famfs clone makes): fsck's status is the collision count.
    const w = FamfsHandle.open(primary, { writable: true, systemUuid: master });
    try {
      w.withLog((s) => s.addFile('xlink', { size: ALLOC_UNIT, fmap: { kind: 'simple', extents: [{ ...strips1[0]!, len: ALLOC_UNIT }] }, crossLink: true }));
    } finally {
      w.close();
    }
    const x = famfs(['fsck', primary], CLIENT_UUID);
    assert.equal(x.status, 1, x.stdout);
    assert.match(x.stdout, /ERROR: 1 ALLOCATION COLLISIONS FOUND/);
  });

  it('adddev takes over a device whose earlier adddev stopped before the log entry', () => {
    const third = emuDevice(8 * GiB, 'md2');
    const fs = FamfsHandle.open(primary, { systemUuid: client });
    const orphan = newSecondarySuperblock({ fsUuid: fs.sb.uuid, devUuid: randomUuidBytes(), systemUuid: master, devSize: 8 * GiB, devName: third });
    fs.close();
    writeAt(third, 0, encodeSuperblock(orphan));
    const r = famfs(['adddev', '--json', '--device', primary, third]);
    assert.equal(r.status, 0, r.stderr);
    const added = JSON.parse(r.stdout) as { index: number; devUuid: string };
    assert.equal(added.index, 2);
    const api = ApiFamfs.open(primary, { systemUuid: CLIENT_UUID });
    try {
      assert.deepEqual(api.devices().map((d) => [d.index, d.path, d.uuid]).slice(2), [[2, third, added.devUuid]]);
    } finally {
      api.close();
    }
  });
});

describe('famfs cp onto a file system with an added device', () => {
  it('counts free space on every device: a copy that fits only on device 1 is placed there, as creat would', () => {
    const primary = emuDevice(4 * GiB, 'cp0');
    const second = emuDevice(4 * GiB, 'cp1');
    assert.equal(mkfsCli([primary]).status, 0);
    const add = famfs(['adddev', '--device', primary, second]);
    assert.equal(add.status, 0, add.stderr);
    // Device 0 keeps one free unit, fewer than the copy needs.
    const fs = FamfsHandle.open(primary, { writable: true, systemUuid: master });
    try {
      const free0 = fs.deviceUsage()[0]!.freeUnits;
      const fill = fs.creat('fill', { size: (free0 - 1) * ALLOC_UNIT }).file;
      assert.ok(fill.fmap.kind === 'simple' && fill.fmap.extents[0]!.devIndex === 0);
      assert.equal(fs.deviceUsage()[0]!.freeUnits, 1);
    } finally {
      fs.close();
    }
    const data = seededBytes(3 * ALLOC_UNIT + 12345, 19);
    const src = join(scratch, 'cp-src');
    writeFileSync(src, data);
    const r = famfs(['cp', '--device', primary, src, 'copied']);
    assert.equal(r.status, 0, r.stderr);
    const check = FamfsHandle.open(primary, { systemUuid: client });
    try {
      const { size, fmap } = check.getmap('copied');
      assert.equal(size, data.length);
      assert.ok(fmap.kind === 'simple');
      const [e] = fmap.extents;
      assert.equal(e!.devIndex, 1, 'placed on device 1, the one with room');
      assert.deepEqual(readAt(second, e!.offset, data.length), data);
    } finally {
      check.close();
    }
  });
});

describe('allocation across devices', () => {
  const dev = (size: number): Bitmap => {
    const b = Bitmap.forDevice(size);
    b.markRange(0, ALLOC_UNIT);
    return b;
  };

  it('contiguous files stay on the device the last one went to, else the first with room; both are used before ENOSPC', () => {
    const alloc = new Allocator(dev(4 * GiB), 4 * GiB, 0, seededRandomInt(1));
    alloc.addDevice(dev(4 * GiB), 4 * GiB, 1);
    const where = (f: Fmap): number => (f.kind === 'simple' ? f.extents[0]!.devIndex : -1);
    // Device 0 keeps 1022 MiB after the first file; device 1 takes the next two, keeping 246 MiB.
    const sizes = [3 * GiB, 2 * GiB, 1800 * MiB, 600 * MiB];
    assert.deepEqual(sizes.map((n) => where(alloc.allocate(n))), [0, 1, 1, 0]);
    assert.throws(() => alloc.allocate(2 * GiB), (e: unknown) => e instanceof FsError && e.code === 'ENOSPC' && /any of 2 devices/.test(e.message));
  });

  it('interleaved strips go round-robin over the devices; a full device hands its turn on', () => {
    const full = dev(8 * GiB);
    full.mark(1, full.nbits - 1);
    const alloc = new Allocator(dev(8 * GiB), 8 * GiB, 0, seededRandomInt(5));
    alloc.addDevice(dev(8 * GiB), 8 * GiB, 1);
    alloc.addDevice(full, 8 * GiB, 2);
    const f = alloc.allocate(100 * MiB, { nbuckets: 8, nstrips: 6, chunkSize: 2 * MiB });
    assert.equal(f.kind, 'interleaved');
    if (f.kind !== 'interleaved') return;
    assert.deepEqual(f.strips.map((s) => s.devIndex), [0, 1, 0, 0, 1, 0]);
    // Distinct buckets per device.
    const keys = f.strips.map((s) => `${s.devIndex}:${Math.floor(s.offset / GiB)}`);
    assert.equal(new Set(keys).size, keys.length);
  });

  it('an interleave whose buckets would be under 1 GiB on some device names that device', () => {
    const alloc = new Allocator(dev(8 * GiB), 8 * GiB, 0);
    alloc.addDevice(dev(4 * GiB), 4 * GiB, 1);
    assert.throws(() => alloc.allocate(64 * MiB, { nbuckets: 8, nstrips: 4, chunkSize: 2 * MiB }),
      (e: unknown) => e instanceof FsError && e.code === 'EINVAL' && /^device 1: /.test(e.message));
  });
});

