import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { packageRoot } from '../addon.js';
import { STATUS_FD } from '../mounts/daemon-protocol.js';
import { BIN_DIR } from './bin.js';

/** The daemon, bundled into one CommonJS file at build time (tools/bundle.mjs). */
export const DAEMON_FILE = 'daemon.cjs';
/**
 * V8 settings for the daemon, a long-lived process whose heap is the namespace plus small
 * per-request garbage: a 1 MiB young generation (the default grows to 16 MiB semi-spaces and
 * never gives the pages back) and one V8 helper thread instead of one per core (each keeps a
 * malloc arena). The daemon's resident memory is a bench row (bench/README.md, "Daemon RSS").
 */
const DAEMON_NODE_FLAGS = ['--max-semi-space-size=1', '--v8-pool-size=1'];

/**
 * A daemon process waiting for its configuration on stdin. Node's own start and the CLI's
 * loading of its parser and checks of the device and mount point are each tens of milliseconds
 * (bench/README.md, "Mount with a full log"): a daemon started as the CLI starts does its own
 * start meanwhile. The CLI then gives it the configuration, or exits, which closes the daemon's
 * stdin and ends it.
 */
let early: ChildProcess | undefined;

/** Options after which the CLI starts no daemon in the background (help, or a foreground daemon). */
const NO_EARLY_START = new Set(['-d', '--debug', '-h', '--help']);

/** Called by the CLI's entry before anything else is loaded, with the arguments after `mount`. */
export function startDaemonEarly(args: readonly string[]): void {
  if (args.some((a) => NO_EARLY_START.has(a))) return;
  early = spawnDaemon(false);
  // Until the mount command takes it, the daemon must not keep the CLI alive.
  early.unref();
  for (const pipe of [early.stdin, early.stdio[STATUS_FD]]) (pipe as { unref?: () => void } | null)?.unref?.();
}

/** The daemon to configure: the one started early, or a new one (`foreground`: it shares our stdout and stderr). */
export function takeDaemon(foreground: boolean): ChildProcess {
  const child = !foreground && early && early.exitCode === null && early.signalCode === null ? early : spawnDaemon(foreground);
  early = undefined;
  child.ref();
  for (const pipe of [child.stdin, child.stdio[STATUS_FD]]) (pipe as { ref?: () => void } | null)?.ref?.();
  return child;
}

/**
 * The daemon's environment: ours, less NODE_EXTRA_CA_CERTS. Node reads and parses that file as it
 * starts, before any code of ours runs, and the daemon makes no TLS connection.
 */
function daemonEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.NODE_EXTRA_CA_CERTS;
  return env;
}

function spawnDaemon(foreground: boolean): ChildProcess {
  return spawn(process.execPath, [...DAEMON_NODE_FLAGS, join(packageRoot(), BIN_DIR, DAEMON_FILE)], {
    detached: !foreground,
    env: daemonEnv(),
    stdio: ['pipe', foreground ? 'inherit' : 'ignore', foreground ? 'inherit' : 'ignore', 'pipe'],
  });
}
