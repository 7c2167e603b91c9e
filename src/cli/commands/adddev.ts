import type { Command } from 'commander';
import { UsageError } from '../../errors.js';
import { addDevice } from '../../fs/adddev.js';
import { printJson, runCommand } from '../run.js';
import { DEVICE_ENV, addDeviceOption, type DeviceOption, withTarget } from '../target.js';

export function register(program: Command): void {
  addDeviceOption(program
    .command('adddev')
    .description('add a memory device to the file system (master only): allocation, interleaving and fsck then span it')
    .argument('<dev>', 'the memory device to add: /dev/daxX.Y, a pmem device or an emulated device file (at least 4 GiB)')
    .argument('[path]', 'a path in the famfs mount to add it to (else --device / $FAMFS_DEVICE names the primary)')
    .option('-f, --force', 'add a device that holds another famfs file system (it is lost)')
    .option('--json', 'print the new device as JSON'))
    .action((dev: string, path: string | undefined, o: DeviceOption & { force?: boolean; json?: boolean }) =>
      runCommand('famfs adddev', () => {
        if (path === undefined && !o.device && !process.env[DEVICE_ENV]) {
          throw new UsageError(`name the file system: a path in its mount, --device <primary> or $${DEVICE_ENV}`);
        }
        return withTarget(path === undefined ? [] : [path], o, { writable: true }, (fs) => {
          const r = addDevice(fs, dev, { force: !!o.force });
          if (o.json) printJson({ ...r, fsUuid: fs.uuid });
          else process.stdout.write(`famfs adddev: ${dev} is device ${r.index} of famfs ${fs.uuid} (${r.size} bytes, device UUID ${r.devUuid})\n`);
          // Upstream famfs reads no device index: a file placed on this device is, to its hosts,
          // memory on device 0 that other files use. Until it does, mixed fleets must know.
          process.stderr.write(`famfs adddev: warning: hosts that know only device 0 (upstream famfs) misread files placed on device ${r.index} as memory on device 0; famfs fsck says whether the file system is still safe for them\n`);
        });
      }));
}
