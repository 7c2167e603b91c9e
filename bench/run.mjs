// `npm run bench [-- --quick] [-- --only <name>] [-- --readme]`: runs every benchmark in bench/
// (each *.mjs but this one), one child process each, every case next to its reference measured
// in the same run; prints one table and writes bench/results/latest{,-quick}.{json,svg}. A full run
// also rewrites the table section of bench/README.md (--readme forces it for a quick run).
// Whatever a benchmark leaves (it was killed, it crashed), the sweep at the end removes: mounts,
// daemons, /dev/shm files and temporary directories named after that benchmark's pid.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BENCH_PREFIX, FAMFS_CLI, QUICK } from './lib/common.mjs';
import { machine, machineLine, markdownTable, svgChart, textTable } from './lib/report.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const RESULTS = join(HERE, 'results');
const README = join(HERE, 'README.md');
const TABLE_BEGIN = '<!-- bench table: begin (written by bench/run.mjs) -->';
const TABLE_END = '<!-- bench table: end -->';
/** Order of the table: data path first, then metadata, then whole-system costs. */
const ORDER = ['map.mjs', 'fuse.mjs', 'fuse-uring.mjs', 'replay.mjs', 'system.mjs'];
/** Long runs with no table row, left out of --quick (npm test runs the CI-sized reliability suite). */
const FULL_ONLY = ['torture.mjs'];
/** Diagnostics run by hand: they print findings for bench/README.md, not rows of the table. */
const BY_HAND = ['request-timeline.mjs'];

function argValue(name) {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function benchmarks() {
  const only = argValue('--only');
  const found = readdirSync(HERE).filter((f) => f.endsWith('.mjs') && f !== basename(fileURLToPath(import.meta.url)) && !BY_HAND.includes(f));
  const rank = (f) => (ORDER.includes(f) ? ORDER.indexOf(f) : ORDER.length);
  return found.sort((a, b) => rank(a) - rank(b) || a.localeCompare(b))
    .filter((f) => (only ? f.includes(only) : !(QUICK && FULL_ONLY.includes(f))));
}

let current = null;
let interrupted = false;
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    interrupted = true;
    // A terminal's Ctrl-C reaches the child too; a kill of this process alone is passed on.
    current?.kill(sig);
  });
}

function runOne(file, out) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(HERE, file)], {
      stdio: 'inherit',
      env: { ...process.env, BENCH_OUT: out, BENCH_QUICK: QUICK ? '1' : '0' },
    });
    current = child;
    child.on('exit', (code, signal) => {
      current = null;
      resolve({ code, signal, pid: child.pid });
    });
  });
}

function mountsOf(tag) {
  return readFileSync('/proc/mounts', 'utf8').split('\n').map((l) => l.split(' ')[1]).filter((m) => m?.includes(tag));
}

/** Removes what a benchmark with this pid left behind; reports what it had to remove. */
function sweep(pid) {
  const tag = `${BENCH_PREFIX}`;
  const mine = (name) => name.startsWith(tag) && (name.endsWith(`-${pid}`) || name.includes(`-${pid}-`));
  const left = [];
  for (const mnt of mountsOf(tag).filter((m) => mine(basename(m)))) {
    left.push(mnt);
    spawnSync(process.execPath, [FAMFS_CLI, 'umount', mnt]);
    if (mountsOf(mnt).includes(mnt)) spawnSync('fusermount3', ['-u', mnt]);
    if (mountsOf(mnt).includes(mnt)) spawnSync('umount', ['-l', mnt]);
    spawnSync('pkill', ['-KILL', '-f', `"mountpoint":"${mnt}"`]);
  }
  for (const [dir, names] of [['/dev/shm', readdirSync('/dev/shm')], ['/tmp', readdirSync('/tmp')], [tmpdir(), readdirSync(tmpdir())]]) {
    for (const n of names.filter(mine)) {
      const p = join(dir, n);
      if (!existsSync(p)) continue;
      left.push(p);
      rmSync(p, { recursive: true, force: true });
    }
  }
  return left;
}

function writeReadme(rows, m, suffix) {
  const section = [
    TABLE_BEGIN,
    '',
    `Latest run: ${machineLine(m, QUICK)}. Medians; this machine is shared and noisy, so read the ratios, each measured against its reference in the same run.`,
    '',
    markdownTable(rows),
    '',
    `![latest results](results/latest${suffix}.svg)`,
    '',
    TABLE_END,
  ].join('\n');
  const text = existsSync(README) ? readFileSync(README, 'utf8') : `# Benchmarks\n\n${TABLE_BEGIN}\n${TABLE_END}\n`;
  const a = text.indexOf(TABLE_BEGIN);
  const b = text.indexOf(TABLE_END);
  const next = a >= 0 && b > a ? text.slice(0, a) + section + text.slice(b + TABLE_END.length) : `${text.trimEnd()}\n\n${section}\n`;
  writeFileSync(README, next);
}

async function main() {
  const t0 = Date.now();
  const m = machine();
  const rows = [];
  const failures = [];
  mkdirSync(RESULTS, { recursive: true });
  for (const file of benchmarks()) {
    if (interrupted) break;
    const out = join(tmpdir(), `${BENCH_PREFIX}rows-${process.pid}-${file}.jsonl`);
    rmSync(out, { force: true });
    console.log(`== ${file}`);
    const r = await runOne(file, out);
    const got = existsSync(out) ? readFileSync(out, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l)) : [];
    rmSync(out, { force: true });
    rows.push(...got.map((x) => ({ ...x, bench: file })));
    if (r.code !== 0) {
      failures.push(`${file}: exit ${r.code ?? r.signal}`);
      rows.push({ name: `${file} (failed: ${r.code ?? r.signal})`, failed: true, bench: file, met: false });
    }
    const left = sweep(r.pid);
    if (left.length > 0) console.error(`swept what ${file} left: ${left.join(', ')}`);
  }
  const title = `famfs-ts bench, ${machineLine(m, QUICK)}`;
  console.log(`\n${title}\n${textTable(rows)}`);
  const met = rows.filter((r) => r.met).length;
  console.log(`\n${met} of ${rows.length} goals met; ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  const suffix = QUICK ? '-quick' : '';
  writeFileSync(join(RESULTS, `latest${suffix}.json`), `${JSON.stringify({ machine: m, quick: QUICK, rows, failures }, null, 2)}\n`);
  writeFileSync(join(RESULTS, `latest${suffix}.svg`), svgChart(rows, 'famfs-ts bench', machineLine(m, QUICK)));
  if (!interrupted && (!QUICK || process.argv.includes('--readme'))) writeReadme(rows, m, suffix);
  console.log(`results: bench/results/latest${suffix}.json, bench/results/latest${suffix}.svg`);
  if (failures.length > 0) console.error(`failed: ${failures.join('; ')}`);
  process.exit(interrupted ? 130 : failures.length > 0 ? 1 : 0);
}

main();
