// Million-file fixtures (issue 20 part 2): a full 256 MiB log on a 2 TiB sparse emulated device,
// and one directory of 100,000 files. Both are filled through the API as the master, one log entry
// per file, each file one 2 MiB unit (sizes vary within it), so no device page is ever touched.
import { FamfsHandle } from '../../dist/src/fs/famfs.js';
import { mkfs } from '../../dist/src/fs/mkfs.js';
import { parseUuid } from '../../dist/src/format/uuid.js';
import { createEmulatedDevice } from '../../dist/src/device/emulated.js';
import { GIB, MASTER_UUID, MIB, shmPath } from './common.mjs';

export const FULL_LOG_LEN = 256 * MIB;
export const FULL_LOG_DEVICE = 2048 * GIB;
export const FULL_LOG_DIRS = 1000;
/** The size of file i: 1 byte to 1.8 MB, always within one 2 MiB unit. */
export function fileSize(i) {
  return 1 + (i % 7) * 300_000;
}

function emptyFs(tag, deviceBytes, logLen) {
  const dev = shmPath(tag);
  createEmulatedDevice(dev, deviceBytes);
  mkfs(dev, { systemUuid: parseUuid(MASTER_UUID), logLen });
  return dev;
}

/**
 * `dirs` directories dir0..dir{dirs-1}, then files dir{i % dirs}/file-{i} until the log is full
 * (or `maxFiles` were made). Returns the device and the number of log entries.
 */
export function fillLog(dev, { dirs, maxFiles = Infinity, prefix = 'dir' }) {
  const fs = FamfsHandle.open(dev, { writable: true, systemUuid: parseUuid(MASTER_UUID) });
  try {
    fs.withLog((s) => {
      for (let d = 0; d < dirs; d++) s.mkdir(`${prefix}${d}`);
      for (let i = 0; i < maxFiles && s.freeSlots() > 0; i++) s.creat(`${prefix}${i % dirs}/file-${i}`, { size: fileSize(i) });
    });
    return fs.logHeader().nextIndex;
  } finally {
    fs.close();
  }
}

/** The 256 MiB log full: ~492k files in 1,000 directories (removed at cleanup). */
export function fullLogFixture(tag = 'million', { logLen = FULL_LOG_LEN, dirs = FULL_LOG_DIRS } = {}) {
  const dev = emptyFs(tag, FULL_LOG_DEVICE, logLen);
  return { dev, entries: fillLog(dev, { dirs }) };
}

/** One directory `wide` holding `files` files (file-0 .. file-{files-1}); removed at cleanup. */
export function wideDirFixture(tag = 'wide', files = 100_000) {
  const dev = emptyFs(tag, FULL_LOG_DEVICE, FULL_LOG_LEN);
  fillLog(dev, { dirs: 1, maxFiles: files, prefix: 'wide' });
  return { dev, files };
}
