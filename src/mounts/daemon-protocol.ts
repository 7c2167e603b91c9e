/**
 * How `famfs mount` and its daemon process talk while the daemon starts, written once for both
 * sides: the CLI writes one DaemonConfig as JSON on the daemon's stdin (stdin closed without one
 * ends the daemon quietly), and the daemon answers with one status line on STATUS_FD, "ok" once
 * the mount serves or "error: <why>".
 */

/** The daemon's status pipe (the fd after stdio). */
export const STATUS_FD = 3;
/** The status line of a daemon that serves its mount. */
export const STATUS_OK = 'ok';
const ERROR_PREFIX = 'error: ';

/** The status line saying why the daemon did not mount. */
export function errorStatus(why: string): string {
  return `${ERROR_PREFIX}${why}`;
}

/** Why a status line says the mount failed (undefined: it serves). */
export function statusError(line: string): string | undefined {
  if (line === STATUS_OK) return undefined;
  return line.startsWith(ERROR_PREFIX) ? line.slice(ERROR_PREFIX.length) : line;
}

/** The famfs kernel ABI profile (daemon/famfs-abi.ts) a mount uses unless told otherwise. */
export const DEFAULT_FAMFS_ABI = 'auto';

/** How the kernel may cache what the daemon says, upstream's `-c` choices. */
export type CacheMode = 'always' | 'normal' | 'never';

/** Entry and attribute timeouts (seconds) per cache mode when -t is not given: upstream's. */
export const CACHE_TIMEOUTS: Readonly<Record<CacheMode, number>> = { always: 31536000, normal: 1, never: 0 };
const DEFAULT_CACHE: CacheMode = 'normal';
/** How often a daemon looks for entries another process appended. */
const DEFAULT_FOLLOW_MS = 200;

/** FUSE request transports a daemon can be asked for: auto (io_uring when the kernel offers it), uring, dev. */
export const DAEMON_TRANSPORTS = ['auto', 'uring', 'dev'] as const;
export type DaemonTransport = (typeof DAEMON_TRANSPORTS)[number];

/** Everything `famfs mount` hands the daemon process. */
export interface DaemonConfig {
  device: string;
  mountpoint: string;
  /** The host this mount acts as (canonical UUID text). */
  systemUuid: string;
  cache: CacheMode;
  /** Entry/attr timeout in seconds; defaults from the cache mode. */
  timeout?: number;
  followMs: number;
  allowOther: boolean;
  defaultPermissions: boolean;
  /** `-o suid`: honour set-id bits (the mount is nosuid otherwise, and a client shows none). */
  suid: boolean;
  /** `-o dev`: honour device files (the mount is nodev otherwise). */
  dev: boolean;
  /** FUSE request transport after INIT (fuse/session.ts Transport); unset: auto. */
  transport?: DaemonTransport;
  /** famfs kernel ABI profile for GET_FMAP/GET_DAXDEV (see famfs-abi.ts). */
  abi: string;
  debug: boolean;
  /** Where this host sees devices added with `famfs adddev` (index → path); others are found by UUID. */
  deviceMap?: Record<string, string>;
  /** Publish fmaps to a pinned BPF map while mounted (`-o bpf-fmap`). */
  bpfFmap?: boolean;
  /**
   * upstream's shadow directory (`famfs mount -S`, else a new /tmp/famfs_shadow_XXXXXX): the
   * mount's `user.famfs.shadow` attribute, with `<shadowPath>/root` made by `famfs mount`; the
   * daemon's diagnostics socket is `<shadowPath>/sock`, as upstream's.
   */
  shadowPath?: string;
  /** The shadow directory was made for this mount: the daemon removes it when the mount ends (else only its root). */
  shadowTemporary?: boolean;
  /** Write upstream's YAML shadow tree under `<shadowPath>/root` (`-S`), and keep it up to date while following. */
  shadowYaml?: boolean;
  /** `famfs mount -v` count; 3 or more logs every request, as -d does, without staying in the foreground. */
  verbose?: number;
  /**
   * `-o allow-missing`: serve the file system although this host cannot find some of its added
   * devices; files with extents on them fail to open with EIO. Without it such a mount is refused.
   */
  allowMissing?: boolean;
  /** Where the daemon's stdout and stderr go (appended); unset, they stay as started. */
  logFile?: string;
  /** Also serve /metrics on 127.0.0.1:<port> (`famfs mount --metrics-port`). */
  metricsPort?: number;
}

/** The configuration the daemon was given on stdin; undefined if it is not JSON. */
export function parseConfig(text: string): DaemonConfig | undefined {
  try {
    return JSON.parse(text) as DaemonConfig;
  } catch {
    return undefined;
  }
}

export function defaultConfig(device: string, mountpoint: string, systemUuid: string): DaemonConfig {
  return {
    device, mountpoint, systemUuid, cache: DEFAULT_CACHE, followMs: DEFAULT_FOLLOW_MS,
    allowOther: true, defaultPermissions: true, suid: false, dev: false, abi: DEFAULT_FAMFS_ABI, debug: false,
  };
}
