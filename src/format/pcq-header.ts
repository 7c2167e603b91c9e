import { FormatError, formatRangeFault, formatRangeFaultIn } from '../errors.js';
import { readU64n } from '../struct/le.js';
import { at, defineStruct } from '../struct/struct.js';
import { PCQ_BUCKET_TRAILER_SIZE } from './pcq-bucket.js';

/**
 * struct pcq (upstream src/pcq.h): the start of a queue's producer file. The producer owns every
 * field; producer_index sits apart from next_seq (1024 bytes of padding, which the producer never
 * writes) so the line the consumer invalidates on every poll holds nothing else the producer
 * rewrites. Buckets start at bucket_array_offset, 2 MiB into the file (a PMD boundary).
 */
const PCQ_HEADER = defineStruct('pcq', 1080, {
  magic: 'u64n',
  nbuckets: 'u64',
  bucketSize: 'u64',
  bucketArrayOffset: 'u64',
  producerIndex: 'u64',
  /** after char pad[1024] */
  nextSeq: at(1064, 'u64'),
  pcqSize: 'u64',
}, { fault: formatRangeFault });
const PCQ_MAGIC = 0xbeebee3n;
export const PCQ_HEADER_SIZE = PCQ_HEADER.SIZE;
export const PCQ_BUCKET_ARRAY_OFFSET = 2 * 1024 * 1024;
export const PCQ_HEADER_OFF = PCQ_HEADER.OFF;

/** The smallest bucket: a power of two with room for a payload besides the sequence number and CRC. */
const PCQ_MIN_BUCKET_SIZE = 2 * PCQ_BUCKET_TRAILER_SIZE;
/** One bucket is always left empty (full is producer_index + 1 == consumer_index), so two hold one message. */
const PCQ_MIN_NBUCKETS = 2;

export interface PcqHeader {
  nbuckets: number;
  bucketSize: number;
  bucketArrayOffset: number;
  producerIndex: number;
  nextSeq: number;
  /** The producer file's size as its creator mapped it. */
  pcqSize: number;
}

/** Size of the producer file of a queue: the 2 MiB header region, then the buckets (upstream pcq_create). */
export function producerFileSize(nbuckets: number, bucketSize: number): number {
  return PCQ_BUCKET_ARRAY_OFFSET + nbuckets * bucketSize;
}

/** Why a bucket size or count cannot make a queue, or undefined when they can. */
export function queueGeometryProblem(nbuckets: number, bucketSize: number): string | undefined {
  if (!Number.isSafeInteger(bucketSize) || bucketSize <= 0 || (bucketSize & (bucketSize - 1)) !== 0 || bucketSize > 2 ** 30) {
    return `bucket size ${bucketSize} must be a power of 2 (at most 1 GiB)`;
  }
  if (bucketSize < PCQ_MIN_BUCKET_SIZE) {
    return `bucket size ${bucketSize} is smaller than ${PCQ_MIN_BUCKET_SIZE}: each bucket ends with a ${PCQ_BUCKET_TRAILER_SIZE}-byte sequence number and CRC and needs room for a payload`;
  }
  if (!Number.isSafeInteger(nbuckets) || nbuckets < PCQ_MIN_NBUCKETS || !Number.isSafeInteger(producerFileSize(nbuckets, bucketSize))) {
    return `number of buckets ${nbuckets} must be an integer of at least ${PCQ_MIN_NBUCKETS} (one bucket always stays empty)`;
  }
  return undefined;
}

export function encodePcqHeader(b: Buffer, h: PcqHeader): void {
  PCQ_HEADER.encode(b, 0, { ...h, magic: PCQ_MAGIC });
}

/**
 * Decode and validate against the file it came from. Upstream checks the magic and the index
 * (pcq_valid); a reader here also refuses a geometry whose buckets would lie outside the file.
 */
export function decodePcqHeader(b: Buffer, fileSize: number, what: string): PcqHeader {
  if (b.length < PCQ_HEADER_SIZE || fileSize < PCQ_HEADER_SIZE) throw new FormatError(`${what}: too small to be a pcq producer file`);
  const magic = readU64n(b, PCQ_HEADER_OFF.magic);
  if (magic !== PCQ_MAGIC) throw new FormatError(`${what}: not a pcq producer file (magic 0x${magic.toString(16)}, expected 0x${PCQ_MAGIC.toString(16)})`);
  const { magic: _, ...h } = PCQ_HEADER.decode(b, 0, formatRangeFaultIn(what));
  const problem = queueGeometryProblem(h.nbuckets, h.bucketSize);
  if (problem) throw new FormatError(`${what}: ${problem}`);
  if (h.bucketArrayOffset < PCQ_HEADER_SIZE || h.bucketArrayOffset + h.nbuckets * h.bucketSize > fileSize) {
    throw new FormatError(`${what}: ${h.nbuckets} buckets of ${h.bucketSize} bytes at ${h.bucketArrayOffset} do not fit the file (${fileSize} bytes)`);
  }
  if (h.producerIndex >= h.nbuckets) throw new FormatError(`${what}: producer_index ${h.producerIndex} is not below nbuckets ${h.nbuckets}`);
  return h;
}
