import { FormatError } from '../errors.js';
import { ALLOC_UNIT } from './layout.js';
import { CURRENT_VERSION, OMF_VER_MAJOR, OMF_VER_MINOR, SB_FLAG, type Superblock } from './superblock.js';
import { formatUuid, uuidEquals } from './uuid.js';

/**
 * The superblock `famfs adddev` writes at offset 0 of a device it adds (the multi-device roadmap's
 * secondary superblock, in the unchanged 200-byte struct): the file system's UUID in ts_uuid, the
 * device's own UUID in ts_dev_uuid (the key the ADD_DAXDEV entry records, since paths differ from
 * host to host), the master in ts_system_uuid, flags SECONDARY, and no log. It is how a host finds
 * and checks a secondary device: the log says which UUID device N has; the superblock says which
 * device that is.
 */
export function newSecondarySuperblock(p: {
  fsUuid: Buffer; devUuid: Buffer; systemUuid: Buffer; devSize: number; devName: string;
}): Superblock {
  return {
    version: CURRENT_VERSION,
    logOffset: 0,
    logLen: 0,
    allocUnit: ALLOC_UNIT,
    omfMajor: OMF_VER_MAJOR,
    omfMinor: OMF_VER_MINOR,
    uuid: p.fsUuid,
    devUuid: p.devUuid,
    systemUuid: p.systemUuid,
    flags: SB_FLAG.SECONDARY,
    devSize: p.devSize,
    devName: p.devName,
  };
}

export function isSecondary(sb: Superblock): boolean {
  return (sb.flags & SB_FLAG.SECONDARY) !== 0;
}

/** Why `sb` is not the added device `devUuid` of file system `fsUuid`; undefined when it is. */
export function secondaryMismatch(sb: Superblock, fsUuid: Buffer, devUuid: Buffer): string | undefined {
  if (!isSecondary(sb)) return 'it holds a primary famfs superblock, not an added device';
  if (sb.logOffset !== 0 || sb.logLen !== 0) return 'its secondary superblock claims a log';
  if (!uuidEquals(sb.uuid, fsUuid)) return `it belongs to famfs ${formatUuid(sb.uuid)}`;
  if (!uuidEquals(sb.devUuid, devUuid)) return `its device UUID is ${formatUuid(sb.devUuid)}, not ${formatUuid(devUuid)}`;
  return undefined;
}

/** A secondary superblock read where a primary was expected. */
export class SecondaryDeviceError extends FormatError {
  constructor(path: string, sb: Superblock) {
    super(`${path} is a device added to famfs ${formatUuid(sb.uuid)}, not its primary: open the primary device`, 'EINVAL');
  }
}
