// The famfs daemon over FUSE next to the C anchor (../shared/anchors/cfuse memfs_ll, libfuse3 low
// level, multi-threaded loop, max_pages 256) on the same machine in the same run, both serving
// the same resident tmpfs pages (the emulated device is memfs_ll's backing file), read by the same
// tools: dd for data, the anchor's statloop for stat(), readdirSync for listings.
//   direct I/O (famfs -c never / memfs_ll -o direct_io), dd bs=1M and bs=128K   goal >= 1.0x
//   warm page cache (famfs -c always, primed) against dd of the tmpfs file       goal >= 0.9x
//   stat() with zero timeouts (famfs -t 0 / memfs_ll -o timeout=0)               goal >= 0.8x
//   readdir of 10,000 entries (famfs directory / memfs_ll -o slices=10000 root)  goal >= 0.8x
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { GIB, MIB, QUICK, elapsedNs, emit, nowNs, phase, privateRunDir, row, run, runMain, summary } from './lib/common.mjs';
import { METADATA_RESERVE, makeDataFile, makeFs, openApi } from './lib/famfs-setup.mjs';
import { BS_128K, BS_1M, buildCfuse, ddRate, mountPoint, startCfuse, startFamfs } from './lib/mounts.mjs';

const FILE_SIZE = QUICK ? GIB / 2 : 4 * GIB;
const RUNS = QUICK ? 3 : 5;
const STATS = QUICK ? 4_000 : 200_000;
const DIR_ENTRIES = 10_000;
const LISTINGS = QUICK ? 10 : 30;
/** famfs files take whole 2 MiB units: the tree device is sparse, so its size costs nothing. */
const TREE_DEVICE = DIR_ENTRIES * 2 * MIB + METADATA_RESERVE;

/** Alternates the two sides run by run so the machine's noise hits both alike. */
function paired(runs, ours, theirs) {
  const a = [], b = [];
  ours(); theirs(); // untimed: faults, JIT, first LOOKUPs
  for (let i = 0; i < runs; i++) {
    b.push(theirs());
    a.push(ours());
  }
  return { ours: summary(a), ref: summary(b) };
}

function statRate(statloop, path) {
  const out = run(statloop, [path, String(STATS)]);
  const m = /([\d.]+)/.exec(out.split('\n').find((l) => /\d/.test(l)) ?? '');
  if (!m) throw new Error(`statloop: cannot parse ${out}`);
  return Number(m[1]);
}

function listingRate(dir) {
  const t0 = nowNs();
  let n = 0;
  for (let i = 0; i < LISTINGS; i++) n = readdirSync(dir).length;
  if (n < DIR_ENTRIES) throw new Error(`${dir} lists ${n} entries, expected ${DIR_ENTRIES}`);
  return LISTINGS / (elapsedNs(t0) / 1e9);
}

function main() {
  privateRunDir();
  phase('fuse: building the C anchor');
  const c = buildCfuse();
  phase('fuse: data device');
  const { dev, offset: skip } = makeDataFile('fuse-data', FILE_SIZE);
  const ours = mountPoint('famfs');
  const theirs = mountPoint('cfuse');
  const size = FILE_SIZE >= GIB ? `${FILE_SIZE / GIB} GiB` : `${FILE_SIZE / MIB} MiB`;

  phase('fuse: direct I/O');
  let f = startFamfs(dev, ours, ['-c', 'never']);
  let k = startCfuse(c.memfs, dev, theirs, ['direct_io']);
  for (const bs of [BS_1M, BS_128K]) {
    const r = paired(RUNS, () => ddRate(join(ours, 'big'), bs, FILE_SIZE), () => ddRate(join(theirs, 'data'), bs, FILE_SIZE, skip));
    const label = bs === BS_1M ? '1 MiB' : '128 KiB';
    emit([row({ name: `FUSE direct-I/O read, ${label} requests`, unit: 'GB/s', value: r.ours, ref: r.ref, refName: 'C server (libfuse)', goal: { kind: 'ratio', op: '>=', target: 1.0 }, detail: `dd bs=${label} of ${size}` })]);
  }
  f.stop();
  k.stop();

  phase('fuse: warm page cache');
  f = startFamfs(dev, ours, ['-c', 'always']);
  const warm = paired(RUNS, () => ddRate(join(ours, 'big'), BS_1M, FILE_SIZE), () => ddRate(dev, BS_1M, FILE_SIZE, skip));
  emit([row({ name: 'FUSE warm page-cache read', unit: 'GB/s', value: warm.ours, ref: warm.ref, refName: 'tmpfs (dd)', goal: { kind: 'ratio', op: '>=', target: 0.9 }, detail: `dd bs=1M of ${size}, famfs -c always` })]);
  f.stop();

  phase('fuse: stat');
  f = startFamfs(dev, ours, ['-t', '0']);
  k = startCfuse(c.memfs, dev, theirs, ['timeout=0']);
  const st = paired(RUNS, () => statRate(c.statloop, join(ours, 'big')), () => statRate(c.statloop, join(theirs, 'data')));
  emit([row({ name: 'FUSE stat, zero timeouts', unit: 'stat/s', value: st.ours, ref: st.ref, refName: 'C server (statloop)', goal: { kind: 'ratio', op: '>=', target: 0.8 }, detail: `${STATS} stat() calls per run` })]);
  f.stop();
  k.stop();

  phase('fuse: readdir tree');
  const tree = makeFs('fuse-tree', TREE_DEVICE);
  phase('fuse: readdir creat');
  const t = openApi(tree);
  t.mkdir('d');
  for (let i = 0; i < DIR_ENTRIES; i++) t.creat(`d/f${i}`, { size: 1 });
  t.close();
  phase('fuse: readdir mount');
  f = startFamfs(tree, ours, []);
  k = startCfuse(c.memfs, dev, theirs, [`slices=${DIR_ENTRIES}`]);
  const rd = paired(RUNS, () => listingRate(join(ours, 'd')), () => listingRate(theirs));
  emit([row({ name: `FUSE readdir of ${DIR_ENTRIES.toLocaleString('en-US')} entries`, unit: 'listings/s', value: rd.ours, ref: rd.ref, refName: 'C server (same tree)', goal: { kind: 'ratio', op: '>=', target: 0.8 }, detail: 'readdirSync, default timeouts' })]);
  f.stop();
  k.stop();
}

runMain(main);
