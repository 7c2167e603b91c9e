import type { Command } from './commander.js';
import { DEFAULT_CHUNK_SIZE, type InterleaveParams } from '../alloc/interleave.js';
import { parseSize, parseUint } from './args.js';

/**
 * The interleave options `famfs creat` and `famfs cp` share, with upstream's letters: -N strips,
 * -B buckets, -C chunk size.
 */

/** What the options leave in a command's parsed options, with the file system's default. */
export interface InterleaveOpts {
  nstrips?: number;
  nbuckets?: number;
  chunksize?: number;
  /** `.meta/.alloc.cfg`'s interleave, read by the command (cli/alloc-cfg.ts); undefined: none. */
  allocDefault?: InterleaveParams;
}

export function addInterleaveOptions(cmd: Command): Command {
  return cmd
    .option('-N, --nstrips <n>', 'interleave: strips per file (1..16)', parseUint)
    .option('-B, --nbuckets <n>', 'interleave: buckets the device is divided into (1..64)', parseUint)
    .option('-C, --chunksize <size>', 'interleave: chunk size (default 2M)', parseSize);
}

/**
 * -N/-B/-C replace the whole interleave setting, unspecified fields 0, as upstream; without them,
 * the file system's default (`allocDefault`); undefined: a contiguous file.
 */
export function interleaveFrom(o: InterleaveOpts): InterleaveParams | undefined {
  if (o.nstrips === undefined && o.nbuckets === undefined && o.chunksize === undefined) return o.allocDefault;
  return { nstrips: o.nstrips ?? 0, nbuckets: o.nbuckets ?? 0, chunkSize: o.chunksize ?? DEFAULT_CHUNK_SIZE };
}
