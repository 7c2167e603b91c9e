import { FormatError } from '../errors.js';
import { nodeCrypto } from '../lazy-crypto.js';

/**
 * famfs stores UUIDs as 16 raw bytes in the order of their canonical text (libuuid's
 * uuid_parse + memcpy), so byte 0 is the first two hex digits: no field swapping.
 */
export const UUID_SIZE = 16;

const CANONICAL = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function parseUuid(text: string): Buffer {
  const t = text.trim();
  if (!CANONICAL.test(t)) throw new FormatError(`not a UUID: '${text}'`);
  return Buffer.from(t.replace(/-/g, ''), 'hex');
}

export function formatUuid(bytes: Uint8Array): string {
  const h = Buffer.from(bytes.buffer, bytes.byteOffset, UUID_SIZE).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export function randomUuidBytes(): Buffer {
  return parseUuid(nodeCrypto().randomUUID());
}

export function uuidEquals(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0;
}
