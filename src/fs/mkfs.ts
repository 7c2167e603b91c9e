import { mountsOfDevice } from '../mounts/registry.js';
import { MAX_MAPPING_BYTES, MemoryDevice } from '../device/device.js';
import { clearEmulatedRange } from '../device/emulated.js';
import { initialLogReservation } from './log-writer.js';
import { FamfsError, FsError, RoleError } from '../errors.js';
import { writeU64 } from '../struct/le.js';
import { DEFAULT_LOG_LEN, LOG_OFFSET, MAX_DEVICE_SIZE, MIN_DEVICE_SIZE, MIN_LOG_LEN, SUPERBLOCK_REGION_SIZE, isPowerOfTwo } from '../format/layout.js';
import { encodeLogHeader, lastIndexFor, logSlot } from '../format/log-header.js';
import { SUPERBLOCK_SIZE, SUPER_MAGIC_OFFSET, SuperblockError, decodeSuperblock, encodeSuperblock, hasSuperMagic, newSuperblock } from '../format/superblock.js';
import { getSystemUuid } from '../format/system-uuid.js';
import { formatUuid, randomUuidBytes, uuidEquals } from '../format/uuid.js';

export interface MkfsOptions {
  force?: boolean;
  /** With force: only zero the magic, "killing" the file system. */
  kill?: boolean;
  logLen?: number;
  systemUuid?: Buffer;
}

export type MkfsResult = { killed: true } | { killed: false; uuid: string; logLen: number; devSize: number };

/** Page zeroed at the device start, so no stale bytes survive in the superblock's unused fields. */
const SUPERBLOCK_CLEAR_BYTES = 4096;

function validateLogLen(logLen: number): void {
  if (!Number.isSafeInteger(logLen) || !isPowerOfTwo(logLen) || logLen < MIN_LOG_LEN) {
    throw new FsError('EINVAL', `invalid log length ${logLen}: it must be a power of two and at least ${MIN_LOG_LEN} (8 MiB)`);
  }
  // Every command maps the superblock and the log as one window: a longer log could be written
  // but never opened again.
  if (LOG_OFFSET + logLen > MAX_MAPPING_BYTES) {
    throw new FsError('EINVAL', `invalid log length ${logLen}: the superblock and log must fit one ${MAX_MAPPING_BYTES}-byte mapping, so the log is at most ${largestPowerOfTwoAtMost(MAX_MAPPING_BYTES - LOG_OFFSET)} bytes`);
  }
}

function largestPowerOfTwoAtMost(n: number): number {
  return 2 ** Math.floor(Math.log2(n));
}

/** mkfs refuses a device mounted anywhere on this machine, as any host: its daemons would serve a mix of two file systems. */
function refuseMounted(devicePath: string): void {
  const at = mountsOfDevice(devicePath);
  if (at.length > 0) throw new FsError('EBUSY', `${devicePath} is mounted at ${at.join(', ')}; unmount it first (famfs umount)`);
}

/**
 * Create a famfs file system on a memory device: write the superblock naming this host
 * as master and an empty log. Everything is checked before the first byte is written.
 */
export function mkfs(devicePath: string, opts: MkfsOptions = {}): MkfsResult {
  const logLen = opts.logLen ?? DEFAULT_LOG_LEN;
  if (!opts.kill) validateLogLen(logLen);
  refuseMounted(devicePath);
  const device = MemoryDevice.open(devicePath, { writable: true, host: opts.systemUuid });
  try {
    const sbMap = device.map(0, SUPERBLOCK_REGION_SIZE, { writable: true });
    try {
      // Pages before bytes: on a full tmpfs under an emulated device, ENOSPC instead of SIGBUS.
      sbMap.populate();
      sbMap.invalidate();
      const existing = existingOwner(sbMap.buffer);
      if (opts.kill) {
        if (!opts.force) throw new FsError('EINVAL', 'mkfs -k needs -f: killing a file system must be forced');
        if (!existing.present) throw new FsError('EINVAL', `${devicePath} has no famfs superblock to kill`);
        writeU64(sbMap.buffer, SUPER_MAGIC_OFFSET, 0);
        sbMap.flush(0, SUPERBLOCK_SIZE);
        return { killed: true };
      }
      if (device.size < MIN_DEVICE_SIZE) {
        throw new FsError('EINVAL', `unsupported memory device size ${device.size} (<4GiB): ${devicePath}`);
      }
      if (device.size > MAX_DEVICE_SIZE) {
        throw new FsError('EINVAL', `unsupported memory device size ${device.size} (more than ${MAX_DEVICE_SIZE}, the most a famfs device may have): ${devicePath}`);
      }
      if (LOG_OFFSET + logLen >= device.size) throw new FsError('EINVAL', `log length ${logLen} does not fit ${devicePath}`);
      const systemUuid = opts.systemUuid ?? getSystemUuid();
      if (existing.present && !opts.force) {
        if (existing.owner && !uuidEquals(existing.owner, systemUuid)) {
          throw new RoleError(`${devicePath} has a famfs superblock owned by another host (${formatUuid(existing.owner)}); use -f to overwrite`);
        }
        throw new FsError('EEXIST', `${devicePath} already has a famfs superblock; use -f to overwrite`);
      }
      const sb = newSuperblock({
        logLen, devSize: device.size, devName: devicePath,
        uuid: randomUuidBytes(), devUuid: randomUuidBytes(), systemUuid,
      });
      const log = device.map(LOG_OFFSET, logLen, { writable: true });
      try {
        // The same bytes either way: a zeroed log under its header. An emulated device seen
        // directly (not through a host cache) gets a hole, and memory for the first entries
        // only (appends reserve the rest as they go: log-writer.ts); zeros written through a
        // mapping cost a page fault per page, 1.2 s for a 256 MiB log here.
        const header = encodeLogHeader({ len: logLen, lastIndex: lastIndexFor(logLen), nextSeqnum: 0, nextIndex: logSlot(0) });
        const cleared = device.kind === 'emulated' && device.coherent && clearEmulatedRange(device.fd, LOG_OFFSET, logLen);
        log.populate(0, cleared ? initialLogReservation(logLen) : logLen);
        if (!cleared) log.buffer.fill(0);
        log.buffer.set(header, 0);
        log.flush(0, cleared ? header.length : logLen);
      } finally {
        log.unmap();
      }
      // The superblock last: until it is whole, the device is not a famfs.
      sbMap.buffer.fill(0, 0, SUPERBLOCK_CLEAR_BYTES);
      sbMap.buffer.set(encodeSuperblock(sb), 0);
      sbMap.flush(0, SUPERBLOCK_CLEAR_BYTES);
      return { killed: false, uuid: formatUuid(sb.uuid), logLen, devSize: device.size };
    } finally {
      sbMap.unmap();
    }
  } finally {
    device.close();
  }
}

/** Is there a superblock (valid or of another version) and, if readable, whose is it? */
function existingOwner(bytes: Buffer): { present: boolean; owner?: Buffer } {
  if (!hasSuperMagic(bytes)) return { present: false };
  try {
    return { present: true, owner: decodeSuperblock(bytes).systemUuid };
  } catch (err) {
    if (err instanceof SuperblockError && err.reason !== 'magic') return { present: true };
    if (err instanceof FamfsError) return { present: true };
    throw err;
  }
}
