import type { Command } from 'commander';
import { DEVICE_MAP_ENV, type DeviceMap, deviceMapFromEnv, parseDeviceMap } from '../fs/device-set.js';

/** Commands that read file data or check devices take `--device-map N=path` (repeatable). */
export interface DeviceMapOption {
  deviceMap?: string[];
}

export function addDeviceMapOption(cmd: Command): Command {
  return cmd.option('--device-map <idx=path>', `where this host sees added device <idx> (repeatable; default $${DEVICE_MAP_ENV}, else found by its UUID)`,
    (v: string, prev: string[] | undefined) => [...(prev ?? []), v]);
}

/** The option's entries over $FAMFS_DEVICE_MAP's: the command line wins index by index. */
export function deviceMapOf(o: DeviceMapOption): DeviceMap {
  const map = deviceMapFromEnv();
  for (const [i, p] of parseDeviceMap(o.deviceMap ?? [])) map.set(i, p);
  return map;
}
