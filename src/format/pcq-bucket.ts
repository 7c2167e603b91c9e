import { loadNative } from '../addon.js';
import { formatRangeFault } from '../errors.js';
import { defineStruct } from '../struct/struct.js';
import { famfsCrc } from './crc.js';

/**
 * One pcq bucket (upstream pcq_lib.c): `bucket_size` bytes, a power of two, holding the payload,
 * then this trailer: the message's sequence number (u64), then the CRC in an `unsigned long` (u64
 * on the 64-bit hosts famfs runs on; the CRC fills its low 32 bits). The CRC is zlib's crc32 seeded
 * with 0 over the payload and the sequence number: every byte of the bucket but the CRC itself.
 * Messages have no length field: every message is the whole payload.
 */
const PCQ_BUCKET_TRAILER = defineStruct('pcq bucket trailer', 16, {
  seq: 'u64',
  crc: 'u64n',
}, { fault: formatRangeFault });
export const PCQ_BUCKET_TRAILER_SIZE = PCQ_BUCKET_TRAILER.SIZE;

export function payloadSize(bucketSize: number): number {
  return bucketSize - PCQ_BUCKET_TRAILER_SIZE;
}

/** Writes sequence numbers firstSeq + i and their CRCs into `count` consecutive buckets from `offset`. */
export function sealBuckets(b: Uint8Array, offset: number, bucketSize: number, count: number, firstSeq: number): void {
  loadNative().pcqSeal(b, offset, bucketSize, count, firstSeq);
}

/** How many of `count` consecutive buckets from `offset` hold a good CRC and sequence number firstSeq + i. */
export function checkBuckets(b: Uint8Array, offset: number, bucketSize: number, count: number, firstSeq: number): number {
  return loadNative().pcqCheck(b, offset, bucketSize, count, firstSeq);
}

export interface DecodedBucket {
  seq: number;
  storedCrc: bigint;
  computedCrc: number;
  crcOk: boolean;
}

/** One bucket's trailer, checked: for diagnostics and readers that take buckets one at a time. */
export function decodeBucket(b: Buffer, offset: number, bucketSize: number): DecodedBucket {
  const trailer = offset + payloadSize(bucketSize);
  const computedCrc = famfsCrc(b, offset, trailer + PCQ_BUCKET_TRAILER.OFF.crc - offset);
  const { seq, crc: storedCrc } = PCQ_BUCKET_TRAILER.decode(b, trailer);
  return { seq, storedCrc, computedCrc, crcOk: storedCrc === BigInt(computedCrc) };
}
