/**
 * The addon's event-loop fd watcher (native/poll.c), which lets the FUSE session read /dev/fuse on
 * the main thread when the kernel has a request, as libfuse's single-threaded loop does.
 */
import { loadNative } from '../addon.js';

/** A uv_poll_t on the current thread's event loop. */
export interface FdWatcher {
  /** Calls onReadable on every wake-up until stop(); keeps the event loop alive meanwhile. */
  start(): void;
  /** No more callbacks; the loop may exit. start() again resumes. */
  stop(): void;
  /** Releases the handle (idempotent). Close it before closing the fd. */
  close(): void;
}

export interface PollNative {
  /**
   * Watches `fd` for readability. `status` is 0 when readable, a negative libuv error when the fd
   * failed (the watcher is then already stopped; a read tells the errno).
   */
  fdWatch(fd: number, onReadable: (status: number) => void): FdWatcher;
  /** read(2) into the whole of `buf`: the byte count, or -errno (nothing thrown). */
  readOrErrno(fd: number, buf: Uint8Array): number;
  /** writev(2) of the pieces in one call (at most 1024): the byte count, or -errno (nothing thrown). */
  writevOrErrno(fd: number, pieces: readonly Uint8Array[]): number;
  /** Sets or clears O_NONBLOCK on the open file description (shared with every dup of it). */
  setNonBlocking(fd: number, on: boolean): void;
}

export function loadPollNative(): PollNative {
  return loadNative() as unknown as PollNative;
}
