/**
 * FUSE over io_uring on this machine: whether a test can use it, the fuse module's enable_uring
 * switch (read by the kernel at each mount's INIT), and what a serving process's transport looks
 * like from outside (its io_uring fd, its read/write system call counts).
 */
import { readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';

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

/**
 * Waits until process `pid` has made no write system call for `quietMs` (at most `maxMs`): a
 * daemon that just saw new log entries tells the kernel with notifications, written to /dev/fuse.
 */
export async function writesSettled(pid: number, quietMs = 300, maxMs = 10_000): Promise<void> {
  const deadline = Date.now() + maxMs;
  let last = writeSyscalls(pid);
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, quietMs));
    const now = writeSyscalls(pid);
    if (now === last) return;
    last = now;
  }
}

/** The write-type system calls (write, writev, ...) process `pid` has made (/proc/PID/io syscw, all threads). */
export function writeSyscalls(pid: number): number {
  const m = /^syscw: (\d+)$/m.exec(readFileSync(`/proc/${pid}/io`, 'utf8'));
  if (m === null) throw new Error(`/proc/${pid}/io has no syscw line`);
  return Number(m[1]);
}
