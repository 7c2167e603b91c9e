import type { Command } from 'commander';
import { mapFile } from '../../map/file-mapping.js';
import { verifyFile } from '../../data/fill.js';
import { FamfsError, UsageError } from '../../errors.js';
import type { FamfsHandle } from '../../fs/famfs.js';
import { type MultiVerify, parseMultiVerify, parseSeed, parseThreads } from '../data-args.js';
import { printSummary, Progress } from '../progress.js';
import { runCommand } from '../run.js';
import { formatUuid } from '../../format/uuid.js';
import { addDeviceOption, type DeviceOption, resolveTarget, withTarget } from '../target.js';

interface VerifyOpts extends DeviceOption {
  seed?: bigint; filename?: string; multi: MultiVerify[]; threadct?: number; quiet?: boolean; verbose?: boolean;
}

/** upstream: 0 verified, 1 anything else (missing seed, no such file, mismatch). */
const VERIFY_FAIL = 1;

/** Checks one file; prints upstream's lines. Returns 0 or 1. */
/** Checks one file; `onVerified` is told the bytes of a file that checks out. */
async function verifyOne(fs: FamfsHandle, rel: string, file: string, seed: bigint, quiet: boolean, onVerified: (bytes: number) => void): Promise<number> {
  if (seed === 0n) {
    process.stderr.write('famfs verify: Must specify random seed to verify file data\n');
    return VERIFY_FAIL;
  }
  let m;
  try {
    m = mapFile(fs, rel);
  } catch (err) {
    if (!(err instanceof FamfsError)) throw err;
    process.stderr.write(`famfs verify: ${err.message}\n`);
    return VERIFY_FAIL;
  }
  try {
    // Reading a page an emulated device never wrote gives it memory: ENOSPC here, not SIGBUS later.
    m.populate();
    const bar = new Progress(`verify ${file}`, m.size, { quiet });
    const bad = await verifyFile(m, seed, (n) => bar.add(n));
    bar.finish();
    if (bad >= 0) {
      process.stderr.write(`Verify fail: ${file} at offset ${bad} of ${m.size} bytes\n`);
      return VERIFY_FAIL;
    }
    if (!quiet) process.stdout.write(`Success: verified ${m.size} bytes in file ${file}\n`);
    onVerified(m.size);
    return 0;
  } finally {
    m.unmap();
  }
}

/** verify -m … -t n: the files checked on n worker threads (cli/fill-pool.ts); lines as each one ends. */
async function verifyThreaded(jobs: MultiVerify[], o: VerifyOpts): Promise<number> {
  const started = Date.now();
  let bytes = 0;
  const t = resolveTarget(jobs.map((j) => j.file), o);
  let errs = 0;
  const { fillInParallel } = await import('../fill-pool.js');
  await fillInParallel(jobs.map((j, i) => ({
    kind: 'verify' as const, device: t.device, systemUuid: t.systemUuid && formatUuid(t.systemUuid), relpath: t.relpaths[i]!, seed: j.seed,
  })), o.threadct!, (i, r) => {
    const file = jobs[i]!.file;
    if (jobs[i]!.seed === 0n) {
      process.stderr.write('famfs verify: Must specify random seed to verify file data\n');
      errs++;
    } else if (r.error !== undefined) {
      process.stderr.write(`famfs verify: ${file}: ${r.error}\n`);
      errs++;
    } else if (r.bad >= 0) {
      process.stderr.write(`Verify fail: ${file} at offset ${r.bad} of ${r.size} bytes\n`);
      errs++;
    } else {
      bytes += r.size;
      if (!o.quiet) process.stdout.write(`Success: verified ${r.size} bytes in file ${file}\n`);
    }
  });
  process.stdout.write(`Verify complete for ${jobs.length} files with ${errs} errs\n`);
  printSummary('famfs verify', 'verified', jobs.length - errs, bytes, started, errs ? `; ${errs} failed` : '');
  return errs;
}

export function register(program: Command): void {
  addDeviceOption(program
    .command('verify')
    .description('check a file against the test data `creat -r` (or upstream) wrote with a seed')
    .option('-S, --seed <n>', 'seed the file was randomized with', parseSeed)
    .option('-f, --filename <file>', 'famfs file to check')
    .option('-m, --multi <file,seed>', 'check several files (repeatable; not with -S/-f)',
      (v: string, prev: MultiVerify[]) => [...prev, parseMultiVerify(v)], [] as MultiVerify[])
    .option('-t, --threadct <n>', 'with -m: check up to n files at once, each on its own thread', parseThreads)
    .option('-q, --quiet', 'no success lines, no progress bar')
    .option('-v, --verbose', 'say which file is checked with which seed'))
    .action((o: VerifyOpts) =>
      runCommand('famfs verify', () => {
        if (o.multi.length > 0 && (o.seed !== undefined || o.filename !== undefined)) throw new UsageError('-S|-f and -m incompatible');
        if (o.multi.length === 0) {
          if (o.filename === undefined) throw new UsageError('Must supply filename');
          if (o.seed === undefined) throw new UsageError('Must specify random seed to verify file data');
        }
        const jobs = o.multi.length > 0 ? o.multi : [{ file: o.filename!, seed: o.seed! }];
        if (jobs.length > 1 && (o.threadct ?? 0) > 1) return verifyThreaded(jobs, o);
        return withTarget(jobs.map((j) => j.file), o, { writable: false }, async (fs, rels) => {
          const started = Date.now();
          let errs = 0;
          let verified = 0;
          let bytes = 0;
          for (const [i, j] of jobs.entries()) {
            if (o.verbose) process.stdout.write(`famfs verify: ${j.file} with seed ${j.seed}\n`);
            errs += await verifyOne(fs, rels[i]!, j.file, j.seed, !!o.quiet, (n) => {
              verified++;
              bytes += n;
            });
          }
          if (o.multi.length > 0) process.stdout.write(`Verify complete for ${jobs.length} files with ${errs} errs\n`);
          // One file that failed has said so in upstream's one line; else the summary ends the command.
          if (o.multi.length > 0 || errs === 0) printSummary('famfs verify', 'verified', verified, bytes, started, errs ? `; ${jobs.length - verified} failed` : '');
          return errs;
        });
      }));
}
