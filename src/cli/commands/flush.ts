import type { Command } from 'commander';
import { mapFile } from '../../map/file-mapping.js';
import { FamfsError } from '../../errors.js';
import type { FamfsHandle } from '../../fs/famfs.js';
import { metaFileKind } from '../../fs/meta-files.js';
import { LOG_OFFSET, SUPERBLOCK_REGION_SIZE } from '../../format/layout.js';
import { runCommand } from '../run.js';
import { addDeviceOption, type DeviceOption, withTarget } from '../target.js';

/** upstream's per-file results (famfs_flush_file); the command exits with how many failed. */
const FLUSH_NOT_FOUND = 3;
const FLUSH_NOT_REGULAR = 2;
const FLUSH_MAP_FAILED = 1;
const MAX_EXIT = 127;

/** A meta file's bytes (the superblock region or the log) flushed like a file's. */
function flushMeta(fs: FamfsHandle, kind: 'superblock' | 'log', file: string, verbose: number): number {
  const [offset, length] = kind === 'superblock' ? [0, SUPERBLOCK_REGION_SIZE] : [LOG_OFFSET, fs.sb.logLen];
  return flushAndDrop(fs.device.map(offset, length, { writable: false }), file, verbose);
}

/**
 * Writes back, then drops, a mapping's cached lines and unmaps it: the caller may need either
 * direction (this host wrote, or another host did).
 */
function flushAndDrop(m: { flush(): void; invalidate(): void; unmap(): void }, file: string, verbose: number): number {
  try {
    if (verbose) process.stdout.write(`famfs flush: flushing: ${file}\n`);
    m.flush();
    m.invalidate();
  } finally {
    m.unmap();
  }
  return 0;
}

function flushOne(fs: FamfsHandle, rel: string, file: string, verbose: number): number {
  const meta = metaFileKind(rel);
  if (meta) return flushMeta(fs, meta, file, verbose);
  fs.refresh();
  const node = fs.lookup(rel);
  if (!node) {
    process.stderr.write(`famfs flush: file not found (${file})\n`);
    return FLUSH_NOT_FOUND;
  }
  if (node.kind !== 'file') {
    if (verbose) process.stderr.write(`famfs flush: not a regular file: (${file})\n`);
    return FLUSH_NOT_REGULAR;
  }
  try {
    return flushAndDrop(mapFile(fs, rel), file, verbose);
  } catch (err) {
    if (!(err instanceof FamfsError)) throw err;
    process.stderr.write(`famfs flush: ${file}: ${err.message}\n`);
    return FLUSH_MAP_FAILED;
  }
}

export function register(program: Command): void {
  addDeviceOption(program
    .command('flush')
    .description('write back and invalidate the CPU caches over whole files (for memory that is not cache-coherent across hosts)')
    .argument('<file...>', 'famfs files')
    .option('-v, --verbose', 'say what is flushed (repeatable)', (_v: string, prev: number) => prev + 1, 0))
    .action((files: string[], o: DeviceOption & { verbose: number }) =>
      runCommand('famfs flush', () => withTarget(files, o, { writable: false }, (fs, rels) => {
        let errs = 0;
        for (const [i, f] of files.entries()) if (flushOne(fs, rels[i]!, f, o.verbose) !== 0) errs++;
        if (errs) process.stdout.write(`do_famfs_cli_flush: ${errs} errors were detected\n`);
        return Math.min(errs, MAX_EXIT);
      })));
}
