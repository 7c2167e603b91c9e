/**
 * FUSE over io_uring on this machine: whether a test can use it, the fuse module's enable_uring
 * switch (read by the kernel at each mount's INIT), and what a serving process's transport looks
 * like from outside (its io_uring fd, what it writes to /dev/fuse).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const ENABLE_URING = '/sys/module/fuse/parameters/enable_uring';
const IO_URING_DISABLED = '/proc/sys/kernel/io_uring_disabled';
/** io_uring_disabled 2: no process may create a ring. */
const ALL_DISABLED = 2;

/** Why FUSE over io_uring cannot be tested here, or undefined when it can. */
export function uringUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (the fuse module parameter enable_uring)';
  let param: string;
  try {
    param = readFileSync(ENABLE_URING, 'utf8');
  } catch {
    return `this kernel has no FUSE over io_uring (${ENABLE_URING} missing: Linux < 6.14 or CONFIG_FUSE_IO_URING off)`;
  }
  if (param === '') return `${ENABLE_URING} is empty`;
  try {
    if (Number(readFileSync(IO_URING_DISABLED, 'utf8')) >= ALL_DISABLED) return `io_uring is disabled (${IO_URING_DISABLED} = 2)`;
  } catch {
    // Kernels before 6.6 have no switch: io_uring is on.
  }
  return undefined;
}

/** Turns enable_uring on; returns what puts the previous value back. */
export function enableUring(): () => void {
  const old = readFileSync(ENABLE_URING, 'utf8').trim();
  writeFileSync(ENABLE_URING, 'Y');
  return () => writeFileSync(ENABLE_URING, old);
}

/** Whether process `pid` holds an io_uring (an anon_inode:[io_uring] fd). */
export function holdsIoUring(pid: number): boolean {
  return readdirSync(`/proc/${pid}/fd`).some((fd) => {
    try {
      return readlinkSync(`/proc/${pid}/fd/${fd}`) === 'anon_inode:[io_uring]';
    } catch {
      return false;
    }
  });
}

/** What a FUSE server wrote to /dev/fuse while an action ran (repliesOnDevFuse). */
export interface DevFuseWrites {
  /** Writes whose fuse_out_header names a request (unique != 0): replies sent over /dev/fuse. */
  readonly replies: number;
  /** Writes with unique 0: notifications, which the kernel takes only on /dev/fuse. */
  readonly notifications: number;
}

const STRACE_ATTACH_MS = 10_000;
const POLL_MS = 20;
const OUT_HEADER_SIZE = 16;
const UNIQUE_AT = 8;
/** "/dev/fuse" as strace -xx prints a path: every byte \xNN. */
const DEV_FUSE_XX = [...Buffer.from('/dev/fuse')].map((b) => `\\x${b.toString(16).padStart(2, '0')}`).join('');
const WRITE_CALL = /^\d+\s+(?:write|writev|pwrite64|pwritev2?)\((\d+)<([^>]*)>, (.*)$/;

/** Whether every thread of `pid` is traced by `tracer`. */
function tracedBy(pid: number, tracer: number): boolean {
  try {
    return readdirSync(`/proc/${pid}/task`).every((t) => /^TracerPid:\s+(\d+)$/m.exec(readFileSync(`/proc/${pid}/task/${t}/status`, 'utf8'))?.[1] === String(tracer));
  } catch {
    return false;
  }
}

/**
 * Counts what process `pid` (all its threads) writes to /dev/fuse while `action` runs, read from
 * strace: each write-type system call on a /dev/fuse fd, told apart by its fuse_out_header's
 * unique. Only those: the process's other writes (its log, the event loop's eventfd wake-ups,
 * which V8 makes for every garbage-collection task it posts) say nothing about how requests
 * travel. Throws when strace cannot attach.
 */
export async function repliesOnDevFuse(pid: number, action: () => void): Promise<DevFuseWrites> {
  const dir = mkdtempSync('/tmp/famfs-test-strace-');
  const out = join(dir, 'trace');
  // -y: each fd with its path; -xx -s 16: every byte in hex, the first 16 of each buffer (the header).
  const strace = spawn('strace', ['-f', '-qq', '-y', '-xx', '-s', String(OUT_HEADER_SIZE), '-e', 'trace=write,writev,pwrite64,pwritev,pwritev2',
    '-e', 'signal=none', '-o', out, '-p', String(pid)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  strace.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<void>((resolve) => {
    strace.on('close', () => resolve());
    strace.on('error', (err) => {
      stderr += err.message;
      resolve();
    });
  });
  let gone = false;
  void exited.then(() => (gone = true));
  try {
    try {
      const deadline = Date.now() + STRACE_ATTACH_MS;
      while (strace.pid === undefined || !tracedBy(pid, strace.pid)) {
        if (gone || Date.now() > deadline) throw new Error(`strace could not attach to ${pid}: ${stderr.trim()}`);
        await new Promise((r) => setTimeout(r, POLL_MS));
      }
      action();
    } finally {
      // SIGINT: strace detaches from every thread and flushes its output.
      if (!gone) strace.kill('SIGINT');
      await exited;
    }
    return devFuseWrites(readFileSync(out, 'utf8'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The writes to /dev/fuse in strace output made with -y -xx -s 16. */
function devFuseWrites(trace: string): DevFuseWrites {
  let replies = 0;
  let notifications = 0;
  for (const line of trace.split('\n')) {
    const m = WRITE_CALL.exec(line);
    if (m === null || m[2] !== DEV_FUSE_XX) continue;
    // The written bytes in order: the buffer of write(2), the iov_base strings of writev(2).
    const hex = [...m[3]!.matchAll(/"((?:\\x[0-9a-f]{2})*)"/g)].map((s) => s[1]!.replaceAll('\\x', '')).join('');
    const head = Buffer.from(hex, 'hex');
    // Shorter than a header the kernel refuses: counted as a reply, so it cannot hide one.
    if (head.length >= OUT_HEADER_SIZE && head.readBigUInt64LE(UNIQUE_AT) === 0n) notifications++;
    else replies++;
  }
  return { replies, notifications };
}
