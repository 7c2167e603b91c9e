import type { Command } from 'commander';
import { type FsNode, pathOf } from '../../fs/namespace.js';
import { nodeJson } from '../json.js';
import { printJson, runCommand } from '../run.js';
import { addDeviceOption, type DeviceOption, withTarget } from '../target.js';

/** Not in upstream: list a file system from its device, without mounting it. */
export function register(program: Command): void {
  addDeviceOption(program
    .command('ls')
    .description('list a directory of a famfs file system from its device (no mount needed)')
    .argument('[path]', 'famfs path', '/')
    .option('-R, --recursive', 'list subdirectories too')
    .option('-l, --long', 'mode, owner, size')
    .option('--json', 'machine-readable output'))
    .action((path: string, o: DeviceOption & { recursive?: boolean; long?: boolean; json?: boolean }) =>
      runCommand('famfs ls', () => withTarget([path], o, { writable: false }, (fs, [rel]) => {
        const top = fs.stat(rel!);
        const nodes: FsNode[] = top.kind === 'dir' ? (o.recursive ? [...fs.ns.walk(top)] : [...top.children.values()]) : [top];
        nodes.sort((a, b) => (pathOf(a) < pathOf(b) ? -1 : 1));
        if (o.json) {
          printJson(nodes.map((n) => nodeJson(n)));
          return;
        }
        for (const n of nodes) {
          const name = o.recursive || top.kind !== 'dir' ? pathOf(n) : n.name;
          if (!o.long) {
            process.stdout.write(`${name}${n.kind === 'dir' ? '/' : ''}\n`);
            continue;
          }
          const type = n.kind === 'dir' ? 'd' : '-';
          const size = n.kind === 'file' ? n.size : 0;
          process.stdout.write(`${type}${modeString(n.mode)} ${String(n.uid).padStart(5)} ${String(n.gid).padStart(5)} ${String(size).padStart(14)} ${name}${n.kind === 'dir' ? '/' : ''}\n`);
        }
      })));
}

function modeString(mode: number): string {
  const rwx = ['r', 'w', 'x'];
  let s = '';
  for (let i = 8; i >= 0; i--) s += mode & (1 << i) ? rwx[(8 - i) % 3] : '-';
  return s;
}
