import type { Command } from 'commander';
import { parseOctalMode, parseUint } from '../args.js';
import { nodeJson } from '../json.js';
import { printJson, runCommand } from '../run.js';
import { addDeviceOption, type DeviceOption, withTarget } from '../target.js';

export function register(program: Command): void {
  addDeviceOption(program
    .command('mkdir')
    .description('create a directory (master only); -p creates missing parents, one log entry each')
    .argument('<dir>', 'famfs path')
    .option('-p, --parents', 'create missing parent directories; no error if it exists')
    .option('-m, --mode <octal>', 'mode (default 0755)', parseOctalMode)
    .option('-u, --uid <uid>', 'owner (default: effective uid)', parseUint)
    .option('-g, --gid <gid>', 'group (default: effective gid)', parseUint)
    .option('-v, --verbose', 'say what was created')
    .option('--json', 'print the directory as JSON'))
    .action((dir: string, o: DeviceOption & { parents?: boolean; mode?: number; uid?: number; gid?: number; verbose?: boolean; json?: boolean }) =>
      runCommand('famfs mkdir', () => withTarget([dir], o, { writable: true }, (fs, [rel]) => {
        const before = fs.stats.dirs;
        const node = fs.mkdir(rel!, { parents: !!o.parents, mode: o.mode, uid: o.uid, gid: o.gid });
        if (o.json) printJson({ ...nodeJson(node), created: fs.stats.dirs > before, logEntries: fs.stats.dirs - before });
        else if (o.verbose) process.stdout.write(`famfs mkdir: created ${fs.stats.dirs - before} director${fs.stats.dirs - before === 1 ? 'y' : 'ies'} for ${dir}\n`);
      })));
}
