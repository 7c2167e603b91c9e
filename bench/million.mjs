// Million-file logs (issue 20 part 2): a full 256 MiB log (~493,000 entries: ~492,000 files in
// 1,000 directories on a 2 TiB sparse emulated device). Rows:
//   replay in a fresh process: time (goal <= 0.5 s; reference: a plain sequential read(2) of the
//     same log bytes, the floor any replay pays) and anonymous memory (goal <= 64 MiB);
//   the same for a 1 GiB log (~1.97 million entries, goal <= 2 s; full runs only);
//   append rate as the log fills, in one session and one session per entry (as `famfs creat` and
//     the master's mount do): the slowest tenth of the fill against the empty log (goal >= 0.8x);
//   `famfs fsck` of the full log, the command as a user runs it (goal <= 1 s; reference: the
//     same CLI's start-up, `famfs --version`);
//   mkfs of a 16 TiB emulated device with a 256 MiB log (goal <= 200 ms), in a fresh process.
// Every timing is of a fresh process (medians), each also reporting its CPU time (user + system):
// on a loaded machine the wall time is mostly waiting for a CPU, the CPU time is the work.
// --quick: a 64 MiB log on a 512 GiB device, fewer runs, no 1 GiB log.
import { spawnSync } from 'node:child_process';
import { closeSync, openSync, readFileSync, readSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createEmulatedDevice } from '../dist/src/device/emulated.js';
import { FamfsHandle } from '../dist/src/fs/famfs.js';
import { mkfs } from '../dist/src/fs/mkfs.js';
import { parseUuid } from '../dist/src/format/uuid.js';
import { LOG_OFFSET } from '../dist/src/format/layout.js';
import { entryOffset } from '../dist/src/format/log-header.js';
import { FAMFS_CLI, GIB, MASTER_UUID, MIB, QUICK, emit, median, phase, row, runMain, shmPath, summary } from './lib/common.mjs';
import { FULL_LOG_DEVICE, FULL_LOG_DIRS, FULL_LOG_LEN, fileSize } from './lib/million-log.mjs';

const TIB = 1024 * GIB;
const RUNS = Number(process.env.BENCH_RUNS ?? (QUICK ? 3 : 7));
const LOG_LEN = QUICK ? 64 * MIB : FULL_LOG_LEN;
const DEV_SIZE = QUICK ? TIB / 2 : FULL_LOG_DEVICE;
const BIG_LOG_LEN = 1024 * MIB;
const BIG_DEV_SIZE = 8 * TIB;
const MKFS_DEV_SIZE = 16 * TIB;
const DIRS = FULL_LOG_DIRS;
/** Appends measured one session each, on the empty log and on the full one. */
const SINGLE_SESSIONS = QUICK ? 2000 : 5000;
/** Single-entry sessions run before the measured ones (the session's code gets compiled), and
 * the batches these are timed in (the median batch counts: this machine's load comes in bursts). */
const SINGLE_WARMUP = 1000;
const SINGLE_BATCHES = 5;
/** The first appends of a process run in the interpreter: the empty-log rate starts after them. */
const WARMUP_ENTRIES = 2000;
const GOAL = { replayMs: 500, replayMiB: 64, bigReplayMs: 2000, appendRatio: 0.8, fsckMs: 1000, mkfsMs: 200 };
const master = parseUuid(MASTER_UUID);

/** Anonymous resident memory of this process: its own pages, not the device pages it maps. */
function rssAnonMiB() {
  return Number(/RssAnon:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))[1]) / 1024;
}

/** Runs `fn` and reports its wall and CPU milliseconds. */
function timed(fn) {
  const r0 = process.resourceUsage();
  const t0 = process.hrtime.bigint();
  const out = fn();
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  const r1 = process.resourceUsage();
  const cpuMs = (r1.userCPUTime - r0.userCPUTime + r1.systemCPUTime - r0.systemCPUTime) / 1000;
  return { ms, cpuMs, out };
}

// ---- children: one measurement each, in a fresh process ---------------------------------------

const children = {
  /** Open (replay) the file system, as a mount or a command does. */
  replay(dev) {
    const anon0 = rssAnonMiB();
    const r0 = process.resourceUsage();
    const { ms, cpuMs, out: fs } = timed(() => FamfsHandle.open(dev, { systemUuid: master }));
    const r1 = process.resourceUsage();
    const res = { ms, cpuMs, anonMiB: rssAnonMiB() - anon0, faults: r1.minorPageFault - r0.minorPageFault, files: fs.stats.files, dirs: fs.stats.dirs, entries: fs.stats.entries };
    fs.close();
    return res;
  },
  /** The floor: read(2) of the same log bytes, 1 MiB at a time. */
  read(dev, bytes) {
    const fd = openSync(dev, 'r');
    const chunk = Buffer.allocUnsafe(MIB);
    const { ms, cpuMs } = timed(() => {
      for (let off = 0; off < Number(bytes); off += MIB) readSync(fd, chunk, 0, Math.min(MIB, Number(bytes) - off), LOG_OFFSET + off);
    });
    closeSync(fd);
    return { ms, cpuMs };
  },
  mkfs(dev) {
    const { ms, cpuMs } = timed(() => mkfs(dev, { systemUuid: master, logLen: LOG_LEN, force: true }));
    return { ms, cpuMs };
  },
};

function child(kind, args) {
  const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child', kind, ...args.map(String)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${kind} child: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

/** `famfs <args>` as a user runs it: the wall and CPU time of the whole process. */
function cli(args) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync('/usr/bin/time', ['-f', '%U %S', process.execPath, FAMFS_CLI, ...args], {
    encoding: 'utf8', env: { ...process.env, FAMFS_SYSTEM_UUID: MASTER_UUID }, maxBuffer: 64 * MIB,
  });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`famfs ${args.join(' ')}: exit ${r.status}\n${r.stderr}`);
  const [user, sys] = r.stderr.trim().split('\n').at(-1).split(' ').map(Number);
  return { ms, cpuMs: (user + sys) * 1000 };
}

// ---- the fixture ------------------------------------------------------------------------------

/**
 * A file system whose log is full: DIRS directories, then files round-robin over them until no
 * slot is left, in one session. With `measure`: `empty`, the append rate from the warm-up to a
 * tenth of the log; `windows`, the rate of each later tenth; `singles`, the rate of
 * SINGLE_SESSIONS single-entry sessions on the empty log and on the full one (their last slots).
 */
function fill(dev, devSize, logLen, measure) {
  createEmulatedDevice(dev, devSize);
  mkfs(dev, { systemUuid: master, logLen });
  const fs = FamfsHandle.open(dev, { writable: true, systemUuid: master });
  const slots = fs.logHeader().lastIndex + 1;
  let n = 0;
  const creat = (s) => s.creat(`dir${n % DIRS}/file-${n}`, { size: fileSize(n++) });
  /** Appends until the log holds `until` entries; entries per second. */
  const window = (s, until) => {
    const t0 = process.hrtime.bigint();
    let k = 0;
    for (; slots - s.freeSlots() < until; k++) creat(s);
    return k / (Number(process.hrtime.bigint() - t0) / 1e9);
  };
  /** The median rate of SINGLE_BATCHES batches of single-entry sessions, after a warm-up. */
  const singles = () => {
    for (let k = 0; k < SINGLE_WARMUP; k++) fs.withLog(creat);
    const rates = [];
    for (let b = 0; b < SINGLE_BATCHES; b++) {
      const t0 = process.hrtime.bigint();
      for (let k = 0; k < SINGLE_SESSIONS / SINGLE_BATCHES; k++) fs.withLog(creat);
      rates.push(SINGLE_SESSIONS / SINGLE_BATCHES / (Number(process.hrtime.bigint() - t0) / 1e9));
    }
    return median(rates);
  };
  const out = { windows: [], singles: [] };
  const tenth = Math.floor(slots / 10);
  fs.withLog((s) => {
    for (let d = 0; d < DIRS; d++) s.mkdir(`dir${d}`);
    window(s, DIRS + WARMUP_ENTRIES);
  });
  if (measure) out.singles.push(singles());
  fs.withLog((s) => {
    out.empty = window(s, tenth);
    for (let k = 2; k <= 10; k++) out.windows.push(window(s, Math.min(k * tenth, slots - SINGLE_SESSIONS - SINGLE_WARMUP)));
  });
  if (measure) out.singles.push(singles());
  fs.withLog((s) => window(s, slots));
  out.entries = fs.logHeader().nextIndex;
  fs.close();
  return out;
}

// ---- main -------------------------------------------------------------------------------------

function replayRows(dev, logLen, name, goalMs, goalMiB) {
  const replays = [];
  const reads = [];
  for (let r = 0; r < RUNS; r++) {
    replays.push(child('replay', [dev]));
    reads.push(child('read', [dev, entryOffset(replays[0].entries)]));
  }
  const first = replays[0];
  const cpu = median(replays.map((r) => r.cpuMs));
  const faults = median(replays.map((r) => r.faults));
  const rows = [row({
    name: `${name}: replay in a fresh process (${first.entries} entries, ${first.files} files, ${first.dirs} dirs), time`,
    unit: 'ms', value: summary(replays.map((r) => r.ms)), ref: summary(reads.map((r) => r.ms)), refName: `read(2) of the log's ${Math.round(entryOffset(first.entries) / MIB)} MiB`,
    goal: { kind: 'value', op: '<=', target: goalMs },
    detail: `CPU ${cpu.toFixed(0)} ms (read(2): ${median(reads.map((r) => r.cpuMs)).toFixed(0)} ms); ${faults} page faults`,
  })];
  if (goalMiB !== undefined) {
    rows.push(row({
      name: `${name}: replay's anonymous memory`, unit: 'MiB', value: summary(replays.map((r) => r.anonMiB)),
      goal: { kind: 'value', op: '<=', target: goalMiB }, detail: 'RssAnon growth over the open (the mapped log not counted)',
    }));
  }
  return rows;
}

function main() {
  const label = `${LOG_LEN / MIB} MiB log`;
  const dev = shmPath('million');
  phase(`million: filling a ${label} on a ${DEV_SIZE / TIB} TiB device`);
  const t0 = Date.now();
  const filled = fill(dev, DEV_SIZE, LOG_LEN, true);
  phase(`million: ${filled.entries} entries in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  const rows = [];
  const slowest = Math.min(...filled.windows);
  rows.push(row({
    name: `${label}: appends in one session, the slowest tenth of the fill (entries/s)`, unit: 'entries/s',
    value: summary([slowest]), ref: summary([filled.empty]), refName: 'the first tenth (after a warm-up)',
    goal: { kind: 'ratio', op: '>=', target: GOAL.appendRatio },
    detail: `each tenth: ${filled.windows.map((w) => Math.round(w / 1000)).join(', ')} k/s`,
  }));
  rows.push(row({
    name: `${label}: one append per session (famfs creat, the master's mount), full log (entries/s)`, unit: 'entries/s',
    value: summary([filled.singles[1]]), ref: summary([filled.singles[0]]), refName: 'the same on the empty log',
    goal: { kind: 'ratio', op: '>=', target: GOAL.appendRatio }, detail: `median of ${SINGLE_BATCHES} batches of ${SINGLE_SESSIONS / SINGLE_BATCHES} sessions each`,
  }));
  phase('million: replays');
  rows.push(...replayRows(dev, LOG_LEN, label, GOAL.replayMs, GOAL.replayMiB));
  phase('million: fsck');
  const fscks = [];
  const starts = [];
  for (let r = 0; r < RUNS; r++) {
    fscks.push(cli(['fsck', dev]));
    starts.push(cli(['--version']));
  }
  rows.push(row({
    name: `${label}: famfs fsck, the whole command`, unit: 'ms', value: summary(fscks.map((r) => r.ms)),
    ref: summary(starts.map((r) => r.ms)), refName: 'famfs --version (the CLI\'s start-up)', goal: { kind: 'value', op: '<=', target: GOAL.fsckMs },
    detail: `CPU ${median(fscks.map((r) => r.cpuMs)).toFixed(0)} ms (start-up ${median(starts.map((r) => r.cpuMs)).toFixed(0)} ms)`,
  }));
  rmSync(dev, { force: true });

  phase(`million: mkfs of a 16 TiB device with a ${label}`);
  const mkdev = shmPath('million-mkfs');
  createEmulatedDevice(mkdev, MKFS_DEV_SIZE);
  const mkfss = [];
  for (let r = 0; r < RUNS; r++) mkfss.push(child('mkfs', [mkdev]));
  rows.push(row({
    name: `mkfs of a 16 TiB emulated device with a ${label}`, unit: 'ms', value: summary(mkfss.map((r) => r.ms)),
    goal: { kind: 'value', op: '<=', target: GOAL.mkfsMs }, detail: `mkfs() in a fresh process; CPU ${median(mkfss.map((r) => r.cpuMs)).toFixed(0)} ms`,
  }));
  rmSync(mkdev, { force: true });

  if (!QUICK) {
    const big = shmPath('million-1g');
    phase('million: filling a 1 GiB log on an 8 TiB device');
    fill(big, BIG_DEV_SIZE, BIG_LOG_LEN, false);
    rows.push(...replayRows(big, BIG_LOG_LEN, '1 GiB log', GOAL.bigReplayMs));
    rmSync(big, { force: true });
  }
  emit(rows);
  for (const r of rows) if (r.detail) console.log(`  ${r.name}: ${r.detail}`);
}

if (process.argv[2] === '--child') {
  const [kind, ...args] = process.argv.slice(3);
  process.stdout.write(JSON.stringify(children[kind](...args)));
} else {
  runMain(main);
}
