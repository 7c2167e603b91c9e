import { closeSync, openSync } from 'node:fs';
import { loadNative } from '../addon.js';
import { type Fmap, fmapExtents } from '../format/fmap.js';
import { encodeDaxdevOpenArg, FUSE_DEV_IOC_DAXDEV_OPEN } from './famfs-abi.js';

/** ioctl(2) as the addon makes it: throws an errno error on failure. */
export type Ioctl = (fd: number, request: number, arg: Buffer) => number;

/**
 * The push2026 profile's device registration, as upstream's daemon does it: at the LOOKUP of a
 * file, every device index up to the highest the file's map references that the kernel has not
 * been given yet is pushed, densely and in order, by opening the device read-write and handing
 * the fd and index to the kernel with FUSE_DEV_IOC_DAXDEV_OPEN on /dev/fuse (the fd is closed
 * once the kernel holds it). The first failure stops the round; a later lookup tries again.
 */
export class DaxdevPusher {
  /** Highest index the kernel holds; -1 before the first push. */
  private maxPushed = -1;

  constructor(
    private readonly fuseFd: number,
    private readonly pathOf: (index: number) => string,
    private readonly log: (msg: string) => void,
    private readonly ioctl: Ioctl = (fd, request, arg) => loadNative().ioctl(fd, request, arg),
  ) {}

  get pushed(): number {
    return this.maxPushed + 1;
  }

  /** Pushes what `fmap` needs; returns the number of devices pushed now. */
  pushFor(fmap: Fmap): number {
    const need = Math.max(...fmapExtents(fmap).map((e) => e.devIndex));
    let n = 0;
    while (this.maxPushed < need) {
      const index = this.maxPushed + 1;
      let fd: number | undefined;
      try {
        const path = this.pathOf(index);
        fd = openSync(path, 'r+');
        this.ioctl(this.fuseFd, FUSE_DEV_IOC_DAXDEV_OPEN, encodeDaxdevOpenArg(fd, index));
      } catch (err) {
        this.log(`daxdev push of index ${index} failed: ${(err as Error).message}`);
        return n;
      } finally {
        if (fd !== undefined) closeSync(fd);
      }
      this.maxPushed = index;
      n++;
    }
    return n;
  }
}

/**
 * Whether the kernel behind `fuseFd` knows FUSE_DEV_IOC_DAXDEV_OPEN: asked with an fd that cannot
 * be valid, a kernel without it answers ENOTTY (no such ioctl), one with it refuses the fd.
 */
export function kernelHasDaxdevOpen(fuseFd: number, ioctl: Ioctl = (fd, request, arg) => loadNative().ioctl(fd, request, arg)): boolean {
  try {
    ioctl(fuseFd, FUSE_DEV_IOC_DAXDEV_OPEN, encodeDaxdevOpenArg(-1, 0));
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ENOTTY';
  }
}
