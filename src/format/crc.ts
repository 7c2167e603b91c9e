import { crc32 } from 'node:zlib';

/** zlib crc32 seeded with 0: what upstream computes for every CRC field. */
export function famfsCrc(bytes: Uint8Array): number {
  return crc32(bytes, 0) >>> 0;
}
