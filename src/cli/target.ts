import { isAbsolute } from 'node:path';
import type { Command } from 'commander';
import { liveRecords, mountOf } from '../mounts/registry.js';
import { UsageError } from '../errors.js';
import { refuseDeadMounts } from './dead-mount.js';
import { FamfsHandle, type HandleOpenOptions } from '../fs/famfs.js';
import { getSystemUuid } from '../format/system-uuid.js';
import { formatUuid, parseUuid } from '../format/uuid.js';

/** Environment default for commands that address a file system by its device. */
export const DEVICE_ENV = 'FAMFS_DEVICE';

export interface DeviceOption {
  device?: string;
}

export function addDeviceOption(cmd: Command): Command {
  return cmd.option('--device <dev>', `address the file system by its memory device, paths relative to its root (default: $${DEVICE_ENV})`);
}

/** Where a command's paths live: a device, the famfs paths on it, and the host to act as. */
interface Target {
  device: string;
  relpaths: string[];
  /** A path inside a mount acts as the host that made the mount. */
  systemUuid?: Buffer;
}

/**
 * Resolve command paths the way upstream does — a path inside a famfs mount names that file
 * system — and, failing that, as famfs paths on `--device` / $FAMFS_DEVICE.
 */
export function resolveTarget(paths: string[], opts: DeviceOption): Target {
  const device = opts.device ?? process.env[DEVICE_ENV];
  refuseDeadMounts(paths);
  const mounted = paths.map((p) => (device && !isAbsolute(p) ? undefined : mountOf(p)));
  if (mounted.length > 0 && mounted.every((m) => m)) {
    const first = mounted[0]!.record;
    if (mounted.some((m) => m!.record.mountpoint !== first.mountpoint)) throw new UsageError('the paths are in different famfs mounts');
    return { device: first.device, relpaths: mounted.map((m) => m!.relpath), systemUuid: parseUuid(first.systemUuid) };
  }
  if (!device) {
    const bad = paths[mounted.findIndex((m) => !m)] ?? '';
    throw new UsageError(`'${bad}' is not in a famfs mount; give a path inside a mount, or --device <dev> (or $${DEVICE_ENV})`);
  }
  return { device, relpaths: paths };
}

/** Open the file system the paths address, run `fn` with their famfs paths, always close. */
export async function withTarget<T>(paths: string[], opts: DeviceOption, open: HandleOpenOptions,
  fn: (fs: FamfsHandle, relpaths: string[]) => T | Promise<T>): Promise<T> {
  const t = resolveTarget(paths, opts);
  const fs = FamfsHandle.open(t.device, { ...open, systemUuid: open.systemUuid ?? t.systemUuid });
  try {
    return await fn(fs, t.relpaths);
  } finally {
    fs.close();
  }
}

/**
 * The file system a whole-file-system command (status, console) looks at, and as which host: a
 * mount point's (as the host that made the mount), `--device` (as this host), or else the only
 * file system mounted on this machine.
 */
export function wholeFsTarget(mountpoint: string | undefined, device: string | undefined): { device: string; systemUuid: string } {
  if (mountpoint !== undefined && device !== undefined) throw new UsageError('give a mount point or --device, not both');
  if (mountpoint !== undefined) {
    const m = mountOf(mountpoint);
    if (!m || m.relpath !== '') throw new UsageError(`'${mountpoint}' is not a famfs mount point`);
    return { device: m.record.device, systemUuid: m.record.systemUuid };
  }
  const host = formatUuid(getSystemUuid());
  if (device !== undefined) return { device, systemUuid: host };
  const devices = [...new Set(liveRecords().map((r) => r.device))];
  if (devices.length !== 1) {
    throw new UsageError(devices.length === 0 ? 'no famfs file system is mounted here; give --device <dev>'
      : `several famfs file systems are mounted here (${devices.join(', ')}); give a mount point or --device`);
  }
  return { device: devices[0]!, systemUuid: host };
}
