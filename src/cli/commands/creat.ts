import { type Command, InvalidArgumentError } from 'commander';
import type { InterleaveParams } from '../../alloc/interleave.js';
import { DEFAULT_CHUNK_SIZE } from '../../alloc/interleave.js';
import { DEFAULT_FILE_MODE } from '../../fs/famfs.js';
import { parseOctalMode, parseSize, parseUint } from '../args.js';
import { printJson, runCommand } from '../run.js';
import { addDeviceOption, type DeviceOption, withTarget } from '../target.js';

interface CreatOpts extends DeviceOption {
  size?: number; mode?: number; uid?: number; gid?: number; verbose?: boolean; json?: boolean;
  nstrips?: number; nbuckets?: number; chunksize?: number;
}

/** -N/-B/-C replace the whole interleave setting, unspecified fields 0, as upstream. */
export function interleaveFrom(o: { nstrips?: number; nbuckets?: number; chunksize?: number }): InterleaveParams | undefined {
  if (o.nstrips === undefined && o.nbuckets === undefined && o.chunksize === undefined) return undefined;
  return { nstrips: o.nstrips ?? 0, nbuckets: o.nbuckets ?? 0, chunkSize: o.chunksize ?? DEFAULT_CHUNK_SIZE };
}

export function addInterleaveOptions(cmd: Command): Command {
  return cmd
    .option('-N, --nstrips <n>', 'interleave: strips per file (1..16)', parseUint)
    .option('-B, --nbuckets <n>', 'interleave: buckets the device is divided into (1..64)', parseUint)
    .option('-C, --chunksize <size>', 'interleave: chunk size (default 2M)', parseSize);
}

export function register(program: Command): void {
  addDeviceOption(addInterleaveOptions(program
    .command('creat')
    .description('create and allocate a file (master only)')
    .argument('<file>', 'famfs path')
    .option('-s, --size <size>', 'file size (k/m/g suffixes); required for a new file', (t: string) => {
      const n = parseSize(t);
      if (n === 0) throw new InvalidArgumentError('a famfs file cannot be empty');
      return n;
    })
    .option('-m, --mode <octal>', 'mode (default 0644, less the umask)', parseOctalMode)
    .option('-u, --uid <uid>', 'owner (default: effective uid)', parseUint)
    .option('-g, --gid <gid>', 'group (default: effective gid)', parseUint)
    .option('-v, --verbose', 'print the allocation')
    .option('--json', 'print the file as JSON')))
    .action((file: string, o: CreatOpts) =>
      runCommand('famfs creat', () => withTarget([file], o, { writable: true }, (fs, [rel]) => {
        const mode = o.mode ?? (DEFAULT_FILE_MODE & ~process.umask());
        const { file: node, created } = fs.creat(rel!, { size: o.size, mode, uid: o.uid, gid: o.gid, interleave: interleaveFrom(o) });
        if (o.json) printJson({ path: file, created, ino: node.ino, size: node.size, mode: node.mode, uid: node.uid, gid: node.gid, fmap: node.fmap });
        else if (o.verbose) process.stdout.write(`famfs creat: ${created ? 'created' : 'exists'} ${file} (${node.size} bytes)\n`);
      })));
}
