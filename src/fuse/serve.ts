/** Mount a Filesystem and serve it: the usual way to use this layer. */
import { FuseError } from './errors.js';
import type { Filesystem, InitResult } from './filesystem.js';
import {
  checkMountpoint, closeDevice, mountDevice, openFuseDevice, unmount, type MountOptions, type UnmountOptions,
} from './mount.js';
import { FuseSession, type SessionEnd, type SessionOptions } from './session.js';

const DEFAULT_INIT_TIMEOUT_MS = 10_000;

export interface ServeOptions extends MountOptions, SessionOptions {
  /** How long to wait for the kernel's INIT after mounting; default 10 s. */
  readonly initTimeoutMs?: number;
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_r, reject) => {
    timer = setTimeout(() => reject(new FuseError('ETIMEDOUT', `${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** A mounted, serving file system. */
export class FuseServer {
  private unmounting: Promise<SessionEnd> | undefined;

  private constructor(
    readonly mountpoint: string,
    readonly session: FuseSession,
    readonly init: InitResult,
  ) {}

  /**
   * Mounts `fs` at `mountpoint` (an existing empty directory) and starts serving. Resolves once the
   * kernel's INIT has been answered, so the mount is usable.
   *
   * The process then stays alive until the mount goes away (the session watches /dev/fuse on the
   * event loop). Call unmount() before exiting: a process that exits while mounted leaves a mount
   * that answers ENOTCONN until `famfs umount` or umount -l detaches it.
   */
  static async mount(fs: Filesystem, mountpoint: string, options: ServeOptions = {}): Promise<FuseServer> {
    const mnt = await checkMountpoint(mountpoint);
    const fd = openFuseDevice();
    try {
      mountDevice(fd, mnt, options);
    } catch (err) {
      closeDevice(fd);
      throw err;
    }
    const session = new FuseSession(fd, fs, options);
    session.start();
    try {
      const init = await withTimeout(session.initialized, options.initTimeoutMs ?? DEFAULT_INIT_TIMEOUT_MS, 'FUSE INIT');
      return new FuseServer(mnt, session, init);
    } catch (err) {
      await unmount(mnt);
      throw err;
    }
  }

  /** Unmounts (lazily if busy, aborting if stuck) and resolves when the session has ended. */
  unmount(options: UnmountOptions = {}): Promise<SessionEnd> {
    this.unmounting ??= (async () => {
      await unmount(this.mountpoint, options);
      return this.session.closed;
    })();
    return this.unmounting;
  }

  get closed(): Promise<SessionEnd> {
    return this.session.closed;
  }
}
