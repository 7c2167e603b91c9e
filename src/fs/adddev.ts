import { MemoryDevice } from '../device/device.js';
import { FamfsError, FsError } from '../errors.js';
import { MAX_DEVICE_SIZE, MIN_DEVICE_SIZE, SUPERBLOCK_REGION_SIZE } from '../format/layout.js';
import { isSecondary, newSecondarySuperblock } from '../format/secondary-superblock.js';
import { type Superblock, decodeSuperblock, encodeSuperblock, hasSuperMagic } from '../format/superblock.js';
import { formatUuid, randomUuidBytes, uuidEquals } from '../format/uuid.js';
import type { FamfsHandle } from './famfs.js';
import { LogFullError } from './log-writer.js';
import { MAX_DEVICES } from './replay.js';

export interface AddDeviceOptions {
  /** Take a device that holds another file system's superblock (its contents are lost). */
  force?: boolean;
}

export interface AddDeviceResult {
  index: number;
  path: string;
  size: number;
  devUuid: string;
}

/** The page zeroed before the secondary superblock is written, as mkfs does for a primary. */
const SUPERBLOCK_CLEAR_BYTES = 4096;

/**
 * `famfs adddev`: make the memory device at `path` the next device of the file system (master
 * only). Everything is checked, under the log lock, before anything is written: the device opens
 * and is a memory device, it is large enough, it is not already part of this file system (as the
 * primary or an added device), it holds no other file system unless forced, and the log has a
 * slot. Then its secondary superblock is written and flushed, and only then is the ADD_DAXDEV
 * entry appended: a crash in between leaves a device that carries this file system's UUID but
 * is not in the log, which a second adddev of the same device takes over.
 */
export function addDevice(fs: FamfsHandle, path: string, opts: AddDeviceOptions = {}): AddDeviceResult {
  fs.requireMaster();
  const device = MemoryDevice.open(path, { writable: true, host: fs.host });
  try {
    return fs.withLog((session) => {
      if (session.deviceCount >= MAX_DEVICES) {
        throw new FsError('ENOSPC', `famfs ${fs.uuid} already has ${MAX_DEVICES} devices, the most it can have`);
      }
      if (device.size < MIN_DEVICE_SIZE) {
        throw new FsError('EINVAL', `unsupported memory device size ${device.size} (<4GiB): ${path}`);
      }
      if (device.size > MAX_DEVICE_SIZE) {
        throw new FsError('EINVAL', `unsupported memory device size ${device.size} (more than ${MAX_DEVICE_SIZE}, the most a famfs device may have): ${path}`);
      }
      const sbMap = device.map(0, SUPERBLOCK_REGION_SIZE, { writable: true });
      try {
        sbMap.invalidate();
        refuseExisting(fs, path, sbMap.buffer, !!opts.force);
        const free = session.freeSlots();
        if (free < 1) throw new LogFullError(1, free);
        const devUuid = randomUuidBytes();
        const sb = newSecondarySuperblock({ fsUuid: fs.sb.uuid, devUuid, systemUuid: fs.sb.systemUuid, devSize: device.size, devName: path });
        sbMap.buffer.fill(0, 0, SUPERBLOCK_CLEAR_BYTES);
        sbMap.buffer.set(encodeSuperblock(sb), 0);
        sbMap.flush(0, SUPERBLOCK_CLEAR_BYTES);
        const index = session.appendDevice(device.size, devUuid);
        return { index, path, size: device.size, devUuid: formatUuid(devUuid) };
      } finally {
        sbMap.unmap();
      }
    });
  } finally {
    device.close();
  }
}

/** Refuse a device already in this file system, or holding another one (unless forced). */
function refuseExisting(fs: FamfsHandle, path: string, bytes: Buffer, force: boolean): void {
  if (!hasSuperMagic(bytes)) return;
  let sb: Superblock | undefined;
  try {
    sb = decodeSuperblock(bytes);
  } catch (err) {
    if (!(err instanceof FamfsError)) throw err;
  }
  if (sb && uuidEquals(sb.uuid, fs.sb.uuid)) {
    if (!isSecondary(sb)) throw new FsError('EEXIST', `${path} is the primary device (device 0) of famfs ${fs.uuid}`);
    const known = fs.deviceRecords().find((d) => uuidEquals(d.uuid, sb.devUuid));
    if (known) throw new FsError('EEXIST', `${path} was already added to famfs ${fs.uuid} as device ${known.index}`);
    // Ours but never logged: an adddev that stopped between the superblock and the log entry.
    return;
  }
  if (!force) {
    const owner = sb ? ` (famfs ${formatUuid(sb.uuid)})` : '';
    throw new FsError('EEXIST', `${path} holds a famfs superblock${owner}; use -f to add it anyway, losing that file system`);
  }
}
