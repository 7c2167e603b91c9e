import type { ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type Command, InvalidArgumentError, Option } from '../commander.js';
import {
  type CacheMode, DAEMON_TRANSPORTS, type DaemonConfig, type DaemonTransport, DEFAULT_FAMFS_ABI, defaultConfig, errorStatus, STATUS_FD, statusError,
} from '../../mounts/daemon-protocol.js';
import { AUTO_FAMFS_ABI, FAMFS_ABI_PROFILES } from '../../daemon/famfs-abi.js';
import { ensureRunDir, liveRecords, mountFile } from '../../mounts/registry.js';
import { FamfsError, FsError, UsageError } from '../../errors.js';
import { probeRole } from '../../fs/role.js';
import { getSystemUuid } from '../../format/system-uuid.js';
import { formatUuid } from '../../format/uuid.js';
import { SUPERBLOCK_REGION_SIZE } from '../../format/layout.js';
import { parseUint } from '../args.js';
import { refuseDeadMounts } from '../dead-mount.js';
import { addDeviceMapOption, type DeviceMapOption, deviceMapOf } from '../device-map.js';
import { addModeOptions, type ModeOptions, readOptionWarning, requireFuseMode } from '../upstream-modes.js';
import { takeDaemon } from '../daemon-start.js';
import { runCommand } from '../run.js';

const DEFAULT_WAIT_MS = 15_000;
/** Upstream's status when a failed mount could not even be cleaned up. */
const EXIT_MOUNT_LEFT = 99;

interface MountOpts extends DeviceMapOption, ModeOptions {
  timeout?: number; cache?: CacheMode; debug?: boolean; nouseraccess?: boolean; nodefaultperm?: boolean;
  follow?: number; abi: string; transport?: DaemonTransport; wait: number; options: string[]; metricsPort?: number;
  verbose: number; read?: boolean; mmap?: boolean; remount?: boolean; dummy?: boolean; shadow?: string;
}

/** upstream's failure status for mount (its -1, through exit_val). */
const EXIT_MOUNT_FAILED = 1;
/** Where upstream's famfs mount makes a shadow directory when -S is not given. */
const DEFAULT_SHADOW_TEMPLATE = '/tmp/famfs_shadow_';
const SHADOW_DIR_MODE = 0o755;

const MAX_PORT = 65535;

/** `-o` options this mount understands. */
const MOUNT_OPTIONS = ['bpf-fmap', 'suid', 'nosuid', 'dev', 'nodev', 'allow-missing', 'io_uring'] as const;

function parseMountOptions(text: string, previous: string[]): string[] {
  const opts = text.split(',').filter((o) => o !== '');
  const bad = opts.find((o) => !(MOUNT_OPTIONS as readonly string[]).includes(o));
  if (bad !== undefined) throw new InvalidArgumentError(`unknown mount option '${bad}' (known: ${MOUNT_OPTIONS.join(', ')})`);
  return [...previous, ...opts];
}

/** --transport, or libfuse's -o io_uring (the same as --transport uring); auto unless told. */
function transportOf(o: MountOpts): DaemonTransport {
  if (!o.options.includes('io_uring')) return o.transport ?? 'auto';
  if (o.transport !== undefined && o.transport !== 'uring') throw new UsageError(`-o io_uring contradicts --transport ${o.transport}`);
  return 'uring';
}

function sameFile(a: string, b: string): boolean {
  try {
    return realpathSync(a) === realpathSync(b);
  } catch {
    return a === b;
  }
}

/** Everything that can be checked before a daemon starts, each with its own one-line error. */
function preflight(device: string, mnt: string): { mountpoint: string; systemUuid: string; role: string } {
  if (process.geteuid && process.geteuid() !== 0) throw new FsError('EPERM', 'must be run as root', 1);
  refuseDeadMounts([mnt]);
  let mountpoint: string;
  try {
    mountpoint = realpathSync(mnt);
    if (!statSync(mountpoint).isDirectory()) throw new FsError('ENOTDIR', `mount point ${mnt} is not a directory`, 1);
  } catch (err) {
    if (err instanceof FamfsError) throw err;
    throw new FsError('ENOENT', `mount point ${mnt} does not exist`, 1);
  }
  if (readdirSync(mountpoint).length > 0) throw new FsError('ENOTEMPTY', `mount point ${mountpoint} is not an empty directory`, 1);
  const mine = getSystemUuid();
  const systemUuid = formatUuid(mine);
  // The superblock decides the role; replaying the log here would only repeat what the daemon
  // does next (and a damaged log is reported by the daemon in the same one line).
  const { role } = probeRole(device, mine);
  const twin = liveRecords().find((r) => sameFile(r.device, device) && r.systemUuid === systemUuid);
  if (twin) throw new FsError('EBUSY', `${device} is already mounted by this host at ${twin.mountpoint}`, 1);
  return { mountpoint, systemUuid, role };
}

/** -R: the device is already served at this mount point for this host (nothing to do). */
function alreadyMountedHere(device: string, mnt: string): boolean {
  const systemUuid = formatUuid(getSystemUuid());
  return liveRecords().some((r) => sameFile(r.device, device) && sameFile(r.mountpoint, mnt) && r.systemUuid === systemUuid);
}

interface ShadowDir {
  path: string;
  /** Made by this mount (upstream's default): the daemon removes it when the mount ends. */
  temporary: boolean;
  /** -S: the daemon writes upstream's YAML tree under <path>/root. */
  yaml: boolean;
}

/**
 * upstream's shadow directory: -S names one that exists, else a new /tmp/famfs_shadow_XXXXXX
 * (0755 when other users may use the mount). `<shadow>/root` is made here and must not exist,
 * as upstream. Its path is the mount's `user.famfs.shadow` attribute.
 */
function makeShadowDir(given: string | undefined, userAccess: boolean): ShadowDir {
  let path: string;
  if (given === undefined) {
    path = mkdtempSync(DEFAULT_SHADOW_TEMPLATE);
    if (userAccess) chmodSync(path, SHADOW_DIR_MODE);
  } else {
    path = resolve(given);
  }
  try {
    mkdirSync(join(path, 'root'), SHADOW_DIR_MODE);
  } catch (err) {
    if (given === undefined) rmSync(path, { recursive: true, force: true });
    throw new FsError('EINVAL', `failed to create shadow root path ${join(path, 'root')}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, EXIT_MOUNT_FAILED);
  }
  return { path, temporary: given === undefined, yaml: given !== undefined };
}

function removeShadow(s: ShadowDir): void {
  rmSync(s.temporary ? s.path : join(s.path, 'root'), { recursive: true, force: true });
}

function logPath(mountpoint: string): string {
  return mountFile(mountpoint, 'log');
}

/** The daemon's first status line, or why there is none. */
function waitStatus(child: ChildProcess, ms: number): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    const timer = setTimeout(() => resolve(errorStatus(`the daemon did not report within ${ms} ms`)), ms);
    const pipe = child.stdio[STATUS_FD] as NodeJS.ReadableStream | null;
    pipe?.on('data', (d: Buffer) => {
      text += d.toString();
      if (text.includes('\n')) {
        clearTimeout(timer);
        resolve(text.split('\n')[0]!);
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve(text.split('\n')[0] || errorStatus(`the daemon exited with status ${code} before mounting`));
    });
  });
}

export function register(program: Command): void {
  addDeviceMapOption(addModeOptions(program
    .command('mount')
    .description('mount a famfs file system through FUSE (starts the daemon, waits until the mount answers)')
    .argument('<device>', 'memory device')
    .argument('<mountpoint>', 'an empty directory')
    .option('-t, --timeout <sec>', 'FUSE entry and attribute timeout', parseUint)
    .addOption(new Option('-c, --cache <mode>', 'kernel caching: always | normal | never (direct I/O)').choices(['always', 'normal', 'never']))
    .option('-d, --debug', 'stay in the foreground and trace every request')
    .option('-u, --nouseraccess', 'do not allow other users (drop allow_other)')
    .option('-p, --nodefaultperm', 'do not let the kernel check permissions (drop default_permissions); needs -u')
    .option('--follow <ms>', 'how often to look for new log entries', parseUint)
    .addOption(new Option('--abi <profile>', 'famfs kernel ABI for GET_FMAP/GET_DAXDEV (auto: push2026 when the kernel has FUSE_DEV_IOC_DAXDEV_OPEN, else v10)')
      .choices([AUTO_FAMFS_ABI, ...Object.keys(FAMFS_ABI_PROFILES)]).default(DEFAULT_FAMFS_ABI))
    .addOption(new Option('--transport <kind>', 'FUSE requests over io_uring (uring) or read/writev on /dev/fuse (dev); auto: io_uring when the kernel offers it (fuse.enable_uring on); default auto')
      .choices(DAEMON_TRANSPORTS))
    .option('--wait <ms>', 'how long to wait for the daemon', parseUint, DEFAULT_WAIT_MS)
    .option('--metrics-port <port>', 'also serve Prometheus /metrics on 127.0.0.1:<port>', parseUint)
    .option('-o, --options <list>', 'bpf-fmap: publish fmaps to a pinned BPF map while mounted; io_uring: --transport uring (as libfuse); suid, dev: honour set-id bits and device files (nosuid,nodev by default); allow-missing: serve without added devices this host cannot find (their files fail with EIO)', parseMountOptions, [] as string[])
    .option('-v, --verbose', 'say what is mounted (-vv: and the daemon configuration; -vvv: the daemon logs every request)', (_v: string, prev: number) => prev + 1, 0)
    .option('-S, --shadow <path>', "an existing directory for upstream's shadow tree: <path>/root gets one YAML file per famfs file (default: a new /tmp/famfs_shadow_XXXXXX without the YAML)")
    .option('-m, --mmap', 'read the superblock and log through mmap (the default)')
    .option('-r, --read', 'read the superblock and log with read(2) (upstream warns: cache coherency)')
    .option('-R, --remount', 'already mounted here by this host: succeed without a second mount')
    .option('-D, --dummy', 'upstream: a throw-away mount for the v1 kernel module (refused)'), { fuseShort: true, nofuse: true, setDaxmode: true, loadModule: true }))
    .action((device: string, mnt: string, o: MountOpts) =>
      runCommand('famfs mount', async () => {
        requireFuseMode('famfs mount', o, EXIT_MOUNT_FAILED);
        if (o.dummy) throw new FsError('EOPNOTSUPP', '-D/--dummy mounts are made for the famfs v1 kernel module; this famfs runs in FUSE mode only', EXIT_MOUNT_FAILED);
        if (o.read && o.mmap) throw new UsageError('Error: --mmap and --read are mutually exclusive');
        if (o.read) readOptionWarning('do_famfs_cli_mount');
        if (o.timeout !== undefined && o.cache) throw new UsageError('-t and -c cannot be combined');
        const transport = transportOf(o);
        // Without default_permissions the kernel checks nothing and this daemon checks owners only
        // for access(2): with other users let in, any of them could open anything. Only root then.
        if (o.nodefaultperm && !o.nouseraccess) {
          throw new UsageError('-p (no default_permissions) lets every user open every file unless combined with -u (no allow_other): use -p -u');
        }
        if (o.metricsPort !== undefined && !(o.metricsPort >= 1 && o.metricsPort <= MAX_PORT)) throw new UsageError(`--metrics-port ${o.metricsPort}: not a port (1-${MAX_PORT})`);
        if (o.remount && alreadyMountedHere(device, mnt)) {
          if (o.verbose) process.stdout.write(`famfs mount: ${device} is already mounted at ${mnt} by this host\n`);
          return 0;
        }
        const pre = preflight(device, mnt);
        const shadow = makeShadowDir(o.shadow, !o.nouseraccess);
        const cfg: DaemonConfig = {
          ...defaultConfig(device, pre.mountpoint, pre.systemUuid),
          ...(o.cache ? { cache: o.cache } : {}),
          ...(o.timeout !== undefined ? { timeout: o.timeout } : {}),
          ...(o.follow !== undefined ? { followMs: o.follow } : {}),
          allowOther: !o.nouseraccess, defaultPermissions: !o.nodefaultperm, abi: o.abi, debug: !!o.debug, transport,
          deviceMap: Object.fromEntries(deviceMapOf(o)),
          bpfFmap: o.options.includes('bpf-fmap'),
          allowMissing: o.options.includes('allow-missing'),
          // The last of suid/nosuid (dev/nodev) wins, as for mount(8).
          suid: o.options.lastIndexOf('suid') > o.options.lastIndexOf('nosuid'),
          dev: o.options.lastIndexOf('dev') > o.options.lastIndexOf('nodev'),
          shadowPath: shadow.path, shadowTemporary: shadow.temporary, shadowYaml: shadow.yaml,
          verbose: o.verbose,
          ...(o.metricsPort !== undefined ? { metricsPort: o.metricsPort } : {}),
        };
        if (o.verbose) process.stdout.write(`daxdev=${realpathSync(device)}, mpt=${pre.mountpoint}\n`);
        if (o.verbose > 1) process.stdout.write(`famfs mount: daemon configuration ${JSON.stringify(cfg)}\n`);
        ensureRunDir();
        if (!o.debug) cfg.logFile = logPath(pre.mountpoint);
        const child = takeDaemon(!!o.debug);
        child.stdin?.end(`${JSON.stringify(cfg)}\n`);
        const failure = statusError(await waitStatus(child, o.wait));
        if (failure !== undefined) {
          removeShadow(shadow);
          // Only a failed mount needs the mount table tools: loaded here, not at every start.
          const { findFuseMount, unmount } = await import('../../fuse/index.js');
          if (await findFuseMount(pre.mountpoint)) {
            try {
              await unmount(pre.mountpoint);
            } catch {
              process.stderr.write(`famfs mount: ${failure}; and ${pre.mountpoint} could not be unmounted\n`);
              return EXIT_MOUNT_LEFT;
            }
          }
          child.kill('SIGKILL');
          throw new FsError('EIO', failure, 1);
        }
        const st = statSync(join(pre.mountpoint, '.meta', '.superblock'));
        if (st.size !== SUPERBLOCK_REGION_SIZE) throw new FsError('EIO', `${pre.mountpoint}/.meta/.superblock has the wrong size`, 1);
        (child.stdio[STATUS_FD] as NodeJS.ReadableStream & { destroy(): void }).destroy();
        if (o.debug) {
          process.stderr.write(`famfs mount: serving ${device} at ${pre.mountpoint} as ${pre.role}; Ctrl-C unmounts\n`);
          process.on('SIGINT', () => child.kill('SIGINT'));
          await new Promise((r) => child.on('exit', r));
          return 0;
        }
        child.unref();
        return 0;
      }));
}

/** Last lines of a mount's daemon log, for error messages. */
export function daemonLogTail(mountpoint: string, lines = 5): string {
  try {
    return readFileSync(logPath(mountpoint), 'utf8').trim().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}
