import type { Command } from 'commander';
import { FsError } from '../../errors.js';
import { fmapExtents } from '../../format/fmap.js';
import { runCommand } from '../run.js';
import { addDeviceOption, type DeviceOption, withTarget } from '../target.js';

/** For testing fsck: a second file sharing the first one's memory. */
export function register(program: Command): void {
  addDeviceOption(program
    .command('clone')
    .description('create <dest> with the same extents as <src> (master only; testing: the file system becomes cross-linked and fsck fails)')
    .argument('<src>', 'existing famfs file')
    .argument('<dest>', 'new famfs path')
    .option('-v, --verbose', 'describe the clone'))
    .action((src: string, dest: string, o: DeviceOption & { verbose?: boolean }) =>
      runCommand('famfs clone', () => withTarget([src, dest], o, { writable: true }, (fs, [srcRel, destRel]) =>
        fs.withLog((s) => {
          const node = fs.lookup(srcRel!);
          if (!node) throw new FsError('ENOENT', `bad source path ${src}: no such file in famfs`, 1);
          if (node.kind !== 'file') throw new FsError('EISDIR', `source ${src} is a directory`, 1);
          s.addFile(destRel!, { size: node.size, fmap: node.fmap, mode: node.mode, uid: node.uid, gid: node.gid, crossLink: true });
          process.stderr.write(`famfs clone: warning: ${dest} shares the memory of ${src}; the file system is now cross-linked (fsck reports it)\n`);
          if (o.verbose) process.stdout.write(`famfs clone: ${dest}: ${node.size} bytes, ${fmapExtents(node.fmap).length} extents of ${src}\n`);
        }))));
}
