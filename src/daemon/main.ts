/**
 * The famfs daemon: one process per mount, started by `famfs mount` (bundled as dist/bin/daemon.cjs).
 * It speaks the start-up protocol of mounts/daemon-protocol.ts: its configuration comes on stdin,
 * which `famfs mount` may write well after starting it, and it reports once on the status pipe.
 * It serves until the mount goes away, and unmounts itself on SIGTERM/SIGINT/SIGHUP.
 */
import { closeSync, fchmodSync, fstatSync, openSync, readSync, writeSync } from 'node:fs';
import { loadNative } from '../addon.js';
import { FsError, UsageError } from '../errors.js';
import { FamfsHandle } from '../fs/famfs.js';
import { inoForLogIndex } from '../fs/namespace.js';
import { parseUuid } from '../format/uuid.js';
import { FuseServer } from '../fuse/index.js';
import { type DaemonConfig, errorStatus, parseConfig, STATUS_FD, STATUS_OK } from '../mounts/daemon-protocol.js';
import type { BpfFmaps } from './bpf-fmaps.js';
import { FamfsFuse } from './famfs-fs.js';
import { processStartTime } from '../mounts/process-state.js';
import { liveRecords, RUN_FILE_MODE, removeRecord, takeMountLock, writeRecord } from '../mounts/registry.js';

function report(line: string): void {
  try {
    fstatSync(STATUS_FD);
  } catch {
    return; // started by hand, without a status pipe
  }
  try {
    writeSync(STATUS_FD, `${line}\n`);
    closeSync(STATUS_FD);
  } catch {
    // `famfs mount` gave up waiting; the log has the story.
  }
}

/** The mount point this daemon serves, on every line of its log (set once its configuration is read). */
let logMountpoint = '';

function log(msg: string): void {
  process.stderr.write(`${new Date().toISOString()} famfs daemon[${process.pid}] ${logMountpoint}: ${msg}\n`);
}

async function main(cfg: DaemonConfig): Promise<void> {
  const deviceMap = new Map(Object.entries(cfg.deviceMap ?? {}).map(([i, p]) => [Number(i), p]));
  const fs = FamfsHandle.open(cfg.device, { writable: true, systemUuid: parseUuid(cfg.systemUuid), deviceMap });
  // Held (never closed) until the process ends: this host's one mount of this file system.
  if (takeMountLock(fs.uuid, cfg.systemUuid) === undefined) {
    fs.close();
    const twin = liveRecords().find((r) => r.fsUuid === fs.uuid && r.systemUuid === cfg.systemUuid);
    throw new FsError('EBUSY', `${cfg.device} is already mounted by this host${twin ? ` at ${twin.mountpoint}` : ' (another mount is starting)'}`);
  }
  const devices = fs.checkDevices();
  if (devices.badMap.length > 0 || (devices.missing.length > 0 && !cfg.allowMissing)) {
    fs.close();
    if (devices.badMap.length > 0) throw new UsageError(devices.badMap[0]!);
    throw new FsError('ENODEV', `${devices.missing[0]!.problem} (-o allow-missing serves the rest; files on it then fail with EIO)`);
  }
  const ffs = new FamfsFuse(fs, cfg, devices.missing.map((m) => m.index));
  ffs.log = log;
  for (const m of devices.missing) log(`serving without device ${m.index}: ${m.problem}; files with extents on it fail with EIO`);
  let server: FuseServer;
  try {
    server = await FuseServer.mount(ffs, cfg.mountpoint, {
      fsname: cfg.device, subtype: 'famfs', allowOther: cfg.allowOther, defaultPermissions: cfg.defaultPermissions,
      suid: cfg.suid, dev: cfg.dev,
      onError: (err, where) => log(`${where}: ${(err as Error)?.stack ?? String(err)}`),
      trace: cfg.debug ? (line) => log(line) : undefined,
    });
  } catch (err) {
    ffs.close();
    fs.close();
    throw err;
  }
  let bpf: BpfFmaps | undefined;
  try {
    // Loaded only when asked for: the BPF modules are start-up time every other mount would pay.
    if (cfg.bpfFmap) bpf = await (await import('./bpf-fmaps.js')).startBpfFmaps(fs, log);
  } catch (err) {
    await server.unmount();
    ffs.close();
    fs.close();
    throw err;
  }
  writeRecord({
    mountpoint: server.mountpoint, device: cfg.device, systemUuid: cfg.systemUuid, fsUuid: fs.uuid, role: fs.role,
    pid: process.pid, pidStart: processStartTime(process.pid) ?? '', startedAt: new Date().toISOString(), bpfFmap: bpf !== undefined,
  });
  log(`serving ${cfg.device} at ${server.mountpoint} as ${fs.role} (famfs kernel: ${ffs.famfsKernel ? 'yes' : 'no'})`);

  // Follow the log: entries other processes append show up without a manual logplay. A failure
  // is logged when it first appears, not every period; a file system gone from its device is
  // logged once and ends the following (every request then answers EIO until unmounted).
  let lastFollowError = '';
  ffs.onGone = (reason) => {
    clearInterval(follow);
    log(`${reason}: no longer serving it (every request fails with EIO); unmount to end this daemon`);
  };
  const follow = setInterval(() => {
    const before = fs.replay.nextSlot;
    let played: number;
    try {
      played = ffs.refresh();
    } catch (err) {
      const msg = (err as Error).message;
      if (!ffs.gone && msg !== lastFollowError) log(`log follow: ${msg}`);
      lastFollowError = msg;
      return;
    }
    lastFollowError = '';
    if (played === 0) return;
    bpf?.sync();
    const parents = new Set<number>();
    for (let i = before; i < fs.replay.nextSlot; i++) {
      const n = fs.ns.getIno(inoForLogIndex(i));
      if (n?.parent) parents.add(n.parent.ino);
    }
    for (const ino of parents) void server.session.notifyInvalInode(ino);
  }, cfg.followMs);

  let stopping = false;
  const stop = (why: string): void => {
    if (stopping) return;
    stopping = true;
    log(`${why}: unmounting`);
    server.unmount().catch((err: unknown) => log(`unmount: ${(err as Error).message}`));
  };
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(sig, () => stop(sig));

  report(STATUS_OK);
  const end = await server.closed;
  clearInterval(follow);
  bpf?.stop();
  removeRecord(server.mountpoint);
  ffs.close();
  fs.close();
  log(`stopped (${end.reason}${end.error ? `: ${end.error.message}` : ''})`);
  process.exit(0);
}

const STDIN_FD = 0;
const READ_CHUNK = 64 * 1024;
const STDIN_RETRY_MS = 5;

/**
 * Everything on stdin, up to its end, read blocking: the daemon has nothing else to do until it
 * has its configuration, and a stdin stream would load Node's stream and socket modules first.
 */
function readStdin(): string {
  const chunks: Buffer[] = [];
  const buf = Buffer.alloc(READ_CHUNK);
  for (;;) {
    let n: number;
    try {
      n = readSync(STDIN_FD, buf, 0, buf.length, null);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
      // A non-blocking stdin (not what famfs mount gives): wait a little, without spinning.
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, STDIN_RETRY_MS);
      continue;
    }
    if (n === 0) return Buffer.concat(chunks).toString('utf8');
    chunks.push(Buffer.from(buf.subarray(0, n)));
  }
}

/** Sends stdout and stderr (also what Node itself prints, e.g. a crash) to the log file. */
function redirectOutput(file: string): void {
  const fd = openSync(file, 'a', RUN_FILE_MODE);
  fchmodSync(fd, RUN_FILE_MODE); // a log an older version left open to others is closed too
  const native = loadNative();
  native.dup2(fd, 1);
  native.dup2(fd, 2);
  closeSync(fd);
}

async function start(): Promise<void> {
  const input = readStdin();
  if (input.trim() === '') process.exit(0); // the CLI started this daemon and then did not need it
  const cfg = parseConfig(input);
  if (!cfg) {
    report(errorStatus('the daemon was given no configuration it can read'));
    process.exit(2);
  }
  logMountpoint = cfg.mountpoint;
  if (cfg.logFile) redirectOutput(cfg.logFile);
  await main(cfg);
}

start().catch((err: unknown) => {
  const msg = (err as Error)?.message ?? String(err);
  log(`failed: ${msg}`);
  report(errorStatus(msg));
  process.exit(1);
});
