import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { FsError, UsageError } from '../../errors.js';
import { runCommand } from '../run.js';

/**
 * upstream's two commands that exist only for its standalone v1 kernel module. They are listed
 * (an upstream script's `famfs check` must not be an unknown command) and answer in one line.
 */

/** upstream's check reports an unmapped file, which every file of a FUSE mount is to its ioctl, with 1. */
const CHECK_STATUS = 1;

export function register(program: Command): void {
  program
    .command('check')
    .description('upstream: check every file of a standalone (v1 kernel module) famfs mount; not in FUSE mode (use fsck)')
    .argument('[mountpoint]', 'mount point')
    .option('-v, --verbose', 'accepted (repeatable)')
    .action((mnt: string | undefined) =>
      runCommand('famfs check', () => {
        if (mnt === undefined) throw new UsageError('Must specify filename');
        throw new FsError('EOPNOTSUPP', `famfs check needs the standalone famfs v1 kernel module (it asks the module for each file's map); in FUSE mode use famfs fsck ${mnt}`, CHECK_STATUS);
      }));

  program
    .command('mkmeta')
    .description('upstream: create the meta files of a standalone (v1 kernel module) mount; in FUSE mode famfs mount makes them')
    .argument('[device]', 'memory device')
    .option('-v, --verbose', 'accepted')
    .action((device: string | undefined) =>
      runCommand('famfs mkmeta', () => {
        if (device === undefined) throw new UsageError('Must specify at least one dax device');
        if (!existsSync(device)) throw new UsageError(`unable to rationalize daxdev path from (${device})`);
        // upstream exits 0 once the device path resolves, whatever mkmeta then finds; so does this.
        process.stderr.write(`famfs mkmeta: nothing to do: the meta files belong to the famfs v1 kernel module; in FUSE mode famfs mount makes .meta/.superblock and .meta/.log\n`);
        return 0;
      }));
}
