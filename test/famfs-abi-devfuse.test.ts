import assert from 'node:assert/strict';
import { closeSync, openSync } from 'node:fs';
import { describe, it } from 'node:test';
import { kernelHasDaxdevOpen } from '../src/daemon/daxdev-push.js';

/**
 * The famfs ABI probe against the machine's real /dev/fuse, so a mount-group test
 * (tools/run-tests.mjs: unit tests open no /dev/fuse); the profiles' codecs are famfs-abi.test.ts's.
 */
describe('famfs ABI on this kernel', () => {
  it('a stock kernel has no FUSE_DEV_IOC_DAXDEV_OPEN: the ioctl on a real /dev/fuse answers ENOTTY', () => {
    const fd = openSync('/dev/fuse', 'r+');
    try {
      assert.equal(kernelHasDaxdevOpen(fd), false);
    } finally {
      closeSync(fd);
    }
  });
});
