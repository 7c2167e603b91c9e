import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FamfsError } from '../../src/errors.js';
import { FM_ALL_HOSTS_RW } from '../../src/format/file-meta.js';
import { ALLOC_UNIT, LOG_OFFSET, RELPATH_FIELD_SIZE } from '../../src/format/layout.js';
import { famfsCrc } from '../../src/format/crc.js';
import { LOG_ENTRY_CRC_COVERED, encodeLogEntry } from '../../src/format/log-entry.js';
import { entryOffset, logSlot } from '../../src/format/log-header.js';
import { parseUuid } from '../../src/format/uuid.js';
import { FamfsHandle } from '../../src/fs/famfs.js';
import { fsck } from '../../src/fs/fsck.js';
import { fmapExtents } from '../../src/format/fmap.js';
import { Cluster } from '../hosts/harness.js';
import { isMounted } from '../helpers/mounts.js';
import { HOSTILE_NAMES, corruptMetadata, craftedEntries, runCrafted, runFuzz } from './fuzzer.js';
import { OBSERVER_UUID, RUN_SEED, envInt, inspect, reportFigure } from './support.js';
import { prng } from '../helpers/prng.js';
import { readAt, writeAt } from '../helpers/device-io.js';

/**
 * Hostile input: the fuzzer over every on-media structure, corrupted images given to open, fsck
 * and mount, and hostile names and paths given to the CLI, the API, the log and the mount path.
 */

const FUZZ_CASES = envInt('FAMFS_FUZZ_CASES', 5000);
/** Corrupted images opened in-process (cheap) and, of those, given to the CLI's fsck and mount (about a second each). */
const IMAGE_CASES = envInt('FAMFS_FUZZ_IMAGES', 200);
const CLI_IMAGE_CASES = envInt('FAMFS_FUZZ_CLI_IMAGES', 4);
const METADATA_BYTES = LOG_OFFSET + 8 * 1024 ** 2;
const MiB = 1024 ** 2;
/** A stack trace line: what a clean one-line failure must not print. */
const STACK_LINE = /\n\s+at /;
/** A FILE entry's relpath: payload at 16, relpath at 24 in it. */
const FILE_RELPATH_AT = 40;

/** Open and fsck in-process: a typed error, or a tree inside the device. */
function openCorrupted(device: string, ctx: string): 'refused' | 'opened' {
  let fs: FamfsHandle;
  try {
    fs = FamfsHandle.open(device, { systemUuid: OBSERVER_UUID });
  } catch (err) {
    assert.ok(err instanceof FamfsError, `${ctx}: open threw ${String(err)}`);
    return 'refused';
  }
  try {
    const r = fsck(fs);
    const { nodes } = inspect(device);
    for (const [p, n] of nodes) {
      if (n.kind !== 'file') continue;
      for (const e of fmapExtents(n.fmap)) assert.ok(e.offset + e.len <= r.superblock.devSize, `${ctx}: ${p} extends past the device`);
    }
    return 'opened';
  } catch (err) {
    assert.ok(err instanceof FamfsError, `${ctx}: fsck threw ${String(err)}`);
    return 'refused';
  } finally {
    fs.close();
  }
}

/** [first, end) of the bytes where `a` and `b` differ; [-1, -1] when they do not. */
function changedRange(a: Buffer, b: Buffer): [number, number] {
  let from = 0;
  while (from < a.length && a[from] === b[from]) from++;
  if (from === a.length) return [-1, -1];
  let to = a.length;
  while (to > from && a[to - 1] === b[to - 1]) to--;
  return [from, to];
}

/** fsck and mount of a corrupted image through the CLI: one clean line, or a mount that reads to the end. */
async function cliOnCorrupted(c: Cluster, ctx: string): Promise<void> {
  const f = c.master.famfs(['fsck', c.device]);
  assert.doesNotMatch(f.stderr, STACK_LINE, `${ctx}: fsck crashed`);
  const client = c.clients[0]!;
  try {
    const mnt = await client.mount();
    for (const p of readdirSync(mnt, { recursive: true }) as string[]) {
      if (statSync(join(mnt, p)).isFile() && !p.startsWith('.meta')) readFileSync(join(mnt, p));
    }
  } catch (err) {
    assert.match(String(err), /famfs mount failed/, `${ctx}: ${String(err)}`);
    assert.doesNotMatch(String(err), STACK_LINE);
  } finally {
    client.umount();
  }
}

describe('hostile input', () => {
  const rnd = prng(RUN_SEED ^ 0xf022);
  let c: Cluster;

  before(async () => {
    c = await Cluster.up({ clients: 1, noMount: true, tag: 'fuzz' });
    for (const args of [['mkdir', '-p', 'd/e'], ['creat', '-s', '3m', 'd/e/a'], ['creat', '-s', '1m', '-N', '2', '-B', '4', 'd/s'], ['creat', '-s', '5m', 'b']]) {
      const r = c.master.onDevice(args);
      assert.equal(r.status, 0, r.stderr);
    }
  });
  after(() => c?.down());

  it(`${FUZZ_CASES} fuzz cases over the superblock, log header, entries, fmaps and whole logs (seed ${RUN_SEED})`, () => {
    const stats = runFuzz(FUZZ_CASES, rnd);
    assert.equal(stats.cases, FUZZ_CASES);
    // Both sides of every decoder were reached: some mutants decode, most do not.
    assert.ok(stats.accepted > 0 && stats.accepted < stats.cases, `${stats.accepted} of ${stats.cases} accepted`);
    reportFigure('fuzz_cases', stats.cases);
  });

  it('crafted entries (extents past the end or over the log, unaligned, size 0, 17 extents, an unterminated path, ADD_DAXDEV of 2^53-1 bytes...) replay to a refusal or a tree inside the device', () => {
    const cases = runCrafted();
    assert.equal(cases, 2 * craftedEntries(0).length);
    reportFigure('fuzz_cases', cases);
  });

  it(`${IMAGE_CASES} corrupted images: open and fsck fail with a typed error or skip the bad entries; ${CLI_IMAGE_CASES} of them through the CLI's fsck and mount`, async () => {
    const pristine = readAt(c.device, 0, METADATA_BYTES);
    const entries = inspect(c.device).report.log.entriesUsed;
    let opened = 0;
    try {
      for (let i = 0; i < IMAGE_CASES; i++) {
        const meta = Buffer.from(pristine);
        const what = corruptMetadata(meta, entries, rnd);
        // Only the bytes that changed go to the device, and back after: 10 MiB per case would dominate.
        const [from, to] = changedRange(meta, pristine);
        const ctx = `image ${i}, ${what} corrupted (seed ${RUN_SEED})`;
        if (from >= 0) writeAt(c.device, from, meta.subarray(from, to));
        try {
          if (openCorrupted(c.device, ctx) === 'opened') opened++;
          if (i < CLI_IMAGE_CASES) await cliOnCorrupted(c, ctx);
        } finally {
          if (from >= 0) writeAt(c.device, from, pristine.subarray(from, to));
        }
      }
    } finally {
      writeAt(c.device, 0, pristine);
    }
    assert.ok(opened > 0, 'no corrupted image opened: the corruption is too coarse to test skipping');
    assert.equal(inspect(c.device).report.badEntries.length, 0);
  });

  it('hostile names are refused by the CLI and the API before anything is written', () => {
    const before = inspect(c.device).report.log.entriesUsed;
    for (const name of ['d/../x', 'x'.repeat(80), 'd/' + 'y'.repeat(78), 'ctl\nname', '.meta/x']) {
      const r = c.master.onDevice(['creat', '-s', '1m', name]);
      assert.notEqual(r.status, 0, `creat ${JSON.stringify(name)} was accepted`);
      assert.doesNotMatch(r.stderr, STACK_LINE);
      const m = c.master.onDevice(['mkdir', '-p', name]);
      assert.notEqual(m.status, 0, `mkdir ${JSON.stringify(name)} was accepted`);
    }
    const fs = FamfsHandle.open(c.device, { writable: true, systemUuid: parseUuid(c.master.uuid) });
    try {
      assert.throws(() => fs.creat('nul\0byte', { size: MiB }), (e: unknown) => e instanceof FamfsError && e.code === 'EINVAL');
      assert.throws(() => fs.mkdir('a\0b'), FamfsError);
      // 79 bytes is the limit, and it works.
      assert.equal(fs.creat('z'.repeat(79), { size: MiB }).created, true);
    } finally {
      fs.close();
    }
    // An absolute path through --device is rooted in famfs, never on the host.
    const abs = c.master.onDevice(['mkdir', '/famfs-abs-test']);
    assert.equal(abs.status, 0, abs.stderr);
    assert.equal(existsSync('/famfs-abs-test'), false);
    assert.equal(inspect(c.device).nodes.get('famfs-abs-test')?.kind, 'dir');
    assert.equal(inspect(c.device).report.log.entriesUsed, before + 2, 'a refused name left an entry');
  });

  it('hostile names written straight into the log are skipped by replay and invisible in a mount', async () => {
    const fs = FamfsHandle.open(c.device, { systemUuid: OBSERVER_UUID });
    let next: number;
    try {
      next = fs.logHeader().nextIndex;
    } finally {
      fs.close();
    }
    const first = next;
    const header = Buffer.alloc(16);
    for (const [k, name] of HOSTILE_NAMES.entries()) {
      const raw = Buffer.from(name, 'utf8').subarray(0, 80);
      const e = encodeLogEntry({
        type: 'file', seqnum: next, path: 'placeholder', size: MiB, flags: FM_ALL_HOSTS_RW, uid: 0, gid: 0, mode: 0o644,
        fmap: { kind: 'simple', extents: [{ devIndex: 0, offset: (3000 + k) * ALLOC_UNIT, len: ALLOC_UNIT }] },
      });
      // The name goes in raw (as another implementation or corruption could put it), then the CRC is redone.
      e.fill(0, FILE_RELPATH_AT, FILE_RELPATH_AT + RELPATH_FIELD_SIZE);
      raw.copy(e, FILE_RELPATH_AT);
      e.writeBigUInt64LE(BigInt(famfsCrc(e.subarray(0, LOG_ENTRY_CRC_COVERED))), LOG_ENTRY_CRC_COVERED);
      writeAt(c.device, LOG_OFFSET + entryOffset(logSlot(next)), e);
      next++;
    }
    header.writeBigUInt64LE(BigInt(next), 0);
    header.writeBigUInt64LE(BigInt(next), 8);
    writeAt(c.device, LOG_OFFSET + 32, header);
    const { report, nodes } = inspect(c.device);
    for (const p of nodes.keys()) {
      assert.ok(!p.split('/').some((x) => x === '..' || x === '.' || x === ''), `replay placed ${JSON.stringify(p)}`);
      assert.ok(Buffer.byteLength(p) <= 79, `replay placed a ${Buffer.byteLength(p)}-byte path`);
    }
    const rejected = report.badEntries.length + report.skipped.length;
    assert.ok(rejected >= 12, `only ${rejected} hostile entries were refused`);
    const mnt = await c.clients[0]!.mount();
    try {
      const names = readdirSync(mnt);
      assert.equal(names.filter((n) => n === '.meta').length, 1);
      assert.equal(statSync(join(mnt, '.meta', '.superblock')).size, ALLOC_UNIT, 'a logged .meta hid the meta files');
      for (const n of names) assert.doesNotMatch(n, /^\.\.?$|\//);
      assert.equal(existsSync('/etc/passwd') && readdirSync(mnt).includes('passwd'), false);
    } finally {
      c.clients[0]!.umount();
    }
    assert.ok(next > first);
  });

  it('a symlink in the mount path: the mount lands on the real directory and CLI paths through the link act on famfs', async () => {
    const base = mkdtempSync('/tmp/famfs-symlink-');
    const real = join(base, 'real');
    const link = join(base, 'link');
    mkdirSync(real);
    symlinkSync(real, link);
    const m = c.master;
    const saved = m.mnt;
    try {
      const r = m.famfs(['mount', c.device, link]);
      assert.equal(r.status, 0, r.stderr);
      m.mnt = realpathSync(real);
      assert.ok(isMounted(m.mnt), 'not mounted on the real directory');
      const made = m.famfs(['creat', '-s', '1m', join(link, 'via-link')]);
      assert.equal(made.status, 0, made.stderr);
      assert.equal(inspect(c.device).nodes.get('via-link')?.kind, 'file');
      // Out of the mount through '..': refused, and nothing is made on the host.
      const escape = m.famfs(['creat', '-s', '1m', join(link, '..', 'escaped')]);
      assert.notEqual(escape.status, 0);
      assert.equal(existsSync(join(base, 'escaped')), false);
    } finally {
      m.umount();
      m.mnt = saved;
      rmSync(base, { recursive: true, force: true });
    }
  });
});
