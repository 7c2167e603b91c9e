import { readFileSync } from 'node:fs';
import { type Command, InvalidArgumentError } from '../commander.js';
import { createEmulatedDevice, EMULATED_DEFAULT_MODE, removeEmulatedDevice } from '../../device/emulated.js';
import { parseOctalMode, parseSize } from '../args.js';
import { runCommand } from '../run.js';

const GROUP_FILE = '/etc/group';

/** A group name from /etc/group, or a numeric gid. */
function parseGroup(text: string): number {
  if (/^\d+$/.test(text)) return Number(text);
  let groups = '';
  try {
    groups = readFileSync(GROUP_FILE, 'utf8');
  } catch {
    // No group file: only numeric groups can be named.
  }
  for (const line of groups.split('\n')) {
    const [name, , gid] = line.split(':');
    if (name === text && gid !== undefined && /^\d+$/.test(gid)) return Number(gid);
  }
  throw new InvalidArgumentError(`no group '${text}'`);
}

/** Emulated memory devices: sparse files on /dev/shm or hugetlbfs standing in for CXL memory. */
export function register(program: Command): void {
  const emu = program.command('emu').description('emulated memory devices (a sparse file on /dev/shm or hugetlbfs)');
  emu
    .command('create')
    .description('create an emulated memory device (mode 0600: it holds every file\'s bytes)')
    .argument('<path>', 'file to create, e.g. /dev/shm/famfs0')
    .requiredOption('--size <size>', 'device size (k/m/g suffixes; a multiple of 2M)', parseSize)
    .option('-f, --force', 'replace an existing emulated device (one this command made)')
    .option('--mode <octal>', `permission bits of the device (default ${EMULATED_DEFAULT_MODE.toString(8).padStart(4, '0')})`, parseOctalMode)
    .option('--group <group>', 'group owning the device (a name or gid), for --mode 0640 or 0660', parseGroup)
    .option('--noncoherent', 'each host sees the device through its own cache: writes reach other hosts only by flush and invalidate (default with FAMFS_EMU_NONCOHERENT=1)')
    .action((path: string, o: { size: number; force?: boolean; mode?: number; group?: number; noncoherent?: boolean }) =>
      runCommand('famfs emu create', () => {
        createEmulatedDevice(path, o.size, { force: !!o.force, mode: o.mode, gid: o.group, ...(o.noncoherent ? { noncoherent: true } : {}) });
        process.stdout.write(`created emulated device ${path} (${o.size} bytes)\n`);
      }));
  emu
    .command('remove')
    .description('remove an emulated memory device (only one made by famfs emu create)')
    .argument('<path>', 'the device file')
    .action((path: string) => runCommand('famfs emu remove', () => removeEmulatedDevice(path)));
}
