import { closeSync, openSync } from 'node:fs';
import type { Command } from 'commander';
import { allocationBytes } from '../../alloc/allocator.js';
import { mapFile } from '../../map/file-mapping.js';
import { compareWithMapping } from '../../data/copy.js';
import { copyFiles } from '../../data/parallel-copy.js';
import { FamfsError, FsError, UsageError } from '../../errors.js';
import type { Fmap } from '../../format/fmap.js';
import { ALLOC_UNIT } from '../../format/layout.js';
import type { FamfsHandle } from '../../fs/famfs.js';
import type { LogSession } from '../../fs/log-session.js';
import { LogFullError } from '../../fs/log-writer.js';
import { parseOctalMode, parseUint } from '../args.js';
import { type CopyPlan, cpAbort, planCopy } from '../cp-plan.js';
import { parseThreads } from '../data-args.js';
import { type InterleaveOpts, addInterleaveOptions, interleaveFrom } from '../interleave-options.js';
import { Progress } from '../progress.js';
import { mountAllocCfg } from '../alloc-cfg.js';
import { runCommand } from '../run.js';
import { addDeviceOption, type DeviceOption, withTarget } from '../target.js';

interface CpOpts extends DeviceOption, InterleaveOpts {
  recursive?: boolean; threadct?: number; compare?: boolean; mode?: number; uid?: number; gid?: number;
  verbose?: boolean; quiet?: boolean;
}

/** upstream: any per-file failure makes the exit status 1. */
const EXIT_SOME_FAILED = 1;

function isFailure(err: unknown): err is Error {
  return err instanceof FamfsError || (err instanceof Error && typeof (err as NodeJS.ErrnoException).code === 'string');
}

/** How to print a famfs destination: under the path the user gave, as upstream prints it. */
function displayer(destArg: string, destRel: string): (dest: string) => string {
  const base = destRel.split('/').filter((c) => c !== '').join('/');
  const shown = destArg.replace(/\/+$/, '');
  return (dest) => {
    if (base !== '' && dest !== base && !dest.startsWith(`${base}/`)) return dest;
    const rest = dest.slice(base.length).replace(/^\/+/, '');
    return rest === '' ? shown : `${shown}/${rest}`;
  };
}

/**
 * Create every missing directory and file of the plan under one log lock. Every allocation is made
 * first, so a copy that does not fit fails here with nothing logged.
 */
function createAll(fs: FamfsHandle, s: LogSession, plan: CopyPlan, o: CpOpts): void {
  const umask = process.umask();
  const modeFor = (srcMode: number): number => {
    const m = (o.mode ?? 0) & ~umask;
    return m === 0 ? srcMode : m;
  };
  const uid = o.uid ?? process.getuid?.() ?? 0;
  const gid = o.gid ?? process.getgid?.() ?? 0;
  const ip = interleaveFrom(o);
  const dirs = plan.dirs.filter((d) => !d.exists);
  const files = plan.files.filter((f) => f.existingSize === undefined);
  {
    const slots = s.freeSlots();
    if (slots < dirs.length + files.length) throw new LogFullError(dirs.length + files.length, slots);
    const need = files.reduce((sum, f) => sum + allocationBytes(f.size, ip), 0);
    // Free memory on every device: the allocator places a file on any of them.
    const free = fs.usage().freeUnits * ALLOC_UNIT;
    if (need > free) {
      throw new FsError('ENOSPC', `not enough space: ${files.length} new files need ${need} bytes, ${free} bytes are free; nothing was copied`);
    }
    const fmaps: Fmap[] = [];
    for (const f of files) {
      try {
        fmaps.push(s.allocate(f.size, ip));
      } catch (err) {
        if (err instanceof FamfsError) throw new FsError(err.code, `no room for ${f.dest} (${f.size} bytes): ${err.message}; nothing was copied`);
        throw err;
      }
    }
    // Every byte is about to be written: pages first, so a full tmpfs under an emulated device is
    // ENOSPC here, with nothing logged, not SIGBUS halfway through the copy.
    for (const fmap of fmaps) fs.populate(fmap);
    for (const d of dirs) s.mkdir(d.dest, { mode: modeFor(d.srcMode), uid, gid });
    files.forEach((f, i) => s.addFile(f.dest, { size: f.size, fmap: fmaps[i]!, mode: modeFor(f.srcMode), uid, gid }));
    if (o.verbose) {
      process.stdout.write(`famfs cp: created ${dirs.length} directories and ${files.length} files (${need} bytes allocated); `
        + `${plan.files.length - files.length} existing files of the right size reused\n`);
    }
  }
}

async function copy(fs: FamfsHandle, sources: string[], destArg: string, destRel: string, o: CpOpts): Promise<number> {
  // Plan under the log lock too, so what it found is still true when the entries are appended.
  const plan = fs.withLog((s) => {
    const p = planCopy(fs, sources, destRel, !!o.recursive);
    if (p.conflicts.length > 0) throw cpAbort(`${p.conflicts.join('; ')}; nothing was copied`);
    for (const f of p.files) {
      if (f.existingSize !== undefined && f.existingSize !== f.size) {
        throw cpAbort(`${f.dest} exists with size ${f.existingSize}, not the ${f.size} bytes of ${f.src} (famfs cp only reuses a destination of the same size); nothing was copied`);
      }
    }
    createAll(fs, s, p, o);
    return p;
  });
  let errs = 0;
  for (const s of plan.skipped) {
    process.stderr.write(`famfs cp: ${s}\n`);
    errs++;
  }
  let copied = 0;
  const show = displayer(destArg, destRel);
  const bar = new Progress('famfs cp', plan.files.reduce((s, f) => s + f.size, 0), { quiet: !!o.quiet });
  const jobs = plan.files.map((f) => ({
    src: f.src,
    dest: f.dest,
    open: () => {
      const fd = openSync(f.src, 'r');
      try {
        return { fd, mapping: mapFile(fs, f.dest, { writable: true }) };
      } catch (err) {
        closeSync(fd);
        throw err;
      }
    },
  }));
  await copyFiles(jobs, Math.max(1, o.threadct ?? 1), {
    progress: (n) => bar.add(n),
    done: (job) => {
      copied++;
      if (!o.quiet || o.verbose) bar.log(`famfs cp: 100%: ${show(job.dest)}`);
    },
    failed: (job, err) => {
      if (!isFailure(err)) throw err;
      bar.clear();
      process.stderr.write(`famfs cp: ${job.src}: ${err.message}\n`);
      errs++;
    },
    release: (_job, fd, mapping) => {
      mapping.unmap();
      closeSync(fd);
    },
  });
  bar.summary('copied', copied, errs ? `; ${errs} not copied (listed above), exit status ${EXIT_SOME_FAILED}` : '');
  return errs ? EXIT_SOME_FAILED : 0;
}

/** -c: compare each source with its destination instead of copying. */
function compare(fs: FamfsHandle, sources: string[], destArg: string, destRel: string, o: CpOpts): number {
  const plan = planCopy(fs, sources, destRel, !!o.recursive);
  const show = displayer(destArg, destRel);
  let errs = 0;
  for (const s of [...plan.skipped, ...plan.conflicts]) {
    process.stderr.write(`famfs cp: ${s}\n`);
    errs++;
  }
  const bar = new Progress('famfs cp -c', plan.files.reduce((s, f) => s + f.size, 0), { quiet: !!o.quiet });
  let same = 0;
  for (const f of plan.files) {
    if (f.existingSize !== f.size) {
      process.stderr.write(`famfs cp: compare fail: ${show(f.dest)} ${f.existingSize === undefined ? 'does not exist' : `is ${f.existingSize} bytes, ${f.src} is ${f.size}`}\n`);
      errs++;
      continue;
    }
    let fd: number | undefined;
    try {
      fd = openSync(f.src, 'r');
      const m = mapFile(fs, f.dest);
      try {
        const at = compareWithMapping(fd, m, (n) => bar.add(n));
        if (at >= 0) {
          bar.clear();
          process.stderr.write(`famfs cp: compare fail: ${show(f.dest)} differs from ${f.src} at offset ${at}\n`);
          errs++;
        } else {
          same++;
          if (!o.quiet || o.verbose) bar.log(`famfs cp: compare ok: ${show(f.dest)}`);
        }
      } finally {
        m.unmap();
      }
    } catch (err) {
      if (!isFailure(err)) throw err;
      process.stderr.write(`famfs cp: ${f.src}: ${err.message}\n`);
      errs++;
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
  }
  bar.summary('compared', same, errs ? `; ${errs} differ or failed (listed above)` : ', all equal');
  return errs ? EXIT_SOME_FAILED : 0;
}

export function register(program: Command): void {
  addDeviceOption(addInterleaveOptions(program
    .command('cp')
    .description('copy host files (and, with -r, directories) into famfs (master only); restartable: a destination of the same size is reused')
    .argument('<paths...>', 'sources on the host, then the famfs destination')
    .option('-r, --recursive', 'copy directories')
    .option('-t, --threadct <n>', 'reads in flight (default 1; they run on libuv\'s pool of 4 threads)', parseThreads)
    .option('-c, --compare', 'compare sources with their destinations instead of copying')
    .option('-m, --mode <octal>', 'mode of new files and directories (default: the source\'s)', parseOctalMode)
    .option('-u, --uid <uid>', 'owner (default: real uid)', parseUint)
    .option('-g, --gid <gid>', 'group (default: real gid)', parseUint)
    .option('-q, --quiet', 'no per-file lines, no progress bar (errors and the summary line stay)')
    .option('-v, --verbose', 'per-file lines, and what was created')))
    .action((paths: string[], o: CpOpts) =>
      runCommand('famfs cp', async () => {
        if (paths.length < 2) throw new UsageError('source and dest args required');
        const sources = paths.slice(0, -1);
        const dest = paths[paths.length - 1]!;
        o.allocDefault = await mountAllocCfg('famfs cp', dest);
        return withTarget([dest], o, { writable: !o.compare }, (fs, [rel]) =>
          (o.compare ? compare(fs, sources, dest, rel!, o) : copy(fs, sources, dest, rel!, o)));
      }));
}
