import { type Command, Option } from './commander.js';
import { FsError } from '../errors.js';

/**
 * Upstream famfs runs either in FUSE mode (the famfs_fused daemon) or on its standalone "v1"
 * kernel module; this famfs is FUSE mode only. Upstream's mode flags are accepted where upstream
 * accepts them so its scripts run unchanged: `--fuse` (and FAMFS_MODE=fuse) changes nothing, and
 * anything that needs the v1 module (`-F/--nofuse`, FAMFS_MODE=v1, `-L/--load-module`) or the
 * kernel's famfs-mode DAX driver (`-M/--set-daxmode`) is answered with one line and upstream's
 * failure status for that command.
 */

const MODE_ENV = 'FAMFS_MODE';

export interface ModeOptions {
  fuse?: boolean;
  nofuse?: boolean;
  setDaxmode?: boolean;
  loadModule?: boolean;
}

/** Which of upstream's mode options a command has (they differ per command, as upstream's getopt strings do). */
export interface ModeOptionSet {
  /** mount has `-f/--fuse`; mkfs, fsck and logplay only the long `--fuse` (-f is --force there). */
  fuseShort?: boolean;
  nofuse?: boolean;
  setDaxmode?: boolean;
  loadModule?: boolean;
}

export function addModeOptions(cmd: Command, set: ModeOptionSet): Command {
  cmd.addOption(new Option(set.fuseShort ? '-f, --fuse' : '--fuse', 'FUSE mode (the only mode here; accepted for upstream scripts)'));
  if (set.nofuse) cmd.addOption(new Option('-F, --nofuse', 'standalone famfs v1 kernel module mode: not supported here (refused)'));
  if (set.setDaxmode) cmd.addOption(new Option('-M, --set-daxmode', "switch the device to the kernel's famfs DAX mode: not supported here (refused)"));
  if (set.loadModule) cmd.addOption(new Option('-L, --load-module', 'load the famfs v1 kernel module: not supported here (refused)'));
  return cmd;
}

/**
 * The mode a command runs in, upstream's order: an explicit flag, then $FAMFS_MODE (an unknown
 * value is warned about and ignored, as upstream), else FUSE. Throws, with `exitCode`, when the
 * command would need the famfs v1 kernel module or its DAX mode switch.
 */
export function requireFuseMode(prog: string, o: ModeOptions, exitCode: number): void {
  if (o.loadModule) throw new FsError('EOPNOTSUPP', '-L/--load-module loads the famfs v1 kernel module, which this famfs (FUSE mode only) does not use', exitCode);
  if (o.setDaxmode) throw new FsError('EOPNOTSUPP', "-M/--set-daxmode needs a famfs kernel's fsdev_dax driver; this famfs maps device-DAX and emulated devices as they are", exitCode);
  if (o.nofuse && !o.fuse) throw v1Refusal('-F/--nofuse', exitCode);
  if (o.fuse) return;
  const env = process.env[MODE_ENV];
  if (env === undefined || env === '' || env === 'fuse') return;
  if (env === 'v1') throw v1Refusal(`${MODE_ENV}=v1`, exitCode);
  process.stderr.write(`${prog}: unrecognized ${MODE_ENV} value '${env}' (valid: 'fuse', 'v1'); ignoring\n`);
}

function v1Refusal(what: string, exitCode: number): FsError {
  return new FsError('EOPNOTSUPP', `${what} needs the standalone famfs v1 kernel module; this famfs runs in FUSE mode only`, exitCode);
}

/** upstream's warning for `-r/--read` (the superblock and log read with read(2) instead of mmap). */
export function readOptionWarning(fn: string): void {
  process.stderr.write(`${fn}: warning: the read option can cause cache coherency problems\n`);
}

/** upstream's `-?` is help on every command: rewritten to `--help` (options only, not after `--`). */
export function questionMarkHelp(args: readonly string[]): string[] {
  const end = args.indexOf('--');
  return args.map((a, i) => (a === '-?' && (end < 0 || i < end) ? '--help' : a));
}
