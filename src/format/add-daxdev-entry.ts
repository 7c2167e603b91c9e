import { readU32, readU64, writeU32, writeU64 } from './bytes.js';
import { UUID_SIZE, readUuid } from './uuid.js';

const OFF = { devSize: 0, devUuid: 8, devIndex: 24 } as const;

export interface AddDaxdevMeta {
  devSize: number;
  /** The added device's own superblock device UUID: the key, since paths differ per host. */
  devUuid: Buffer;
  devIndex: number;
}

export function encodeAddDaxdev(b: Buffer, off: number, m: AddDaxdevMeta): void {
  writeU64(b, off + OFF.devSize, m.devSize);
  b.set(m.devUuid.subarray(0, UUID_SIZE), off + OFF.devUuid);
  writeU32(b, off + OFF.devIndex, m.devIndex);
}

export function decodeAddDaxdev(b: Buffer, off: number): AddDaxdevMeta {
  return {
    devSize: readU64(b, off + OFF.devSize, 'added device size'),
    devUuid: readUuid(b, off + OFF.devUuid),
    devIndex: readU32(b, off + OFF.devIndex),
  };
}
