// Million-file logs through a mount (issue 20 part 2): `famfs mount` of a full 256 MiB log
// (~492k files in 1,000 directories on a 2 TiB sparse device) to the first stat (goal <= 1 s),
// the daemon's resident memory once `find` has walked the whole tree (goal <= 150 MiB), that
// `find` against the same find over the same tree on tmpfs, and `ls -l` of one directory of
// 100,000 files (goal <= 1 s) against the same ls -l of the same directory on tmpfs. Every
// sample is a fresh `famfs mount` (a fresh daemon, nothing cached in the kernel).
import { spawnSync } from 'node:child_process';
import { closeSync, ftruncateSync, mkdirSync, openSync, readFileSync, rmSync, statSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { readRecord } from '../dist/src/mounts/registry.js';
import { MIB, NS_PER_MS, QUICK, elapsedNs, emit, fmt, nowNs, onCleanup, phase, privateRunDir, row, runMain, shmPath, summary } from './lib/common.mjs';
import { FULL_LOG_DIRS, FULL_LOG_LEN, fileSize, fullLogFixture, wideDirFixture } from './lib/million-log.mjs';
import { mountPoint, startFamfs } from './lib/mounts.mjs';

const RUNS = QUICK ? 3 : 5;
/** --quick: a 64 MiB log (~123k files) and a directory of 25,000. */
const LOG_LEN = QUICK ? FULL_LOG_LEN / 4 : FULL_LOG_LEN;
const WIDE_FILES = QUICK ? 25_000 : 100_000;
const KIB = 1024;

/** ms of `cmd args` with its output thrown away, spawn to exit. */
function timedMs(cmd, args) {
  const t0 = nowNs();
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, LC_ALL: 'C' } });
  const ms = elapsedNs(t0) / NS_PER_MS;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
  return ms;
}

/** The same names and sizes as the fixture, as sparse files on tmpfs (removed at cleanup). */
function tmpfsTree(tag, files, dirs, prefix) {
  const root = shmPath(tag);
  onCleanup(() => rmSync(root, { recursive: true, force: true }));
  for (let d = 0; d < dirs; d++) mkdirSync(join(root, `${prefix}${d}`), { recursive: true });
  for (let i = 0; i < files; i++) {
    const fd = openSync(join(root, `${prefix}${i % dirs}`, `file-${i}`), 'w', 0o644);
    ftruncateSync(fd, fileSize(i));
    closeSync(fd);
  }
  return root;
}

function procMiB(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? NaN);
  return { rss: kb('VmRSS') / KIB, anon: kb('RssAnon') / KIB, file: kb('RssFile') / KIB, shmem: kb('RssShmem') / KIB };
}

/** The daemon's V8 heap and external memory, from its Prometheus text (read after VmRSS: prom-client loads on demand). */
function heapMiB(mnt) {
  const socketPath = readRecord(mnt)?.diagSocket;
  if (!socketPath) return Promise.resolve({ heap: NaN, external: NaN });
  return new Promise((resolve) => {
    const req = request({ socketPath, path: '/metrics', timeout: 5000 }, (res) => {
      let body = '';
      res.on('data', (c) => { body += c; });
      res.on('end', () => {
        const v = (name) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(body)?.[1] ?? NaN) / MIB;
        resolve({ heap: v('nodejs_heap_size_used_bytes'), external: v('nodejs_external_memory_bytes') });
      });
    });
    req.on('error', () => resolve({ heap: NaN, external: NaN }));
    req.end();
  });
}

const med = (xs) => summary(xs).median;
/** /proc/<pid>/stat counts CPU time in clock ticks of USER_HZ, 100 on Linux. */
const MS_PER_TICK = 10;

/** A process's user + system CPU time so far, in ms (fields 14 and 15 of /proc/<pid>/stat). */
/** Fields of /proc/PID/stat after the command name, from its 3rd (state) on. */
function statFields(pid) {
  return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
}

function cpuMs(pid) {
  const fields = statFields(pid);
  return (Number(fields[11]) + Number(fields[12])) * MS_PER_TICK;
}

/** System time of this process's waited-for children (cstime): a spawnSync'd find's kernel time. */
function childrenSysMs() {
  return Number(statFields('self')[14]) * MS_PER_TICK;
}

async function main() {
  privateRunDir();
  phase(`mount-million: filling a ${LOG_LEN / MIB} MiB log`);
  const t0 = nowNs();
  const { dev, entries } = fullLogFixture('million', { logLen: LOG_LEN });
  phase(`mount-million: ${entries} entries in ${(elapsedNs(t0) / 1e9).toFixed(1)} s; the tmpfs tree`);
  const files = entries - FULL_LOG_DIRS;
  const tree = tmpfsTree('million-tmpfs', files, FULL_LOG_DIRS, 'dir');
  const mnt = mountPoint('million');

  const mountMs = [], findMs = [], daemonFindCpuMs = [], findSysMs = [], tmpfsFindMs = [], memory = [];
  for (let i = 0; i < RUNS; i++) {
    phase(`mount-million: mount, first stat, find (run ${i + 1}/${RUNS})`);
    const t = nowNs();
    const m = startFamfs(dev, mnt, []);
    statSync(join(mnt, 'dir7', 'file-7'));
    mountMs.push(elapsedNs(t) / NS_PER_MS);
    const cpu0 = cpuMs(m.pid);
    const sys0 = childrenSysMs();
    findMs.push(timedMs('find', [mnt]));
    daemonFindCpuMs.push(cpuMs(m.pid) - cpu0);
    findSysMs.push(childrenSysMs() - sys0);
    tmpfsFindMs.push(timedMs('find', [tree]));
    const mem = procMiB(m.pid);
    memory.push({ ...mem, ...(await heapMiB(mnt)) });
    m.stop();
  }
  const breakdown = ['anon', 'file', 'shmem', 'heap', 'external'].map((k) => `${k} ${med(memory.map((x) => x[k])).toFixed(1)}`).join(', ');
  phase(`mount-million: daemon memory after find (medians, MiB): ${breakdown}`);
  emit([
    row({ name: `mount of a full ${LOG_LEN / MIB} MiB log (${entries} entries), to first stat`, unit: 'ms', value: summary(mountMs),
      goal: { kind: 'value', op: '<=', target: 1000 }, detail: '`famfs mount` process start to stat() answered, fresh daemon' }),
    row({ name: `daemon resident memory after find over ${entries} entries`, unit: 'MiB', value: summary(memory.map((x) => x.rss)),
      goal: { kind: 'value', op: '<=', target: 150 }, detail: `VmRSS; MiB: ${breakdown}` }),
    row({ name: `find over ${files} files in ${FULL_LOG_DIRS} directories`, unit: 'ms', value: summary(findMs), ref: summary(tmpfsFindMs),
      refName: 'the same tree on tmpfs', goal: { kind: 'ratio', op: '<=', target: 4 }, detail: `first find after the mount (READDIRPLUS fills the kernel's inode cache); the daemon's CPU in it ${fmt(med(daemonFindCpuMs))} ms; find's own system time (the kernel making the inodes) ${fmt(med(findSysMs))} ms` }),
  ]);
  rmSync(dev);

  phase(`mount-million: one directory of ${WIDE_FILES} files`);
  const wide = wideDirFixture('wide', WIDE_FILES);
  const wideTree = tmpfsTree('wide-tmpfs', WIDE_FILES, 1, 'wide');
  const wideMnt = mountPoint('wide');
  const lsMs = [], tmpfsLsMs = [];
  for (let i = 0; i < RUNS; i++) {
    const m = startFamfs(wide.dev, wideMnt, []);
    lsMs.push(timedMs('ls', ['-l', join(wideMnt, 'wide0')]));
    tmpfsLsMs.push(timedMs('ls', ['-l', join(wideTree, 'wide0')]));
    m.stop();
  }
  emit([
    row({ name: `ls -l of one directory of ${WIDE_FILES} files`, unit: 'ms', value: summary(lsMs), ref: summary(tmpfsLsMs), refName: 'the same directory on tmpfs',
      goal: { kind: 'value', op: '<=', target: 1000 }, detail: 'first listing after the mount (READDIRPLUS)' }),
  ]);
}

runMain(main);
