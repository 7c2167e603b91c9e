import { FamfsError } from '../../src/errors.js';
import { famfsCrc } from '../../src/format/crc.js';
import { FM_ALL_HOSTS_RW } from '../../src/format/file-meta.js';
import { FMAP_SIZE, decodeFmap, encodeFmap, fmapCapacity, fmapExtents, type Fmap } from '../../src/format/fmap.js';
import { ALLOC_UNIT, DEFAULT_LOG_LEN, LOG_OFFSET, MAX_RELPATH_LEN } from '../../src/format/layout.js';
import { LOG_ENTRY_CRC_COVERED, LOG_ENTRY_SIZE, decodeLogEntry, encodeLogEntry, type LogEntry } from '../../src/format/log-entry.js';
import { LOG_HEADER_CRC_COVERED, LOG_HEADER_OFF, LOG_HEADER_SIZE, decodeLogHeader, encodeLogHeader, entryOffset, lastIndexFor, logSlot } from '../../src/format/log-header.js';
import { SB_CRC_COVERED, SUPERBLOCK_SIZE, decodeSuperblock, encodeSuperblock, newSuperblock } from '../../src/format/superblock.js';
import { resolveRange } from '../../src/fs/resolve.js';
import { LogReplayer } from '../../src/fs/replay.js';
import type { FsNode } from '../../src/fs/namespace.js';
import { envInt } from './support.js';
import { randInt } from '../helpers/prng.js';

/**
 * A fuzzer for famfs's on-media structures: valid images of the superblock, log header, log
 * entries and fmaps, mutated at random (bit flips, random bytes, truncation) and with knowledge of
 * their fields (interesting values, hostile names, the CRC recomputed so the checks behind it are
 * reached). Each case must decode or throw a FamfsError, finish quickly, and — when it decodes —
 * replay to a tree whose every file lies inside its device under a well-formed name.
 */

const DEV_SIZE = 8 * 1024 ** 3;
const METADATA_END = LOG_OFFSET + DEFAULT_LOG_LEN;
/** A decode of a few hundred bytes taking longer than this is a hang in the making (the
 * sanitizer build of the addon, several times slower, sets its own: npm run test:asan). */
const SLOW_CASE_MS = envInt('FAMFS_FUZZ_SLOW_MS', 250);
const MiB = 1024 ** 2;

type Target = 'superblock' | 'logHeader' | 'entry' | 'fmap' | 'log';
const TARGETS: readonly Target[] = ['superblock', 'logHeader', 'entry', 'fmap', 'log'];

interface Field { off: number; width: 4 | 8 | 'name' }

/** Entry offsets of the fields worth aiming at (payload at 16, FILE fmap at 16 + 104). */
const FMAP_AT = 120;
const ENTRY_FIELDS: Field[] = [
  { off: 0, width: 8 }, { off: 8, width: 4 }, { off: 16, width: 8 }, { off: 24, width: 4 }, { off: 28, width: 4 },
  { off: 36, width: 4 }, { off: 40, width: 'name' }, { off: 28, width: 'name' },
  { off: FMAP_AT, width: 4 }, { off: FMAP_AT + 8, width: 4 },
  // Simple extents (devIndex, offset, len) and, aliased on them, nstrips, chunk size and strips.
  ...Array.from({ length: 16 }, () => [0, 8, 16]).flat().map((d, k): Field => ({ off: FMAP_AT + 16 + 24 * Math.floor(k / 3) + d, width: 8 })),
];
const NAME_FIELDS = ENTRY_FIELDS.filter((f) => f.width === 'name');
const SB_FIELDS: Field[] = [...[0, 8, 16, 24, 32, 104, 112].map((off): Field => ({ off, width: 8 })), { off: 40, width: 4 }, { off: 44, width: 4 }];
const HEADER_FIELDS: Field[] = [0, 8, 16, 32, 40].map((off) => ({ off, width: 8 as const }));
const FMAP_FIELDS: Field[] = ENTRY_FIELDS.filter((f) => f.off >= FMAP_AT && f.width !== 'name').map((f) => ({ ...f, off: f.off - FMAP_AT }));

const INTERESTING: readonly bigint[] = [
  0n, 1n, 2n, 15n, 16n, 17n, 0x7fn, 0xffn, 0xffffn, 0x7fffffffn, 0xffffffffn, 0x100000000n,
  BigInt(ALLOC_UNIT - 1), BigInt(ALLOC_UNIT), BigInt(ALLOC_UNIT + 1), BigInt(METADATA_END - ALLOC_UNIT), BigInt(METADATA_END),
  BigInt(DEV_SIZE - ALLOC_UNIT), BigInt(DEV_SIZE), BigInt(DEV_SIZE + ALLOC_UNIT), BigInt(2 * DEV_SIZE),
  2n ** 52n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 63n, 2n ** 64n - 1n,
];

/** Names a hostile or corrupt log might carry (80 bytes fills the field with no NUL). */
export const HOSTILE_NAMES: readonly string[] = [
  '', '.', '..', '../escape', '../../etc/passwd', '/abs', '/', 'a/../b', 'a/./b', 'a//b', 'a/', '.meta', '.meta/x',
  'a\u0000b', 'x'.repeat(MAX_RELPATH_LEN), 'y'.repeat(MAX_RELPATH_LEN + 1), 'ctl\nname', 'tab\tname', 'esc\u001b[2J', 'del\u007f',
  'ünï/cødé', '\ufffd',
];

function entryTemplates(seqnum: number): LogEntry[] {
  const simple: Fmap = { kind: 'simple', extents: [{ devIndex: 0, offset: 64 * ALLOC_UNIT, len: 2 * ALLOC_UNIT }, { devIndex: 0, offset: 80 * ALLOC_UNIT, len: ALLOC_UNIT }] };
  const inter: Fmap = {
    kind: 'interleaved', nstrips: 4, chunkSize: ALLOC_UNIT,
    strips: [0, 1, 2, 3].map((i) => ({ devIndex: 0, offset: (200 + 10 * i) * ALLOC_UNIT, len: 4 * ALLOC_UNIT })),
  };
  return [
    { type: 'mkdir', seqnum, path: 'a/sub', uid: 0, gid: 0, mode: 0o755 },
    { type: 'file', seqnum, path: 'a/f', size: 5 * MiB, flags: FM_ALL_HOSTS_RW, uid: 0, gid: 0, mode: 0o644, fmap: simple },
    { type: 'file', seqnum, path: 'a/striped', size: 16 * MiB, flags: FM_ALL_HOSTS_RW, uid: 0, gid: 0, mode: 0o644, fmap: inter },
    { type: 'add_daxdev', seqnum, devIndex: 1, devSize: DEV_SIZE, devUuid: Buffer.alloc(16, 7) },
    ...CRAFTED_ENTRIES.map((e) => ({ ...e, seqnum })),
  ];
}

const one = (offset: number, len = ALLOC_UNIT): Fmap => ({ kind: 'simple', extents: [{ devIndex: 0, offset, len }] });
const craftedFile = (path: string, size: number, fmap: Fmap, mode = 0o644): LogEntry =>
  ({ type: 'file', seqnum: 0, path, size, flags: FM_ALL_HOSTS_RW, uid: 0, gid: 0, mode, fmap });

/** Issue 15's crafted entries (upstream accepts the files; replay refuses them and keeps their memory), as seeds. */
const CRAFTED_ENTRIES: readonly LogEntry[] = [
  craftedFile('a/size0', 0, one(64 * ALLOC_UNIT)),
  craftedFile('a/unaligned', ALLOC_UNIT, one(64 * ALLOC_UNIT + 4096)),
  craftedFile('a/overlog', ALLOC_UNIT, one(LOG_OFFSET + ALLOC_UNIT), 0o666),
  craftedFile('a/pastend', 2 * ALLOC_UNIT, one(DEV_SIZE - ALLOC_UNIT, 2 * ALLOC_UNIT)),
  craftedFile('a/short', 2 * ALLOC_UNIT, one(66 * ALLOC_UNIT)),
  { type: 'add_daxdev', seqnum: 0, devIndex: 1, devSize: 2 ** 53 - 1, devUuid: Buffer.alloc(16, 6) },
];

/** Offsets in a FILE entry (payload at 16): its relpath, its fmap's count and extents. */
const FILE_RELPATH_AT = 40;
const FMAP_COUNT_AT = FMAP_AT + 8;
const FMAP_EXTENTS_AT = FMAP_AT + 16;

function fileEntry(seqnum: number, extents: { offset: number; len: number }[], size = extents.reduce((n, e) => n + e.len, 0)): Buffer {
  return encodeLogEntry({
    type: 'file', seqnum, path: 'crafted', size, flags: FM_ALL_HOSTS_RW, uid: 0, gid: 0, mode: 0o666,
    fmap: { kind: 'simple', extents: extents.map((e) => ({ devIndex: 0, ...e })) },
  });
}

/** The entry's CRC recomputed after bytes were patched, so replay's checks behind it run. */
function sealed(b: Buffer): Buffer {
  b.writeBigUInt64LE(BigInt(famfsCrc(b.subarray(0, LOG_ENTRY_CRC_COVERED))), LOG_ENTRY_CRC_COVERED);
  return b;
}

/**
 * More crafted entries, as bytes: the ones the encoder refuses to write (17 or 2^32-1 extents, an
 * empty extent, an extent whose end overflows, an unterminated or non-UTF-8 path, a device index
 * past the table) made by patching a valid entry, and a few more edges of the device. Seeds as
 * CRAFTED_ENTRIES are, and runCrafted() replays every one of both as is.
 */
function craftedBytes(seqnum: number): { what: string; bytes: Buffer }[] {
  const unit = ALLOC_UNIT;
  const out: { what: string; bytes: Buffer }[] = [
    { what: 'an extent starting at the device end', bytes: fileEntry(seqnum, [{ offset: DEV_SIZE, len: unit }]) },
    { what: 'an extent over the superblock', bytes: fileEntry(seqnum, [{ offset: 0, len: unit }]) },
    { what: 'an extent over the log header', bytes: fileEntry(seqnum, [{ offset: LOG_OFFSET, len: 2 * unit }]) },
    { what: 'an extent whose end overflows 2^64', bytes: fileEntry(seqnum, [{ offset: 64 * unit, len: unit }]) },
  ];
  const overflow = out.at(-1)!.bytes;
  overflow.writeBigUInt64LE(2n ** 64n - BigInt(unit), FMAP_EXTENTS_AT + 8);
  sealed(overflow);
  const empty = fileEntry(seqnum, [{ offset: 64 * unit, len: unit }]);
  empty.writeBigUInt64LE(0n, FMAP_EXTENTS_AT + 16);
  out.push({ what: 'an extent of length 0', bytes: sealed(empty) });
  const many = Array.from({ length: 16 }, (_, i) => ({ offset: (64 + i) * unit, len: unit }));
  for (const count of [17, 0xffffffff]) {
    const b = fileEntry(seqnum, many);
    b.writeUInt32LE(count, FMAP_COUNT_AT);
    out.push({ what: `${count} extents`, bytes: sealed(b) });
  }
  const unterminated = fileEntry(seqnum, [{ offset: 64 * unit, len: unit }]);
  unterminated.fill(0x70, FILE_RELPATH_AT, FILE_RELPATH_AT + 80);
  out.push({ what: 'an unterminated 80-byte path', bytes: sealed(unterminated) });
  const notUtf8 = fileEntry(seqnum, [{ offset: 64 * unit, len: unit }]);
  notUtf8.fill(0, FILE_RELPATH_AT, FILE_RELPATH_AT + 80).set([0x6e, 0x81], FILE_RELPATH_AT);
  out.push({ what: 'a path that is not UTF-8', bytes: sealed(notUtf8) });
  for (const devSize of [0, ALLOC_UNIT - 1]) {
    out.push({ what: `ADD_DAXDEV of ${devSize} bytes`, bytes: encodeLogEntry({ type: 'add_daxdev', seqnum, devIndex: 1, devSize, devUuid: Buffer.alloc(16, 9) }) });
  }
  const farIndex = encodeLogEntry({ type: 'add_daxdev', seqnum, devIndex: 1, devSize: DEV_SIZE, devUuid: Buffer.alloc(16, 9) });
  farIndex.writeUInt32LE(0xffffffff, 16 + 24);
  out.push({ what: 'ADD_DAXDEV at index 2^32-1', bytes: sealed(farIndex) });
  return out;
}

/** Every crafted entry: CRAFTED_ENTRIES encoded, then craftedBytes(). */
export function craftedEntries(seqnum: number): { what: string; bytes: Buffer }[] {
  return [
    ...CRAFTED_ENTRIES.map((e) => ({ what: e.type === 'file' ? `crafted ${e.path}` : `crafted ${e.type}`, bytes: encodeLogEntry({ ...e, seqnum }) })),
    ...craftedBytes(seqnum),
  ];
}

/**
 * Each crafted entry replayed as is, alone after a directory and behind a valid log: a refusal
 * or a tree inside the device. Returns how many cases ran. Throws FuzzViolation on a bug.
 */
export function runCrafted(): number {
  let cases = 0;
  for (const { what, bytes } of craftedEntries(1)) {
    const r = replayer();
    const base = Buffer.alloc(LOG_ENTRY_SIZE);
    encodeLogEntry({ type: 'mkdir', seqnum: 0, path: 'a', uid: 0, gid: 0, mode: 0o755 }).copy(base);
    expectTyped(() => { r.applySlot(logSlot(0), base); r.applySlot(logSlot(1), bytes); }, `replay of ${what}`);
    const problems = treeProblems(r);
    if (problems.length) throw new FuzzViolation(`replay accepted ${what}: ${problems.join('; ')}`);
    cases++;
  }
  const { bytes: log, count } = validLog();
  const crafted = craftedEntries(count);
  const whole = Buffer.alloc(entryOffset(logSlot(count + 1)));
  log.copy(whole);
  for (const { what, bytes } of crafted) {
    validHeader(count + 1).copy(whole, 0);
    bytes.copy(whole, entryOffset(logSlot(count)));
    const r = replayer();
    expectTyped(() => { for (let i = logSlot(0); i <= count; i = logSlot(i + 1)) r.applySlot(i, whole, entryOffset(i)); }, `replay of a log ending in ${what}`);
    const problems = treeProblems(r);
    if (problems.length) throw new FuzzViolation(`replay accepted a log ending in ${what}: ${problems.join('; ')}`);
    cases++;
  }
  return cases;
}

function validSuperblock(): Buffer {
  return encodeSuperblock(newSuperblock({
    logLen: DEFAULT_LOG_LEN, devSize: DEV_SIZE, devName: '/dev/dax0.0',
    uuid: Buffer.alloc(16, 1), devUuid: Buffer.alloc(16, 2), systemUuid: Buffer.alloc(16, 3),
  }));
}

function validHeader(next: number): Buffer {
  return encodeLogHeader({ len: DEFAULT_LOG_LEN, lastIndex: lastIndexFor(DEFAULT_LOG_LEN), nextSeqnum: next, nextIndex: logSlot(next) });
}

/** The CRC of each structure, recomputed after a mutation so the checks behind it run. */
function fixCrc(b: Buffer, target: Target, base = 0): void {
  const [covered, at] = target === 'superblock' ? [SB_CRC_COVERED, SB_CRC_COVERED]
    : target === 'logHeader' ? [LOG_HEADER_CRC_COVERED, LOG_HEADER_OFF.crc] : [LOG_ENTRY_CRC_COVERED, LOG_ENTRY_CRC_COVERED];
  if (b.length < base + at + 8) return;
  b.writeBigUInt64LE(BigInt(famfsCrc(b.subarray(base, base + covered))), base + at);
}

function setField(b: Buffer, base: number, f: Field, rnd: () => number): void {
  const off = base + f.off;
  if (f.width === 'name') {
    const name = Buffer.from(HOSTILE_NAMES[randInt(rnd, 0, HOSTILE_NAMES.length - 1)]!, 'utf8').subarray(0, 80);
    b.fill(0, off, off + 80);
    name.copy(b, off);
    return;
  }
  const v = rnd() < 0.8 ? INTERESTING[randInt(rnd, 0, INTERESTING.length - 1)]! : BigInt(Math.floor(rnd() * 2 ** 53));
  if (f.width === 4) b.writeUInt32LE(Number(v & 0xffffffffn), off);
  else b.writeBigUInt64LE(v & (2n ** 64n - 1n), off);
}

/** One mutation of `b` in place (or a truncated copy); `fields` aim the structure-aware ones. */
function mutate(b: Buffer, base: number, len: number, fields: Field[], rnd: () => number): Buffer {
  const n = randInt(rnd, 1, 4);
  for (let i = 0; i < n; i++) {
    const kind = rnd();
    if (kind < 0.1 && fields === ENTRY_FIELDS) setField(b, base, NAME_FIELDS[randInt(rnd, 0, NAME_FIELDS.length - 1)]!, rnd);
    else if (kind < 0.35) setField(b, base, fields[randInt(rnd, 0, fields.length - 1)]!, rnd);
    else if (kind < 0.6) { const at = base + randInt(rnd, 0, len - 1); b[at] = b[at]! ^ (1 << randInt(rnd, 0, 7)); }
    else if (kind < 0.8) b[base + randInt(rnd, 0, len - 1)] = randInt(rnd, 0, 255);
    else if (kind < 0.95) { const at = base + randInt(rnd, 0, len - 1); for (let k = at; k < Math.min(base + len, at + randInt(rnd, 1, 32)); k++) b[k] = randInt(rnd, 0, 255); }
    else return b.subarray(0, base + randInt(rnd, 0, len - 1));
  }
  return b;
}

/** A decoded tree must place every file inside its device, under a well-formed name. */
function treeProblems(r: LogReplayer): string[] {
  const out: string[] = [];
  const walk = (n: FsNode, depth: number, path: string): void => {
    if (n.kind === 'dir') {
      for (const [name, c] of n.children) {
        if (name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\0') || name.includes('\ufffd')) out.push(`bad name ${JSON.stringify(name)}`);
        walk(c, depth + 1, path ? `${path}/${name}` : name);
      }
      return;
    }
    // Bytes that are not UTF-8 come back as U+FFFD (3 bytes); each stood for at least one stored byte.
    if (Buffer.byteLength(path.replace(/\ufffd/g, '?')) > MAX_RELPATH_LEN) out.push(`path of ${Buffer.byteLength(path)} bytes: ${JSON.stringify(path)}`);
    for (const e of fmapExtents(n.fmap)) {
      const dev = r.devices[e.devIndex];
      if (!dev || e.offset + e.len > dev.size) out.push(`${path}: extent past device ${e.devIndex}`);
      if (e.offset < (e.devIndex === 0 ? METADATA_END : ALLOC_UNIT)) out.push(`${path}: extent over the superblock or log of device ${e.devIndex}`);
    }
    let covered = 0;
    for (const p of resolveRange(n.fmap, n.size, 0, n.size)) {
      const dev = r.devices[p.devIndex];
      if (!dev || p.offset < 0 || p.offset + p.len > dev.size) out.push(`${path}: resolves to 0x${p.offset.toString(16)}+${p.len} past device ${p.devIndex}`);
      covered += p.len;
    }
    if (covered !== n.size) out.push(`${path}: resolves to ${covered} bytes of ${n.size}`);
  };
  walk(r.ns.root, 0, '');
  return out;
}

class FuzzViolation extends Error {}

function expectTyped(fn: () => void, what: string): boolean {
  try {
    fn();
    return true;
  } catch (err) {
    if (err instanceof FamfsError) return false;
    throw new FuzzViolation(`${what}: threw ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}, not a FamfsError`);
  }
}

function replayer(): LogReplayer {
  return new LogReplayer({ index: 0, size: DEV_SIZE, uuid: Buffer.alloc(16, 2) }, METADATA_END, DEFAULT_LOG_LEN);
}

/** A small valid log: header + entries, as bytes from the start of the log. */
function validLog(): { bytes: Buffer; count: number } {
  const entries: LogEntry[] = [{ type: 'mkdir', seqnum: 0, path: 'a', uid: 0, gid: 0, mode: 0o755 }, ...entryTemplates(0)];
  const bytes = Buffer.alloc(entryOffset(logSlot(entries.length)));
  validHeader(entries.length).copy(bytes, 0);
  entries.forEach((e, i) => encodeLogEntry({ ...e, seqnum: i } as LogEntry).copy(bytes, entryOffset(logSlot(i))));
  return { bytes, count: entries.length };
}

/** Run one case; returns whether the mutated input was accepted. Throws FuzzViolation on a bug. */
function fuzzCase(target: Target, rnd: () => number): boolean {
  const fix = rnd() < 0.7;
  switch (target) {
    case 'superblock': {
      const b = mutate(validSuperblock(), 0, SUPERBLOCK_SIZE, SB_FIELDS, rnd);
      if (fix) fixCrc(b, target);
      return expectTyped(() => decodeSuperblock(b), 'decodeSuperblock');
    }
    case 'logHeader': {
      const b = mutate(validHeader(3), 0, LOG_HEADER_SIZE, HEADER_FIELDS, rnd);
      if (fix) fixCrc(b, target);
      let next = -1;
      const ok = expectTyped(() => { next = decodeLogHeader(b, DEFAULT_LOG_LEN).nextIndex; }, 'decodeLogHeader');
      if (ok && (next < 0 || next > lastIndexFor(DEFAULT_LOG_LEN) + 1)) throw new FuzzViolation(`log header accepted with next_index ${next}`);
      return ok;
    }
    case 'fmap': {
      const tpl = entryTemplates(0).filter((e) => e.type === 'file');
      const b = Buffer.alloc(FMAP_SIZE);
      const e = tpl[randInt(rnd, 0, tpl.length - 1)]!;
      if (e.type === 'file') encodeFmap(b, 0, e.fmap);
      const m = mutate(b, 0, FMAP_SIZE, FMAP_FIELDS, rnd);
      let fmap: Fmap | undefined;
      const ok = expectTyped(() => { fmap = decodeFmap(m, 0); }, 'decodeFmap');
      if (ok && fmap) {
        const cap = fmapCapacity(fmap);
        if (!Number.isFinite(cap) || cap < 0) throw new FuzzViolation(`fmap accepted with capacity ${cap}`);
        if (fmapExtents(fmap).some((x) => x.len <= 0)) throw new FuzzViolation('fmap accepted with an empty extent');
      }
      return ok;
    }
    case 'entry': {
      const seeds = [...entryTemplates(1).map((e) => encodeLogEntry(e)), ...craftedBytes(1).map((c) => c.bytes)];
      const b = mutate(Buffer.from(seeds[randInt(rnd, 0, seeds.length - 1)]!), 0, LOG_ENTRY_SIZE, ENTRY_FIELDS, rnd);
      if (fix) fixCrc(b, target);
      const ok = expectTyped(() => decodeLogEntry(b, 1), 'decodeLogEntry');
      const r = replayer();
      const base = Buffer.alloc(LOG_ENTRY_SIZE);
      encodeLogEntry({ type: 'mkdir', seqnum: 0, path: 'a', uid: 0, gid: 0, mode: 0o755 }).copy(base);
      expectTyped(() => { r.applySlot(logSlot(0), base); r.applySlot(logSlot(1), b); }, 'replay of a mutated entry');
      const problems = treeProblems(r);
      if (problems.length) throw new FuzzViolation(`replay accepted: ${problems.join('; ')}`);
      return ok;
    }
    case 'log': {
      const { bytes, count } = validLog();
      const slot = randInt(rnd, -1, count - 1);
      const [base, len, fields] = slot < 0 ? [0, LOG_HEADER_SIZE, HEADER_FIELDS] : [entryOffset(logSlot(slot)), LOG_ENTRY_SIZE, ENTRY_FIELDS];
      const m = mutate(bytes, base, len, fields, rnd);
      if (fix) fixCrc(m, slot < 0 ? 'logHeader' : 'entry', base);
      const r = replayer();
      const ok = expectTyped(() => {
        const h = decodeLogHeader(m, DEFAULT_LOG_LEN);
        // As Famfs.refresh: every published slot, in place; a slot past the image reads zeros.
        const log = m.length >= entryOffset(h.nextIndex) ? m : Buffer.concat([m, Buffer.alloc(entryOffset(h.nextIndex) - m.length)]);
        for (let i = logSlot(0); i < h.nextIndex; i = logSlot(i + 1)) r.applySlot(i, log, entryOffset(i));
      }, 'replay of a mutated log');
      const problems = treeProblems(r);
      if (problems.length) throw new FuzzViolation(`replay accepted: ${problems.join('; ')}`);
      return ok;
    }
  }
}

export interface FuzzStats { cases: number; accepted: number; slowestMs: number }

/** `cases` cases spread over every target. */
export function runFuzz(cases: number, rnd: () => number): FuzzStats {
  const stats: FuzzStats = { cases: 0, accepted: 0, slowestMs: 0 };
  for (let i = 0; i < cases; i++) {
    const target = TARGETS[i % TARGETS.length]!;
    const t0 = performance.now();
    if (fuzzCase(target, rnd)) stats.accepted++;
    const ms = performance.now() - t0;
    if (ms > stats.slowestMs) stats.slowestMs = ms;
    if (ms > SLOW_CASE_MS) throw new FuzzViolation(`a ${target} case took ${ms.toFixed(0)} ms`);
    stats.cases++;
  }
  return stats;
}

/**
 * Corrupt a copy of a device's metadata region (superblock, then the log at LOG_OFFSET) the way
 * the cases above do: one structure, mutated, its CRC usually recomputed. `entries` is how many
 * slots are in use, so the entries aimed at are ones a replay reads.
 */
export function corruptMetadata(meta: Buffer, entries: number, rnd: () => number): string {
  const pick = rnd();
  if (pick < 0.15) {
    mutate(meta, 0, SUPERBLOCK_SIZE, SB_FIELDS, rnd);
    if (rnd() < 0.7) fixCrc(meta, 'superblock');
    return 'superblock';
  }
  if (pick < 0.3 || entries === 0) {
    mutate(meta, LOG_OFFSET, LOG_HEADER_SIZE, HEADER_FIELDS, rnd);
    if (rnd() < 0.7) fixCrc(meta, 'logHeader', LOG_OFFSET);
    return 'log header';
  }
  const slot = randInt(rnd, 0, entries - 1);
  const base = LOG_OFFSET + entryOffset(logSlot(slot));
  mutate(meta, base, LOG_ENTRY_SIZE, ENTRY_FIELDS, rnd);
  if (rnd() < 0.7) fixCrc(meta, 'entry', base);
  return `entry ${slot}`;
}
