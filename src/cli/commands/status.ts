import type { Command } from 'commander';
import { liveRecords, mountOf } from '../../mounts/registry.js';
import { UsageError } from '../../errors.js';
import { FamfsHandle } from '../../fs/famfs.js';
import { formatUuid, parseUuid } from '../../format/uuid.js';
import { getSystemUuid } from '../../format/system-uuid.js';
import { addDeviceMapOption, type DeviceMapOption, deviceMapOf } from '../device-map.js';
import { EXIT_FAILURE, printJson, runCommand } from '../run.js';
import { fsStatus } from '../../status/report.js';
import { statusText } from '../status-text.js';

/** Not in upstream. Exit 0 when no problem is listed, 1 when one is: a health check. */
export function register(program: Command): void {
  addDeviceMapOption(program
    .command('status')
    .description('one screen on a famfs file system: log and device fill, files, this machine\'s mounts, problems (exit 1 if any)')
    .argument('[mountpoint]', 'a famfs mount (default: the only famfs file system mounted here)')
    .option('--device <dev>', 'the file system on this memory device')
    .option('--json', `the same as JSON (versioned schema, see README)`))
    .action((mnt: string | undefined, o: DeviceMapOption & { device?: string; json?: boolean }) =>
      runCommand('famfs status', async () => {
        if (mnt !== undefined && o.device !== undefined) throw new UsageError('give a mount point or --device, not both');
        let device = o.device;
        let host: string | undefined;
        if (mnt !== undefined) {
          const m = mountOf(mnt);
          if (!m || m.relpath !== '') throw new UsageError(`'${mnt}' is not a famfs mount point`);
          device = m.record.device;
          host = m.record.systemUuid;
        } else if (device === undefined) {
          const devices = [...new Set(liveRecords().map((r) => r.device))];
          if (devices.length !== 1) {
            throw new UsageError(devices.length === 0 ? 'no famfs file system is mounted here; give --device <dev>' : `several famfs file systems are mounted here (${devices.join(', ')}); give a mount point or --device`);
          }
          device = devices[0]!;
        }
        const uuid = host ?? formatUuid(getSystemUuid());
        const fs = FamfsHandle.open(device, { writable: false, systemUuid: parseUuid(uuid), deviceMap: deviceMapOf(o) });
        try {
          const s = await fsStatus(fs, uuid);
          if (o.json) printJson(s);
          else process.stdout.write(statusText(s));
          return s.problems.length > 0 ? EXIT_FAILURE : 0;
        } finally {
          fs.close();
        }
      }));
}
