import { crc32 } from 'node:zlib';

/** zlib crc32 seeded with 0: what upstream computes for every CRC field. */
export function famfsCrc(bytes: Buffer): number {
  return crc32(bytes, 0) >>> 0;
}
