import type { Command } from 'commander';
import { FamfsHandle } from '../../fs/famfs.js';
import { parseUuid } from '../../format/uuid.js';
import { addDeviceMapOption, type DeviceMapOption, deviceMapOf } from '../device-map.js';
import { EXIT_FAILURE, printJson, runCommand } from '../run.js';
import { fsStatus } from '../../status/report.js';
import { statusText } from '../status-text.js';
import { wholeFsTarget } from '../target.js';

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
        const { device, systemUuid: uuid } = wholeFsTarget(mnt, o.device);
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
