import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { FamfsHandle } from '../src/fs/famfs.js';
import { daemonLogTail } from '../src/cli/commands/mount.js';
import { readRecord } from '../src/mounts/registry.js';
import { cleanupDevices, emuDevice, GiB, MASTER_UUID } from './helpers/emu.js';
import { famfs, FAMFS_BIN, FUSED_BIN, MKFS_BIN, runCli, runPython, type RunResult } from './helpers/run.js';
import { cleanupMounts, isMounted, mountFamfs, trackedMountpoint, umountFamfs } from './helpers/mounts.js';

/**
 * Upstream famfs's command lines (src/famfs_cli.c, mkfs.famfs.c, famfs_fused.c and the smoke
 * scripts' uses of them), run against this project on real FUSE mounts: each `it` is one item of
 * the drop-in promise, with upstream's exit status and observable effect.
 */

const UPSTREAM_COMMANDS = ['mount', 'fsck', 'check', 'mkdir', 'cp', 'creat', 'flush', 'verify', 'mkmeta', 'logplay', 'getmap', 'clone', 'chkread'];
const MKFS_FUSE = (dev: string): RunResult => runCli(MKFS_BIN, ['--fuse', dev]);

/** One line on stderr, nothing after it: how every refusal must look. */
function oneLine(r: RunResult, status: number, pattern: RegExp): void {
  assert.equal(r.status, status, `status ${r.status}: ${r.stdout}${r.stderr}`);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0]!, pattern);
}

function xattr(path: string, name: string): string {
  const r = runPython('xattr.py', ['get', path, name]);
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

let dev: string;
let mnt: string;
let shadow: string;

before(() => {
  dev = emuDevice(8 * GiB, 'compat');
  const r = MKFS_FUSE(dev);
  assert.equal(r.status, 0, r.stderr);
  shadow = mkdtempSync('/tmp/famfs-compat-shadow-');
  mnt = trackedMountpoint();
  const m = famfs(['mount', '--fuse', '-S', shadow, dev, mnt]);
  assert.equal(m.status, 0, m.stderr);
});

after(() => {
  cleanupMounts();
  cleanupDevices();
  rmSync(shadow, { recursive: true, force: true });
});

describe('1. mode flags and help', () => {
  it('--fuse is accepted where upstream has it and changes nothing; FAMFS_MODE=fuse too', () => {
    assert.equal(famfs(['fsck', '--fuse', dev]).status, 16); // mounted by this host: see item 3
    assert.equal(famfs(['fsck', '--fuse', mnt]).status, 0);
    assert.equal(famfs(['logplay', '--fuse', mnt]).status, 0);
    assert.equal(famfs(['fsck', mnt], MASTER_UUID, { FAMFS_MODE: 'fuse' }).status, 0);
    const other = emuDevice(8 * GiB, 'compat-mkfs');
    assert.equal(MKFS_FUSE(other).status, 0);
    assert.equal(famfs(['fsck', '--fuse', other]).status, 0);
  });

  it('--nofuse/-F, FAMFS_MODE=v1 and the module-only options: one line naming the kernel module, upstream status', () => {
    const other = emuDevice(8 * GiB, 'compat-v1');
    oneLine(runCli(MKFS_BIN, ['-F', other]), 2, /famfs v1 kernel module/);
    oneLine(runCli(MKFS_BIN, ['--nofuse', other]), 2, /famfs v1 kernel module/);
    oneLine(famfs(['fsck', '-F', mnt]), 1, /famfs v1 kernel module/);
    oneLine(famfs(['fsck', mnt], MASTER_UUID, { FAMFS_MODE: 'v1' }), 1, /FAMFS_MODE=v1 needs the standalone famfs v1 kernel module/);
    oneLine(famfs(['fsck', '-L', mnt]), 1, /famfs v1 kernel module/);
    oneLine(famfs(['fsck', '-M', mnt]), 1, /set-daxmode/);
    const m2 = trackedMountpoint();
    oneLine(famfs(['mount', '-F', other, m2]), 1, /famfs v1 kernel module/);
    oneLine(famfs(['mount', '-M', other, m2]), 1, /set-daxmode/);
    oneLine(famfs(['mount', '-L', other, m2]), 1, /famfs v1 kernel module/);
    oneLine(famfs(['mount', '-D', other, m2]), 1, /dummy/);
    oneLine(famfs(['logplay', '-M', mnt]), 1, /set-daxmode/);
    assert.equal(isMounted(m2), false);
    // An explicit --fuse beats FAMFS_MODE=v1, as upstream's flags beat the environment.
    const flagWins = famfs(['fsck', '--fuse', mnt], MASTER_UUID, { FAMFS_MODE: 'v1' });
    assert.equal(flagWins.status, 0, flagWins.stderr);
    // An unknown FAMFS_MODE is warned about and ignored.
    const bogus = famfs(['fsck', mnt], MASTER_UUID, { FAMFS_MODE: 'bogusvalue' });
    assert.equal(bogus.status, 0);
    assert.match(bogus.stderr, /unrecognized FAMFS_MODE value 'bogusvalue'/);
    // check and mkmeta are the v1 module's: listed, answered in one line.
    oneLine(famfs(['check', '-v', mnt]), 1, /famfs v1 kernel module/);
    oneLine(famfs(['mkmeta', dev]), 0, /famfs v1 kernel module/);
    oneLine(famfs(['mkmeta']), 1, /dax device/);
  });

  it('-? is help on every command and famfs -h <cmd> prints that command\'s; famfs --help lists every upstream command', () => {
    const top = famfs(['--help']);
    assert.equal(top.status, 0);
    for (const c of UPSTREAM_COMMANDS) assert.match(top.stdout, new RegExp(`^  ${c} `, 'm'), `famfs --help lacks ${c}`);
    for (const c of [...UPSTREAM_COMMANDS, 'devadd', 'daxdev']) {
      const r = famfs([c, '-?']);
      assert.equal(r.status, 0, `${c} -?: ${r.stderr}`);
      assert.match(r.stdout, new RegExp(`Usage: famfs ${c} `));
      const h = famfs(['-h', c]);
      assert.equal(h.status, 0);
      assert.equal(h.stdout, r.stdout);
    }
    assert.equal(famfs(['-?', 'fsck']).stdout, famfs(['fsck', '-?']).stdout);
    // fsck's -h is --human, as upstream.
    const human = famfs(['fsck', '-h', mnt]);
    assert.match(human.stdout, /Device capacity: +[\d.]+G/, human.stderr + daemonLogTail(mnt, 30));
    const mk = runCli(MKFS_BIN, ['-?']);
    assert.equal(mk.status, 0);
    assert.match(mk.stdout, /Usage: mkfs.famfs/);
    // The global --dryrun is accepted (upstream lists it and never acts on it).
    assert.equal(famfs(['--dryrun', 'fsck', mnt]).status, 0);
    assert.equal(famfs([]).status, 1);
    assert.equal(famfs(['frobnicate']).status, 3);
  });
});

describe('2. options upstream has', () => {
  it('mount -v, -r/-m, -R; fsck -m/-r/-f; logplay -r/-m/-c', () => {
    const other = emuDevice(8 * GiB, 'compat-mount');
    assert.equal(MKFS_FUSE(other).status, 0);
    const m2 = trackedMountpoint();
    oneLine(famfs(['mount', '-r', '-m', other, m2]), 1, /mutually exclusive/);
    const v = famfs(['mount', '-r', '-vvv', other, m2]);
    assert.equal(v.status, 0, v.stderr);
    assert.match(v.stderr, /warning: the read option can cause cache coherency problems/);
    assert.match(v.stdout, new RegExp(`^daxdev=${other}, mpt=${m2}$`, 'm'));
    assert.match(v.stdout, /daemon configuration/);
    // -R: already mounted here by this host, nothing to do; without -R a second mount is refused.
    assert.equal(famfs(['mount', '-R', other, m2]).status, 0);
    assert.notEqual(famfs(['mount', other, m2]).status, 0);
    umountFamfs(m2);

    for (const args of [['-m'], ['-f'], ['-vv']]) assert.equal(famfs(['fsck', ...args, mnt]).status, 0, args.join(' '));
    const r = famfs(['fsck', '-r', mnt]);
    assert.equal(r.status, 0);
    assert.match(r.stderr, /read option/);
    oneLine(famfs(['fsck', '-rm', mnt]), 1, /mutually exclusive/);
    oneLine(famfs(['logplay', '-rm', mnt]), 1, /mutually exclusive/);
    assert.equal(famfs(['logplay', '-rc', mnt]).status, 0);
  });

  it('fsck -B: the device in buckets, upstream\'s layout with real figures', () => {
    assert.equal(famfs(['creat', '-s', '64m', '-N', '2', '-B', '4', join(mnt, 'bucketed')]).status, 0);
    const r = famfs(['fsck', '-B', '4', mnt]);
    assert.equal(r.status, 0, r.stderr);
    const info = r.stdout.slice(r.stdout.indexOf('Stripe bucket info:'));
    assert.match(info, /^Stripe bucket info:\n  Wasted overhang: 0 bytes \(0 au\)\n/);
    const sizes = [...info.matchAll(/^ {4}Size: +(\d+)$/gm)].map((m) => Number(m[1]));
    const used = [...info.matchAll(/^ {4}In use: (\d+)$/gm)].map((m) => Number(m[1]));
    const free = [...info.matchAll(/^ {4}Free: +(\d+)$/gm)].map((m) => Number(m[1]));
    assert.deepEqual(sizes, [2, 2, 2, 2].map((g) => g * GiB));
    for (let i = 0; i < 4; i++) assert.equal(used[i]! + free[i]!, sizes[i], 'in use is counted once');
    // Every allocated unit is in some bucket: the superblock, the log and every file.
    const fs = FamfsHandle.open(dev, { writable: false });
    try {
      assert.equal(used.reduce((a, b) => a + b, 0), fs.deviceUsage()[0]!.allocatedUnits * 2 * 1024 * 1024);
    } finally {
      fs.close();
    }
  });

  it('getmap: upstream\'s text, -c goes on past a bad file, statuses', () => {
    assert.equal(famfs(['creat', '-s', '3m', join(mnt, 'plain')]).status, 0);
    const fs = FamfsHandle.open(dev, { writable: false });
    const fmap = fs.lookup('plain')!;
    const il = fs.lookup('bucketed')!;
    fs.close();
    assert.equal(fmap.kind, 'file');
    const g = famfs(['getmap', join(mnt, 'plain'), join(mnt, 'bucketed')]);
    assert.equal(g.status, 0, g.stderr);
    const e = fmap.kind === 'file' && fmap.fmap.kind === 'simple' ? fmap.fmap.extents[0]! : assert.fail('simple');
    assert.ok(g.stdout.includes(`File:     ${join(mnt, 'plain')}\n\tsize:    ${3 * 1024 * 1024}\n\textents: 1\n\t\t${e.offset.toString(16)}\t${e.len}\nfamfs_getmap: good file ${join(mnt, 'plain')}\n`), g.stdout);
    const strips = il.kind === 'file' && il.fmap.kind === 'interleaved' ? il.fmap.strips : assert.fail('interleaved');
    assert.ok(g.stdout.includes(`\textents: 1\nInterleave_Param chunk_size: 2097152\nInterleaved extent has 2 strips:\n${strips.map((s) => `\t\t${s.offset.toString(16)}\t${s.len}\n`).join('')}`), g.stdout);
    const bad = famfs(['getmap', join(mnt, 'nothere'), join(mnt, 'plain')]);
    assert.equal(bad.status, 9);
    assert.doesNotMatch(bad.stdout, /good file/);
    const c = famfs(['getmap', '-c', join(mnt, 'nothere'), join(mnt, 'plain')]);
    assert.equal(c.status, 9);
    assert.match(c.stdout, /good file .*plain/);
    assert.equal(famfs(['getmap', '-c', mnt]).status, 21);
    assert.equal(famfs(['getmap', '/etc/passwd']).status, 1);
  });

  it('verify -v; creat -t and verify -t fill and check several files on worker threads', () => {
    const f = join(mnt, 'seeded');
    assert.equal(famfs(['creat', '-M', `${f},5m,77`]).status, 0);
    const v = famfs(['verify', '-v', '-S', '77', '-f', f]);
    assert.equal(v.status, 0, v.stderr);
    assert.match(v.stdout, /seed 77/);
    assert.match(v.stdout, /Success: verified 5242880 bytes/);
    const files = ['t1', 't2', 't3'].map((n) => join(mnt, n));
    const c = famfs(['creat', '-t', '3', ...files.flatMap((p, i) => ['-M', `${p},${3 + i}m,${100 + i}`])]);
    assert.equal(c.status, 0, c.stderr);
    for (const [i, p] of files.entries()) assert.match(c.stdout, new RegExp(`randomized ${(3 + i) * 1024 * 1024} bytes: ${p}$`, 'm'));
    assert.match(c.stdout, /Randomize complete for 3 of 3 files with 0 errs/);
    // Each file holds its own seed's stream (checked on one thread, then on three).
    for (const [i, p] of files.entries()) assert.equal(famfs(['verify', '-S', String(100 + i), '-f', p]).status, 0);
    const good = famfs(['verify', '-t', '3', ...files.flatMap((p, i) => ['-m', `${p},${100 + i}`])]);
    assert.equal(good.status, 0, good.stderr);
    assert.match(good.stdout, /Verify complete for 3 files with 0 errs/);
    const bad = famfs(['verify', '-t', '2', '-m', `${files[0]},100`, '-m', `${files[1]},999`, '-m', `${files[2]},102`]);
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, new RegExp(`Verify fail: ${files[1]} at offset 0 of ${4 * 1024 * 1024} bytes`));
    assert.match(bad.stdout, /Verify complete for 3 files with 1 errs/);
  });

  it('.meta/.alloc.cfg in the mount\'s shadow tree is creat\'s and cp\'s default interleave', () => {
    const cfg = join(shadow, 'root', '.meta', '.alloc.cfg');
    writeFileSync(cfg, '---\ninterleaved_alloc:\n  nbuckets: 4\n  nstrips: 2\n  chunk_size: 2m\n...\n');
    try {
      assert.equal(famfs(['creat', '-s', '16m', join(mnt, 'cfg-creat')]).status, 0);
      const src = join(mkdtempSync('/tmp/famfs-compat-src-'), 'src');
      writeFileSync(src, Buffer.alloc(6 * 1024 * 1024, 7));
      assert.equal(famfs(['cp', src, join(mnt, 'cfg-cp')]).status, 0);
      rmSync(join(src, '..'), { recursive: true });
      writeFileSync(cfg, '---\ninterleaved_alloc:\n  nbuckets: 4\n  colour: blue\n...\n');
      const warned = famfs(['creat', '-s', '16m', join(mnt, 'cfg-bad')]);
      assert.equal(warned.status, 0);
      assert.match(warned.stderr, /ignoring .*alloc.cfg.*unknown key 'colour'/);
    } finally {
      rmSync(cfg, { force: true });
    }
    const fs = FamfsHandle.open(dev, { writable: false });
    try {
      for (const name of ['cfg-creat', 'cfg-cp']) {
        const n = fs.lookup(name)!;
        assert.ok(n.kind === 'file' && n.fmap.kind === 'interleaved' && n.fmap.nstrips === 2, name);
      }
      const b = fs.lookup('cfg-bad')!;
      assert.ok(b.kind === 'file' && b.fmap.kind === 'simple');
    } finally {
      fs.close();
    }
  });
});

describe('3. behaviours scripts rely on', () => {
  it('creat --multi goes in order: a file before a path outside famfs is created, then the command fails', () => {
    // Run in the mount, as upstream's scripts do, so `ordered` is a path in famfs.
    const r = runCli(FAMFS_BIN, ['creat', '--multi', 'ordered,4k', '--multi', '/not/famfs,4M'], { cwd: mnt });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stdout, /Create complete for 1 of 2 files with 1 errs/);
    assert.equal(statSync(join(mnt, 'ordered')).size, 4096);
  });

  it('creat -M file,0,seed keeps the existing file\'s size and fills it', () => {
    const f = join(mnt, 'ordered');
    const r = famfs(['creat', '-M', `${f},0,1234`]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /randomized 4096 bytes/);
    assert.equal(famfs(['verify', '-S', '1234', '-f', f]).status, 0);
  });

  it('flush and chkread -l/-s take the meta files\' paths', () => {
    const log = join(mnt, '.meta', '.log');
    const sb = join(mnt, '.meta', '.superblock');
    assert.equal(famfs(['flush', log, sb]).status, 0);
    for (const [flag, path] of [['-l', log], ['-s', sb]] as const) {
      const r = famfs(['chkread', flag, path]);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /Read and mmap match/);
    }
    assert.notEqual(famfs(['chkread', '-s', join(mnt, 'badfilexx')]).status, 0);
    assert.notEqual(famfs(['chkread']).status, 0);
  });

  it('fsck <device> while this host has it mounted is refused with upstream\'s message and EBUSY; fsck by the mount works', () => {
    oneLine(famfs(['fsck', dev]), 16, /cannot fsck by device \(.*\) when mounted/);
    assert.equal(famfs(['fsck', mnt]).status, 0);
  });
});

describe('8. devadd and daxdev', () => {
  it('devadd <target> <daxdev> adds a device; daxdev list and resolve find it', () => {
    const second = emuDevice(4 * GiB, 'compat-second');
    const r = famfs(['devadd', mnt, second]);
    assert.equal(r.status, 0, r.stderr);
    const list = famfs(['daxdev', 'list', mnt]);
    assert.equal(list.status, 0, list.stderr);
    const lines = list.stdout.trim().split('\n');
    assert.equal(lines.length, 3);
    assert.match(lines[2]!, new RegExp(`^1\t[0-9a-f-]{36}\t${4 * GiB}\t${second}$`));
    const fsUuid = /^famfs (\S+):/.exec(lines[0]!)![1]!;
    const devUuid = lines[2]!.split('\t')[1]!;
    const res = famfs(['daxdev', 'resolve', fsUuid, devUuid]);
    assert.equal(res.status, 0, res.stderr);
    assert.equal(res.stdout, `${second}\n`);
    assert.notEqual(famfs(['daxdev', 'resolve', fsUuid, '00000000-0000-4000-8000-000000000000']).status, 0);
  });
});

describe('4. shadow YAML', () => {
  it('mount -S writes upstream\'s tree and the mount names it in user.famfs.shadow', () => {
    assert.equal(xattr(mnt, 'user.famfs.shadow'), shadow);
    const sbYaml = readFileSync(join(shadow, 'root', '.meta', '.superblock'), 'utf8');
    assert.equal(sbYaml, '---\nfile:\n  path: .meta/.superblock\n  size: 2097152\n  flags: 0\n  mode: 0444\n  uid: 0\n  gid: 0\n  nextents: 1\n'
      + '  simple_ext_list:\n  - devindex: 0\n    offset: 0x0\n    length: 0x200000\n...\n');
    // Files created after the mount reach the tree as the daemon follows the log.
    assert.ok(existsSync(join(shadow, 'root', 'plain')));
  });

  it('logplay -S writes one YAML file per file, byte for byte as upstream\'s emitter; --shadowtest round-trips it', () => {
    const dir = mkdtempSync('/tmp/famfs-compat-lp-');
    try {
      mkdirSync(join(dir, 'root'));
      const r = famfs(['logplay', '-S', dir, '-v', mnt]);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /^famfs_logplay\(shadow\): \d+ log entries; \d+ new files; \d+ new directories$/m);
      const fs = FamfsHandle.open(dev, { writable: false });
      const plain = fs.lookup('plain')!;
      const il = fs.lookup('bucketed')!;
      fs.close();
      assert.ok(plain.kind === 'file' && plain.fmap.kind === 'simple' && il.kind === 'file' && il.fmap.kind === 'interleaved');
      const e = plain.fmap.extents[0]!;
      const text = readFileSync(join(dir, 'root', 'plain'), 'utf8');
      assert.equal(text, `---\nfile:\n  path: plain\n  size: ${plain.size}\n  flags: ${plain.flags}\n  mode: 0${plain.mode.toString(8)}\n  uid: ${plain.uid}\n  gid: ${plain.gid}\n`
        + `  nextents: 1\n  simple_ext_list:\n  - devindex: 0\n    offset: 0x${e.offset.toString(16)}\n    length: 0x${e.len.toString(16)}\n...\n`);
      const ilText = readFileSync(join(dir, 'root', 'bucketed'), 'utf8');
      assert.equal(ilText, `---\nfile:\n  path: bucketed\n  size: ${il.size}\n  flags: ${il.flags}\n  mode: 0${il.mode.toString(8)}\n  uid: ${il.uid}\n  gid: ${il.gid}\n`
        + `  nextents: 1\n  striped_ext_list:\n  - nstrips: 2\n    chunk_size: 0x200000\n    simple_ext_list:\n`
        + il.fmap.strips.map((s) => `    - devindex: ${s.devIndex}\n      offset: 0x${s.offset.toString(16)}\n      length: 0x${s.len.toString(16)}\n`).join('') + '...\n');
      // A YAML library reads it back to the same fields.
      const doc = parseYaml(ilText) as { file: { size: number; striped_ext_list: { nstrips: number; simple_ext_list: { offset: number }[] }[] } };
      assert.equal(doc.file.size, il.size);
      assert.deepEqual(doc.file.striped_ext_list[0]!.simple_ext_list.map((s) => s.offset), il.fmap.strips.map((s) => s.offset));
      // Replaying again finds everything; --shadowtest checks every file against its entry.
      const t = famfs(['logplay', '--shadow', dir, '--shadowtest', mnt]);
      assert.equal(t.status, 0, t.stdout);
      assert.match(t.stdout, /0 new files/);
      assert.match(t.stdout, /there were 0 yaml errors detected/);
      // A shadow file that no longer matches its entry is a yaml error and a file error, as upstream counts it.
      writeFileSync(join(dir, 'root', 'plain'), text.replace(/size: \d+/, 'size: 1'));
      const bad = famfs(['logplay', '--shadow', dir, '--shadowtest', mnt]);
      assert.equal(bad.status, 2);
      assert.match(bad.stdout, /there were 1 yaml errors detected/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('logplay --daxdev plays an unmounted device; upstream\'s argument errors', () => {
    const other = emuDevice(8 * GiB, 'compat-dax');
    assert.equal(MKFS_FUSE(other).status, 0);
    assert.equal(famfs(['mkdir', '--device', other, 'd']).status, 0);
    const base = mkdtempSync('/tmp/famfs-compat-dax-');
    const root = join(base, 'shadowpath', 'root');
    try {
      assert.notEqual(famfs(['logplay', '--shadow', join(root, 'frob'), '--daxdev', other, '-vv']).status, 0);
      oneLine(famfs(['logplay', '--daxdev', other, '-vv', root]), 1, /daxdev only used with shadow logplay/);
      assert.notEqual(famfs(['logplay', '--shadow', '/etc/passwd', '--daxdev', other]).status, 0);
      mkdirSync(root, { recursive: true });
      assert.equal(famfs(['logplay', '--shadow', root, '--daxdev', other, '-vv']).status, 0);
      assert.ok(statSync(join(root, 'd')).isDirectory());
      assert.equal(famfs(['logplay', '--shadow', root, '--daxdev', other, '-vv']).status, 0, 'a replay again is fine');
      assert.equal(famfs(['logplay', '--shadow', root, '--shadow', root, '--daxdev', other]).status, 22);
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });

  it('a mount without -S gets upstream\'s /tmp/famfs_shadow_XXXXXX, removed when it ends; a -S root goes with the mount', () => {
    const other = emuDevice(8 * GiB, 'compat-default');
    assert.equal(MKFS_FUSE(other).status, 0);
    const m2 = mountFamfs(other, MASTER_UUID);
    const s = xattr(m2, 'user.famfs.shadow');
    assert.match(s, /^\/tmp\/famfs_shadow_/);
    assert.ok(statSync(join(s, 'root')).isDirectory());
    umountFamfs(m2);
    assert.equal(existsSync(s), false);
    // A daemon killed outright cannot remove it: famfs umount, recovering the mount, does.
    const m5 = mountFamfs(other, MASTER_UUID);
    const s5 = xattr(m5, 'user.famfs.shadow');
    process.kill(readRecord(m5)!.pid, 'SIGKILL');
    umountFamfs(m5);
    assert.equal(existsSync(s5), false, 'the shadow directory of a killed daemon');
    const own = mkdtempSync('/tmp/famfs-compat-own-');
    try {
      const m3 = mountFamfs(other, MASTER_UUID, ['-S', own]);
      assert.ok(readdirSync(join(own, 'root')).includes('d') || readdirSync(join(own, 'root')).includes('.meta'));
      // upstream: <shadow>/root must not exist yet.
      const m4 = trackedMountpoint();
      const third = emuDevice(8 * GiB, 'compat-x');
      assert.equal(MKFS_FUSE(third).status, 0);
      oneLine(famfs(['mount', '-S', own, third, m4]), 1, /shadow root path/);
      assert.equal(isMounted(m4), false);
      umountFamfs(m3);
      assert.equal(existsSync(join(own, 'root')), false);
      assert.ok(existsSync(own), 'the directory given with -S stays');
    } finally {
      rmSync(own, { recursive: true, force: true });
    }
  });
});

describe('5. famfs_fused', () => {
  it('upstream\'s command line: help and version, refused sources, a mount it serves', () => {
    assert.equal(runCli(FUSED_BIN, ['--help']).status, 0);
    const v = runCli(FUSED_BIN, ['-V']);
    assert.equal(v.status, 0);
    assert.match(v.stdout, /version \d+\.\d+\.\d+/);
    const m2 = trackedMountpoint();
    oneLine(runCli(FUSED_BIN, [m2]), 1, /missing source/);
    oneLine(runCli(FUSED_BIN, ['-o', 'source=/etc/passwd', m2]), 1, /not a directory/);
    oneLine(runCli(FUSED_BIN, ['-o', 'source=/nonexistent/famfs', m2]), 1, /does not exist/);
    oneLine(runCli(FUSED_BIN, ['-o', `source=${shadow}`]), 1, /missing mountpoint/);
    const other = emuDevice(8 * GiB, 'compat-fused');
    assert.equal(MKFS_FUSE(other).status, 0);
    const src = mkdtempSync('/tmp/famfs-compat-fused-');
    mkdirSync(join(src, 'root'));
    try {
      const r = runCli(FUSED_BIN, ['-o', `source=${src},daxdev=${other},timeout=5,cache=auto,readdirplus,no_flock,allow_other`, m2]);
      assert.equal(r.status, 0, r.stderr);
      assert.ok(isMounted(m2));
      assert.equal(statSync(join(m2, '.meta', '.superblock')).size, 2 * 1024 * 1024);
      assert.equal(xattr(m2, 'user.famfs.shadow'), src);
      umountFamfs(m2);
      assert.ok(existsSync(join(src, 'root')), 'famfs_fused leaves the source it was given');
    } finally {
      rmSync(src, { recursive: true, force: true });
    }
  });
});
