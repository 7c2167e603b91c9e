import type { Command } from 'commander';
import { UsageError } from '../../errors.js';
import { mountOf } from '../../mounts/registry.js';
import { addDevice } from '../../fs/adddev.js';
import { printJson, runCommand } from '../run.js';
import { DEVICE_ENV, addDeviceOption, type DeviceOption, withTarget } from '../target.js';

type AdddevOpts = DeviceOption & { force?: boolean; json?: boolean };

/** Add `dev` to the file system `target` names (a path in its mount, or none: --device / $FAMFS_DEVICE). */
function adddev(prog: string, dev: string, target: string | undefined, o: AdddevOpts): Promise<void> {
  return runCommand(prog, () => {
    if (target === undefined && !o.device && !process.env[DEVICE_ENV]) {
      throw new UsageError(`name the file system: a path in its mount, --device <primary> or $${DEVICE_ENV}`);
    }
    return withTarget(target === undefined ? [] : [target], o, { writable: true }, (fs) => {
      const r = addDevice(fs, dev, { force: !!o.force });
      if (o.json) printJson({ ...r, fsUuid: fs.uuid });
      else process.stdout.write(`famfs adddev: ${dev} is device ${r.index} of famfs ${fs.uuid} (${r.size} bytes, device UUID ${r.devUuid})\n`);
      // Upstream famfs reads no device index: a file placed on this device is, to its hosts,
      // memory on device 0 that other files use. Until it does, mixed fleets must know.
      process.stderr.write(`famfs adddev: warning: hosts that know only device 0 (upstream famfs) misread files placed on device ${r.index} as memory on device 0; famfs fsck says whether the file system is still safe for them\n`);
    });
  });
}

function addOptions(cmd: Command): Command {
  return addDeviceOption(cmd
    .option('-f, --force', 'add a device that holds another famfs file system (it is lost)')
    .option('--json', 'print the new device as JSON'));
}

export function register(program: Command): void {
  addOptions(program
    .command('adddev')
    .description('add a memory device to the file system (master only): allocation, interleaving and fsck then span it')
    .argument('<dev>', 'the memory device to add: /dev/daxX.Y, a pmem device or an emulated device file (at least 4 GiB)')
    .argument('[path]', 'a path in the famfs mount to add it to (else --device / $FAMFS_DEVICE names the primary)'))
    .action((dev: string, path: string | undefined, o: AdddevOpts) => adddev('famfs adddev', dev, path, o));

  // upstream's roadmap spells it `famfs devadd <target> <daxdev>`: the file system first.
  addOptions(program
    .command('devadd')
    .description("adddev with upstream's argument order: the file system (mount path or primary device), then the device to add")
    .argument('<target>', 'a path in the famfs mount, or the primary device')
    .argument('<daxdev>', 'the memory device to add'))
    .action((target: string, dev: string, o: AdddevOpts) => {
      // A target that is not in a mount names the primary device, as upstream's offline form.
      if (mountOf(target)) return adddev('famfs devadd', dev, target, o);
      return adddev('famfs devadd', dev, undefined, { ...o, device: o.device ?? target });
    });
}
