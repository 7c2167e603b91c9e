import { statSync } from 'node:fs';
import type { Command } from 'commander';
import { mountOf } from '../../mounts/registry.js';
import { FamfsHandle } from '../../fs/famfs.js';
import { parseUuid } from '../../format/uuid.js';
import { fsck, fsckExitStatus } from '../../fs/fsck.js';
import { fsckText } from '../fsck-text.js';
import { addDeviceMapOption, type DeviceMapOption, deviceMapOf } from '../device-map.js';
import { refuseDeadMounts } from '../dead-mount.js';
import { printJson, runCommand } from '../run.js';

/** Permission bits that let users other than the owner (and its group) read a device. */
const OTHERS_READ = 0o004;

/** A device others can read hands them every file's bytes and, through the log, every name. */
function warnIfReadableByOthers(device: string): void {
  let mode: number;
  try {
    mode = statSync(device).mode;
  } catch {
    return; // opened a moment ago; a device that vanished since is not this check's to report
  }
  if (mode & OTHERS_READ) {
    process.stderr.write(`famfs fsck: warning: ${device} is readable by other users (mode ${(mode & 0o777).toString(8).padStart(4, '0')}): they can read every file and name on it\n`);
  }
}

export function register(program: Command): void {
  addDeviceMapOption(program
    .command('fsck')
    .description('check a famfs file system and report its superblock, log and capacity')
    .argument('<device|path>', 'memory device holding the file system, or a path in a famfs mount')
    // -h is --human here, as upstream; help is -?.
    .helpOption('-?, --help', 'display help')
    .option('-h, --human', 'sizes in GiB')
    .option('-v, --verbose', 'more detail (repeatable)', (_v: string, prev: number) => prev + 1, 0)
    .option('--json', 'machine-readable report'))
    .action((device: string, o: DeviceMapOption & { human?: boolean; verbose: number; json?: boolean }) =>
      runCommand('famfs fsck', () => {
        refuseDeadMounts([device]);
        const m = mountOf(device);
        const deviceMap = deviceMapOf(o);
        const fs = m
          ? FamfsHandle.open(m.record.device, { systemUuid: parseUuid(m.record.systemUuid), deviceMap })
          : FamfsHandle.open(device, { writable: false, deviceMap });
        warnIfReadableByOthers(m ? m.record.device : device);
        try {
          const report = fsck(fs);
          if (o.json) printJson(report);
          else process.stdout.write(fsckText(report, { human: !!o.human, verbose: o.verbose }));
          return fsckExitStatus(report);
        } finally {
          fs.close();
        }
      }));
}
