import { randomInt } from 'node:crypto';
import { type Command, InvalidArgumentError } from '../commander.js';
import { FamfsError, UsageError } from '../../errors.js';
import { FamfsHandle } from '../../fs/famfs.js';
import { DEFAULT_FILE_MODE } from '../../fs/log-session.js';
import { parseOctalMode, parseSize, parseUint } from '../args.js';
import { type InterleaveOpts, addInterleaveOptions, interleaveFrom } from '../interleave-options.js';
import { type MultiCreat, parseMultiCreat, parseSeed, parseThreads } from '../data-args.js';
import { mountAllocCfg } from '../alloc-cfg.js';
import { nodeJson } from '../json.js';
import { printJson, runCommand } from '../run.js';
import { addDeviceOption, type DeviceOption, resolveTarget, withTarget } from '../target.js';

interface CreatOpts extends DeviceOption, InterleaveOpts {
  size?: number; mode?: number; uid?: number; gid?: number; verbose?: boolean; json?: boolean;
  randomize?: boolean; seed?: bigint; multi: MultiCreat[]; threadct?: number; quiet?: boolean;
}

/** Largest seed chosen for `-r` without `-S`: the generator uses 32 bits, and 0 means "none". */
const MAX_CHOSEN_SEED = 0xffffffff;

/**
 * Fill a file with the test data for `seed` and flush it; prints upstream's line. The mapping,
 * generator and progress bar are loaded here, not with the command: a plain creat (a script
 * running one process per file) never needs them and would pay their start-up every time.
 */
async function randomizeOne(fs: FamfsHandle, rel: string, file: string, seed: bigint, quiet: boolean): Promise<number> {
  const [{ mapFile }, { randomizeFile }, { Progress }] = await Promise.all([
    import('../../map/file-mapping.js'), import('../../data/fill.js'), import('../progress.js'),
  ]);
  const m = mapFile(fs, rel, { writable: true });
  try {
    const bar = new Progress(`randomize ${file}`, m.size, { quiet });
    await randomizeFile(m, seed, (n) => bar.add(n));
    bar.finish();
    process.stdout.write(`randomized ${m.size} bytes: ${file}\n`);
    return m.size;
  } finally {
    m.unmap();
  }
}

/**
 * upstream's multi-create: each file in turn, each on its own (a file that is not in famfs, or
 * fails, is one error, and the files before it stay created), then, if every one was created,
 * every seeded one randomized. A size of 0 means "keep the size of the file that exists".
 */
async function creatMulti(o: CreatOpts, mode: number): Promise<number> {
  const opened = new Map<string, FamfsHandle>();
  const where: Array<{ fs: FamfsHandle; rel: string; device: string; systemUuid?: Buffer } | undefined> = [];
  let created = 0;
  let errs = 0;
  try {
    for (const mc of o.multi) {
      try {
        const t = resolveTarget([mc.file], o);
        const key = `${t.device}\0${t.systemUuid?.toString('hex') ?? ''}`;
        let fs = opened.get(key);
        if (!fs) opened.set(key, (fs = FamfsHandle.open(t.device, { writable: true, systemUuid: t.systemUuid })));
        const rel = t.relpaths[0]!;
        const populate = mc.seed !== 0n;
        if (fs.creat(rel, { size: mc.size || undefined, mode, uid: o.uid, gid: o.gid, interleave: interleaveFrom(o), populate }).created) created++;
        where.push({ fs, rel, device: t.device, systemUuid: t.systemUuid });
      } catch (err) {
        if (!(err instanceof FamfsError)) throw err;
        process.stderr.write(`famfs creat: ${mc.file}: ${err.message}\n`);
        where.push(undefined);
        errs++;
      }
    }
    process.stdout.write(`Create complete for ${created} of ${o.multi.length} files with ${errs} errs\n`);
    if (errs) return errs;
    const seeded = [...o.multi.keys()].filter((i) => o.multi[i]!.seed !== 0n);
    const started = Date.now();
    let bytes = 0;
    if (seeded.length > 1 && (o.threadct ?? 0) > 1) {
      // Each file on its own worker thread, up to -t at once, as upstream's thread pool.
      const { fillInParallel } = await import('../fill-pool.js');
      const { formatUuid } = await import('../../format/uuid.js');
      await fillInParallel(seeded.map((i) => ({
        kind: 'randomize' as const, device: where[i]!.device, systemUuid: where[i]!.systemUuid && formatUuid(where[i]!.systemUuid!),
        relpath: where[i]!.rel, seed: o.multi[i]!.seed,
      })), o.threadct!, (k, r) => {
        const file = o.multi[seeded[k]!]!.file;
        if (r.error !== undefined) {
          process.stderr.write(`famfs creat: ${file}: ${r.error}\n`);
          errs++;
        } else {
          bytes += r.size;
          process.stdout.write(`randomized ${r.size} bytes: ${file}\n`);
        }
      });
    } else {
      for (const i of seeded) {
        const mc = o.multi[i]!;
        try {
          bytes += await randomizeOne(where[i]!.fs, where[i]!.rel, mc.file, mc.seed, !!o.quiet);
        } catch (err) {
          if (!(err instanceof FamfsError)) throw err;
          process.stderr.write(`famfs creat: ${mc.file}: ${err.message}\n`);
          errs++;
        }
      }
    }
    const randomized = seeded.length;
    process.stdout.write(`Randomize complete for ${randomized} of ${o.multi.length} files with ${errs} errs\n`);
    if (randomized > 0) await randomizeSummary(randomized - errs, bytes, started, errs);
    return errs;
  } finally {
    for (const fs of opened.values()) fs.close();
  }
}

/** creat -r's summary line (progress.ts, loaded only when something was randomized). */
async function randomizeSummary(files: number, bytes: number, started: number, errs: number): Promise<void> {
  const { printSummary } = await import('../progress.js');
  printSummary('famfs creat', 'randomized', files, bytes, started, errs ? `; ${errs} failed` : '');
}

/** The mode a new file gets, as upstream: -m or the default 0644, less the umask (`creat -m 0666` under umask 022 makes 0644). */
function creatMode(o: CreatOpts): number {
  return (o.mode ?? DEFAULT_FILE_MODE) & ~process.umask();
}

export function register(program: Command): void {
  addDeviceOption(addInterleaveOptions(program
    .command('creat')
    .description('create and allocate a file (master only); -r fills it with test data that verify can check')
    .argument('[file]', 'famfs path (not with -M)')
    .option('-s, --size <size>', 'file size (k/m/g suffixes); required for a new file', (t: string) => {
      const n = parseSize(t);
      if (n === 0) throw new InvalidArgumentError('a famfs file cannot be empty');
      return n;
    })
    .option('-r, --randomize', 'fill the file with the seeded test-data stream (spec §6.7)')
    .option('-S, --seed <n>', 'seed for -r (default: a random one, printed)', parseSeed)
    .option('-M, --multi <file,size[,seed]>', 'create several files (repeatable); a non-zero seed randomizes',
      (v: string, prev: MultiCreat[]) => [...prev, parseMultiCreat(v)], [] as MultiCreat[])
    .option('-t, --threadct <n>', 'with -M: randomize up to n files at once, each on its own thread', parseThreads)
    .option('-m, --mode <octal>', 'mode (default 0644); the umask is taken from it, as upstream', parseOctalMode)
    .option('-u, --uid <uid>', 'owner (default: effective uid)', parseUint)
    .option('-g, --gid <gid>', 'group (default: effective gid)', parseUint)
    .option('-q, --quiet', 'no progress bar')
    .option('-v, --verbose', 'print the allocation')
    .option('--json', 'print the file as JSON')))
    .action((file: string | undefined, o: CreatOpts) =>
      runCommand('famfs creat', async () => {
        if (o.seed !== undefined && !o.randomize) throw new UsageError('seed (-S) without randomize (-r)');
        if (o.multi.length > 0 && (file !== undefined || o.seed !== undefined || o.size !== undefined)) {
          throw new UsageError('-M (multi) cannot be combined with a file name, -s or -S');
        }
        if (o.multi.length === 0 && file === undefined) throw new UsageError('must specify a file name (or -M)');
        o.allocDefault = await mountAllocCfg('famfs creat', o.multi.length > 0 ? o.multi[0]!.file : file);
        if (o.multi.length > 0) return creatMulti(o, creatMode(o));
        return withTarget([file!], o, { writable: true }, async (fs, rels) => {
          const mode = creatMode(o);
          const path = file!;
          // -r writes every byte: its memory is given pages before the file is logged (ENOSPC, not SIGBUS, on a full tmpfs).
          const populate = !!o.randomize && o.seed !== 0n;
          const { file: node, created } = fs.creat(rels[0]!, { size: o.size, mode, uid: o.uid, gid: o.gid, interleave: interleaveFrom(o), populate });
          if (o.json) printJson({ ...nodeJson(node, { withFmap: true }), created, logEntries: created ? 1 : 0 });
          else if (o.verbose) process.stdout.write(`famfs creat: ${created ? 'created' : 'exists'} ${path} (${node.size} bytes)\n`);
          if (!o.randomize) return 0;
          let seed = o.seed;
          if (seed === undefined) {
            seed = BigInt(randomInt(1, MAX_CHOSEN_SEED));
            process.stdout.write(`famfs creat: seed ${seed}\n`);
          } else if (seed === 0n) {
            // upstream: seed 0 means "don't randomize".
            return 0;
          }
          const started = Date.now();
          const bytes = await randomizeOne(fs, rels[0]!, path, seed, !!o.quiet);
          await randomizeSummary(1, bytes, started, 0);
          return 0;
        });
      }));
}
