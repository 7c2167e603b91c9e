import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import {
  decodePublishedFmap, encodeFmapKey, encodePublishedFmap, FMAP_EXTENT_SIZE, FMAP_HEADER_SIZE, FMAP_KEY_SIZE, FMAP_VALUE_SIZE,
} from '../src/bpf/fmap-layout.js';
import { BpfMap } from '../src/bpf/map.js';
import { loadBpfNative } from '../src/bpf/native.js';
import { bpffsMounted, BPFFS_ROOT, ensureBpffs, FAMFS_PIN_ROOT, pinDir, resolverObjectPath } from '../src/bpf/pins.js';
import { bpfUnavailableReason, resolverUnavailableReason } from '../src/bpf/probe.js';
import { FmapPublisher, lookupPublished, unpublish } from '../src/bpf/publish.js';
import type { ResolveAnswer } from '../src/bpf/resolve-record.js';
import { BpfResolver } from '../src/bpf/resolver.js';
import { BPF_F_NO_PREALLOC, BPF_MAP_TYPE_HASH, BPF_PROG_TYPE_XDP, RESOLVE_EINVAL, RESOLVE_EIO, RESOLVE_ENOENT, RESOLVE_ENXIO } from '../src/bpf/uapi.js';
import { FamfsHandle } from '../src/fs/famfs.js';
import { mkfs } from '../src/fs/mkfs.js';
import { resolveRange } from '../src/fs/resolve.js';
import type { Fmap } from '../src/format/fmap.js';
import type { DeviceRange } from '../src/format/device-range.js';
import { cleanupDevices, emuDevice, GiB, master, MASTER_UUID, MiB } from './helpers/emu.js';
import { famfs } from './helpers/run.js';
import { cleanupMounts, mountFamfs, umountFamfs } from './helpers/mounts.js';
import { readRecord } from '../src/mounts/registry.js';
import { prng, randInt } from './helpers/prng.js';
import { eventually } from './helpers/wait.js';

/** famfs allocates in 2 MiB units; the kernel insists extents are PMD-aligned. */
const UNIT = 2 * MiB;
const SEED = 0x5eed_f4f5;
const RANDOM_FMAPS = 300;
const RANDOM_OFFSETS_PER_FMAP = 24;
const MAX_DEV_INDEX = 4;
const MAX_UNITS_PER_EXTENT = 64;
const XDP_SAMPLE_EVERY = 7;
/** Map room beyond the random files, for the hand-made records. */
const SPARE_ENTRIES = 16;

const rand = prng(SEED);
const between = (lo: number, hi: number): number => randInt(rand, lo, hi);

function randomExtent(): DeviceRange {
  return { devIndex: between(0, MAX_DEV_INDEX), offset: between(0, 1 << 20) * UNIT, len: between(1, MAX_UNITS_PER_EXTENT) * UNIT };
}

/** A file size within the map's capacity, often not a multiple of anything. */
function sizeWithin(capacity: number): number {
  const pick = rand();
  if (pick < 0.2) return capacity;
  if (pick < 0.3) return 1;
  return between(1, capacity);
}

function randomSimple(n: number): { fmap: Fmap; size: number } {
  const extents = Array.from({ length: n }, randomExtent);
  return { fmap: { kind: 'simple', extents }, size: sizeWithin(extents.reduce((s, e) => s + e.len, 0)) };
}

function randomInterleaved(nstrips: number): { fmap: Fmap; size: number } {
  const chunkSize = UNIT << between(0, 3);
  const stripLen = between(1, 8) * chunkSize;
  const strips = Array.from({ length: nstrips }, () => ({ devIndex: between(0, MAX_DEV_INDEX), offset: between(0, 1 << 20) * UNIT, len: stripLen }));
  return { fmap: { kind: 'interleaved', nstrips, chunkSize, strips }, size: sizeWithin(stripLen * nstrips) };
}

/** File offsets where pieces begin, independent of resolve.ts: extent starts, or every chunk. */
function pieceEnd(fmap: Fmap, off: number): number {
  if (fmap.kind === 'interleaved') return (Math.floor(off / fmap.chunkSize) + 1) * fmap.chunkSize;
  let base = 0;
  for (const e of fmap.extents) {
    base += e.len;
    if (off < base) return base;
  }
  return Infinity;
}

function edgeOffsets(fmap: Fmap, size: number): number[] {
  const out = [0, 1, size - 1, size, size + 1, size + UNIT];
  const step = fmap.kind === 'simple' ? undefined : fmap.chunkSize;
  let base = 0;
  for (const e of fmap.kind === 'simple' ? fmap.extents : fmap.strips) {
    base += step ?? e.len;
    out.push(base - 1, base, base + 1);
  }
  for (let i = 0; i < RANDOM_OFFSETS_PER_FMAP; i++) out.push(between(0, size - 1));
  return out.filter((o) => o >= 0);
}

/** What the kernel's fault path gives for (off, wanted), from resolveRange plus piece bounds. */
function expected(fmap: Fmap, size: number, off: number, wanted: number): ResolveAnswer {
  if (off >= size) return { rc: RESOLVE_ENXIO, devIndex: 0, offset: 0, len: 0 };
  const length = Math.min(pieceEnd(fmap, off), size, wanted === 0 ? Infinity : off + wanted) - off;
  const pieces = resolveRange(fmap, size, off, length);
  // Pieces merge when contiguous on the device, so the span is one piece either way.
  assert.equal(pieces.length, 1, `resolveRange gave ${pieces.length} pieces within one extent`);
  const p = pieces[0]!;
  assert.equal(p.len, length);
  return { rc: 0, devIndex: p.devIndex, offset: p.offset, len: length };
}

const unavailable = resolverUnavailableReason() === undefined ? undefined : buildThenProbe();

/** The install script builds the object; if it was skipped and clang is here now, build it. */
function buildThenProbe(): string | undefined {
  if (bpfUnavailableReason() === undefined && !existsSync(resolverObjectPath())) {
    const script = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bpf', 'build.mjs');
    spawnSync(process.execPath, [script], { stdio: 'ignore' });
  }
  return resolverUnavailableReason();
}

describe('published fmap layout', () => {
  it('puts every field at its documented offset and round-trips', () => {
    const fmap: Fmap = { kind: 'interleaved', nstrips: 2, chunkSize: UNIT, strips: [{ devIndex: 3, offset: 4 * GiB, len: 8 * MiB }, { devIndex: 0, offset: UNIT, len: 8 * MiB }] };
    const b = encodePublishedFmap({ size: 16 * MiB - 1, fmap });
    assert.equal(b.length, FMAP_VALUE_SIZE);
    assert.equal(b.readBigUInt64LE(0), BigInt(16 * MiB - 1));
    assert.equal(b.readUInt32LE(8), 1);
    assert.equal(b.readUInt32LE(12), 2);
    assert.equal(b.readBigUInt64LE(16), BigInt(UNIT));
    assert.equal(b.readUInt16LE(24), 1);
    assert.equal(b.readUInt32LE(FMAP_HEADER_SIZE), 3);
    assert.equal(b.readBigUInt64LE(FMAP_HEADER_SIZE + 8), BigInt(4 * GiB));
    assert.equal(b.readBigUInt64LE(FMAP_HEADER_SIZE + 16), BigInt(8 * MiB));
    assert.equal(b.readBigUInt64LE(FMAP_HEADER_SIZE + FMAP_EXTENT_SIZE + 8), BigInt(UNIT));
    assert.ok(b.subarray(FMAP_HEADER_SIZE + 2 * FMAP_EXTENT_SIZE).every((x) => x === 0), 'unused slots are zero');
    assert.deepEqual(decodePublishedFmap(b), { size: 16 * MiB - 1, fmap });
    assert.deepEqual(encodeFmapKey(0x1234), Buffer.from([0x34, 0x12, 0, 0, 0, 0, 0, 0]));
  });

  it('refuses a record of another version', () => {
    const b = encodePublishedFmap({ size: 1, fmap: { kind: 'simple', extents: [{ devIndex: 0, offset: 0, len: UNIT }] } });
    b.writeUInt16LE(2, 24);
    assert.throws(() => decodePublishedFmap(b), /layout version 2/);
  });
});

describe('BPF resolver against resolveRange', { skip: unavailable }, () => {
  let map: BpfMap;
  let resolver: BpfResolver;
  before(() => {
    map = BpfMap.create({ type: BPF_MAP_TYPE_HASH, keySize: FMAP_KEY_SIZE, valueSize: FMAP_VALUE_SIZE, maxEntries: RANDOM_FMAPS * 2 + SPARE_ENTRIES, flags: BPF_F_NO_PREALLOC, name: 'famfs_fmap_test' });
    resolver = BpfResolver.load(map);
  });
  after(() => {
    resolver?.close();
    map?.close();
  });

  function publishAndCheck(ino: number, fmap: Fmap, size: number): number {
    map.update(encodeFmapKey(ino), encodePublishedFmap({ size, fmap }));
    let n = 0;
    for (const off of edgeOffsets(fmap, size)) {
      for (const wanted of [0, between(1, 3 * UNIT)]) {
        const want = expected(fmap, size, off, wanted);
        assert.deepEqual(resolver.resolve(ino, off, wanted), want, `ino ${ino} ${JSON.stringify(fmap)} size ${size} offset ${off} wanted ${wanted}`);
        if (n % XDP_SAMPLE_EVERY === 0) {
          const { nsPerRun: _ns, ...xdp } = resolver.resolveTimed(ino, off, wanted, 1);
          assert.deepEqual(xdp, want, `XDP: ino ${ino} offset ${off}`);
        }
        n++;
      }
    }
    return n;
  }

  it('answers like resolveRange for simple files of 1 to 16 extents', (t) => {
    let n = 0;
    for (let i = 0; i < RANDOM_FMAPS; i++) {
      const { fmap, size } = randomSimple(1 + (i % 16));
      n += publishAndCheck(100 + i, fmap, size);
    }
    assert.ok(n > 10_000, `${n} resolutions`);
    t.diagnostic(`${n} resolutions compared`);
  });

  it('answers like resolveRange for interleaved files of 1 to 16 strips', (t) => {
    let n = 0;
    for (let i = 0; i < RANDOM_FMAPS; i++) {
      const { fmap, size } = randomInterleaved(1 + (i % 16));
      n += publishAndCheck(100_000 + i, fmap, size);
    }
    assert.ok(n > 10_000, `${n} resolutions`);
    t.diagnostic(`${n} resolutions compared`);
  });

  it("reproduces the kernel documentation's example: 4 strips of 2 MiB chunks, offset 15 MiB is 3 MiB into strip 3", () => {
    const strips = [0, 1, 2, 3].map((k) => ({ devIndex: k % 2, offset: (100 + 200 * k) * MiB, len: 64 * MiB }));
    map.update(encodeFmapKey(7), encodePublishedFmap({ size: 256 * MiB, fmap: { kind: 'interleaved', nstrips: 4, chunkSize: UNIT, strips } }));
    assert.deepEqual(resolver.resolve(7, 15 * MiB), { rc: 0, devIndex: 1, offset: 703 * MiB, len: MiB });
  });

  it('answers ENOENT for an unpublished inode, EIO past the extents, EINVAL for a record of another version', () => {
    assert.equal(resolver.resolve(999_999_999, 0).rc, RESOLVE_ENOENT);
    const short = encodePublishedFmap({ size: 3 * UNIT, fmap: { kind: 'simple', extents: [{ devIndex: 0, offset: UNIT, len: UNIT }] } });
    map.update(encodeFmapKey(8), short);
    assert.equal(resolver.resolve(8, UNIT - 1).rc, 0);
    assert.equal(resolver.resolve(8, UNIT).rc, RESOLVE_EIO);
    short.writeUInt16LE(2, 24);
    map.update(encodeFmapKey(8), short);
    assert.equal(resolver.resolve(8, 0).rc, RESOLVE_EINVAL);
  });

  it('deletes and iterates keys', () => {
    const before = map.keys().length;
    assert.equal(map.delete(encodeFmapKey(8)), true);
    assert.equal(map.delete(encodeFmapKey(8)), false);
    assert.equal(map.lookup(encodeFmapKey(8)), undefined);
    assert.equal(map.keys().length, before - 1);
  });

  it('returns the verifier log when a program is refused', () => {
    const exitOnly = Buffer.from([0x95, 0, 0, 0, 0, 0, 0, 0]); // "exit" with r0 never set
    assert.throws(() => loadBpfNative().bpfProgLoad(BPF_PROG_TYPE_XDP, exitOnly, 'GPL', 'famfs_bad', 0, 0, 0),
      (err: Error & { verifierLog?: string }) => /R0 !read_ok/.test(err.verifierLog ?? ''));
  });
});

describe('famfs bpf publish / dump / unpublish', { skip: unavailable }, () => {
  let mountedBpffs = false;
  let dev: string;
  let uuid: string;
  before(() => {
    mountedBpffs = ensureBpffs();
    dev = emuDevice(8 * GiB, 'bpf');
    mkfs(dev, { systemUuid: master });
    const fs = FamfsHandle.open(dev, { writable: true, systemUuid: master });
    try {
      uuid = fs.uuid;
      fs.withLog((s) => {
        s.mkdir('d');
        for (let i = 0; i < 20; i++) s.creat(`d/f${i}`, { size: 1 + i * 3 * MiB });
        s.creat('striped', { size: 100 * MiB, interleave: { nbuckets: 4, nstrips: 3, chunkSize: UNIT } });
      });
    } finally {
      fs.close();
    }
  });
  after(() => {
    if (uuid) unpublish(uuid);
    cleanupDevices();
    if (mountedBpffs && bpffsMounted() && !existsSync(FAMFS_PIN_ROOT)) loadBpfNative().umount(BPFFS_ROOT);
  });

  it('pins a map holding every file, which the pinned resolver reads', () => {
    const r = famfs(['bpf', 'publish', '--device', dev]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /published 21 fmaps/);
    assert.deepEqual(readdirSync(pinDir(uuid)).sort(), ['fmap', 'resolve', 'resolve_xdp']);
    const fs = FamfsHandle.open(dev, { systemUuid: master });
    try {
      for (const node of fs.ns.walk()) {
        if (node.kind !== 'file') continue;
        assert.deepEqual(lookupPublished(uuid, node.ino), { size: node.size, fmap: node.fmap });
      }
    } finally {
      fs.close();
    }
    const dump = famfs(['bpf', 'dump', '--device', dev, '--at', '5m', '--json', 'striped']);
    assert.equal(dump.status, 0, dump.stderr);
    // The JSON keeps the record's field names (devOffset, length) beside the file offset asked for.
    const j = JSON.parse(dump.stdout) as { resolve: { offset: number; rc: number; devIndex: number; devOffset: number; length: number }; fmap: Fmap; size: number };
    const [p] = resolveRange(j.fmap, j.size, 5 * MiB, 1);
    assert.deepEqual([j.resolve.offset, j.resolve.rc, j.resolve.devIndex, j.resolve.devOffset, j.resolve.length], [5 * MiB, 0, p!.devIndex, p!.offset, MiB]);
  });

  it('publishes only what the log added since the last pass', () => {
    const reader = FamfsHandle.open(dev, { systemUuid: master });
    const pub = FmapPublisher.open(reader);
    try {
      pub.publishAll();
      assert.equal(pub.sync(), 0);
      const fs = FamfsHandle.open(dev, { writable: true, systemUuid: master });
      try {
        fs.creat('late', { size: 5 * MiB });
      } finally {
        fs.close();
      }
      assert.equal(pub.sync(), 1);
      const late = reader.lookup('late');
      assert.ok(late && late.kind === 'file');
      assert.deepEqual(lookupPublished(uuid, late.ino), { size: late.size, fmap: late.fmap });
    } finally {
      pub.close();
      reader.close();
    }
  });

  it('unpublish removes every pin', () => {
    const r = famfs(['bpf', 'unpublish', '--device', dev], MASTER_UUID);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(existsSync(pinDir(uuid)), false);
    const again = famfs(['bpf', 'dump', '--device', dev, 'late']);
    assert.notEqual(again.status, 0);
    assert.match(again.stderr, /no published fmaps/);
  });
});

describe('famfs mount -o bpf-fmap', { skip: unavailable }, () => {
  let mountedBpffs = false;
  let dev: string;
  let uuid: string;
  before(() => {
    mountedBpffs = ensureBpffs();
    dev = emuDevice(8 * GiB, 'bpf-mount');
    mkfs(dev, { systemUuid: master });
    const fs = FamfsHandle.open(dev, { writable: true, systemUuid: master });
    try {
      uuid = fs.uuid;
      fs.creat('first', { size: 3 * MiB });
    } finally {
      fs.close();
    }
  });
  after(() => {
    cleanupMounts();
    if (uuid) unpublish(uuid);
    cleanupDevices();
    if (mountedBpffs && bpffsMounted() && !existsSync(FAMFS_PIN_ROOT)) loadBpfNative().umount(BPFFS_ROOT);
  });

  it('publishes while mounted, follows the log, and removes the pins at unmount', async () => {
    const mnt = mountFamfs(dev, MASTER_UUID, ['-o', 'bpf-fmap', '--follow', '50']);
    assert.deepEqual(readdirSync(pinDir(uuid)).sort(), ['fmap', 'resolve', 'resolve_xdp']);
    let r = famfs(['bpf', 'dump', '--json', join(mnt, 'first')]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal((JSON.parse(r.stdout) as { size: number }).size, 3 * MiB);
    r = famfs(['creat', '-s', '5m', join(mnt, 'second')]);
    assert.equal(r.status, 0, r.stderr);
    const fs = FamfsHandle.open(dev, { systemUuid: master });
    try {
      const second = fs.lookup('second');
      assert.ok(second && second.kind === 'file');
      for (const end = Date.now() + 3000; !lookupPublished(uuid, second.ino) && Date.now() < end;) await new Promise((res) => setTimeout(res, 50));
      assert.deepEqual(lookupPublished(uuid, second.ino), { size: second.size, fmap: second.fmap });
    } finally {
      fs.close();
    }
    umountFamfs(mnt);
    assert.equal(existsSync(pinDir(uuid)), false, 'the pins went with the mount');
  });

  it('a file the log gained reaches the map when a LOOKUP played it before the follow loop did', async () => {
    // A follow period far longer than the test: only the LOOKUP below plays the new entry.
    const mnt = mountFamfs(dev, MASTER_UUID, ['-o', 'bpf-fmap', '--follow', '600000']);
    const fs = FamfsHandle.open(dev, { writable: true, systemUuid: master });
    try {
      const file = fs.creat('looked-up', { size: 7 * MiB }).file;
      assert.equal(statSync(join(mnt, 'looked-up')).size, 7 * MiB);
      await eventually('the new file in the pinned map', () => lookupPublished(uuid, file.ino) !== undefined);
      assert.deepEqual(lookupPublished(uuid, file.ino), { size: file.size, fmap: file.fmap });
    } finally {
      fs.close();
      umountFamfs(mnt);
    }
  });

  it('a daemon killed with SIGKILL leaves its pins to famfs umount, which removes them', () => {
    const mnt = mountFamfs(dev, MASTER_UUID, ['-o', 'bpf-fmap']);
    const rec = readRecord(mnt);
    assert.ok(rec?.bpfFmap, 'the mount record says the daemon publishes');
    process.kill(rec.pid, 'SIGKILL');
    assert.ok(existsSync(pinDir(uuid)), 'a killed daemon cannot remove its pins');
    umountFamfs(mnt);
    assert.equal(existsSync(pinDir(uuid)), false);
  });

  it('refuses an unknown -o option with one line', () => {
    const r = famfs(['mount', '-o', 'bpf-fmap,turbo', dev, '/tmp']);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /unknown mount option 'turbo'/);
  });
});

describe('BPF availability', () => {
  it('states why the BPF tests skip, when they do', (t) => {
    if (unavailable) t.diagnostic(`BPF tests skipped: ${unavailable}`);
    assert.ok(unavailable === undefined || unavailable.length > 0);
  });
});
