// Shared machinery of the benchmarks: quick/full sizing, medians, result rows for bench/run.mjs,
// and a cleanup list that runs on normal exit, on error and on Ctrl-C, so no benchmark leaves a
// mount, a /dev/shm file or a process behind. Every resource a benchmark makes is named with
// BENCH_PREFIX so bench/run.mjs can sweep leftovers of a benchmark that was killed with -9.
import { spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const KIB = 1024;
export const MIB = 1024 * KIB;
export const GIB = 1024 * MIB;
/** GB/s as dd and the cfuse anchor print it: 10^9 bytes per second. */
export const GB = 1e9;
export const NS_PER_S = 1e9;
export const NS_PER_MS = 1e6;

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const DIST = join(ROOT, 'dist', 'src');
export const FAMFS_CLI = join(DIST, '..', 'bin', 'famfs.cjs');
export const MKFS_CLI = join(DIST, '..', 'bin', 'mkfs.famfs.cjs');
/** Prefix of every device, mount point and temporary file a benchmark makes. */
export const BENCH_PREFIX = 'famfs-bench-';
/** The host that runs mkfs (the master); a fixed UUID keeps runs comparable and independent of /opt/famfs. */
export const MASTER_UUID = '6d617374-6572-4000-8000-0000000000be';

/** `--quick` on the command line or BENCH_QUICK=1 (set by bench/run.mjs): smaller sizes, fewer runs. */
export const QUICK = process.argv.includes('--quick') || process.env.BENCH_QUICK === '1';

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)];
}

/** Median, min and max of a list of samples. */
export function summary(xs) {
  return { median: median(xs), min: Math.min(...xs), max: Math.max(...xs), runs: xs.length };
}

export function nowNs() {
  return process.hrtime.bigint();
}

export function elapsedNs(t0) {
  return Number(process.hrtime.bigint() - t0);
}

/** Runs `fn` `runs` times and returns its results (each run is one sample). */
export function repeat(runs, fn) {
  const out = [];
  for (let i = 0; i < runs; i++) out.push(fn(i));
  return out;
}

const started = Date.now();
/** A progress line on stderr with the seconds since start: where a run's time goes. */
export function phase(label) {
  process.stderr.write(`  [${((Date.now() - started) / 1000).toFixed(1)} s] ${label}\n`);
}

// ---- result rows ----------------------------------------------------------------------------

/**
 * One line of the table. `goal` is { kind: 'ratio' | 'value', op: '>=' | '<=', target }: a ratio
 * goal compares value/reference, a value goal compares the value itself (no reference).
 * `higherIsBetter` only decides how the chart draws the bar.
 */
export function row({ name, unit, value, ref = null, refName = null, goal, detail = '' }) {
  const ratio = ref === null ? null : value.median / ref.median;
  const measured = goal.kind === 'ratio' ? ratio : value.median;
  const met = goal.op === '>=' ? measured >= goal.target : measured <= goal.target;
  return { name, unit, value, ref, refName, ratio, goal, met, detail };
}

/** Hands rows to bench/run.mjs (BENCH_OUT is a JSON-lines file) or prints them when run alone. */
export function emit(rows) {
  for (const r of rows) {
    if (process.env.BENCH_OUT) appendFileSync(process.env.BENCH_OUT, `${JSON.stringify(r)}\n`);
    const ref = r.ref ? ` ref ${fmt(r.ref.median)} (${r.refName})` : '';
    const ratio = r.ratio === null ? '' : ` ratio ${r.ratio.toFixed(3)}`;
    console.log(`  ${r.name}: ${fmt(r.value.median)} ${r.unit}${ref}${ratio}  goal ${goalText(r.goal)}  ${r.met ? 'met' : 'NOT met'}`);
  }
}

export function fmt(x) {
  if (x === null || x === undefined) return '-';
  if (Math.abs(x) >= 1000) return Math.round(x).toLocaleString('en-US');
  if (Math.abs(x) >= 10) return x.toFixed(1);
  return x.toFixed(3);
}

export function goalText(goal) {
  const op = goal.op === '>=' ? '≥' : '≤';
  return goal.kind === 'ratio' ? `${op} ${goal.target}×` : `${op} ${goal.target.toLocaleString('en-US')}`;
}

// ---- cleanup --------------------------------------------------------------------------------

const cleanups = [];
let cleaned = false;

/** Registers an undo step; steps run last-in first-out, synchronously, exactly once. */
export function onCleanup(fn) {
  cleanups.push(fn);
  return fn;
}

/** Runs one undo step now (e.g. an unmount between cases) and drops it from the list. */
export function cleanupNow(fn) {
  const i = cleanups.indexOf(fn);
  if (i >= 0) cleanups.splice(i, 1);
  fn();
}

function runCleanups() {
  if (cleaned) return;
  cleaned = true;
  while (cleanups.length > 0) {
    const fn = cleanups.pop();
    try {
      fn();
    } catch (err) {
      console.error(`bench cleanup: ${err.message}`);
    }
  }
}

process.on('exit', runCleanups);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    console.error(`bench: ${sig}, cleaning up`);
    runCleanups();
    process.exit(130);
  });
}

/** Runs `main` (sync or async); any failure prints, cleans up and exits non-zero. */
export function runMain(main) {
  Promise.resolve()
    .then(main)
    .then(() => {
      runCleanups();
      process.exit(0);
    })
    .catch((err) => {
      console.error(err?.stack ?? String(err));
      runCleanups();
      process.exit(1);
    });
}

/**
 * Mount records and daemon logs go to a private run directory (famfs honours FAMFS_RUN_DIR, and the
 * daemons inherit it), so benchmarks neither see the host's real mounts nor leave logs in /run/famfs.
 */
export function privateRunDir() {
  if (process.env.FAMFS_RUN_DIR?.includes(BENCH_PREFIX)) return process.env.FAMFS_RUN_DIR;
  const dir = mkdtempSync(join(tmpdir(), `${BENCH_PREFIX}run-${process.pid}-`));
  process.env.FAMFS_RUN_DIR = dir;
  onCleanup(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A /dev/shm file path that is removed on cleanup. */
export function shmPath(tag) {
  const p = `/dev/shm/${BENCH_PREFIX}${tag}-${process.pid}`;
  onCleanup(() => rmSync(p, { force: true }));
  return p;
}

// ---- processes ------------------------------------------------------------------------------

/** spawnSync that throws with the command's stderr when it fails. */
export function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 * MIB, ...opts });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: exit ${r.status ?? r.signal}\n${r.stderr}`);
  return r.stdout;
}

export function famfs(args, env = {}) {
  return run(process.execPath, [FAMFS_CLI, ...args], { env: { ...process.env, FAMFS_SYSTEM_UUID: MASTER_UUID, ...env } });
}

export function isMounted(mnt) {
  return readFileSync('/proc/mounts', 'utf8').split('\n').some((l) => l.split(' ')[1] === mnt);
}

/** Anonymous resident memory of a process (kB in /proc → MiB): its own pages, not the shared device. */
export function rssMiB(pid, field = 'VmRSS') {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / KIB : NaN;
}

export function exists(p) {
  return existsSync(p);
}
