/**
 * The file systems the FUSE conformance suite (fuse-generic.test.ts) runs against, each described
 * only by how to mount it, fill it with its own copy tool, unmount and recover it, and which
 * requests it leaves unimplemented.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import type { Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitProcessGone } from '../../src/mounts/process-state.js';
import { readRecord } from '../../src/mounts/registry.js';
import { mkfs } from '../../src/fs/mkfs.js';
import { emuDevice, GiB, master, MASTER_UUID } from './emu.js';
import { famfs } from './run.js';
import { trackServer } from './mounts.js';

const READY_TIMEOUT_MS = 10_000;
const EXIT_TIMEOUT_MS = 5000;
const POLL_MS = 50;
const MEMFS_MAIN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'fuse', 'example', 'memfs-main.js');

type ErrnoName = 'EOPNOTSUPP' | 'ENOSYS' | 'EPERM';

/** A request the file system does not implement; the suite makes it from python3 and expects an errno. */
interface UnimplementedOp {
  readonly op: 'setxattr' | 'removexattr' | 'symlink' | 'link' | 'fallocate';
  /** What the caller may see: the kernel turns an ENOSYS reply to SETXATTR or FALLOCATE into EOPNOTSUPP, to LINK into EPERM. */
  readonly expect: readonly ErrnoName[];
}

/** How the kernel and the server exchange requests after INIT (fuse/session.ts Transport). */
export type TargetTransport = 'dev' | 'uring';

export interface Target {
  readonly name: string;
  readonly transport: TargetTransport;
  /** Whether the files are still there after the serving process died and the mount was remade. */
  readonly persistent: boolean;
  readonly unimplemented: readonly UnimplementedOp[];
  /** Mount at `mnt` (an empty directory); resolves with the pid of the process serving it. */
  mount(mnt: string): Promise<number>;
  /** Copy host directory `src` to `dest` (inside the mount) with the file system's own tool. */
  copyIn(src: string, dest: string): void;
  /** The usual unmount. */
  unmount(mnt: string): void;
  /** Unmount after the serving process was killed. */
  recover(mnt: string): void;
}

/** Every path under `dir`, relative to it, directories included. */
export function walk(dir: string): string[] {
  return (readdirSync(dir, { recursive: true }) as string[]).map(String);
}

export async function waitGone(pid: number, ms = EXIT_TIMEOUT_MS): Promise<boolean> {
  return waitProcessGone(pid, ms, POLL_MS);
}

/**
 * MemFs in its own process (memfs-main), filled with GNU cp through the mount. `answerLater`: every
 * operation answers from a promise on a later turn of the server's event loop (--answer-later).
 */
export function memfsTarget(transport: TargetTransport, { answerLater = false } = {}): Target {
  return {
    name: `example memfs (memfs-main child process)${answerLater ? ' answering from promises' : ''}, ${transport} transport`,
    transport,
    persistent: false,
    unimplemented: [
      { op: 'setxattr', expect: ['EOPNOTSUPP', 'ENOSYS'] },
      { op: 'removexattr', expect: ['EOPNOTSUPP', 'ENOSYS'] },
      { op: 'symlink', expect: ['ENOSYS'] },
      { op: 'link', expect: ['EPERM', 'ENOSYS'] },
      { op: 'fallocate', expect: ['EOPNOTSUPP', 'ENOSYS'] },
    ],
    mount(mnt) {
      const args = [MEMFS_MAIN, mnt, `--transport=${transport}`, ...(answerLater ? ['--answer-later'] : [])];
      const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      trackServer(mnt, child.pid!);
      let out = '';
      let err = '';
      child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
      return new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`memfs did not mount within ${READY_TIMEOUT_MS} ms: ${err}`)), READY_TIMEOUT_MS);
        child.stdout.setEncoding('utf8').on('data', (d: string) => {
          out += d;
          if (out.includes('\n')) {
            clearTimeout(timer);
            // "ready MNT TRANSPORT": a transport other than the one asked for is a fallback.
            if (out.trim().split(' ')[2] !== transport) reject(new Error(`memfs: ${out.trim()}, not on ${transport}: ${err}`));
            // The server lives on its own; only cleanup (or a test) ends it.
            child.unref();
            (child.stdout as unknown as Socket).unref();
            (child.stderr as unknown as Socket).unref();
            resolve(child.pid!);
          }
        });
        child.on('exit', (code) => {
          clearTimeout(timer);
          reject(new Error(`memfs exited with ${code}: ${err}`));
        });
      });
    },
    copyIn(src, dest) {
      const r = spawnSync('cp', ['-r', src, dest], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
    },
    unmount(mnt) {
      const r = spawnSync('umount', [mnt], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
    },
    recover(mnt) {
      // The kernel aborted the connection when the killed server's /dev/fuse fd closed.
      const r = spawnSync('umount', [mnt], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
    },
  };
}

/** The famfs daemon as the master of an emulated device, filled with `famfs cp -r` given mount paths. */
export function famfsTarget(transport: TargetTransport): Target {
  let dev = '';
  return {
    name: `famfs daemon (famfs mount, master), ${transport} transport`,
    transport,
    persistent: true,
    unimplemented: [
      { op: 'setxattr', expect: ['EOPNOTSUPP', 'ENOSYS'] },
      { op: 'removexattr', expect: ['EOPNOTSUPP', 'ENOSYS'] },
      { op: 'fallocate', expect: ['EOPNOTSUPP', 'ENOSYS'] },
    ],
    async mount(mnt) {
      if (dev === '') {
        dev = emuDevice(8 * GiB, 'generic');
        mkfs(dev, { systemUuid: master });
      }
      const r = famfs(['mount', '--transport', transport, dev, mnt], MASTER_UUID);
      assert.equal(r.status, 0, r.stderr);
      const rec = readRecord(mnt);
      assert.ok(rec, 'the daemon registered its mount');
      trackServer(mnt, rec.pid);
      return rec.pid;
    },
    copyIn(src, dest) {
      const r = famfs(['cp', '-r', '-q', src, dest], MASTER_UUID);
      assert.equal(r.status, 0, r.stderr);
      // famfs cp wrote the log itself; the daemon finds the new entries on the first lookup that misses.
      assert.ok(statSync(dest).isDirectory());
      assert.equal(walk(dest).length, walk(src).length);
    },
    unmount(mnt) {
      const r = famfs(['umount', mnt]);
      assert.equal(r.status, 0, r.stderr);
    },
    recover(mnt) {
      const r = famfs(['umount', mnt]);
      assert.equal(r.status, 0, r.stderr);
    },
  };
}
