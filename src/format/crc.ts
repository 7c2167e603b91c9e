import { loadNative } from '../addon.js';

/**
 * zlib's crc32 seeded with 0: what upstream computes for every CRC field. Computed by the addon
 * (native/crc32.c) on a range in place, so callers need no subarray per structure.
 */
export function famfsCrc(bytes: Uint8Array, offset = 0, length = bytes.length - offset): number {
  return loadNative().crc32(bytes, offset, length);
}
