import type { Command } from 'commander';
import { FsError } from '../../errors.js';
import { fmapExtents } from '../../format/fmap.js';
import { printJson, runCommand } from '../run.js';
import { addDeviceOption, type DeviceOption, withTarget } from '../target.js';

/** Upstream's statuses: a missing file is EBADF (open failed), a directory EISDIR. */
const EXIT_NOT_FOUND = 9;
const EXIT_NOT_REGULAR = 21;

export function register(program: Command): void {
  addDeviceOption(program
    .command('getmap')
    .description("print a file's extent map (device offsets and lengths)")
    .argument('<file...>', 'famfs paths')
    .option('-q, --quiet', 'only the exit status')
    .option('--json', 'print the maps as JSON'))
    .action((files: string[], o: DeviceOption & { quiet?: boolean; json?: boolean }) =>
      runCommand('famfs getmap', () => withTarget(files, o, { writable: false }, (fs, rels) => {
        const out: unknown[] = [];
        for (const [i, f] of files.entries()) {
          const node = fs.lookup(rels[i]!);
          if (!node) throw new FsError('ENOENT', `'${f}': no such file in famfs`, EXIT_NOT_FOUND);
          if (node.kind !== 'file') throw new FsError('EISDIR', `'${f}' is not a regular file`, EXIT_NOT_REGULAR);
          const m = node.fmap;
          if (o.json) {
            out.push({ file: f, size: node.size, fmap: m });
            continue;
          }
          if (o.quiet) continue;
          const lines = [`File:     ${f}`, `\tsize:    ${node.size}`];
          if (m.kind === 'simple') {
            lines.push(`\textents: ${m.extents.length}`);
          } else {
            lines.push(`\tinterleaved: nstrips ${m.nstrips} chunk_size 0x${m.chunkSize.toString(16)}`);
            lines.push(`\tstrips:  ${m.strips.length}`);
          }
          for (const e of fmapExtents(m)) lines.push(`\t\t0x${e.offset.toString(16)}\t${e.len}${e.devIndex ? `\tdevice ${e.devIndex}` : ''}`);
          lines.push(`famfs_getmap: good file ${f}`);
          process.stdout.write(`${lines.join('\n')}\n`);
        }
        if (o.json) printJson(out);
      })));
}
