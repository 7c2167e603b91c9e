import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { daemonLogTail } from '../src/cli/commands/mount.js';
import { packageRoot } from '../src/addon.js';
import { BIN_DIR } from '../src/cli/bin.js';
import { DAEMON_FILE } from '../src/cli/daemon-start.js';
import { defaultConfig } from '../src/mounts/daemon-protocol.js';
import { FamfsFuse } from '../src/daemon/famfs-fs.js';
import { nodeId } from '../src/fuse/index.js';
import { readRecord } from '../src/mounts/registry.js';
import { FamfsHandle } from '../src/fs/famfs.js';
import { mkfs } from '../src/fs/mkfs.js';
import { resolveRange } from '../src/fs/resolve.js';
import { cleanupDevices, CLIENT_UUID, emuDevice, GiB, master, MASTER_UUID, MiB } from './helpers/emu.js';
import { famfs, runPython, runPythonAsync } from './helpers/run.js';
import { eventually } from './helpers/wait.js';
import { holdsIoUring } from './helpers/uring.js';
import { cleanupMounts, isMounted, mountFamfs, trackedMountpoint, umountFamfs } from './helpers/mounts.js';
import { readAt, readUpTo, writeAt } from './helpers/device-io.js';
import { seededBytes } from './helpers/prng.js';

after(() => {
  cleanupMounts();
  cleanupDevices();
});

/** famfs daemons running now (the bundled daemon's file on their command line), by pid. */
/** This tree's daemons (other checkouts on the machine may run their own tests meanwhile). */
function daemonPids(): number[] {
  const script = `${join(packageRoot(), BIN_DIR, DAEMON_FILE)}\0`;
  const pids: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      if (readFileSync(`/proc/${e}/cmdline`, 'utf8').includes(script)) pids.push(Number(e));
    } catch {
      // gone meanwhile
    }
  }
  return pids.sort((a, b) => a - b);
}

/** Knuth's multiplicative hash constant: word w of the striped file holds w * GOLDEN, which test/independent/pattern_reader.py checks on its own. */
const GOLDEN = 2654435761;

/** Deterministic content for file i, a few hundred KiB to a couple of MiB. */
function contentOf(i: number): Buffer {
  return seededBytes(1 + ((i * 7919) % (2 * MiB)), i);
}

/** Every path under `dir` (files and directories), relative and sorted. */
function listing(dir: string): string[] {
  return (readdirSync(dir, { recursive: true }) as string[]).map(String).sort();
}

describe('famfs over FUSE: a master and a client mount', () => {
  let dev = '';
  let m = '';
  let c = '';
  const src = mkdtempSync('/tmp/famfs-test-src-');
  const N = 200;
  const DIRS = 10;
  const FOLLOW_MS = 100;
  /** The client polls the log every FOLLOW_MS; allow for a loaded machine on top of that. */
  const FOLLOW_BOUND_MS = 20 * FOLLOW_MS;
  const MMAP_SAMPLE_EVERY = 10;

  before(() => {
    dev = emuDevice(8 * GiB, 'fuse');
    mkfs(dev, { systemUuid: master });
    m = mountFamfs(dev, MASTER_UUID);
    c = mountFamfs(dev, CLIENT_UUID, ['--follow', String(FOLLOW_MS)]);
  });
  after(() => rmSync(src, { recursive: true, force: true }));

  it('famfs cp -r and shell mkdir on the master; the client lists the tree within the follow interval; every byte matches', async () => {
    const srcTree = join(src, 'tree');
    const files = Array.from({ length: N }, (_, i) => join(`d${i % DIRS}`, `f${i}`));
    for (let d = 0; d < DIRS; d++) mkdirSync(join(srcTree, `d${d}`, 'sub'), { recursive: true });
    files.forEach((rel, i) => writeFileSync(join(srcTree, rel), contentOf(i)));
    // Plain shell mkdir through the master's mount: one log entry per directory.
    for (let d = 0; d < DIRS; d++) {
      const r = spawnSync('mkdir', ['-p', join(m, 'tree', `d${d}`, 'sub')]);
      assert.equal(r.status, 0, r.stderr?.toString());
    }
    // The CLI given mount paths: the existing directories are reused, every file is created and filled.
    const cp = famfs(['cp', '-r', '-q', srcTree, join(m, 'tree')], MASTER_UUID);
    assert.equal(cp.status, 0, cp.stderr);

    const want = listing(srcTree);
    await eventually('the client lists the same tree', () => {
      try {
        return listing(join(c, 'tree')).join('\n') === want.join('\n');
      } catch {
        return false;
      }
    }, FOLLOW_BOUND_MS);

    // A write through the master's mount lands in memory (a preallocated file: open without truncating).
    const rewritten = Buffer.from(contentOf(7)).reverse();
    writeFileSync(join(m, 'tree', files[7]!), rewritten, { flag: 'r+' });
    writeFileSync(join(srcTree, files[7]!), rewritten);

    for (const mnt of [m, c]) {
      // One diff over the whole tree: every file's bytes, and no file or directory missing or extra.
      const r = spawnSync('diff', ['-r', srcTree, join(mnt, 'tree')], { encoding: 'utf8' });
      assert.equal(r.status, 0, `diff -r via ${mnt}: ${r.stdout}${r.stderr}`);
    }
    assert.ok(statSync(join(c, 'tree', 'd3', 'sub')).isDirectory());
    assert.equal(statSync(join(c, 'tree', 'd3', 'f3')).mode & 0o222, 0, 'a client sees no write bits');
    const sample = files.filter((_f, i) => i % MMAP_SAMPLE_EVERY === 0 || i === 7);
    const args = [m, c].flatMap((mnt) => sample.flatMap((rel) => [join(mnt, 'tree', rel), join(srcTree, rel)]));
    const py = runPython('mmap_compare.py', args);
    assert.equal(py.stdout.trim(), 'ok', py.stderr);
  });

  it('the CLI takes mount paths: famfs creat/mkdir/getmap/fsck through the mount', () => {
    assert.equal(famfs(['mkdir', join(m, 'cli')], MASTER_UUID).status, 0);
    const r = famfs(['creat', '-s', '3m', join(m, 'cli', 'f')], MASTER_UUID);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(statSync(join(m, 'cli', 'f')).size, 3 * MiB);
    const g = famfs(['getmap', '--json', join(c, 'cli', 'f')], CLIENT_UUID);
    assert.equal(g.status, 0, g.stderr);
    assert.equal((JSON.parse(g.stdout) as { size: number }[])[0]!.size, 3 * MiB);
    const refused = famfs(['creat', '-s', '1m', join(c, 'cli', 'g')], CLIENT_UUID);
    assert.equal(refused.status, 1);
    assert.match(refused.stderr, /client/);
    const f = famfs(['fsck', c]);
    assert.equal(f.status, 0, f.stderr);
    assert.match(f.stdout, /role of this node: Client/);
  });

  it('refuses what famfs cannot do, with the right errors and no hang', () => {
    const file = join(m, 'tree', 'd5', 'f5');
    const size = statSync(file).size;
    assert.throws(() => writeAt(file, size - 5, Buffer.alloc(10)), { code: 'EFBIG' });
    assert.deepEqual(readAt(file, size - 5, 5), contentOf(5).subarray(size - 5), 'nothing written');
    assert.equal(readUpTo(file, size + 100, 10).length, 0, 'read past EOF');
    assert.throws(() => openSync(join(c, 'tree', 'd5', 'f5'), 'r+'), { code: 'EROFS' });
    assert.throws(() => mkdirSync(join(c, 'nope')), { code: 'EROFS' });
    assert.throws(() => writeFileSync(join(m, 'newfile'), 'x'), (e: NodeJS.ErrnoException) => e.code === 'EOPNOTSUPP' || e.code === 'ENOTSUP');
    assert.throws(() => rmSync(file), { code: 'EPERM' });
    assert.throws(() => openSync(join(m, '.meta', '.log'), 'r+'), { code: 'EPERM' });
    // An operation the daemon does not implement at all answers ENOSYS/EOPNOTSUPP promptly.
    const py = runPython('xattr.py', ['set', file, 'user.x', '1'], { killAfterMs: 5000 });
    assert.equal(py.signal, null, 'no hang');
    assert.ok(['38', '95'].includes(py.stdout.trim()), `errno ${py.stdout}`);
  });

  it('meta files and diagnostics xattrs, as upstream exposes them', () => {
    assert.equal(statSync(join(c, '.meta', '.superblock')).size, 2 * MiB);
    assert.equal(statSync(join(m, '.meta', '.log')).mode & 0o777, 0o400);
    assert.equal(statSync(join(c, '.meta', '.log')).mode & 0o777, 0o400);
    assert.equal(readAt(join(c, '.meta', '.superblock'), 0, 8).readBigUInt64LE(0), 0x87b282ffn);
    const py = runPython('xattr.py', ['get', join(c, 'tree'), 'user.famfs.role']);
    assert.equal(py.stdout, 'client', py.stderr);
  });

  it('a second mount by the same host is refused; a non-empty mount point and a device without famfs too', async () => {
    const serving = daemonPids();
    assert.equal(serving.length, 2, 'the master\'s and the client\'s daemons');
    const again = famfs(['mount', dev, trackedMountpoint()], MASTER_UUID);
    assert.equal(again.status, 1);
    assert.match(again.stderr, /already mounted by this host/);
    const full = mkdtempSync('/tmp/famfs-test-full-');
    writeFileSync(join(full, 'x'), 'x');
    const r1 = famfs(['mount', dev, full], 'aaaaaaaa-2222-3333-4444-555555555555');
    assert.match(r1.stderr, /not an empty directory/);
    rmSync(full, { recursive: true });
    const blank = emuDevice(8 * GiB, 'blank');
    const empty = mkdtempSync('/tmp/famfs-test-mnt-');
    const r2 = famfs(['mount', blank, empty], MASTER_UUID);
    assert.notEqual(r2.status, 0);
    assert.match(r2.stderr, /bad magic/);
    assert.equal(isMounted(empty), false);
    rmSync(empty, { recursive: true });
    const help = famfs(['mount', '--help']);
    assert.equal(help.status, 0);
    // Each of these CLIs started its daemon early, before its checks failed: none may stay.
    await eventually('the daemons the refused mounts started are gone', () => daemonPids().join() === serving.join());
  });

  it('the daemon writes its log, its own lines and what Node prints, to the mount\'s log file', () => {
    assert.match(daemonLogTail(m, 50), new RegExp(`serving \\S+ at ${m} as master`));
    assert.match(daemonLogTail(c, 50), new RegExp(`serving \\S+ at ${c} as client`));
  });

  it('a daemon killed with SIGKILL: famfs umount recovers the mount and the next mount works', () => {
    const rec = readRecord(c);
    assert.ok(rec, 'the mount is registered');
    // The daemon's transport is auto: on the io_uring one (enable_uring on) the kernel tears the
    // dead daemon's ring down asynchronously and a request that reached a ring entry first is
    // cancelled (ECANCELED); on /dev/fuse, and on the ring afterwards, the connection is gone.
    const dead = holdsIoUring(rec.pid) ? ['ENOTCONN', 'ECONNABORTED', 'ECANCELED'] : ['ENOTCONN', 'ECONNABORTED'];
    process.kill(rec.pid, 'SIGKILL');
    assert.throws(() => readdirSync(c), (e: NodeJS.ErrnoException) => dead.includes(e.code ?? ''), `one of ${dead.join(', ')}`);
    const r = famfs(['umount', c]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(isMounted(c), false);
    const r2 = famfs(['mount', dev, c], CLIENT_UUID);
    assert.equal(r2.status, 0, r2.stderr);
    assert.ok(existsSync(join(c, 'tree', 'd1', 'f1')));
    umountFamfs(c);
    assert.equal(isMounted(c), false);
  });
});

describe('famfs over FUSE: concurrent readers of an interleaved file', () => {
  it('8 readers (read and mmap, random offsets) find no mismatch and no hang', async () => {
    const seconds = Number(process.env.FAMFS_STRESS_SECONDS ?? 20);
    const dev = emuDevice(16 * GiB, 'stress');
    mkfs(dev, { systemUuid: master });
    const fs = FamfsHandle.open(dev, { writable: true, systemUuid: master });
    const size = 64 * MiB + 12345;
    try {
      const { file } = fs.creat('striped', { size, interleave: { nbuckets: 8, nstrips: 4, chunkSize: 2 * MiB } });
      assert.equal(file.fmap.kind, 'interleaved');
      // The pattern goes straight into device memory at the resolved offsets: word w holds w * 2654435761.
      for (const p of resolveRange(file.fmap, size, 0, size)) {
        const map = fs.mapDevice(p.offset, p.len, true);
        const fileOff = fileOffsetOf(file.fmap, p.offset, size);
        for (let o = 0; o + 4 <= p.len; o += 4) map.buffer.writeUInt32LE(Math.imul((fileOff + o) / 4, GOLDEN) >>> 0, o);
        map.flush();
        map.unmap();
      }
    } finally {
      fs.close();
    }
    const mnt = mountFamfs(dev, CLIENT_UUID, ['-c', 'never']);
    const runs = await Promise.all(Array.from({ length: 8 }, (_, k) =>
      runPythonAsync('pattern_reader.py', [join(mnt, 'striped'), String(k), String(seconds)], { killAfterMs: (seconds + 30) * 1000 })));
    for (const r of runs) {
      assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
      assert.ok(Number(r.stdout.trim()) > 0, r.stdout);
    }
    umountFamfs(mnt);
  });

  it('GET_FMAP: the daemon answers with the file map of the log, decoded from bytes', () => {
    const dev = emuDevice(8 * GiB, 'fmap');
    mkfs(dev, { systemUuid: master });
    const fs = FamfsHandle.open(dev, { writable: true, systemUuid: master });
    try {
      const { file } = fs.creat('f', { size: 5 * MiB });
      const ffs = new FamfsFuse(fs, defaultConfig(dev, '/nowhere', MASTER_UUID));
      const op = ffs.extensions.find((e) => e.name === 'GET_FMAP')!;
      assert.equal(op.opcode, 54);
      const reply = op.handle({ unique: 1n, opcode: 54, nodeid: nodeId(file.ino), uid: 0, gid: 0, pid: 0 }, Buffer.alloc(0)) as Buffer;
      assert.equal(reply.readUInt32LE(8), 1);
      assert.equal(Number(reply.readBigUInt64LE(16)), 5 * MiB);
      assert.equal(Number(reply.readBigUInt64LE(32 + 8)), (file.fmap.kind === 'simple' ? file.fmap.extents[0]!.offset : -1));
      const dax = ffs.extensions.find((e) => e.name === 'GET_DAXDEV')!.handle({ unique: 2n, opcode: 55, nodeid: nodeId(0), uid: 0, gid: 0, pid: 0 }, Buffer.alloc(0)) as Buffer;
      assert.equal(dax.subarray(24, 24 + dev.length).toString(), dev);
      ffs.close();
    } finally {
      fs.close();
    }
  });
});

/** The file offset held at device offset `devOff` (inverse of the interleave math, for writing a pattern). */
function fileOffsetOf(fmap: import('../src/format/fmap.js').Fmap, devOff: number, size: number): number {
  for (let o = 0; o < size; o += 2 * MiB) {
    const [p] = resolveRange(fmap, size, o, 1);
    if (p && devOff >= p.offset && devOff < p.offset + 2 * MiB) return o + (devOff - p.offset);
  }
  throw new Error('device offset not in the file');
}
