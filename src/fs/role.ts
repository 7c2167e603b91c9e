import { MemoryDevice } from '../device/device.js';
import { FormatError } from '../errors.js';
import { LOG_OFFSET, SUPERBLOCK_REGION_SIZE } from '../format/layout.js';
import { SecondaryDeviceError, isSecondary } from '../format/secondary-superblock.js';
import { getSystemUuid } from '../format/system-uuid.js';
import { SUPERBLOCK_SIZE, type Superblock, decodeSuperblock } from '../format/superblock.js';
import { uuidEquals } from '../format/uuid.js';

/**
 * The master is the host whose system UUID the superblock records: the only one that may
 * allocate and append. Every other host is a client and only reads.
 */
export type Role = 'master' | 'client';

/** Upstream's printed names, which scripts parse from fsck. */
export const ROLE_LABEL: Record<Role | 'nosuper', string> = {
  master: 'Owner',
  client: 'Client',
  nosuper: 'Invalid superblock',
};

/** A host that cannot read its own identity is a client, as upstream decides. */
export function roleOf(sb: Superblock, systemUuid?: Buffer): Role {
  let mine: Buffer;
  try {
    mine = systemUuid ?? getSystemUuid();
  } catch {
    return 'client';
  }
  return uuidEquals(mine, sb.systemUuid) ? 'master' : 'client';
}

/** Read and validate the superblock of an open device, checking it fits the device. */
export function readSuperblock(device: MemoryDevice): Superblock {
  if (device.size < SUPERBLOCK_REGION_SIZE) throw new FormatError(`${device.path} is too small to hold a famfs superblock`);
  // The whole region is mapped (a devdax device maps in 2 MiB units), but only the superblock's
  // own bytes are invalidated and read: dropping the cached copy of the rest of the region would
  // cost every open a cache flush of memory it never looks at.
  const m = device.map(0, SUPERBLOCK_REGION_SIZE, { writable: false });
  try {
    m.invalidate(0, SUPERBLOCK_SIZE);
    const sb = decodeSuperblock(m.buffer);
    if (isSecondary(sb)) throw new SecondaryDeviceError(device.path, sb);
    if (sb.devSize > device.size) {
      throw new FormatError(`superblock says the device holds ${sb.devSize} bytes but ${device.path} has ${device.size}`);
    }
    if (LOG_OFFSET + sb.logLen > sb.devSize) throw new FormatError(`the log (${sb.logLen} bytes) does not fit the device`);
    return sb;
  } finally {
    m.unmap();
  }
}

/**
 * This host's role on the file system at `devicePath`, from the superblock alone: what a caller
 * that only has to decide who may do what (the mount preflight) needs, without replaying the log.
 */
export function probeRole(devicePath: string, systemUuid?: Buffer): { sb: Superblock; role: Role } {
  const device = MemoryDevice.open(devicePath, { writable: false, host: systemUuid });
  try {
    const sb = readSuperblock(device);
    return { sb, role: roleOf(sb, systemUuid) };
  } finally {
    device.close();
  }
}
