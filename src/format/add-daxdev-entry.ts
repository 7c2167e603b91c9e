import { formatRangeFault } from '../errors.js';
import { bytes, defineStruct } from '../struct/struct.js';
import { UUID_SIZE } from './uuid.js';

export interface AddDaxdevMeta {
  devSize: number;
  /** The added device's own superblock device UUID: the key, since paths differ per host. */
  devUuid: Buffer;
  devIndex: number;
}

/** struct famfs_log_add_daxdev: the ADD_DAXDEV payload, 32 bytes at entry offset 16 (4 of them trailing padding). */
export const ADD_DAXDEV_ENTRY = defineStruct('famfs_log_add_daxdev', 32, {
  devSize: 'u64',
  devUuid: bytes(UUID_SIZE),
  devIndex: 'u32',
}, { fault: formatRangeFault });
