// FUSE over io_uring (issue 20): the famfs daemon on the io_uring transport (--transport uring)
// next to the C anchor on libfuse 3.18 with -o io_uring (../shared/anchors/cfuse-uring memfs_ll,
// built by the anchor's build.sh from the libfuse git mirror in /var/tmp/famfs-bench-cfuse-uring),
// and next to itself on /dev/fuse (--transport dev); every side mounted at once and measured in
// rounds whose order rotates, so the machine's noise hits all alike.
//   stat() with zero timeouts                     ours-uring / C-uring >= 1.0; ours-uring / ours-dev >= 1.3
//   direct reads of 4 KiB, 128 KiB and 1 MiB      ours-uring / C-uring >= 1.0
//   creates (mkdir) through the master's mount   ours-uring / ours-dev >= 1.0 (memfs_ll creates nothing)
// Two kinds of row locate the bound: the caller and the serving thread on one CPU (dd or statloop
// and our daemon's main thread pinned with taskset to CPU 0; libfuse pins its queue threads
// itself, so for the C server only the caller is pinned), and stat against the C server with
// default_permissions, which makes it ask the same three requests per stat() as famfs does.
// The rows are skipped, with the reason, when the kernel or the machine cannot run io_uring FUSE
// or the C server cannot be built. enable_uring is turned on for the run and put back after.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GIB, MIB, QUICK, elapsedNs, emit, nowNs, onCleanup, phase, privateRunDir, row, run, runMain, summary } from './lib/common.mjs';
import { makeDataFile, makeFs, openApi } from './lib/famfs-setup.mjs';
import { BS_128K, BS_1M, buildCfuseUring, ddRate, ddSeconds, mountPoint, mustUseRing, onCpu, startCfuse, startFamfs } from './lib/mounts.mjs';

const ENABLE_URING = '/sys/module/fuse/parameters/enable_uring';

const FILE_SIZE = QUICK ? GIB / 2 : 2 * GIB;
const RUNS = QUICK ? 3 : 7;
const STATS = QUICK ? 10_000 : 100_000;
const READS_4K = QUICK ? 10_000 : 60_000;
const CREATES = QUICK ? 300 : 1000;
const BS_4K = 4096;
/** The CPU the "caller and server on one CPU" rows pin both to. */
const PIN_CPU = 0;
/** Each side's mkdirs are log entries: a device of its own, far from the 8 MiB log's capacity. */
const META_DEVICE = 64 * MIB;

/** Why this benchmark cannot run here, or null. */
function unavailable() {
  if (process.getuid?.() !== 0) return 'needs root';
  if (!existsSync(ENABLE_URING)) return `no ${ENABLE_URING}: the kernel has no FUSE over io_uring`;
  return null;
}

/** Rounds of every side, in an order rotated per round after one untimed pass; a summary per side. */
function rounds(runs, sides) {
  const names = Object.keys(sides);
  for (const n of names) sides[n]();
  const samples = Object.fromEntries(names.map((n) => [n, []]));
  for (let i = 0; i < runs; i++) {
    for (let k = 0; k < names.length; k++) {
      const n = names[(i + k) % names.length];
      samples[n].push(sides[n]());
    }
  }
  return Object.fromEntries(names.map((n) => [n, summary(samples[n])]));
}

/**
 * Runs fn with the main thread of server `pid` (the thread serving every queue of ours) pinned to
 * `cpu`, then gives it back every CPU it had.
 */
function withServerOn(pid, cpu, fn) {
  const had = /: (.*)$/.exec(run('taskset', ['-p', '-c', String(pid)]).trim())?.[1];
  if (had === undefined) throw new Error(`taskset -p ${pid}: cannot parse its CPU list`);
  run('taskset', ['-p', '-c', String(cpu), String(pid)]);
  try {
    return fn();
  } finally {
    run('taskset', ['-p', '-c', had, String(pid)]);
  }
}

function statRate(statloop, path, cpu = null) {
  const out = run(...onCpu(cpu, statloop, [path, String(STATS)]));
  const m = /([\d.]+)/.exec(out);
  if (!m) throw new Error(`statloop: cannot parse ${out}`);
  return Number(m[1]);
}

let createRound = 0;
/** mkdir through the mount: LOOKUP + MKDIR (one log entry) each. */
function createRate(mnt) {
  const dir = join(mnt, `r${createRound++}`);
  mkdirSync(dir);
  const t0 = nowNs();
  for (let i = 0; i < CREATES; i++) mkdirSync(join(dir, `d${i}`));
  return CREATES / (elapsedNs(t0) / 1e9);
}

function main() {
  const why = unavailable();
  if (why !== null) {
    phase(`fuse-uring: skipped: ${why}`);
    return;
  }
  privateRunDir();
  phase('fuse-uring: building the C anchor on libfuse 3.18 (io_uring)');
  let c;
  try {
    c = buildCfuseUring();
  } catch (err) {
    phase(`fuse-uring: skipped: the C anchor did not build: ${err.message.split('\n')[0]}`);
    return;
  }
  const old = readFileSync(ENABLE_URING, 'utf8').trim();
  writeFileSync(ENABLE_URING, 'Y');
  onCleanup(() => writeFileSync(ENABLE_URING, old));

  phase('fuse-uring: devices');
  const { dev, offset: skip } = makeDataFile('fuse-uring-data', FILE_SIZE);
  const metaDevs = { uring: makeFs('fuse-uring-meta-u', META_DEVICE), dev: makeFs('fuse-uring-meta-d', META_DEVICE) };
  for (const d of Object.values(metaDevs)) {
    const a = openApi(d);
    a.creat('f', { size: 1 });
    a.close();
  }
  const size = FILE_SIZE >= GIB ? `${FILE_SIZE / GIB} GiB` : `${FILE_SIZE / MIB} MiB`;
  const C_NAME = 'C server (libfuse 3.18, -o io_uring)';

  phase('fuse-uring: direct I/O');
  const ours = mountPoint('uring-famfs');
  const theirs = mountPoint('uring-cfuse');
  let f = startFamfs(dev, ours, ['--transport', 'uring', '-c', 'never']);
  let k = startCfuse(c.memfs, dev, theirs, ['io_uring', 'direct_io']);
  mustUseRing('famfs daemon', f.pid);
  mustUseRing('memfs_ll', k.pid);
  const r4k = rounds(RUNS, {
    ours: () => READS_4K / ddSeconds(join(ours, 'big'), BS_4K, READS_4K).seconds,
    ref: () => READS_4K / ddSeconds(join(theirs, 'data'), BS_4K, READS_4K, skip).seconds,
  });
  emit([row({ name: 'FUSE over io_uring: direct-I/O read, 4 KiB requests', unit: 'reads/s', value: r4k.ours, ref: r4k.ref, refName: C_NAME, goal: { kind: 'ratio', op: '>=', target: 1.0 }, detail: `dd bs=4k count=${READS_4K}` })]);
  for (const bs of [BS_128K, BS_1M]) {
    const r = rounds(RUNS, {
      ours: () => ddRate(join(ours, 'big'), bs, FILE_SIZE),
      ref: () => ddRate(join(theirs, 'data'), bs, FILE_SIZE, skip),
    });
    const label = bs === BS_1M ? '1 MiB' : '128 KiB';
    emit([row({ name: `FUSE over io_uring: direct-I/O read, ${label} requests`, unit: 'GB/s', value: r.ours, ref: r.ref, refName: C_NAME, goal: { kind: 'ratio', op: '>=', target: 1.0 }, detail: `dd bs=${label} of ${size}` })]);
  }
  const p4k = rounds(RUNS, {
    ours: () => withServerOn(f.pid, PIN_CPU, () => READS_4K / ddSeconds(join(ours, 'big'), BS_4K, READS_4K, 0, PIN_CPU).seconds),
    ref: () => READS_4K / ddSeconds(join(theirs, 'data'), BS_4K, READS_4K, skip, PIN_CPU).seconds,
  });
  emit([row({ name: 'FUSE over io_uring: direct-I/O read, 4 KiB requests, caller and server on one CPU', unit: 'reads/s', value: p4k.ours, ref: p4k.ref, refName: C_NAME, goal: { kind: 'ratio', op: '>=', target: 1.0 }, detail: `dd bs=4k count=${READS_4K} on CPU ${PIN_CPU}, and our daemon's main thread` })]);
  f.stop();
  k.stop();

  phase('fuse-uring: stat and creates');
  const oursDev = mountPoint('uring-famfs-dev');
  f = startFamfs(metaDevs.uring, ours, ['--transport', 'uring', '-t', '0']);
  const g = startFamfs(metaDevs.dev, oursDev, ['--transport', 'dev', '-t', '0']);
  k = startCfuse(c.memfs, dev, theirs, ['io_uring', 'timeout=0']);
  const theirsPerm = mountPoint('uring-cfuse-perm');
  const kPerm = startCfuse(c.memfs, dev, theirsPerm, ['io_uring', 'timeout=0', 'default_permissions']);
  mustUseRing('famfs daemon', f.pid);
  mustUseRing('memfs_ll', k.pid);
  mustUseRing('memfs_ll -o default_permissions', kPerm.pid);
  mustUseRing('the famfs daemon asked for --transport dev', g.pid, false);
  const st = rounds(RUNS, {
    ours: () => statRate(c.statloop, join(ours, 'f')),
    ref: () => statRate(c.statloop, join(theirs, 'data')),
    dev: () => statRate(c.statloop, join(oursDev, 'f')),
    perm: () => statRate(c.statloop, join(theirsPerm, 'data')),
    oursPinned: () => withServerOn(f.pid, PIN_CPU, () => statRate(c.statloop, join(ours, 'f'), PIN_CPU)),
    permPinned: () => statRate(c.statloop, join(theirsPerm, 'data'), PIN_CPU),
  });
  const C_PERM = 'C server (libfuse 3.18, -o io_uring,default_permissions)';
  emit([
    row({ name: 'FUSE over io_uring: stat, zero timeouts', unit: 'stat/s', value: st.ours, ref: st.ref, refName: C_NAME, goal: { kind: 'ratio', op: '>=', target: 1.0 }, detail: `${STATS} stat() calls per run (statloop)` }),
    row({ name: 'FUSE over io_uring: stat, zero timeouts, against /dev/fuse', unit: 'stat/s', value: st.ours, ref: st.dev, refName: 'famfs daemon, --transport dev', goal: { kind: 'ratio', op: '>=', target: 1.3 }, detail: `${STATS} stat() calls per run (statloop)` }),
    row({ name: 'FUSE over io_uring: stat, zero timeouts, both with default_permissions', unit: 'stat/s', value: st.ours, ref: st.perm, refName: C_PERM, goal: { kind: 'ratio', op: '>=', target: 1.0 }, detail: 'three requests per stat() on both sides' }),
    row({ name: 'FUSE over io_uring: stat, zero timeouts, both with default_permissions, caller and server on one CPU', unit: 'stat/s', value: st.oursPinned, ref: st.permPinned, refName: C_PERM, goal: { kind: 'ratio', op: '>=', target: 1.0 }, detail: `statloop on CPU ${PIN_CPU}, and our daemon's main thread` }),
  ]);
  const cr = rounds(RUNS, { ours: () => createRate(ours), dev: () => createRate(oursDev) });
  emit([row({ name: 'FUSE over io_uring: creates (mkdir) through the master\'s mount', unit: 'creates/s', value: cr.ours, ref: cr.dev, refName: 'famfs daemon, --transport dev (memfs_ll has no create)', goal: { kind: 'ratio', op: '>=', target: 1.0 }, detail: `${CREATES} mkdir per run, zero timeouts` })]);
  f.stop();
  g.stop();
  k.stop();
  kPerm.stop();
}

runMain(main);
