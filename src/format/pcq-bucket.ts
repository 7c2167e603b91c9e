import { loadNative } from '../addon.js';
import { readU64 } from './bytes.js';
import { famfsCrc } from './crc.js';

/**
 * One pcq bucket (upstream pcq_lib.c): `bucket_size` bytes, a power of two, holding the payload,
 * then the message's sequence number (u64), then the CRC in an `unsigned long` (u64 on the 64-bit
 * hosts famfs runs on; the CRC fills its low 32 bits). The CRC is zlib's crc32 seeded with 0 over
 * the payload and the sequence number: every byte of the bucket but the CRC itself. Messages have
 * no length field: every message is the whole payload.
 */
export const PCQ_BUCKET_TRAILER_SIZE = 16;

export function payloadSize(bucketSize: number): number {
  return bucketSize - PCQ_BUCKET_TRAILER_SIZE;
}

function seqOffset(bucketSize: number): number {
  return bucketSize - 16;
}

function crcOffset(bucketSize: number): number {
  return bucketSize - 8;
}

/** Bytes the CRC covers: payload and sequence number. */
function crcCovered(bucketSize: number): number {
  return bucketSize - 8;
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
  const storedCrc = b.readBigUInt64LE(offset + crcOffset(bucketSize));
  const computedCrc = famfsCrc(b, offset, crcCovered(bucketSize));
  return {
    seq: readU64(b, offset + seqOffset(bucketSize), 'bucket sequence number'),
    storedCrc, computedCrc, crcOk: storedCrc === BigInt(computedCrc),
  };
}
