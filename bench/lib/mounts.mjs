// Mounting both servers the same way for the FUSE cases, and dd as the one reader for both.
// The C reference is ../shared/anchors/cfuse (libfuse3 low level): its sources are built by its own
// build.sh in a cache directory outside the work tree (the anchor folder is read-only by intent),
// and the binary is started and stopped here; nothing of it is copied into the project.
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { processAlive } from '../../dist/src/mounts/process-state.js';
import { readRecord } from '../../dist/src/mounts/registry.js';
import { BENCH_PREFIX, FAMFS_CLI, GB, MIB, famfs, isMounted, onCleanup, run, cleanupNow } from './common.mjs';

export const CFUSE_SRC = process.env.CFUSE_DIR ?? join('/work', 'shared', 'anchors', 'cfuse');
const CFUSE_BUILD = join('/var/tmp', `${BENCH_PREFIX}cfuse`);
/** The same C server on libfuse 3.18 with FUSE over io_uring (../shared/anchors/cfuse-uring). */
const CFUSE_URING_SRC = process.env.CFUSE_URING_DIR ?? join('/work', 'shared', 'anchors', 'cfuse-uring');
const CFUSE_URING_BUILD = join('/var/tmp', `${BENCH_PREFIX}cfuse-uring`);
const LIBFUSE_GIT = process.env.LIBFUSE_GIT ?? '/work/.mirror/libfuse+libfuse/repo';
/** Where cfuse-uring's build.sh puts its binaries. */
export const CFUSE_URING_BIN = {
  memfs: join(CFUSE_URING_BUILD, 'bin', 'memfs_ll-3.18'),
  statloop: join(CFUSE_URING_BUILD, 'bin', 'statloop'),
};
/** What each anchor folder holds: its build script and the two programs. */
const ANCHOR_FILES = ['build.sh', 'memfs_ll.c', 'statloop.c'];
/** 1 MiB requests, the anchor's own setting (libfuse 3.14's upper bound); ours negotiates the same. */
export const MAX_PAGES = 256;
/** Generous: on a loaded 2-CPU machine a daemon start has taken seconds. */
const MOUNT_WAIT_MS = 30_000;
const POLL_MS = 20;

/** Copies an anchor's files from `src` into `dir` and runs its build.sh there with `env` added. */
function buildAnchor(src, dir, env = {}) {
  mkdirSync(dir, { recursive: true });
  for (const f of ANCHOR_FILES) {
    const dst = join(dir, f);
    // A fresh copy is newer than the binaries: copy only what changed, so build.sh stays a no-op.
    if (existsSync(dst) && readFileSync(dst).equals(readFileSync(join(src, f)))) continue;
    copyFileSync(join(src, f), dst);
    chmodSync(dst, 0o755);
  }
  run(join(dir, 'build.sh'), [], { env: { ...process.env, ...env }, stdio: ['ignore', 'inherit', 'inherit'] });
}

/** Builds memfs_ll and statloop (build.sh is a no-op when they are up to date). */
export function buildCfuse() {
  buildAnchor(CFUSE_SRC, CFUSE_BUILD);
  return { memfs: join(CFUSE_BUILD, 'memfs_ll'), statloop: join(CFUSE_BUILD, 'statloop') };
}

/** memfs_ll on libfuse 3.18 (io_uring) and statloop, built from the libfuse git mirror (a no-op when up to date). */
export function buildCfuseUring() {
  buildAnchor(CFUSE_URING_SRC, CFUSE_URING_BUILD, { OUT: CFUSE_URING_BUILD, LIBFUSE_GIT });
  return CFUSE_URING_BIN;
}

/** An empty mount point removed on cleanup (after any unmount registered later). */
export function mountPoint(tag) {
  const dir = mkdtempSync(join('/tmp', `${BENCH_PREFIX}${tag}-${process.pid}-`));
  onCleanup(() => rmdirSync(dir));
  return dir;
}

function sleep(ms) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function waitMounted(mnt, alive) {
  const deadline = Date.now() + MOUNT_WAIT_MS;
  while (!isMounted(mnt)) {
    if (!alive()) throw new Error(`server for ${mnt} exited before mounting`);
    if (Date.now() > deadline) throw new Error(`${mnt} not mounted after ${MOUNT_WAIT_MS} ms`);
    sleep(POLL_MS);
  }
}

/** Detaches whatever is still mounted at mnt; the last resort of every cleanup. */
function forceUnmount(mnt) {
  if (!isMounted(mnt)) return;
  spawnSync('fusermount3', ['-u', mnt]);
  if (isMounted(mnt)) spawnSync('umount', ['-l', mnt]);
}

/**
 * memfs_ll BACKING MNT -f -o max_pages=256,nopopulate,<opts>; returns a stop() that unmounts and
 * reaps it. nopopulate: the backing is a sparse device, and MAP_POPULATE would allocate tmpfs pages
 * for all of it; the pages read are resident anyway and each case reads once untimed first.
 */
export function startCfuse(bin, backing, mnt, opts) {
  const child = spawn(bin, [backing, mnt, '-f', '-o', [`max_pages=${MAX_PAGES}`, 'nopopulate', ...opts].join(',')], { stdio: ['ignore', 'ignore', 'inherit'] });
  let exited = false;
  child.on('exit', () => { exited = true; });
  const undo = onCleanup(() => {
    forceUnmount(mnt);
    if (!exited) child.kill('SIGKILL');
  });
  waitMounted(mnt, () => !exited && child.exitCode === null);
  return {
    pid: child.pid,
    stop: () => cleanupNow(() => {
      forceUnmount(mnt);
      // memfs_ll exits by itself once unmounted; the SIGKILL is for a server that hung.
      const deadline = Date.now() + MOUNT_WAIT_MS;
      while (child.exitCode === null && child.signalCode === null && Date.now() < deadline) {
        // This loop is synchronous, so Node has not reaped the child: an exited one is a zombie.
        if (!processAlive(child.pid)) break;
        sleep(POLL_MS);
      }
      child.kill('SIGKILL');
      undo();
    }),
  };
}

/** `famfs mount <args> dev mnt` as the master; returns the daemon pid and a stop() (famfs umount). */
export function startFamfs(dev, mnt, args) {
  const undo = onCleanup(() => {
    if (isMounted(mnt)) spawnSync(process.execPath, [FAMFS_CLI, 'umount', mnt]);
    forceUnmount(mnt);
  });
  famfs(['mount', ...args, dev, mnt]);
  return {
    pid: daemonPid(mnt),
    stop: () => cleanupNow(() => {
      famfs(['umount', mnt]);
      undo();
    }),
  };
}

/** The daemon serving mnt, from the record it writes once it serves. */
export function daemonPid(mnt) {
  return readRecord(mnt)?.pid ?? null;
}

/** [command, args] that run `cmd` on CPU `cpu` (taskset), or as is when cpu is null. */
export function onCpu(cpu, cmd, args) {
  return cpu === null ? [cmd, args] : ['taskset', ['-c', String(cpu), cmd, ...args]];
}

/**
 * dd if=file bs=bs count=count skip=skipBytes/bs of=/dev/null, as the anchor's bench.sh does
 * (iflag=skip_bytes keeps skip independent of bs), on CPU `cpu` when given: dd's own byte count
 * and time.
 */
export function ddSeconds(file, bs, count, skipBytes = 0, cpu = null) {
  const r = spawnSync(...onCpu(cpu, 'dd', [`if=${file}`, 'of=/dev/null', `bs=${bs}`, `count=${count}`, `skip=${skipBytes}`, 'iflag=skip_bytes']), { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`dd ${file}: ${r.stderr}`);
  const m = /(\d+) bytes .* copied, ([\d.e-]+) s/.exec(r.stderr);
  if (!m) throw new Error(`dd ${file}: cannot parse ${r.stderr}`);
  return { bytes: Number(m[1]), seconds: Number(m[2]) };
}

/** GB/s of reading `bytes` of `file` in blocks of `bs` from `skipBytes` on (ddSeconds). */
export function ddRate(file, bs, bytes, skipBytes = 0) {
  const d = ddSeconds(file, bs, Math.floor(bytes / bs), skipBytes);
  return d.bytes / d.seconds / GB;
}

export const BS_1M = MIB;
export const BS_128K = 128 * 1024;

/** Whether process `pid` holds an io_uring (FUSE over io_uring sets one up; /dev/fuse does not). */
function holdsIoUring(pid) {
  return readdirSync(`/proc/${pid}/fd`).some((fd) => {
    try {
      return readlinkSync(`/proc/${pid}/fd/${fd}`) === 'anon_inode:[io_uring]';
    } catch {
      return false;
    }
  });
}

const RING_WAIT_MS = 5000;

/**
 * Throws unless server `pid` holds an io_uring (`want` true: it serves on the ring) or holds none
 * (false). A server sets its ring up around INIT, which may be after the mount appeared: it is
 * given a moment.
 */
export function mustUseRing(name, pid, want = true) {
  const deadline = Date.now() + RING_WAIT_MS;
  while (pid === null || holdsIoUring(pid) !== want) {
    if (Date.now() > deadline) throw new Error(`${name} (pid ${pid}) ${want ? 'holds no io_uring: it fell back to /dev/fuse' : 'holds an io_uring'}`);
    sleep(POLL_MS);
  }
}
