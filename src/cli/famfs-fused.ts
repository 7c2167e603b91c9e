#!/usr/bin/env node
/**
 * `famfs_fused`: the daemon started with upstream's command line, for scripts and units that run
 * upstream's daemon directly:
 *
 *     famfs_fused [-f] [-d] [-s] -o source=<shadow>,daxdev=<dev>[,timeout=<s>][,cache=never|auto|always]
 *                 [,debug=<n>][,readdirplus|no_readdirplus][,flock|no_flock][,fsname=..][,allow_other]
 *                 [,default_permissions][,io_uring] [--transport auto|uring|dev] <mountpoint>
 *
 * It checks what upstream checks (a mount point and a source, the source's `root`), builds the
 * configuration `famfs mount` would, and starts the same daemon: in the background once the mount
 * answers, or with -f/-d in the foreground until it is unmounted. `source=`/`shadow=` is the
 * shadow directory (the mount's `user.famfs.shadow`); this daemon serves the file system from the
 * log on `daxdev=`, which it therefore needs, where upstream's serves it from the shadow YAML.
 */
import { existsSync, mkdirSync, realpathSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { packageVersion } from './version.js';
import {
  type CacheMode, DAEMON_TRANSPORTS, type DaemonConfig, type DaemonTransport, defaultConfig, STATUS_FD, statusError,
} from '../mounts/daemon-protocol.js';
import { mountFile, runDir } from '../mounts/registry.js';
import { getSystemUuid } from '../format/system-uuid.js';
import { formatUuid } from '../format/uuid.js';
import { takeDaemon } from './daemon-start.js';

const PROG = 'famfs_fused';
/** upstream: 0 for help and version, 1 for a command line or source it refuses. */
const EXIT_USAGE = 1;
const WAIT_MS = 15_000;
/** upstream's cache= choices and the `famfs mount -c` modes they are. */
const CACHE: Record<string, CacheMode> = { never: 'never', auto: 'normal', always: 'always' };

const USAGE = `usage: ${PROG} [options] <mountpoint>

Options:
    -h   --help            print help
    -V   --version         print version
    -d   -o debug          debug output (implies -f)
    -f                     foreground operation
    -s                     disable multi-threaded operation (accepted: this daemon is one event loop)
    -o source=<path>       shadow directory (also shadow=<path>); its root is <path>/root
    -o daxdev=<dev>        the famfs memory device to serve
    -o timeout=<sec>       entry and attribute timeout
    -o cache=never|auto|always
    -o debug=<n>           log level
    -o readdirplus|no_readdirplus, flock|no_flock, fsname=<name>, allow_other, default_permissions
    -o io_uring            FUSE requests over io_uring (libfuse's option; the same as --transport uring)
    --transport auto|uring|dev
                           io_uring (uring) or read/writev on /dev/fuse (dev); auto: io_uring
                           when the kernel offers it (fuse.enable_uring on); default auto
`;

class Refusal extends Error {}

interface FusedArgs {
  mountpoint?: string;
  foreground: boolean;
  debug: boolean;
  transport?: DaemonTransport;
  opts: Map<string, string | true>;
}

function parseArgs(argv: readonly string[]): FusedArgs | 'help' | 'version' {
  const a: FusedArgs = { foreground: false, debug: false, opts: new Map() };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '-h' || arg === '--help') return 'help';
    if (arg === '-V' || arg === '--version') return 'version';
    if (arg === '-f') a.foreground = true;
    else if (arg === '-d' || arg === '--debug') a.debug = a.foreground = true;
    else if (arg === '-s') continue;
    else if (arg === '--transport' || arg.startsWith('--transport=')) {
      const v = arg === '--transport' ? argv[++i] : arg.slice('--transport='.length);
      if (!(DAEMON_TRANSPORTS as readonly (string | undefined)[]).includes(v)) {
        throw new Refusal(`--transport needs one of ${DAEMON_TRANSPORTS.join(', ')}`);
      }
      a.transport = v as DaemonTransport;
    }
    else if (arg === '-o' || arg.startsWith('-o')) {
      const list = arg === '-o' ? argv[++i] : arg.slice(2);
      if (list === undefined) throw new Refusal('-o needs a list of options');
      for (const item of list.split(',').filter((s) => s !== '')) {
        const eq = item.indexOf('=');
        a.opts.set(eq < 0 ? item : item.slice(0, eq), eq < 0 ? true : item.slice(eq + 1));
      }
    } else if (arg.startsWith('-')) {
      throw new Refusal(`unknown option '${arg}'`);
    } else if (a.mountpoint === undefined) {
      a.mountpoint = arg;
    } else {
      throw new Refusal(`unexpected argument '${arg}'`);
    }
  }
  return a;
}

function text(opts: Map<string, string | true>, key: string): string | undefined {
  const v = opts.get(key);
  if (v === true) throw new Refusal(`-o ${key} needs a value`);
  return v;
}

/** upstream's rule: the source is the shadow root if it ends in /root, else <source>/root, which must be a directory. */
function shadowPathOf(source: string): string {
  let st;
  try {
    st = statSync(source);
  } catch {
    throw new Refusal(`source ${source} does not exist`);
  }
  if (!st.isDirectory()) throw new Refusal(`source ${source} is not a directory`);
  const trimmed = source.replace(/\/+$/, '');
  if (trimmed.endsWith('/root')) return trimmed.slice(0, -'/root'.length) || '/';
  if (!existsSync(join(trimmed, 'root')) || !statSync(join(trimmed, 'root')).isDirectory()) throw new Refusal(`source ${source} has no root directory`);
  return trimmed;
}

function configOf(a: FusedArgs): DaemonConfig {
  if (a.mountpoint === undefined) throw new Refusal('missing mountpoint');
  const source = text(a.opts, 'source') ?? text(a.opts, 'shadow');
  if (source === undefined) throw new Refusal('missing source (-o source=<shadow directory>)');
  const shadowPath = shadowPathOf(source);
  const device = text(a.opts, 'daxdev');
  if (device === undefined) throw new Refusal('missing daxdev (-o daxdev=<device>): this daemon serves the file system from its log');
  let mountpoint: string;
  try {
    mountpoint = realpathSync(a.mountpoint);
  } catch {
    throw new Refusal(`mountpoint ${a.mountpoint} does not exist`);
  }
  const cfg: DaemonConfig = { ...defaultConfig(device, mountpoint, formatUuid(getSystemUuid())), shadowPath, debug: a.debug };
  const cache = text(a.opts, 'cache');
  if (cache !== undefined) {
    if (!CACHE[cache]) throw new Refusal(`invalid cache=${cache} (never, auto or always)`);
    cfg.cache = CACHE[cache]!;
  }
  const timeout = text(a.opts, 'timeout');
  if (timeout !== undefined) {
    if (!/^\d+(\.\d+)?$/.test(timeout)) throw new Refusal(`invalid timeout=${timeout}`);
    cfg.timeout = Number(timeout);
  }
  const debug = text(a.opts, 'debug');
  if (debug !== undefined && !/^\d+$/.test(debug)) throw new Refusal(`invalid debug=${debug}`);
  // libfuse's own options: a famfs mount always has these two unless told otherwise by their absence.
  cfg.allowOther = a.opts.has('allow_other');
  cfg.defaultPermissions = a.opts.has('default_permissions');
  if (a.opts.has('io_uring') && a.transport !== undefined && a.transport !== 'uring') {
    throw new Refusal(`-o io_uring contradicts --transport ${a.transport}`);
  }
  cfg.transport = a.opts.has('io_uring') ? 'uring' : a.transport ?? 'auto';
  return cfg;
}

function firstLine(child: ReturnType<typeof takeDaemon>): Promise<string> {
  return new Promise((resolve) => {
    let got = '';
    const timer = setTimeout(() => resolve(`error: the daemon did not report within ${WAIT_MS} ms`), WAIT_MS);
    (child.stdio[STATUS_FD] as NodeJS.ReadableStream | null)?.on('data', (d: Buffer) => {
      got += d.toString();
      if (got.includes('\n')) {
        clearTimeout(timer);
        resolve(got.split('\n')[0]!);
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve(got.split('\n')[0] || `error: the daemon exited with status ${code}`);
    });
  });
}

async function main(): Promise<number> {
  let parsed;
  let cfg: DaemonConfig;
  try {
    parsed = parseArgs(process.argv.slice(2));
    if (parsed === 'help') {
      process.stdout.write(USAGE);
      return 0;
    }
    if (parsed === 'version') {
      process.stdout.write(`${PROG} (famfs-ts) version ${packageVersion()}\n`);
      return 0;
    }
    cfg = configOf(parsed);
  } catch (err) {
    if (!(err instanceof Refusal)) throw err;
    process.stderr.write(`${PROG}: ${err.message}\n`);
    return EXIT_USAGE;
  }
  if (!parsed.foreground) {
    mkdirSync(runDir(), { recursive: true });
    cfg.logFile = mountFile(cfg.mountpoint, 'log');
  }
  const child = takeDaemon(parsed.foreground);
  child.stdin?.end(`${JSON.stringify(cfg)}\n`);
  const failure = statusError(await firstLine(child));
  if (failure !== undefined) {
    child.kill('SIGKILL');
    process.stderr.write(`${PROG}: ${failure}\n`);
    return EXIT_USAGE;
  }
  (child.stdio[STATUS_FD] as NodeJS.ReadableStream & { destroy(): void }).destroy();
  if (parsed.foreground) {
    process.on('SIGINT', () => child.kill('SIGINT'));
    process.on('SIGTERM', () => child.kill('SIGTERM'));
    await new Promise((r) => child.on('exit', r));
    return 0;
  }
  child.unref();
  return 0;
}

main().then((code) => {
  process.exitCode = code;
}, (err: unknown) => {
  process.stderr.write(`${PROG}: internal error: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exitCode = EXIT_USAGE;
});
