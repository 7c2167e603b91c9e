/**
 * The famfs daemon: one process per mount, started by `famfs mount` (bundled as dist/bin/daemon.cjs).
 * It speaks the start-up protocol of mounts/daemon-protocol.ts: its configuration comes on stdin,
 * which `famfs mount` may write well after starting it, and it reports once on the status pipe.
 * It serves until the mount goes away, and unmounts itself on SIGTERM/SIGINT/SIGHUP.
 */
import { closeSync, fchmodSync, fstatSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { loadNative } from '../addon.js';
import { FsError, UsageError } from '../errors.js';
import { FamfsHandle } from '../fs/famfs.js';
import { logSlot } from '../format/log-header.js';
import { parseUuid } from '../format/uuid.js';
import { FuseServer } from '../fuse/index.js';
import { type DaemonConfig, errorStatus, parseConfig, STATUS_FD, STATUS_OK } from '../mounts/daemon-protocol.js';
import { LogLevel, daemonLog, setLogMountpoint } from './daemon-log.js';
import type { DaemonContext } from './daemon-status.js';
import type { DiagServer } from './diag-server.js';
import type { BpfFmaps } from './bpf-fmaps.js';
import { FamfsFuse } from './famfs-fs.js';
import { LogFollower } from './follow.js';
import type { ShadowPlayStats } from '../fs/shadow-tree.js';
import { processStartTime } from '../mounts/process-state.js';
import { liveRecords, type MountRecord, mountFile, RUN_FILE_MODE, removeRecord, takeMountLock, writeRecord } from '../mounts/registry.js';

/** `famfs mount -vvv` logs every request, as -d does. */
const TRACE_VERBOSITY = 3;

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

function log(msg: string): void {
  daemonLog(LogLevel.NOTICE, msg);
}

/** Where the diagnostics socket goes: upstream's `<shadow>/sock`, else beside the mount's record. */
function diagSocketPath(cfg: DaemonConfig, mountpoint: string): string {
  return cfg.shadowPath ? join(cfg.shadowPath, 'sock') : mountFile(mountpoint, 'sock');
}

/** The diagnostics socket, and the metrics port if asked for; a failure is logged (and `socket` is undefined), the mount still serves. */
async function startDiagnostics(c: DaemonContext): Promise<{ servers: DiagServer[]; socket?: string }> {
  const { startDiagServer, startMetricsPort } = await import('./diag-server.js');
  const servers: DiagServer[] = [];
  let socket: string | undefined = diagSocketPath(c.config, c.mountpoint);
  try {
    servers.push(await startDiagServer(c, socket));
  } catch (err) {
    log(`diagnostics socket ${socket}: ${(err as Error).message}`);
    socket = undefined;
  }
  if (c.config.metricsPort !== undefined) {
    try {
      servers.push(await startMetricsPort(c, c.config.metricsPort));
    } catch (err) {
      log(`metrics port ${c.config.metricsPort}: ${(err as Error).message}`);
    }
  }
  return { servers, socket };
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
  // Every range of the log played from here on, whoever played it (the follow loop below, a
  // LOOKUP that missed, an OPENDIR, GET_DAXDEV, this mount's own creations): its new files go to
  // the BPF map, and the kernel forgets what it cached of the directories that other processes
  // added to (what this mount created, the kernel created through it). Work is batched to the
  // next turn of the event loop: listeners run inside the replay, perhaps under the log lock.
  let server: FuseServer | undefined;
  let bpf: BpfFmaps | undefined;
  /** `mount -S`: plays the log into the shadow tree from a slot on (set once the tree is written). */
  let playShadow: ((from: number) => ShadowPlayStats) | undefined;
  let newFiles = false;
  let shadowFrom: number | undefined;
  const foreign: { first: number; end: number }[] = [];
  const announce = (): void => {
    newFiles = false;
    bpf?.sync();
    if (playShadow && shadowFrom !== undefined) {
      try {
        playShadow(shadowFrom);
      } catch (err) {
        log(`shadow tree: ${(err as Error).message}`);
      }
    }
    shadowFrom = undefined;
    const parents = new Set<number>();
    for (const range of foreign.splice(0)) {
      for (let slot = range.first; slot < range.end; slot++) {
        const n = fs.ns.statSlot(logSlot(slot));
        if (n) parents.add(n.parentIno);
      }
    }
    for (const ino of parents) {
      server?.session.notifyInvalInode(ino).catch((err: unknown) => log(`invalidate inode ${ino}: ${(err as Error).message}`));
    }
  };
  fs.onPlayed((first, end, appended) => {
    if (!newFiles) setImmediate(announce);
    newFiles = true;
    shadowFrom = Math.min(shadowFrom ?? first, first);
    if (!appended) foreign.push({ first, end });
  });
  const devices = fs.checkDevices();
  if (devices.badMap.length > 0 || (devices.missing.length > 0 && !cfg.allowMissing)) {
    fs.close();
    if (devices.badMap.length > 0) throw new UsageError(devices.badMap[0]!);
    throw new FsError('ENODEV', `${devices.missing[0]!.problem} (-o allow-missing serves the rest; files on it then fail with EIO)`);
  }
  // The replay is in the index now: the daemon keeps no 256 MiB log resident for it.
  fs.releaseLogPages();
  const ffs = new FamfsFuse(fs, cfg, devices.missing.map((m) => m.index));
  ffs.log = log;
  for (const m of devices.missing) log(`serving without device ${m.index}: ${m.problem}; files with extents on it fail with EIO`);
  try {
    server = await FuseServer.mount(ffs, cfg.mountpoint, {
      fsname: cfg.device, subtype: 'famfs', allowOther: cfg.allowOther, defaultPermissions: cfg.defaultPermissions,
      suid: cfg.suid, dev: cfg.dev, transport: cfg.transport ?? 'auto', notice: log,
      onError: (err, where) => log(`${where}: ${(err as Error)?.stack ?? String(err)}`),
      trace: cfg.debug || (cfg.verbose ?? 0) >= TRACE_VERBOSITY ? (line) => log(line) : undefined,
    });
  } catch (err) {
    ffs.close();
    fs.close();
    throw err;
  }
  try {
    // Loaded only when asked for: the BPF modules are start-up time every other mount would pay.
    if (cfg.bpfFmap) bpf = await (await import('./bpf-fmaps.js')).startBpfFmaps(fs, log);
  } catch (err) {
    await server.unmount();
    ffs.close();
    fs.close();
    throw err;
  }
  const shadowRoot = cfg.shadowPath === undefined ? undefined : join(cfg.shadowPath, 'root');
  // Loaded only for `mount -S`: its YAML modules are start-up time every other mount would pay.
  if (shadowRoot !== undefined && cfg.shadowYaml) {
    // upstream's mount writes the meta files' YAML, then plays the log into the shadow tree.
    try {
      const tree = await import('../fs/shadow-tree.js');
      tree.writeMetaShadow(fs, shadowRoot);
      playShadow = (fromIndex) => tree.playShadow(fs, shadowRoot, { fromIndex });
      const st = playShadow(0);
      log(`shadow tree at ${shadowRoot}: ${st.filesCreated} files, ${st.dirsCreated} directories`);
    } catch (err) {
      await server.unmount();
      ffs.close();
      fs.close();
      throw err;
    }
  }
  // Follow the log: entries other processes append show up without a manual logplay (and are
  // announced by the listener above, like every other range played). A failure is logged when it
  // first appears, not every period; a file system gone from its device is logged once and ends
  // the following (every request then answers EIO until unmounted).
  const follower = new LogFollower(fs, () => ffs.refresh(), () => server?.session.requestStats.total ?? 0, (err) => {
    if (!ffs.gone) log(`log follow: ${err.message}`);
  });
  ffs.onGone = (reason) => {
    follower.stop();
    log(`${reason}: no longer serving it (every request fails with EIO); unmount to end this daemon`);
  };
  follower.start(cfg.followMs);
  const startedAt = new Date();
  const record: MountRecord = {
    mountpoint: server.mountpoint, device: cfg.device, systemUuid: cfg.systemUuid, fsUuid: fs.uuid, role: fs.role,
    pid: process.pid, pidStart: processStartTime(process.pid) ?? '', startedAt: startedAt.toISOString(), bpfFmap: bpf !== undefined,
    shadowPath: cfg.shadowPath, shadowMade: shadowMade(cfg), diagSocket: diagSocketPath(cfg, server.mountpoint),
  };
  writeRecord(record);
  ffs.attachFuseDevice(server.session.fd, log);
  log(`serving ${cfg.device} at ${server.mountpoint} as ${fs.role} (famfs kernel: ${ffs.famfsKernel ? `yes, ABI ${ffs.abiProfile}` : 'no'}; transport ${server.session.activeTransport})`);

  let stopping = false;
  const stop = (why: string): void => {
    if (stopping) return;
    stopping = true;
    log(`${why}: unmounting`);
    server.unmount().catch((err: unknown) => log(`unmount: ${(err as Error).message}`));
  };
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(sig, () => stop(sig));

  report(STATUS_OK);
  // After the mount is reported: loading and starting Node's HTTP server is time no `famfs mount`
  // should wait for (bench/README.md, "Mount with a full log"; upstream's daemon starts its
  // server on a thread as well).
  const diag = await startDiagnostics({ fs, ffs, session: server.session, config: cfg, mountpoint: server.mountpoint, startedAt, follower });
  if (diag.socket === undefined) writeRecord({ ...record, diagSocket: undefined });
  const end = await server.closed;
  follower.stop();
  for (const d of diag.servers) d.close();
  bpf?.stop();
  removeRecord(server.mountpoint);
  const made = shadowMade(cfg);
  if (made !== undefined) removeShadow(made);
  ffs.close();
  fs.close();
  log(`stopped (${end.reason}${end.error ? `: ${end.error.message}` : ''})`);
  process.exit(0);
}

/**
 * What `famfs mount` made for this mount's shadow, which goes with the mount: the whole of a
 * temporary directory, else the root it made in a -S directory (upstream leaves both behind, and a
 * second `mount -S` then fails on the root). A shadow directory famfs_fused was given stays.
 */
function shadowMade(cfg: DaemonConfig): string | undefined {
  if (cfg.shadowPath === undefined) return undefined;
  if (cfg.shadowTemporary) return cfg.shadowPath;
  return cfg.shadowYaml ? join(cfg.shadowPath, 'root') : undefined;
}

function removeShadow(path: string): void {
  try {
    rmSync(path, { recursive: true, force: true });
  } catch (err) {
    log(`shadow directory: ${(err as Error).message}`);
  }
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
  setLogMountpoint(cfg.mountpoint);
  if (cfg.logFile) redirectOutput(cfg.logFile);
  await main(cfg);
}

start().catch((err: unknown) => {
  const msg = (err as Error)?.message ?? String(err);
  log(`failed: ${msg}`);
  report(errorStatus(msg));
  process.exit(1);
});
