import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import { Famfs, type OpenOptions } from '../fs/famfs.js';

/** Environment default for commands that address a file system by its device. */
export const DEVICE_ENV = 'FAMFS_DEVICE';

export interface DeviceOption {
  device?: string;
}

export function addDeviceOption(cmd: Command): Command {
  return cmd.option('--device <dev>', `memory device holding the file system (default: $${DEVICE_ENV})`);
}

export function resolveDevice(opts: DeviceOption): string {
  const dev = opts.device ?? process.env[DEVICE_ENV];
  if (!dev) throw new UsageError(`no device: give --device <dev> or set ${DEVICE_ENV}`);
  return dev;
}

/** Open the file system a command addresses, and always close it. */
export async function withFamfs<T>(opts: DeviceOption, open: OpenOptions, fn: (fs: Famfs) => T | Promise<T>): Promise<T> {
  const fs = Famfs.open(resolveDevice(opts), open);
  try {
    return await fn(fs);
  } finally {
    fs.close();
  }
}
