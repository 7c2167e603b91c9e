// Whole-system costs a user sees: `famfs mount` of a full log (15,420 entries) until the first
// stat() answers (goal <= 300 ms), the daemon's resident memory once the whole tree has been
// listed (goal <= 80 MiB), durable creates through the API (goal >= 20,000 files/s; one call per
// file, and all in one creatMany call), and `famfs creat` run as one process per file, as a
// user's script does, against `node -e 0` start-up timed the same way (goal <= 2x).
import { spawnSync } from 'node:child_process';
import { readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { FamfsHandle } from '../dist/src/fs/famfs.js';
import { parseUuid } from '../dist/src/format/uuid.js';
import {
  FAMFS_CLI, GIB, MASTER_UUID, NS_PER_MS, QUICK, elapsedNs, emit, famfs, nowNs, phase, privateRunDir, row, rssMiB, runMain, summary,
} from './lib/common.mjs';
import { makeFs, openApi } from './lib/famfs-setup.mjs';
import { mountPoint, startFamfs } from './lib/mounts.mjs';

const RUNS = QUICK ? 3 : 5;
/** Sparse: 15,000 files of one or more 2 MiB units fit without touching a page. */
const FULL_LOG_DEVICE = 64 * GIB;
const DIRS = 420;
const API_CREATES = QUICK ? 2_000 : 10_000;
const CLI_CREATES = QUICK ? 30 : 1_000;
const NODE_STARTS = QUICK ? 30 : 200;

/** Fills the log the way bench/replay.mjs does: 420 directories, then files until no slot is left. */
function fullLogDevice() {
  const dev = makeFs('full-log', FULL_LOG_DEVICE);
  const fs = FamfsHandle.open(dev, { writable: true, systemUuid: parseUuid(MASTER_UUID) });
  try {
    fs.withLog((s) => {
      for (let d = 0; d < DIRS; d++) s.mkdir(`dir${d}`);
      for (let i = 0; s.freeSlots() > 0; i++) s.creat(`dir${i % DIRS}/file-${i}`, { size: 1 + (i % 7) * 300_000 });
    });
    return { dev, entries: fs.logHeader().nextIndex };
  } finally {
    fs.close();
  }
}

function walk(dir) {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    n++;
    if (e.isDirectory() && e.name !== '.meta') n += walk(join(dir, e.name));
  }
  return n;
}

/** Files per second of `create(api)`, which makes API_CREATES files in directory d. */
function apiCreates(dev, create) {
  const api = openApi(dev);
  try {
    api.mkdir('d');
    const t0 = nowNs();
    create(api);
    return API_CREATES / (elapsedNs(t0) / 1e9);
  } finally {
    api.close();
  }
}

/** Milliseconds of one process, spawn to exit, as a shell script would pay it. */
function processMs(args, env) {
  const t0 = nowNs();
  const r = spawnSync(process.execPath, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
  const ms = elapsedNs(t0) / NS_PER_MS;
  if (r.status !== 0) throw new Error(`${args.join(' ')}: ${r.stderr}`);
  return ms;
}

function main() {
  privateRunDir();
  phase('system: filling a full log');
  const { dev, entries } = fullLogDevice();
  const mnt = mountPoint('full');
  const mountMs = [];
  let rss = [];
  phase('system: mount to first stat');
  for (let i = 0; i < RUNS; i++) {
    const t0 = nowNs();
    const m = startFamfs(dev, mnt, []);
    statSync(join(mnt, 'dir7', 'file-7'));
    mountMs.push(elapsedNs(t0) / NS_PER_MS);
    walk(mnt);
    if (m.pid !== null) rss.push(rssMiB(m.pid));
    m.stop();
  }
  rss = rss.filter((x) => Number.isFinite(x));
  emit([
    row({ name: `mount with a full log (${entries} entries), to first stat`, unit: 'ms', value: summary(mountMs), goal: { kind: 'value', op: '<=', target: 300 }, detail: '`famfs mount` process start to stat() answered' }),
    row({ name: 'daemon resident memory, full log', unit: 'MiB', value: summary(rss), goal: { kind: 'value', op: '<=', target: 80 }, detail: 'VmRSS after listing the whole tree' }),
  ]);

  phase('system: creat via the API');
  // Each round on a fresh file system (the first is kept for the CLI case below), so every round
  // appends to a log of the same length; creatMany shares one lock among the round's files.
  const apiDev = makeFs('creat-api', FULL_LOG_DEVICE);
  const perCall = [], batched = [];
  for (let r = 0; r < RUNS; r++) {
    const dev = r === 0 ? apiDev : makeFs(`creat-api-${r}`, FULL_LOG_DEVICE);
    perCall.push(apiCreates(dev, (api) => { for (let i = 0; i < API_CREATES; i++) api.creat(`d/f${i}`, { size: 1 }); }));
    if (dev !== apiDev) rmSync(dev);
    const batchDev = makeFs(`creat-batch-${r}`, FULL_LOG_DEVICE);
    batched.push(apiCreates(batchDev, (api) => api.creatMany(Array.from({ length: API_CREATES }, (_, i) => ({ path: `d/f${i}`, size: 1 })))));
    rmSync(batchDev);
  }
  emit([
    row({ name: 'creat via API, durable log entries', unit: 'files/s', value: summary(perCall), goal: { kind: 'value', op: '>=', target: 20_000 }, detail: `${API_CREATES} files, one creat() call and one flushed entry each` }),
    row({ name: 'creatMany via API, durable log entries', unit: 'files/s', value: summary(batched), goal: { kind: 'value', op: '>=', target: 20_000 }, detail: `${API_CREATES} files in one call: one lock, still one flushed entry each` }),
  ]);

  phase('system: famfs creat per process');
  const env = { ...process.env, FAMFS_SYSTEM_UUID: MASTER_UUID, FAMFS_DEVICE: apiDev };
  const creatMs = [], nodeMs = [];
  processMs(['-e', '0'], env); // untimed: the binary into the page cache
  for (let i = 0; i < CLI_CREATES; i++) {
    if (i < NODE_STARTS) nodeMs.push(processMs(['-e', '0'], env));
    creatMs.push(processMs([FAMFS_CLI, 'creat', '-s', '1m', `cli${i}`], env));
  }
  emit([row({ name: '`famfs creat` per CLI process', unit: 'ms', value: summary(creatMs), ref: summary(nodeMs), refName: '`node -e 0`', goal: { kind: 'ratio', op: '<=', target: 2 }, detail: `${CLI_CREATES} processes, spawn to exit` })]);
  famfs(['fsck', apiDev]);
}

runMain(main);
