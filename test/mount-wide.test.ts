import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { daemonStatusOf } from '../src/daemon/diag-client.js';
import { FamfsHandle } from '../src/fs/famfs.js';
import { mkfs } from '../src/fs/mkfs.js';
import { readRecord } from '../src/mounts/registry.js';
import { cleanupDevices, emuDevice, GiB, master, MASTER_UUID, MiB } from './helpers/emu.js';
import { cleanupMounts, mountFamfs } from './helpers/mounts.js';
import { eventually } from './helpers/wait.js';

after(() => {
  cleanupMounts();
  cleanupDevices();
});

/** Files in the one wide directory: READDIRPLUS answers it in hundreds of batches. */
const WIDE = 100_000;
/** A small tree beside it, for `find` over the whole mount. */
const TREE_DIRS = 20;
const TREE_FILES = 50;
/** 101,021 entries need a 64 MiB log (120,000 slots); every file takes one 2 MiB unit. */
const LOG_LEN = 64 * MiB;
const DEVICE = 256 * GiB;
/** Long enough that nothing the kernel was told expires during a listing on a loaded machine. */
const TIMEOUT_S = 600;

const MODES = [0o644, 0o600, 0o444, 0o640, 0o755];
const wideFile = (i: number) => ({
  name: `f${i}`, size: 1 + (i % 7) * 300_000, mode: MODES[i % MODES.length]!, uid: 1000 + (i % 3), gid: 2000 + (i % 5),
});

const treeFileSize = (j: number) => 4096 * (j + 1);

/** `ls -l`'s mode column for a regular file with these permission bits. */
function modeText(mode: number): string {
  const rwx = (bits: number) => `${bits & 4 ? 'r' : '-'}${bits & 2 ? 'w' : '-'}${bits & 1 ? 'x' : '-'}`;
  return `-${rwx(mode >> 6)}${rwx(mode >> 3)}${rwx(mode)}`;
}

function run(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 256 * MiB, env: { ...process.env, LC_ALL: 'C' } });
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/**
 * Reads a directory with readdir(3), noting telldir(3) before each entry, then seekdir(3)s back
 * to sampled positions and reads on: glibc turns each seek into an lseek of the directory, so the
 * next getdents asks the daemon for a batch starting at that cookie.
 */
const SEEKDIR_PY = `
import ctypes, json, sys
libc = ctypes.CDLL(None, use_errno=True)
class Dirent(ctypes.Structure):
    _fields_ = [('d_ino', ctypes.c_uint64), ('d_off', ctypes.c_int64), ('d_reclen', ctypes.c_ushort), ('d_type', ctypes.c_ubyte), ('d_name', ctypes.c_char * 256)]
libc.opendir.restype = ctypes.c_void_p
libc.readdir.restype = ctypes.POINTER(Dirent)
libc.readdir.argtypes = [ctypes.c_void_p]
libc.telldir.restype = ctypes.c_long
libc.telldir.argtypes = [ctypes.c_void_p]
libc.seekdir.argtypes = [ctypes.c_void_p, ctypes.c_long]
libc.closedir.argtypes = [ctypes.c_void_p]
d = libc.opendir(sys.argv[1].encode())
assert d, 'opendir'
def read():
    e = libc.readdir(d)
    return e.contents.d_name.decode() if e else None
positions, names = [], []
while True:
    p = libc.telldir(d)
    n = read()
    if n is None: break
    positions.append(p); names.append(n)
resumed = []
for k in [int(x) for x in sys.argv[2].split(',')]:
    libc.seekdir(d, positions[k])
    resumed.append([k, [read() for _ in range(3)]])
libc.closedir(d)
print(json.dumps({'names': names, 'resumed': resumed}))
`;

describe(`a mount of a log with a directory of ${WIDE.toLocaleString('en-US')} files`, () => {
  let mnt = '';
  let sock = '';

  before(async () => {
    const dev = emuDevice(DEVICE, 'wide');
    mkfs(dev, { systemUuid: master, logLen: LOG_LEN });
    const fs = FamfsHandle.open(dev, { writable: true, systemUuid: master });
    try {
      fs.withLog((s) => {
        s.mkdir('wide');
        for (let i = 0; i < WIDE; i++) {
          const f = wideFile(i);
          s.creat(`wide/${f.name}`, { size: f.size, mode: f.mode, uid: f.uid, gid: f.gid });
        }
        s.mkdir('tree');
        for (let d = 0; d < TREE_DIRS; d++) {
          s.mkdir(`tree/d${d}`);
          for (let j = 0; j < TREE_FILES; j++) s.creat(`tree/d${d}/g${j}`, { size: treeFileSize(j) });
        }
      });
    } finally {
      fs.close();
    }
    mnt = mountFamfs(dev, MASTER_UUID, ['-t', String(TIMEOUT_S)]);
    sock = join(readRecord(mnt)!.shadowPath!, 'sock');
    await eventually('diagnostics socket', () => existsSync(sock));
  });

  const opcodeCount = async (name: string): Promise<number> => (await daemonStatusOf(sock)).requests.byOpcode[name]?.requests ?? 0;

  it('ls -l shows every name with its logged mode, owner, group and size, and asks for no ACL or label per file', async () => {
    const xattrsBefore = await opcodeCount('GETXATTR');
    const lines = run('ls', ['-ln', '--time-style=+T', join(mnt, 'wide')]).trimEnd().split('\n');
    assert.match(lines.shift()!, /^total \d+$/);
    const expected = Array.from({ length: WIDE }, (_, i) => wideFile(i)).sort((a, b) => (a.name < b.name ? -1 : 1));
    assert.equal(lines.length, WIDE);
    for (let i = 0; i < WIDE; i++) {
      const f = expected[i]!;
      assert.deepEqual(lines[i]!.split(/\s+/), [modeText(f.mode), '1', String(f.uid), String(f.gid), String(f.size), 'T', f.name], `line ${i}`);
    }
    // famfs has no security.* or system.* attributes and says so (EOPNOTSUPP): ls stops asking.
    assert.ok((await opcodeCount('GETXATTR')) - xattrsBefore <= 4, 'ls -l probed xattrs per file');
  });

  it('telldir/seekdir resume the listing at the same entry from any position, across batches', () => {
    // The edges, and every 3,989th entry: positions all through the daemon's replies (~6,500
    // records of 1 MiB each) and glibc's getdents buffer (1 MiB of dirent64, ~32,768 names); each
    // seek refills that buffer from the daemon.
    const samples = [0, 1, 2, 3, ...Array.from({ length: 25 }, (_, i) => (i + 1) * 3989), WIDE - 1];
    const out = JSON.parse(run('python3', ['-c', SEEKDIR_PY, join(mnt, 'wide'), samples.join(',')])) as {
      names: string[]; resumed: [number, (string | null)[]][];
    };
    assert.equal(out.names.length, WIDE + 2);
    assert.deepEqual(out.names.slice(0, 2), ['.', '..']);
    assert.deepEqual([...out.names.slice(2)].sort(), Array.from({ length: WIDE }, (_, i) => `f${i}`).sort());
    for (const [k, next] of out.resumed) assert.deepEqual(next, [0, 1, 2].map((j) => out.names[k + j] ?? null), `resumed at entry ${k}`);
  });

  it('find lists every file and directory; attributes come with the listing (no LOOKUP per name)', async () => {
    const lookupsBefore = await opcodeCount('LOOKUP');
    const found = run('find', [mnt, '-path', join(mnt, '.meta'), '-prune', '-o', '-printf', '%y %s %P\n']).trimEnd().split('\n');
    const lookups = (await opcodeCount('LOOKUP')) - lookupsBefore;
    const want = ['d 0 ', 'd 0 wide', ...Array.from({ length: WIDE }, (_, i) => `f ${wideFile(i).size} wide/f${i}`)];
    want.push('d 0 tree');
    for (let d = 0; d < TREE_DIRS; d++) {
      want.push(`d 0 tree/d${d}`);
      for (let j = 0; j < TREE_FILES; j++) want.push(`f ${treeFileSize(j)} tree/d${d}/g${j}`);
    }
    // The root is "d 0 " (an empty %P); .meta is pruned, so not printed.
    assert.deepEqual(found.sort(), want.sort());
    // Every stat find made was answered by what READDIRPLUS gave the kernel.
    assert.ok(lookups < TREE_DIRS + 10, `${lookups} LOOKUPs`);
  });

  it('names outside user.famfs.* : no such namespace outside user.*, no such attribute inside it', () => {
    const names = ['user.famfs.size', 'security.selinux', 'system.posix_acl_access', 'trusted.x', 'user.other'];
    const script = 'import os,sys\nfor n in sys.argv[2:]:\n  try:\n    print(os.getxattr(sys.argv[1], n).decode())\n  except OSError as e:\n    print("errno", e.errno)';
    const got = run('python3', ['-c', script, join(mnt, 'wide', 'f7'), ...names]).trimEnd().split('\n');
    assert.deepEqual(got, [String(wideFile(7).size), 'errno 95', 'errno 95', 'errno 95', 'errno 61']);
  });
});
