/**
 * One conformance suite for any file system served by src/fuse: the same checks run against the
 * example in-memory file system (memfs-main, a child process) and the famfs daemon (`famfs mount`),
 * which shows the FUSE layer is reusable. Each target says only how to mount, how to copy a host
 * tree in with its own tool, how to unmount and recover, and which requests it does not implement.
 * Each runs on both request transports: /dev/fuse, and FUSE over io_uring where the kernel has it
 * (the suite turns the fuse module's enable_uring on for those mounts and puts it back after).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { daemonLogTail } from '../src/cli/commands/mount.js';
import {
  chmodSync, closeSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, rmSync, statSync, writeFileSync,
} from 'node:fs';
import { constants } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cleanupDevices, GiB, MiB } from './helpers/emu.js';
import { famfsTarget, memfsTarget, type Target, type TargetTransport, waitGone, walk } from './helpers/fuse-targets.js';
import { cleanupMounts, isMounted, trackedMountpoint } from './helpers/mounts.js';
import { prng, randInt, seededBytes } from './helpers/prng.js';
import { runPython } from './helpers/run.js';
import { enableUring, holdsIoUring, repliesOnDevFuse, uringUnavailable } from './helpers/uring.js';

after(() => {
  cleanupMounts();
  cleanupDevices();
});

const ERRNO = constants.errno as Readonly<Record<string, number>>;
const KiB = 1024;
const BIG_DIR_ENTRIES = 2000;
/** Longest a probe of an unimplemented request may take before it counts as a hang. */
const PROBE_TIMEOUT_MS = 5000;
const RANDOM_READS_PER_FILE = 300;
/** Direct 4 KiB reads the transport check makes: one READ request each. */
const TRANSPORT_PROBE_READS = 200;

// ------------------------------------------------------------------------------------------------
// The tree every target holds

interface DataFile {
  readonly rel: string;
  readonly size: number;
  readonly mode: number;
}

/** Sizes that end off every boundary: a page, a 2 MiB famfs unit, a 128 KiB readahead window. */
const DATA_FILES: readonly DataFile[] = [
  { rel: 'data/one', size: MiB + 4097, mode: 0o644 },
  { rel: 'data/two', size: 3 * MiB - 1, mode: 0o600 },
  { rel: 'data/three', size: 100 * KiB + 3, mode: 0o444 },
  { rel: 'nested/a/b/c/leaf', size: 5, mode: 0o640 },
];
const DIR_MODES: Readonly<Record<string, number>> = { data: 0o755, big: 0o755, nested: 0o755, 'nested/a': 0o750, 'nested/a/b': 0o755, 'nested/a/b/c': 0o700 };

/** A file's bytes, seeded by its name. */
function contentOf(rel: string, size: number): Buffer {
  let seed = 0;
  for (const ch of rel) seed = Math.imul(seed, 31) + ch.charCodeAt(0);
  return seededBytes(size, seed);
}

const bigName = (i: number): string => `e${String(i).padStart(4, '0')}`;

/** Writes the host tree under `<root>/tree`; returns that directory. */
function buildTree(root: string): string {
  const tree = join(root, 'tree');
  for (const [rel, mode] of Object.entries(DIR_MODES)) {
    mkdirSync(join(tree, rel), { recursive: true });
    chmodSync(join(tree, rel), mode);
  }
  for (const f of DATA_FILES) {
    writeFileSync(join(tree, f.rel), contentOf(f.rel, f.size));
    chmodSync(join(tree, f.rel), f.mode);
  }
  for (let i = 0; i < BIG_DIR_ENTRIES; i++) writeFileSync(join(tree, 'big', bigName(i)), `entry ${i}\n`, { mode: 0o644 });
  return tree;
}

// ------------------------------------------------------------------------------------------------
// The suite

function conformance(target: Target, skip?: string): void {
  describe(`FUSE conformance: ${target.name}`, { skip }, () => {
    let host = '';
    let src = '';
    const mnt = trackedMountpoint();
    const tree = join(mnt, 'tree');
    let pid = 0;
    let restoreUring: (() => void) | undefined;

    before(async () => {
      // The kernel reads enable_uring at each mount's INIT: on for every mount of this target.
      if (target.transport === 'uring') restoreUring = enableUring();
      host = mkdtempSync('/tmp/famfs-test-src-');
      src = buildTree(host);
      pid = await target.mount(mnt);
      target.copyIn(src, tree);
    });
    after(() => {
      restoreUring?.();
      if (host !== '') rmSync(host, { recursive: true, force: true });
    });

    it(`requests travel on the ${target.transport} transport`, async (t) => {
      const file = join(tree, DATA_FILES[0]!.rel);
      const writes = await repliesOnDevFuse(pid, () => {
        const dd = spawnSync('dd', [`if=${file}`, 'of=/dev/null', 'bs=4k', `count=${TRANSPORT_PROBE_READS}`, 'iflag=direct'],
          { encoding: 'utf8', timeout: 30_000 });
        assert.equal(dd.status, 0, dd.stderr);
      });
      const seen = `${writes.replies} replies and ${writes.notifications} notifications written to /dev/fuse for ${TRANSPORT_PROBE_READS} direct reads`;
      t.diagnostic(seen);
      if (target.transport === 'uring') {
        assert.ok(holdsIoUring(pid), 'the server holds an io_uring');
        // Each reply goes back with the ring command that fetches the next request, so none is
        // written to /dev/fuse: after INIT the kernel puts every request but FORGET and INTERRUPT
        // (which take no reply) in ring entries, and holds the requests made before every queue
        // has one registered. A reply written here is a request that came over /dev/fuse.
        assert.equal(writes.replies, 0, `${seen}; daemon log:\n${daemonLogTail(mnt, 20)}`);
      } else {
        assert.equal(holdsIoUring(pid), false, 'no io_uring on the /dev/fuse transport');
        assert.ok(writes.replies >= TRANSPORT_PROBE_READS, seen);
      }
    });

    it('lookup and stat: every name, type, size and permission bits as in the source', () => {
      const names = walk(src);
      assert.equal(names.length, Object.keys(DIR_MODES).length + DATA_FILES.length + BIG_DIR_ENTRIES);
      for (const rel of names) {
        const want = statSync(join(src, rel));
        const got = statSync(join(tree, rel));
        assert.equal(got.isDirectory(), want.isDirectory(), rel);
        assert.equal(got.isFile(), want.isFile(), rel);
        assert.equal(got.mode & 0o777, want.mode & 0o777, `${rel} mode`);
        if (want.isFile()) assert.equal(got.size, want.size, `${rel} size`);
      }
      assert.throws(() => statSync(join(tree, 'no-such-name')), { code: 'ENOENT' });
    });

    it(`readdir of a directory with ${BIG_DIR_ENTRIES} entries: every name once, by readdir and by ls -f`, () => {
      const want = Array.from({ length: BIG_DIR_ENTRIES }, (_, i) => bigName(i));
      const got = readdirSync(join(tree, 'big'));
      assert.equal(new Set(got).size, got.length, 'no duplicates');
      assert.deepEqual([...got].sort(), want);
      const ls = spawnSync('ls', ['-f', join(tree, 'big')], { encoding: 'utf8', timeout: PROBE_TIMEOUT_MS });
      assert.equal(ls.status, 0, ls.stderr);
      const lines = ls.stdout.split('\n').filter((l) => l !== '');
      assert.equal(new Set(lines).size, lines.length, 'ls -f: no duplicates');
      assert.deepEqual(lines.filter((l) => l !== '.' && l !== '..').sort(), want);
      assert.ok(lines.includes('.') && lines.includes('..'));
      assert.equal(readFileSync(join(tree, 'big', bigName(1234)), 'utf8'), 'entry 1234\n');
    });

    it('reads at random offsets and lengths, across EOF, match the source; reads past EOF return 0 bytes', () => {
      for (const f of DATA_FILES) {
        const want = contentOf(f.rel, f.size);
        const rnd = prng(f.size);
        const fd = openSync(join(tree, f.rel), 'r');
        try {
          for (let k = 0; k < RANDOM_READS_PER_FILE; k++) {
            // Every fourth read starts near the end, so it runs across EOF.
            const off = k % 4 === 0 ? Math.max(0, f.size - randInt(rnd, 0, 64 * KiB - 1)) : randInt(rnd, 0, f.size - 1);
            const len = randInt(rnd, 1, 256 * KiB);
            const buf = Buffer.alloc(len);
            const n = readSync(fd, buf, 0, len, off);
            assert.equal(n, Math.min(len, f.size - off), `${f.rel}: read ${len} at ${off}`);
            assert.ok(buf.subarray(0, n).equals(want.subarray(off, off + n)), `${f.rel}: bytes at ${off}`);
          }
          for (const off of [f.size, f.size + 1, f.size + GiB]) {
            assert.equal(readSync(fd, Buffer.alloc(4096), 0, 4096, off), 0, `${f.rel}: read at ${off} past EOF`);
          }
        } finally {
          closeSync(fd);
        }
      }
    });

    it('mmap (python3) sees the same bytes as read, and as the source', () => {
      const args = DATA_FILES.flatMap((f) => [join(tree, f.rel), join(src, f.rel)]);
      const py = runPython('mmap_compare.py', args, { killAfterMs: 30_000 });
      assert.equal(py.stdout.trim(), 'ok', py.stderr);
    });

    it('requests the file system does not implement get an error, never a hang', () => {
      const file = join(tree, DATA_FILES[0]!.rel);
      const ops = target.unimplemented.map((u) => u.op);
      const py = runPython('unimplemented_probe.py', [file, join(tree, 'probe'), ...ops], { killAfterMs: PROBE_TIMEOUT_MS });
      const answers = new Map(py.stdout.split('\n').filter((l) => l !== '').map((l) => l.split(' ') as [string, string]));
      const pending = ops.find((op) => !answers.has(op));
      assert.equal(py.signal, null, `${pending ?? 'the probe'}: no answer within ${PROBE_TIMEOUT_MS} ms`);
      for (const u of target.unimplemented) {
        const got = answers.get(u.op);
        assert.ok(u.expect.some((name) => String(ERRNO[name]) === got), `${u.op}: got ${got ?? py.stderr}, want one of ${u.expect.join(', ')}`);
      }
      // The mount still answers afterwards.
      assert.equal(statSync(file).size, DATA_FILES[0]!.size);
    });

    it('unmount leaves nothing mounted and the serving process ends', async () => {
      target.unmount(mnt);
      assert.equal(isMounted(mnt), false);
      assert.ok(await waitGone(pid), `pid ${pid} still running after unmount`);
      assert.deepEqual(readdirSync(mnt), [], 'the mount point is an empty directory again');
    });

    it('kill -9 of the serving process is recoverable: unmount works and a new mount works', async () => {
      const victim = await target.mount(mnt);
      assert.ok(isMounted(mnt));
      process.kill(victim, 'SIGKILL');
      assert.ok(await waitGone(victim), 'killed');
      // On the io_uring transport the kernel tears the dead server's ring down asynchronously: a
      // request that reached a ring entry before that is cancelled (ECANCELED), later ones get ENOTCONN.
      const dead = target.transport === 'uring' ? ['ENOTCONN', 'ECONNABORTED', 'ECANCELED'] : ['ENOTCONN', 'ECONNABORTED'];
      assert.throws(() => readdirSync(mnt), (e: NodeJS.ErrnoException) => dead.includes(e.code ?? ''));
      target.recover(mnt);
      assert.equal(isMounted(mnt), false);

      const again = await target.mount(mnt);
      assert.notEqual(again, victim);
      if (target.persistent) {
        const f = DATA_FILES[1]!;
        assert.ok(readFileSync(join(tree, f.rel)).equals(contentOf(f.rel, f.size)), 'the files survived');
      }
      mkdirSync(join(mnt, 'after-recovery'));
      assert.ok(statSync(join(mnt, 'after-recovery')).isDirectory());
      target.unmount(mnt);
      assert.equal(isMounted(mnt), false);
      assert.ok(await waitGone(again));
    });
  });
}

const uringSkip = uringUnavailable();
for (const transport of ['dev', 'uring'] as const satisfies readonly TargetTransport[]) {
  const skip = transport === 'uring' ? uringSkip : undefined;
  conformance(memfsTarget(transport), skip);
  conformance(famfsTarget(transport), skip);
  // The replies a file system sends from a promise, after the request's turn of the loop ended.
  conformance(memfsTarget(transport, { answerLater: true }), skip);
}
