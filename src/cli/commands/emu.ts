import { rmSync, statSync } from 'node:fs';
import type { Command } from 'commander';
import { createEmulatedDevice } from '../../device/emulated.js';
import { FsError } from '../../errors.js';
import { parseSize } from '../args.js';
import { runCommand } from '../run.js';

/** Emulated memory devices: sparse files on /dev/shm or hugetlbfs standing in for CXL memory. */
export function register(program: Command): void {
  const emu = program.command('emu').description('emulated memory devices (a sparse file on /dev/shm or hugetlbfs)');
  emu
    .command('create')
    .description('create an emulated memory device')
    .argument('<path>', 'file to create, e.g. /dev/shm/famfs0')
    .requiredOption('--size <size>', 'device size (k/m/g suffixes; a multiple of 2M)', parseSize)
    .option('-f, --force', 'replace an existing file')
    .action((path: string, o: { size: number; force?: boolean }) =>
      runCommand('famfs emu create', () => {
        createEmulatedDevice(path, o.size, { force: !!o.force });
        process.stdout.write(`created emulated device ${path} (${o.size} bytes)\n`);
      }));
  emu
    .command('remove')
    .description('remove an emulated memory device')
    .argument('<path>', 'the device file')
    .action((path: string) =>
      runCommand('famfs emu remove', () => {
        let isFile: boolean;
        try {
          isFile = statSync(path).isFile();
        } catch {
          throw new FsError('ENOENT', `${path} does not exist`);
        }
        if (!isFile) throw new FsError('EINVAL', `${path} is not an emulated device (not a regular file)`);
        rmSync(path);
      }));
}
