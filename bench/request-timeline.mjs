// A diagnostic run by hand (issue 20, "the measured timeline of one request on both sides"): where
// one FUSE request's time goes, step by step, for the famfs daemon on the ring (--transport uring)
// and on /dev/fuse (--transport dev), and for the C anchor memfs_ll on libfuse 3.18 with -o io_uring
// (one thread per CPU queue, each pinned to its CPU). It emits no table row (bench/run.mjs leaves it
// out): it prints markdown ready for bench/README.md, with the date, the kernel and the load average.
//
//   node bench/request-timeline.mjs [--pin CALLER_CPU[,SERVER_CPU]]
//
// Each case runs one caller (dd bs=4k iflag=direct, or statloop at zero timeouts) against one mount
// while a tracefs instance of its own records, with the x86-tsc clock (nanoseconds; the mono clock,
// whose text output has microseconds, when the CPU has no such clock): the caller's and the server's
// system calls, sched_waking/sched_wakeup of those threads, every sched_switch (which CPU is idle),
// fuse_request_send/fuse_request_end of that mount's connection and the server's io_uring events.
// Each request is then cut into steps (see STEPS) and the table gives, per step, the median time
// since the previous step and since the request started, which thread and CPU it ran on, and how
// many wake-ups crossed CPUs. The scheduler places a spinning server next to the caller in some
// runs and on the other CPU in others, so --pin fixes it: --pin 0 runs the caller and our daemon's
// main thread on CPU 0, --pin 0,1 the caller on CPU 0 and our daemon's main thread on CPU 1 (the C
// server pins its queue threads itself: only its caller is pinned).
// The instance is removed at exit, on error and on Ctrl-C (tracing off, events and filters gone,
// buffer freed); the global tracefs state is never touched. enable_uring is put back as found.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release } from 'node:os';
import { join } from 'node:path';
import { BENCH_PREFIX, MIB, onCleanup, phase, privateRunDir, run, runMain } from './lib/common.mjs';
import { makeDataFile } from './lib/famfs-setup.mjs';
import { CFUSE_URING_BIN, mountPoint, mustUseRing, startCfuse, startFamfs } from './lib/mounts.mjs';

const TRACEFS = '/sys/kernel/tracing';
const INSTANCES = join(TRACEFS, 'instances');
const INSTANCE_PREFIX = `${BENCH_PREFIX}timeline-`;
const ENABLE_URING = '/sys/module/fuse/parameters/enable_uring';

/** Requests per case: a few thousand, few enough that no event is lost from the buffer. */
const READS = 3000;
const STATS = 1000;
/** Per CPU: room for every event of a case, a spinning server's system calls included (the table counts any lost). */
const BUFFER_KIB = 96 * 1024;
const FILE_SIZE = 64 * MIB;
const BS_4K = 4096;
const NS_PER_US = 1000;

// x86-64 system call numbers: the caller's calls a case measures, and the server's reads of /dev/fuse.
const NR_READ = 0;
const NR_STAT = 4;
const NR_NEWFSTATAT = 262;
const NR_STATX = 332;

/** The steps of one request, in order; a step that did not happen for a request is left out of it. */
const STEPS = [
  ['start', 'caller in the kernel (system call entry, or woken by the previous reply of the same call)', 'caller'],
  ['queued', 'request queued (fuse_request_send)', 'caller'],
  ['srvWaking', 'server thread woken (sched_waking)', 'waker'],
  ['srvRun', 'server thread running (sched_switch)', 'server'],
  ['got', 'server has the request (io_uring_complete, or read of /dev/fuse returns)', 'server'],
  ['srvUser', 'server back in user space (sys_exit)', 'server'],
  ['replyEnter', 'server enters its reply (sys_enter io_uring_enter / writev)', 'server'],
  ['end', 'reply taken (fuse_request_end)', 'server'],
  ['callerWaking', 'caller woken (sched_waking)', 'waker'],
  ['callerRun', 'caller running (sched_switch)', 'caller'],
  ['exit', 'caller returns to user space (sys_exit; last request of a call)', 'caller'],
];

function argValue(name) {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

/** Why this diagnostic cannot run here, or null. */
function unavailable() {
  if (process.getuid?.() !== 0) return 'needs root';
  if (!existsSync(join(TRACEFS, 'events', 'sched'))) return `no tracefs at ${TRACEFS}`;
  if (!existsSync(join(TRACEFS, 'events', 'fuse'))) return 'the kernel has no fuse tracepoints';
  if (!existsSync(ENABLE_URING)) return `no ${ENABLE_URING}: the kernel has no FUSE over io_uring`;
  const missing = Object.values(CFUSE_URING_BIN).filter((b) => !existsSync(b));
  if (missing.length > 0) return `no ${missing.join(', ')}: run bench/fuse-uring.mjs once to build the C anchor`;
  return null;
}

// ---- tracefs ------------------------------------------------------------------------------------

function put(path, value) {
  writeFileSync(path, value);
}

/** Instances left by a run that was killed with -9 (their pid is gone). */
function removeStaleInstances() {
  for (const name of readdirSync(INSTANCES)) {
    const pid = Number(name.slice(INSTANCE_PREFIX.length));
    if (!name.startsWith(INSTANCE_PREFIX) || existsSync(`/proc/${pid}`)) continue;
    resetInstance(join(INSTANCES, name));
    rmdirSync(join(INSTANCES, name));
  }
}

/** Tracing off, no event enabled, no filter left, buffer empty. */
function resetInstance(dir) {
  put(join(dir, 'tracing_on'), '0');
  put(join(dir, 'set_event'), '');
  for (const sys of readdirSync(join(dir, 'events'), { withFileTypes: true })) {
    if (!sys.isDirectory()) continue;
    for (const ev of readdirSync(join(dir, 'events', sys.name), { withFileTypes: true })) {
      if (!ev.isDirectory()) continue;
      const filter = join(dir, 'events', sys.name, ev.name, 'filter');
      if (existsSync(filter) && readFileSync(filter, 'utf8').trim() !== 'none') put(filter, '0');
    }
  }
  put(join(dir, 'trace'), '');
}

/** A tracefs instance of this run, removed on cleanup; its clock and whether it counts nanoseconds. */
function openInstance() {
  const dir = join(INSTANCES, `${INSTANCE_PREFIX}${process.pid}`);
  // A directory made in instances/ is a new instance with its own buffer, events and filters.
  mkdirSync(dir);
  onCleanup(() => {
    try {
      resetInstance(dir);
    } finally {
      rmdirSync(dir);
    }
  });
  put(join(dir, 'buffer_size_kb'), String(BUFFER_KIB));
  put(join(dir, 'options', 'irq-info'), '0');
  const tsc = readFileSync(join(dir, 'trace_clock'), 'utf8').includes('x86-tsc');
  put(join(dir, 'trace_clock'), tsc ? 'x86-tsc' : 'mono');
  return { dir, tsc };
}

const anyOf = (field, values) => values.map((v) => `${field} == ${v}`).join(' || ');

/** Enables this case's events with their filters (the caller's and the server's threads, the mount's connection). */
function armEvents(dir, { caller, server, connection }) {
  const threads = [caller, ...server];
  const events = {
    'raw_syscalls/sys_enter': anyOf('common_pid', threads),
    'raw_syscalls/sys_exit': anyOf('common_pid', threads),
    'sched/sched_waking': anyOf('pid', threads),
    'sched/sched_wakeup': anyOf('pid', threads),
    'sched/sched_switch': null,
    'fuse/fuse_request_send': `connection == ${connection}`,
    'fuse/fuse_request_end': `connection == ${connection}`,
  };
  for (const ev of ['io_uring_complete', 'io_uring_submit_req', 'io_uring_task_work_run', 'io_uring_local_work_run', 'io_uring_cqring_wait']) {
    if (existsSync(join(dir, 'events', 'io_uring', ev))) events[`io_uring/${ev}`] = anyOf('common_pid', server);
  }
  for (const [ev, filter] of Object.entries(events)) {
    if (filter !== null) put(join(dir, 'events', ev, 'filter'), filter);
    put(join(dir, 'events', ev, 'enable'), '1');
  }
}

/** Events lost to a full buffer, summed over the CPUs. */
function overruns(dir) {
  let lost = 0;
  for (const cpu of readdirSync(join(dir, 'per_cpu'))) {
    const m = /^overrun: (\d+)$/m.exec(readFileSync(join(dir, 'per_cpu', cpu, 'stats'), 'utf8'));
    lost += m ? Number(m[1]) : 0;
  }
  return lost;
}

/** The kernel's dev_t of a FUSE mount (fuse tracepoints print it): MKDEV is major << 20 | minor. */
function connectionOf(mnt) {
  const d = statSync(mnt).dev;
  const major = Math.floor(d / 256) % 4096;
  const minor = (d % 256) + (Math.floor(d / 4096) & 0xfff00);
  return major * 2 ** 20 + minor;
}

function threadsOf(pid) {
  return readdirSync(`/proc/${pid}/task`).map(Number);
}

// ---- one case ------------------------------------------------------------------------------------

/** Spawns cmd stopped (it stops itself before exec, so its pid is known before it does anything). */
async function spawnStopped(cmd, args) {
  const child = spawn('sh', ['-c', 'kill -STOP $$; exec "$0" "$@"', cmd, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (b) => { stderr += b; });
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  onCleanup(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); });
  for (;;) {
    const state = readFileSync(`/proc/${child.pid}/stat`, 'utf8').replace(/^.*\) /s, '')[0];
    if (state === 'T') break;
    await new Promise((r) => setTimeout(r, 5));
  }
  return { pid: child.pid, exited, stderr: () => stderr };
}

/**
 * Runs one caller against one mount with tracing on and returns the analysed requests. The
 * calibration marks (trace_marker writes around the run, timed with the monotonic clock) turn
 * x86-tsc cycles into nanoseconds.
 */
async function traceCase(inst, c) {
  const { dir } = inst;
  const caller = await spawnStopped(...c.command);
  if (c.pinCpu !== null) run('taskset', ['-p', '-c', String(c.pinCpu), String(caller.pid)]);
  const server = threadsOf(c.serverPid);
  armEvents(dir, { caller: caller.pid, server, connection: connectionOf(c.mnt) });
  put(join(dir, 'trace'), '');
  put(join(dir, 'tracing_on'), '1');
  const t0 = process.hrtime.bigint();
  put(join(dir, 'trace_marker'), 'timeline-begin');
  process.kill(caller.pid, 'SIGCONT');
  const r = await caller.exited;
  put(join(dir, 'trace_marker'), 'timeline-end');
  const t1 = process.hrtime.bigint();
  put(join(dir, 'tracing_on'), '0');
  if (r.code !== 0) throw new Error(`${c.command[0]} exited ${r.code ?? r.signal}: ${caller.stderr()}`);
  const lost = overruns(dir);
  const text = readFileSync(join(dir, 'trace'), 'utf8');
  resetInstance(dir);
  const events = parseTrace(text);
  const marks = events.filter((e) => e.event === 'tracing_mark_write');
  if (marks.length !== 2) throw new Error(`expected 2 trace marks, found ${marks.length}`);
  const nsPerTick = inst.tsc ? Number(t1 - t0) / (marks[1].ts - marks[0].ts) : 1;
  inst.ticksPerNs = 1 / nsPerTick;
  for (const e of events) e.ts = (e.ts - marks[0].ts) * nsPerTick;
  return { ...analyse(events, { caller: caller.pid, server: new Set(server), serverPid: c.serverPid, syscalls: c.syscalls }), caller: caller.pid, lost, eventCount: events.length };
}

// ---- the trace -------------------------------------------------------------------------------

const LINE = /^\s*(.*)-(\d+)\s+(?:\(\s*[\d-]+\)\s+)?\[(\d+)\]\s+(?:\S{4,5}\s+)?(\d+(?:\.\d+)?): (\w+): (.*)$/;

/** The trace file's text as events { ts (tick), cpu, pid, event, ...fields } in time order. */
function parseTrace(text) {
  const out = [];
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line === '') continue;
    const m = LINE.exec(line);
    if (!m) continue;
    // mono prints seconds with six decimals; x86-tsc prints cycles.
    const ts = m[4].includes('.') ? Number(m[4].replace('.', '')) * NS_PER_US : Number(m[4]);
    out.push({ ts, pid: Number(m[2]), cpu: Number(m[3]), event: m[5], ...fields(m[5], m[6]) });
  }
  return out;
}

function num(re, s) {
  const m = re.exec(s);
  return m ? Number(m[1]) : null;
}

function fields(event, s) {
  switch (event) {
    case 'sys_enter': return { nr: num(/^NR (\d+)/, s) };
    case 'sys_exit': return { nr: num(/^NR (\d+)/, s), ret: num(/= (-?\d+)$/, s) };
    case 'sched_switch': return { prev: num(/prev_pid=(\d+)/, s), next: num(/next_pid=(\d+)/, s), nextComm: /next_comm=(.*) next_pid=/.exec(s)?.[1] ?? '?' };
    case 'sched_waking':
    case 'sched_wakeup': return { wakee: num(/ pid=(\d+)/, s), target: num(/target_cpu=(\d+)/, s) };
    case 'fuse_request_send': return { unique: num(/req (\d+)/, s), opcode: /\((\w+)\)/.exec(s)?.[1] ?? '?' };
    case 'fuse_request_end': return { unique: num(/req (\d+)/, s) };
    default: return {};
  }
}

/**
 * Cuts the trace into the caller's system calls of the case (c.syscalls) and their FUSE requests,
 * each request into the STEPS. The caller asks one request at a time, so every event of the caller,
 * of the server's threads and of the connection between a request's send and the caller running
 * again belongs to that request.
 */
function analyse(events, { caller, server, serverPid, syscalls }) {
  const curr = new Map(); // cpu -> the pid running there
  const currComm = new Map(); // cpu -> its command name
  const requests = [];
  const calls = [];
  const pendingWake = new Map(); // wakee -> its sched_waking, until its sched_wakeup names the CPU
  const lastEnter = new Map(); // server tid -> its last sys_enter
  let call = null;
  let req = null;
  let gotTid = null;
  const serverCalls = []; // every system call entry of the server's threads
  const finish = () => {
    if (req !== null && req.end !== undefined) requests.push(resolveServerWake(req));
    req = null;
  };
  for (const e of events) {
    if (e.event === 'sched_switch') {
      curr.set(e.cpu, e.next);
      currComm.set(e.cpu, e.nextComm);
      if (req === null) continue;
      if (server.has(e.next) && req.got === undefined) req.srvSwitches.push({ tid: e.next, ts: e.ts, cpu: e.cpu });
      if (e.next === caller && req.end !== undefined && req.callerRun === undefined) req.callerRun = { ts: e.ts, cpu: e.cpu };
      continue;
    }
    if (e.event === 'sched_waking') {
      // The CPU idle or not is read when the wakee's CPU is known (sched_wakeup), as it was here.
      const w = { tid: e.wakee, ts: e.ts, cpu: e.cpu, idleAt: new Map(curr), commAt: new Map(currComm), target: null, idle: null, busyWith: null };
      pendingWake.set(e.wakee, w);
      if (req !== null) {
        req.wakes.push(w);
        if (e.wakee === caller && req.end !== undefined && req.callerWaking === undefined) req.callerWaking = w;
      }
      continue;
    }
    if (e.event === 'sched_wakeup') {
      const w = pendingWake.get(e.wakee);
      if (w !== undefined) {
        w.target = e.target;
        w.idle = w.idleAt.get(e.target) === 0;
        w.busyWith = w.idle ? null : whoRuns(w.idleAt.get(e.target), w.commAt.get(e.target), server, serverPid);
        pendingWake.delete(e.wakee);
      }
      continue;
    }
    if (e.pid === caller) {
      if (e.event === 'sys_enter') {
        finish();
        call = syscalls.includes(e.nr) ? { enter: { ts: e.ts, cpu: e.cpu }, requests: [] } : null;
      } else if (e.event === 'sys_exit') {
        if (call !== null && req !== null && req.end !== undefined) {
          req.exit = { ts: e.ts, cpu: e.cpu };
          call.exit = req.exit;
          calls.push(call);
        }
        finish();
        call = null;
      } else if (e.event === 'fuse_request_send' && call !== null) {
        const prev = req;
        finish();
        const start = prev === null ? call.enter : (prev.callerRun ?? prev.end);
        req = { unique: e.unique, opcode: e.opcode, start, queued: { ts: e.ts, cpu: e.cpu }, wakes: [], srvSwitches: [] };
        call.requests.push(req);
        gotTid = null;
      }
      continue;
    }
    if (e.event === 'sys_enter' && server.has(e.pid)) serverCalls.push(e.ts);
    if (req === null || !server.has(e.pid)) continue;
    if (e.event === 'io_uring_complete' && req.got === undefined) {
      req.got = { ts: e.ts, cpu: e.cpu };
      gotTid = e.pid;
    } else if (e.event === 'sys_exit' && req.got === undefined && e.nr === NR_READ && e.ret > 0) {
      req.got = { ts: e.ts, cpu: e.cpu };
      req.srvUser = req.got;
      gotTid = e.pid;
    } else if (e.event === 'sys_exit' && e.pid === gotTid && req.srvUser === undefined) {
      req.srvUser = { ts: e.ts, cpu: e.cpu };
    } else if (e.event === 'sys_enter') {
      lastEnter.set(e.pid, { ts: e.ts, cpu: e.cpu });
      if (e.pid === gotTid && req.srvUser !== undefined && req.end === undefined) (req.serverCalls ??= []).push(e.nr);
    } else if (e.event === 'fuse_request_end' && e.unique === req.unique) {
      const enter = lastEnter.get(e.pid);
      if (enter !== undefined && req.srvUser !== undefined && enter.ts >= req.srvUser.ts) req.replyEnter = enter;
      req.end = { ts: e.ts, cpu: e.cpu };
      req.tid = e.pid;
    }
  }
  // The server's system calls per request, spins included: those from the first request's send to the last one's end.
  const first = requests[0]?.queued.ts ?? 0;
  const last = requests.at(-1)?.end.ts ?? 0;
  const serverCallsPerRequest = serverCalls.filter((ts) => ts >= first && ts <= last).length / Math.max(1, requests.length);
  return { requests, calls, serverCallsPerRequest };
}

/** A thread running on a CPU, named for the table: its command, and whose it is when it is one of ours. */
function whoRuns(tid, comm, server, serverPid) {
  if (tid === serverPid) return `the server's main thread`;
  if (server.has(tid)) return `another thread of the server (${comm})`;
  if (tid === process.pid) return 'this script';
  return comm ?? '?';
}

/**
 * The server thread's wake-up for a request is the last waking of the thread that replied between
 * the send and the moment it had the request, and its run the first switch to it after that: a
 * server that was running (spinning) has neither.
 */
function resolveServerWake(r) {
  const until = (r.got ?? r.end).ts;
  const waking = r.wakes.filter((w) => w.tid === r.tid && w.ts <= until).at(-1);
  if (waking !== undefined) {
    r.srvWaking = waking;
    const run = r.srvSwitches.find((s) => s.tid === r.tid && s.ts >= waking.ts && s.ts <= until);
    if (run !== undefined) r.srvRun = run;
  }
  return r;
}

// ---- the table ---------------------------------------------------------------------------------

function medianOf(xs) {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)];
}

const us = (ns) => (ns === null ? '–' : (ns / NS_PER_US).toFixed(1));
const pct = (n, d) => (d === 0 ? '–' : `${Math.round((100 * n) / d)} %`);

/** Wake-ups of the caller and of the thread that replied inside a request (queued → caller running), and how many crossed CPUs. */
function wakesIn(r, caller) {
  const to = (r.callerRun ?? r.end).ts;
  const inside = r.wakes.filter((w) => (w.tid === caller || w.tid === r.tid) && w.ts <= to && w.target !== null);
  return { all: inside.length, cross: inside.filter((w) => w.target !== w.cpu).length };
}

/** The system calls the server made between having a request and entering its reply, by number, most frequent first. */
function gapCalls(requests) {
  const byNr = new Map();
  for (const r of requests) for (const nr of (r.serverCalls ?? []).slice(0, -1)) byNr.set(nr, (byNr.get(nr) ?? 0) + 1);
  if (byNr.size === 0) return '';
  const top = [...byNr].sort((a, b) => b[1] - a[1]).slice(0, 4);
  return `; by number: ${top.map(([nr, k]) => `NR ${nr} ${(k / requests.length).toFixed(2)}`).join(', ')} a request`;
}

/** What ran on the other CPU when the caller was woken there, most frequent first. */
function busyWith(ws) {
  if (ws.length === 0) return '';
  const byComm = new Map();
  for (const w of ws) byComm.set(w.busyWith, (byComm.get(w.busyWith) ?? 0) + 1);
  const top = [...byComm].sort((a, b) => b[1] - a[1]).slice(0, 3);
  return ` (the busy CPU ran ${top.map(([c, k]) => `${c} ${pct(k, ws.length)}`).join(', ')})`;
}

function table(name, res) {
  const { requests, calls } = res;
  const lines = [];
  const n = requests.length;
  lines.push(`| step | thread | µs since the previous step | µs since the start | requests with it | on the caller's CPU |`);
  lines.push('|---|---|---|---|---|---|');
  for (const [key, label, who] of STEPS) {
    const have = requests.filter((r) => r[key] !== undefined);
    const sincePrev = [];
    const sinceStart = [];
    let sameCpu = 0;
    for (const r of have) {
      const i = STEPS.findIndex(([k]) => k === key);
      const prev = STEPS.slice(0, i).reverse().find(([k]) => r[k] !== undefined);
      if (prev !== undefined) sincePrev.push(r[key].ts - r[prev[0]].ts);
      sinceStart.push(r[key].ts - r.start.ts);
      if (r[key].cpu === r.queued.cpu) sameCpu++;
    }
    let extra = '';
    if (key === 'callerWaking' || key === 'srvWaking') {
      const ws = have.map((r) => r[key]).filter((w) => w.target !== null);
      extra = `; wakes onto another CPU ${pct(ws.filter((w) => w.target !== w.cpu).length, ws.length)}, onto an idle CPU ${pct(ws.filter((w) => w.idle).length, ws.length)}`;
    }
    lines.push(`| ${label} | ${who} | ${key === 'start' ? '' : us(medianOf(sincePrev))} | ${us(medianOf(sinceStart))} | ${pct(have.length, n)} | ${pct(sameCpu, have.length)}${extra} |`);
  }
  const perReq = requests.map((r) => wakesIn(r, res.caller));
  const sum = (xs) => xs.reduce((a, b) => a + b, 0);
  const cpusOf = (key) => [...new Set(requests.filter((r) => r[key] !== undefined).map((r) => r[key].cpu))].sort().join(', ');
  const callNs = calls.map((c) => c.exit.ts - c.enter.ts);
  const span = calls.length > 1 ? calls[calls.length - 1].exit.ts - calls[0].enter.ts : 0;
  const reqNs = (r) => (r.callerRun ?? r.end).ts - r.queued.ts;
  const byOpcode = [...new Set(requests.map((r) => r.opcode))].sort()
    .map((op) => `${op.replace(/^FUSE_/, '')} ${us(medianOf(requests.filter((r) => r.opcode === op).map(reqNs)))} µs`).join(', ');
  // The caller's wake-up to running, by where it woke: the cost the waker's CPU choice makes.
  const woke = requests.filter((r) => r.callerWaking?.target != null && r.callerRun !== undefined);
  const wakeToRun = (label, pred) => {
    const xs = woke.filter((r) => pred(r.callerWaking)).map((r) => r.callerRun.ts - r.callerWaking.ts);
    return `${label} ${us(medianOf(xs))} µs (${xs.length})`;
  };
  lines.push('');
  lines.push(`Caller woken → running: ${[
    wakeToRun('on the waker\'s CPU', (w) => w.target === w.cpu),
    wakeToRun('on another, idle CPU', (w) => w.target !== w.cpu && w.idle),
    wakeToRun('on another, busy CPU', (w) => w.target !== w.cpu && !w.idle),
  ].join(', ')}${busyWith(woke.map((r) => r.callerWaking).filter((w) => w.target !== w.cpu && !w.idle))}. Request (queued → caller running) by opcode: ${byOpcode}.`);
  lines.push('');
  lines.push(`${name}: ${n} requests in ${calls.length} calls (${(n / Math.max(1, calls.length)).toFixed(2)} a call), `
    + `median call ${us(medianOf(callNs))} µs (${span > 0 ? Math.round(calls.length / (span / 1e9)).toLocaleString('en-US') : '–'} calls/s while traced), `
    + `median request (queued → caller running) ${us(medianOf(requests.map(reqNs)))} µs; `
    + `wake-ups per request ${(sum(perReq.map((w) => w.all)) / Math.max(1, n)).toFixed(2)}, of them to another CPU ${(sum(perReq.map((w) => w.cross)) / Math.max(1, n)).toFixed(2)}; `
    + `server system calls per request ${res.serverCallsPerRequest.toFixed(1)}, between having a request and entering its reply ${medianOf(requests.map((r) => Math.max(0, (r.serverCalls?.length ?? 1) - 1)))} (median${gapCalls(requests)}); `
    + `caller on CPU ${cpusOf('queued')}, server replies on CPU ${cpusOf('end')}; ${res.eventCount.toLocaleString('en-US')} events, ${res.lost} lost.`);
  return lines.join('\n');
}

// ---- main ------------------------------------------------------------------------------------

function machineLine(when, load0) {
  const load1 = loadavg();
  const f = (l) => l.map((x) => x.toFixed(2)).join(' ');
  const pin = argValue('--pin');
  return `\`node bench/request-timeline.mjs${pin === undefined ? '' : ` --pin ${pin}`}\` on ${when} UTC (Linux ${release()}, ${cpus().length} vCPUs, Node ${process.version}, `
    + `cpuidle ${readOr('/sys/devices/system/cpu/cpuidle/current_driver')}, guest_halt_poll_ns ${readOr('/sys/module/haltpoll/parameters/guest_halt_poll_ns')}), `
    + `load average ${f(load0)} before and ${f(load1)} after (1, 5, 15 min)`;
}

function readOr(path) {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return '–';
  }
}

/** --pin CALLER[,SERVER]: { caller, server } CPUs (server defaults to the caller's), or null. */
function pinArg() {
  const v = argValue('--pin');
  if (v === undefined) return null;
  const [caller, server = caller] = v.split(',').map(Number);
  if (!Number.isInteger(caller) || !Number.isInteger(server)) throw new Error(`--pin ${v}: expected CPU or CPU,CPU`);
  return { caller, server };
}

async function main() {
  const why = unavailable();
  if (why !== null) {
    phase(`request-timeline: skipped: ${why}`);
    return;
  }
  const pin = pinArg();
  const load0 = loadavg();
  const when = new Date().toISOString().slice(0, 16).replace('T', ' ');
  privateRunDir();
  removeStaleInstances();
  const inst = openInstance();
  const old = readFileSync(ENABLE_URING, 'utf8').trim();
  writeFileSync(ENABLE_URING, 'Y');
  onCleanup(() => writeFileSync(ENABLE_URING, old));

  phase('request-timeline: devices');
  const data = { uring: makeDataFile('timeline-u', FILE_SIZE), dev: makeDataFile('timeline-d', FILE_SIZE) };
  const mounts = { uring: mountPoint('timeline-u'), dev: mountPoint('timeline-d'), c: mountPoint('timeline-c') };
  // famfs takes either -c or -t: direct I/O for the reads, zero timeouts for stat.
  const workloads = [
    {
      name: '`dd bs=4k iflag=direct`', famfsOpts: ['-c', 'never'], cOpts: ['direct_io'], syscalls: [NR_READ],
      command: (file, skip) => ['dd', [`if=${file}`, 'of=/dev/null', `bs=${BS_4K}`, `count=${READS}`, `skip=${skip}`, 'iflag=direct,skip_bytes']],
    },
    {
      name: '`statloop` at zero timeouts', famfsOpts: ['-t', '0'], cOpts: ['timeout=0'], syscalls: [NR_STAT, NR_NEWFSTATAT, NR_STATX],
      command: (file) => [CFUSE_URING_BIN.statloop, [file, String(STATS)]],
    },
  ];
  const out = [];
  for (const w of workloads) {
    phase(`request-timeline: mounts for ${w.name}`);
    const servers = {
      uring: startFamfs(data.uring.dev, mounts.uring, ['--transport', 'uring', ...w.famfsOpts]),
      dev: startFamfs(data.dev.dev, mounts.dev, ['--transport', 'dev', ...w.famfsOpts]),
      c: startCfuse(CFUSE_URING_BIN.memfs, data.uring.dev, mounts.c, ['io_uring', ...w.cOpts]),
    };
    mustUseRing('famfs daemon --transport uring', servers.uring.pid, true);
    mustUseRing('famfs daemon --transport dev', servers.dev.pid, false);
    mustUseRing('memfs_ll -o io_uring', servers.c.pid, true);
    const sides = [
      ['ours, `--transport uring`', 'uring', join(mounts.uring, 'big'), 0],
      ['ours, `--transport dev`', 'dev', join(mounts.dev, 'big'), 0],
      ['C, libfuse 3.18 `-o io_uring`', 'c', join(mounts.c, 'data'), data.uring.offset],
    ];
    for (const [sname, key, file, skip] of sides) {
      phase(`request-timeline: ${w.name} on ${sname}`);
      const serverPid = servers[key].pid;
      const c = { command: w.command(file, skip), serverPid, mnt: mounts[key], syscalls: w.syscalls, pinCpu: pin?.caller ?? null };
      const pinServer = pin !== null && key !== 'c';
      const had = pinServer ? /: (.*)$/.exec(run('taskset', ['-p', '-c', String(serverPid)]).trim())[1] : null;
      if (pinServer) run('taskset', ['-p', '-c', String(pin.server), String(serverPid)]);
      try {
        const res = await traceCase(inst, c);
        out.push(`#### ${w.name}, ${sname}\n\n${table(`${w.name}, ${sname}`, res)}\n`);
      } finally {
        if (pinServer) run('taskset', ['-p', '-c', had, String(serverPid)]);
      }
    }
    for (const s of Object.values(servers)) s.stop();
  }
  console.log(`### Timeline of one request (\`request-timeline.mjs\`)\n`);
  const clock = inst.tsc ? `x86-tsc (${inst.ticksPerNs.toFixed(3)} GHz against CLOCK_MONOTONIC)` : 'mono (whole µs)';
  console.log(`${machineLine(when, load0)}; tracefs clock ${clock}; ${READS} reads and ${STATS} stat() calls a case, each traced alone. `
    + 'Medians over the requests that had the step; "since the previous step" counts from the last earlier step the request had. '
    + 'Tracing every system call of both sides slows both; the rates below are the traced ones.\n');
  console.log(out.join('\n'));
}

runMain(main);
