import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FsError } from '../src/errors.js';
import { famfsCrc } from '../src/format/crc.js';
import { FM_ALL_HOSTS_RW } from '../src/format/file-meta.js';
import type { Fmap } from '../src/format/fmap.js';
import { ALLOC_UNIT, DEFAULT_LOG_LEN, LOG_OFFSET, MAX_DEVICE_SIZE, RELPATH_FIELD_SIZE, SUPERBLOCK_REGION_SIZE } from '../src/format/layout.js';
import { LOG_ENTRY_CRC_COVERED, LOG_ENTRY_PAYLOAD_OFFSET, LOG_ENTRY_SIZE, encodeLogEntry, type LogEntry } from '../src/format/log-entry.js';
import { type FsNode, inoForLogIndex, type NodeStatFields, pathOf } from '../src/fs/namespace.js';
import { placementMessage, placementProblem } from '../src/fs/placement.js';
import { LogReplayer } from '../src/fs/replay.js';
import { logSlot } from '../src/format/log-header.js';
import { seededRandomInt } from './helpers/prng.js';

/** The per-entry replay runs in the addon (native/replay.c): these tests hold it to the format and the rules. */

const DEV_SIZE = 64 * 1024 ** 3;
const METADATA_END = LOG_OFFSET + DEFAULT_LOG_LEN;
const FIRST_FREE = METADATA_END;
/** Where a MKDIR entry's relpath and an entry's type lie (spec §2). */
const MKDIR_RELPATH = LOG_ENTRY_PAYLOAD_OFFSET + 12;
const ENTRY_TYPE_OFFSET = 8;

function replayer(): LogReplayer {
  return new LogReplayer({ index: 0, size: DEV_SIZE, uuid: Buffer.alloc(16, 1) }, METADATA_END, DEFAULT_LOG_LEN);
}

type Spec = { mkdir: string } | { file: string; size?: number; fmap?: Fmap } | { raw: (b: Buffer) => void };

function simple(offset: number, len = ALLOC_UNIT, devIndex = 0): Fmap {
  return { kind: 'simple', extents: [{ devIndex, offset, len }] };
}

/** A log of these entries, slot i at i * LOG_ENTRY_SIZE; file extents default to one unit each, in turn. */
function logOf(specs: Spec[]): Buffer {
  const log = Buffer.alloc(specs.length * LOG_ENTRY_SIZE);
  let next = FIRST_FREE;
  specs.forEach((s, seqnum) => {
    let e: LogEntry;
    if ('mkdir' in s) e = { type: 'mkdir', seqnum, path: s.mkdir, uid: 1, gid: 2, mode: 0o40750 };
    else if ('file' in s) {
      const fmap = s.fmap ?? simple(next);
      if (!s.fmap) next += ALLOC_UNIT;
      e = { type: 'file', seqnum, path: s.file, size: s.size ?? 1000, flags: FM_ALL_HOSTS_RW, uid: 3, gid: 4, mode: 0o100640, fmap };
    } else {
      const b = encodeLogEntry({ type: 'mkdir', seqnum, path: 'placeholder', uid: 0, gid: 0, mode: 0 });
      s.raw(b);
      b.copy(log, seqnum * LOG_ENTRY_SIZE);
      return;
    }
    encodeLogEntry(e).copy(log, seqnum * LOG_ENTRY_SIZE);
  });
  return log;
}

function replay(specs: Spec[]): LogReplayer {
  const r = replayer();
  r.applySlots(logSlot(0), specs.length, logOf(specs));
  return r;
}

/** An entry with a relpath of raw bytes (the encoder refuses what a hostile writer may store). */
function rawPath(bytes: number[]): (b: Buffer) => void {
  return (b) => {
    b.fill(0, MKDIR_RELPATH, MKDIR_RELPATH + RELPATH_FIELD_SIZE);
    Buffer.from(bytes).copy(b, MKDIR_RELPATH);
    fixCrc(b);
  };
}

/** Where a FILE entry's relpath lies (spec §2). */
const FILE_RELPATH = LOG_ENTRY_PAYLOAD_OFFSET + 24;

/** `b` rewritten as a valid FILE entry of slot `seqnum` with this fmap (the caller then breaks it and fixes the CRC). */
function fileBytes(b: Buffer, seqnum: number, fmap: Fmap): Buffer {
  encodeLogEntry({ type: 'file', seqnum, path: 'f', size: ALLOC_UNIT, flags: FM_ALL_HOSTS_RW, uid: 0, gid: 0, mode: 0o644, fmap }).copy(b);
  return b;
}

function fixCrc(b: Buffer): void {
  b.writeBigUInt64LE(BigInt(famfsCrc(b, 0, LOG_ENTRY_CRC_COVERED)), LOG_ENTRY_CRC_COVERED);
}

function tree(r: LogReplayer): string[] {
  return [...r.ns.walk()].map((n) => `${n.kind} ${pathOf(n)}`);
}

describe('replay of entries (native scan)', () => {
  it('places directories and files in log order, with their fields, and marks their units', () => {
    const r = replay([{ mkdir: 'a' }, { mkdir: 'a/b' }, { file: 'a/b/f', size: 3 * ALLOC_UNIT, fmap: simple(FIRST_FREE, 4 * ALLOC_UNIT) }, { file: 'top' }]);
    assert.deepEqual(tree(r), ['dir a', 'dir a/b', 'file a/b/f', 'file top']);
    assert.deepEqual(r.stats, { entries: 4, files: 2, dirs: 2, devicesAdded: 0, badEntries: [], skipped: [], fileBytes: 3 * ALLOC_UNIT + 1000, filesOffPrimary: 0 });
    const f = r.ns.lookup(['a', 'b', 'f']);
    assert.ok(f && f.kind === 'file');
    assert.deepEqual({ ino: f.ino, uid: f.uid, gid: f.gid, mode: f.mode, size: f.size, flags: f.flags },
      { ino: inoForLogIndex(logSlot(2)), uid: 3, gid: 4, mode: 0o640, size: 3 * ALLOC_UNIT, flags: FM_ALL_HOSTS_RW });
    assert.deepEqual(f.fmap, simple(FIRST_FREE, 4 * ALLOC_UNIT));
    const d = r.ns.lookup(['a']);
    assert.deepEqual(d && { uid: d.uid, gid: d.gid, mode: d.mode }, { uid: 1, gid: 2, mode: 0o750 });
    // the metadata region, then 4 units of f, 1 of top, overlapping f: a collision
    assert.equal(r.bitmaps[0]!.allocatedBits, METADATA_END / ALLOC_UNIT + 4);
    assert.equal(r.collisions(), 1);
  });

  it('names why each valid entry could not be placed, and keeps every unit it names allocated', () => {
    const specs: Spec[] = [
      { mkdir: 'd' },
      { file: 'd' },
      { file: 'x/f' },
      { file: 'top' },
      { file: 'top/f' },
      { mkdir: 'd' },
      { file: '/abs' },
      { file: 'd//f' },
      { file: 'd/./f' },
      { file: 'd/..' },
      { file: 'd/' },
      { file: '.meta' },
      { file: '.meta/x' },
      { file: 'u', fmap: simple(FIRST_FREE, ALLOC_UNIT, 3) },
      { file: 'u', fmap: simple(FIRST_FREE + 4096) },
      { file: 'u', fmap: simple(0) },
      { file: 'u', fmap: simple(DEV_SIZE) },
      { file: 'u', size: 0 },
      { file: 'u', size: ALLOC_UNIT + 1 },
      { raw: rawPath([]) },
      { raw: rawPath([0x66, 0xff, 0x66]) },
      { raw: rawPath([0xc0, 0xaf]) },
      { raw: rawPath([0xed, 0xa0, 0x80]) },
      { raw: rawPath([0x63, 0x61, 0x66, 0xc3, 0xa9]) },
      { raw: rawPath([0x6e, 0xef, 0xbf, 0xbd]) },
      { file: 'u', fmap: simple(LOG_OFFSET + DEFAULT_LOG_LEN - ALLOC_UNIT, 2 * ALLOC_UNIT) },
      { file: 'u', fmap: simple(DEV_SIZE - ALLOC_UNIT, 2 * ALLOC_UNIT) },
    ];
    const r = replay(specs);
    assert.deepEqual(r.stats.badEntries, []);
    assert.deepEqual(r.stats.skipped.map((s) => `${s.index}: ${s.reason}`), [
      "1: file 'd': already exists",
      "2: file 'x/f': parent directory does not exist",
      "4: file 'top/f': parent is a file",
      "5: directory 'd': already exists",
      "6: file '/abs': absolute path '/abs'",
      "7: file 'd//f': path 'd//f' has an empty, '.' or '..' component",
      "8: file 'd/./f': path 'd/./f' has an empty, '.' or '..' component",
      "9: file 'd/..': path 'd/..' has an empty, '.' or '..' component",
      "10: file 'd/': path 'd/' has an empty, '.' or '..' component",
      "11: file '.meta': '.meta' at the root is reserved",
      "12: file '.meta/x': '.meta' at the root is reserved",
      '13: file \'u\': extent on unknown device 3',
      `14: file 'u': extent 0x${(FIRST_FREE + 4096).toString(16)}+0x200000 is not 2 MiB aligned`,
      "15: file 'u': extent 0x0+0x200000 overlaps the superblock or log of device 0",
      `16: file 'u': extent 0x${DEV_SIZE.toString(16)}+0x200000 is past the end of device 0`,
      "17: file 'u': size 0",
      `18: file 'u': extents hold ${ALLOC_UNIT} bytes, less than the size ${ALLOC_UNIT + 1}`,
      "19: directory '': empty path",
      "20: directory 'f\\xfff': path is not UTF-8 (or holds U+FFFD), so it could alias another name",
      "21: directory '\\xc0\\xaf': path is not UTF-8 (or holds U+FFFD), so it could alias another name",
      "22: directory '\\xed\\xa0\\x80': path is not UTF-8 (or holds U+FFFD), so it could alias another name",
      "24: directory 'n\\xef\\xbf\\xbd': path is not UTF-8 (or holds U+FFFD), so it could alias another name",
      `25: file 'u': extent 0x${(METADATA_END - ALLOC_UNIT).toString(16)}+0x400000 overlaps the superblock or log of device 0`,
      `26: file 'u': extent 0x${(DEV_SIZE - ALLOC_UNIT).toString(16)}+0x400000 is past the end of device 0`,
    ]);
    assert.deepEqual(tree(r), ['dir d', 'file top', 'dir café']);
    // Every unit a FILE entry names inside the device stays allocated, shown or not: the 11 files of
    // one unit (1-4, 6-12), 17 and 18 (one unit each), 26's last unit in the device; 14 names the
    // units of 1 and 2 (2 collisions), 15 the superblock's and 25 the log's last unit and the first
    // free one, which is 1's (2 collisions); 13 and 16 name nothing in the device.
    assert.equal(r.bitmaps[0]!.allocatedBits, METADATA_END / ALLOC_UNIT + 11 + 2 + 1);
    assert.equal(r.collisions(), 2 + 1 + 2);
    assert.ok(r.bitmaps[0]!.isSet(DEV_SIZE / ALLOC_UNIT - 1));
  });

  it('keeps allocated the units of a FILE entry whose payload it refuses (no NUL, 17 extents, a bad chunk size)', () => {
    const FMAP = LOG_ENTRY_PAYLOAD_OFFSET + 104;
    const at = (u: number): number => FIRST_FREE + u * ALLOC_UNIT;
    const broken: ((b: Buffer) => void)[] = [
      (b) => fileBytes(b, 0, simple(at(0))).fill(0x61, FILE_RELPATH, FILE_RELPATH + RELPATH_FIELD_SIZE),
      (b) => fileBytes(b, 1, { kind: 'simple', extents: Array.from({ length: 16 }, (_, i) => ({ devIndex: 0, offset: at(10 + i), len: ALLOC_UNIT })) }).writeUInt32LE(17, FMAP + 8),
      (b) => fileBytes(b, 2, { kind: 'interleaved', nstrips: 2, chunkSize: ALLOC_UNIT, strips: [{ devIndex: 0, offset: at(40), len: ALLOC_UNIT }, { devIndex: 0, offset: at(41), len: ALLOC_UNIT }] }).writeBigUInt64LE(3n * BigInt(ALLOC_UNIT), FMAP + 16 + 8),
    ];
    const r = replay(broken.map((breakIt) => ({ raw: (b: Buffer) => { breakIt(b); fixCrc(b); } })));
    assert.deepEqual(r.stats.badEntries.map((e) => e.index), [0, 1, 2]);
    assert.equal(r.bitmaps[0]!.allocatedBits, METADATA_END / ALLOC_UNIT + 1 + 16 + 2);
    for (const u of [0, 10, 25, 40, 41]) assert.ok(r.bitmaps[0]!.isSet(at(u) / ALLOC_UNIT), `unit ${u}`);
  });

  it('refuses an ADD_DAXDEV entry whose size is past what a device may have, before allocating for it', () => {
    const r = replayer();
    const log = Buffer.concat([
      encodeLogEntry({ type: 'add_daxdev', seqnum: 0, devIndex: 1, devSize: 2 ** 53 - 1, devUuid: Buffer.alloc(16, 9) }),
      encodeLogEntry({ type: 'add_daxdev', seqnum: 1, devIndex: 1, devSize: MAX_DEVICE_SIZE, devUuid: Buffer.alloc(16, 8) }),
    ]);
    r.applySlots(logSlot(0), 2, log);
    assert.deepEqual(r.stats.skipped, [{ index: 0, reason: `device 1 claims ${2 ** 53 - 1} bytes, more than the ${MAX_DEVICE_SIZE} a famfs device may have` }]);
    assert.equal(r.bitmaps.length, 2);
    assert.equal(r.bitmaps[1]!.nbits, MAX_DEVICE_SIZE / ALLOC_UNIT);
  });

  it('counts entries whose bytes are not an entry as bad, and goes on', () => {
    const specs: Spec[] = [
      { mkdir: 'a' },
      { raw: (b) => { b[100]! ^= 1; } },
      { raw: (b) => { b.writeBigUInt64LE(7n, 0); fixCrc(b); } },
      { raw: rawPath(Array(80).fill(0x61)) },
      { raw: (b) => { b.writeUInt32LE(9, ENTRY_TYPE_OFFSET); fixCrc(b); } },
      { file: 'a/f' },
    ];
    const r = replay(specs);
    assert.deepEqual(r.stats.badEntries.map((e) => e.index), [1, 2, 3, 4]);
    assert.match(r.stats.badEntries[0]!.reason, /^log entry 1: CRC mismatch/);
    assert.match(r.stats.badEntries[1]!.reason, /^log entry 2: seqnum 7 does not match its slot/);
    assert.match(r.stats.badEntries[2]!.reason, /^log entry 3: relative path is not NUL-terminated/);
    assert.match(r.stats.badEntries[3]!.reason, /^log entry 4: unknown entry type 9/);
    assert.deepEqual(tree(r), ['dir a', 'file a/f']);
  });

  it('a slot cut short is a bad entry, and the next replay call goes on after it', () => {
    const r = replayer();
    const log = logOf([{ mkdir: 'a' }, { file: 'a/f' }]);
    r.applySlots(logSlot(0), 2, log.subarray(0, LOG_ENTRY_SIZE + 100));
    assert.deepEqual(r.stats.badEntries, [{ index: 1, reason: 'log entry 1 is truncated' }]);
    r.applySlot(logSlot(2), logOf([{ mkdir: 'a' }, { file: 'a/f' }, { file: 'a/g' }]), 2 * LOG_ENTRY_SIZE);
    assert.deepEqual(tree(r), ['dir a', 'file a/g']);
    assert.throws(() => r.applySlot(logSlot(5), log), /out of order/);
  });

  it('makes objects on demand: a listed directory gets the entries replayed after it was listed', () => {
    const all: Spec[] = [{ mkdir: 'd' }, { file: 'd/1' }, { file: 'd/2' }, { file: 'd/3' }, { mkdir: 'd/e' }, { file: 'd/e/4' }];
    const log = logOf(all);
    const r = replayer();
    r.applySlots(logSlot(0), 3, log);
    const d = r.ns.lookup(['d']);
    assert.ok(d?.kind === 'dir');
    assert.deepEqual([...d.children.keys()], ['1', '2']);
    const byIno = r.ns.getIno(inoForLogIndex(logSlot(1)));
    r.applySlots(logSlot(3), 3, log, 3 * LOG_ENTRY_SIZE);
    assert.deepEqual([...d.children.keys()], ['1', '2', '3', 'e']);
    assert.equal(d.children.get('1'), byIno, 'one object per inode');
    assert.equal(r.ns.getIno(inoForLogIndex(logSlot(5)))?.parent, d.children.get('e'));
    assert.equal(r.ns.getIno(inoForLogIndex(logSlot(99))), undefined);
    assert.equal(r.ns.getIno(0), undefined);
    assert.throws(() => r.ns.lookup(['d', '1', 'x']), (e: unknown) => e instanceof FsError && e.code === 'ENOTDIR' && /'d\/1' is a file/.test(e.message));
    assert.equal(r.ns.lookup(['d', 'nope', 'x']), undefined);
    assert.equal(r.ns.lookup(['x'.repeat(200)]), undefined);
  });

  it('statSlotInto: statSlot\'s attributes and the name\'s bytes where asked, from the index or a made node; ERANGE when they do not fit', () => {
    const r = replay([{ mkdir: 'dü' }, { file: 'dü/naïve-名' }, { raw: (b) => b.fill(0xff) }, { file: 'top' }]);
    const into: NodeStatFields = { kind: 'dir', ino: 0, uid: 0, gid: 0, mode: 0, size: 0, parentIno: 0 };
    const names = Buffer.alloc(64, 0xee);
    r.ns.getIno(inoForLogIndex(logSlot(3)));
    for (const slot of [0, 1, 3].map(logSlot)) {
      const want = r.ns.statSlot(slot)!;
      names.fill(0xee);
      const len = r.ns.statSlotInto(slot, into, names, 7);
      assert.equal(len, Buffer.byteLength(want.name));
      assert.equal(names.toString('utf8', 7, 7 + len), want.name);
      assert.equal(names[7 + len], 0xee, 'nothing written past the name');
      const { name: _, ...fields } = want;
      assert.deepEqual(into, fields);
    }
    assert.equal(r.ns.statSlotInto(logSlot(2), into, names, 0), -1, 'a slot that placed nothing');
    const isErange = (e: unknown): boolean => (e as { code?: string }).code === 'ERANGE';
    // 'naïve-名' is 10 bytes; the made node 'top' 3.
    assert.throws(() => r.ns.statSlotInto(logSlot(1), into, names, 55), isErange);
    assert.equal(r.ns.statSlotInto(logSlot(1), into, names, 54), 10);
    assert.throws(() => r.ns.statSlotInto(logSlot(3), into, names, 62), isErange);
    assert.equal(r.ns.statSlotInto(logSlot(3), into, names, 61), 3);
  });

  it('places a file exactly where fs/placement.ts says it may lie (the addon mirrors those rules)', () => {
    // Device 0 as above, device 1 added by the first entry, device 2 unknown; maps simple and
    // interleaved, with extents at every boundary the rules name, aligned or not, and sizes
    // around what the extents hold.
    const dev1Size = 8 * 1024 ** 3;
    const sizes = [DEV_SIZE, dev1Size];
    const rnd = seededRandomInt(777);
    const extent = (): { devIndex: number; offset: number; len: number } => {
      const devIndex = rnd(12) === 0 ? 2 : rnd(2);
      const size = sizes[devIndex] ?? DEV_SIZE;
      const boundaries = [0, SUPERBLOCK_REGION_SIZE, METADATA_END - ALLOC_UNIT, METADATA_END, size - 2 * ALLOC_UNIT, size - ALLOC_UNIT, size];
      const offset = (rnd(2) === 0 ? boundaries[rnd(boundaries.length)]! : METADATA_END + ALLOC_UNIT * rnd(1000)) + (rnd(12) === 0 ? 4096 : 0);
      const len = ALLOC_UNIT * (1 + rnd(3)) + (rnd(12) === 0 ? 4096 : 0);
      return { devIndex, offset, len };
    };
    const cases: { fmap: Fmap; size: number }[] = [];
    for (let i = 0; i < 400; i++) {
      let fmap: Fmap;
      if (rnd(2) === 0) {
        fmap = { kind: 'simple', extents: Array.from({ length: 1 + rnd(2) }, extent) };
      } else {
        const nstrips = 1 + rnd(2);
        fmap = { kind: 'interleaved', nstrips, chunkSize: ALLOC_UNIT << rnd(2), strips: Array.from({ length: nstrips }, extent) };
      }
      const capacity = fmap.kind === 'simple' ? fmap.extents.reduce((n, e) => n + e.len, 0) : 0;
      const size = [0, 1, capacity, capacity + 1, ALLOC_UNIT, 3 * ALLOC_UNIT][rnd(6)]!;
      cases.push({ fmap, size });
    }
    const log = Buffer.alloc((cases.length + 1) * LOG_ENTRY_SIZE);
    encodeLogEntry({ type: 'add_daxdev', seqnum: 0, devIndex: 1, devSize: dev1Size, devUuid: Buffer.alloc(16, 7) }).copy(log, 0);
    cases.forEach((c, i) => {
      const e: LogEntry = { type: 'file', seqnum: i + 1, path: `f${i}`, size: c.size, flags: FM_ALL_HOSTS_RW, uid: 0, gid: 0, mode: 0o644, fmap: c.fmap };
      encodeLogEntry(e).copy(log, (i + 1) * LOG_ENTRY_SIZE);
    });
    const r = replayer();
    r.applySlots(logSlot(0), cases.length + 1, log);
    const skipped = new Map(r.stats.skipped.map((x) => [x.index, x.reason]));
    const statuses = new Set<string>();
    cases.forEach((c, i) => {
      const problem = placementProblem(c.fmap, c.size, { sizes, primaryMetadataEnd: METADATA_END });
      statuses.add(problem?.status ?? 'OK');
      const placed = r.ns.lookup([`f${i}`]) !== undefined;
      assert.equal(placed, problem === undefined, `f${i}: ${JSON.stringify(c)} placed ${placed}, rules say ${problem?.status ?? 'OK'}`);
      assert.equal(skipped.get(i + 1), problem && `file 'f${i}': ${placementMessage(problem, c.fmap, c.size)}`);
    });
    // The cases reach every rule.
    assert.deepEqual([...statuses].sort(), ['IN_METADATA', 'OK', 'PAST_END', 'SHORT', 'SIZE_ZERO', 'UNALIGNED', 'UNKNOWN_DEVICE']);
  });

  it('places a large log the same in one call (its index sized once) as one slot at a time (grown as it goes)', () => {
    const logLen = 64 * 1024 * 1024;
    const firstFree = LOG_OFFSET + logLen;
    const big = (): LogReplayer => new LogReplayer({ index: 0, size: DEV_SIZE, uuid: Buffer.alloc(16, 1) }, firstFree, logLen);
    const specs: Spec[] = [];
    for (let d = 0; d < 100; d++) specs.push({ mkdir: `d${d}` }, { mkdir: `d${d}/sub` });
    // Units reused so the files fit the device: collisions, which do not stop a file being placed.
    const unit = (i: number): Fmap => simple(firstFree + (i % 1000) * ALLOC_UNIT);
    for (let i = 0; specs.length < 60_000; i++) specs.push({ file: `d${i % 100}/sub/f${i}`, size: 1 + i, fmap: unit(i) });
    specs.push({ file: 'd5/sub/f5', fmap: unit(0) }, { file: 'd5/none/f', fmap: unit(0) }, { mkdir: 'd5/sub/f5/x' });
    const log = logOf(specs);
    const once = big();
    once.applySlots(logSlot(0), specs.length, log);
    const each = big();
    for (let i = 0; i < specs.length; i++) each.applySlot(logSlot(i), log, i * LOG_ENTRY_SIZE);
    for (const r of [once, each]) {
      assert.deepEqual({ files: r.stats.files, dirs: r.stats.dirs, bad: r.stats.badEntries.length },
        { files: specs.length - 203, dirs: 200, bad: 0 });
      assert.deepEqual(r.stats.skipped.map((s) => s.reason),
        ["file 'd5/sub/f5': already exists", "file 'd5/none/f': parent directory does not exist", "directory 'd5/sub/f5/x': parent is a file"]);
      const f = r.ns.lookup(['d42', 'sub', 'f31442']);
      assert.ok(f?.kind === 'file');
      assert.deepEqual({ size: f.size, fmap: f.fmap, path: pathOf(f) }, { size: 31443, fmap: unit(31442), path: 'd42/sub/f31442' });
    }
    assert.deepEqual(tree(each), tree(once));
  });

  it('agrees with a model of the rules on random logs', () => {
    const rnd = seededRandomInt(12345);
    const names = ['a', 'b', 'c', 'a/b', 'a/c', 'b/a', 'a/b/c', 'c/c', 'a/b/c/d', '.meta', 'a//b', ''];
    for (let round = 0; round < 30; round++) {
      const specs: Spec[] = Array.from({ length: 40 }, () => {
        const path = names[rnd(names.length)]!;
        return rnd(2) === 0 ? { mkdir: path } : { file: path };
      });
      const model = new Map<string, 'file' | 'dir'>();
      const expected: string[] = [];
      for (const s of specs) {
        const path = 'mkdir' in s ? s.mkdir : 'file' in s ? s.file : '';
        const kind = 'mkdir' in s ? 'dir' : 'file';
        const parent = path.includes('/') ? path.slice(0, path.lastIndexOf('/')) : undefined;
        const ok = path !== '' && path !== '.meta' && !path.includes('//') && !model.has(path) && (parent === undefined || model.get(parent) === 'dir');
        if (ok) {
          model.set(path, kind);
          expected.push(`${kind} ${path}`);
        }
      }
      const r = replay(specs);
      const got = tree(r);
      assert.deepEqual([...got].sort(), [...expected].sort(), `round ${round}`);
      assert.equal(r.stats.files + r.stats.dirs, expected.length);
      assert.equal(r.stats.skipped.length, specs.length - expected.length);
      for (const line of expected) {
        const node = r.ns.lookup(line.slice(line.indexOf(' ') + 1).split('/')) as FsNode;
        assert.equal(`${node.kind} ${pathOf(node)}`, line);
      }
    }
  });
});
