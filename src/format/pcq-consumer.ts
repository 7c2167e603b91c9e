import { FormatError } from '../errors.js';
import { readU64, writeU64 } from './bytes.js';

/**
 * struct pcq_consumer (upstream src/pcq.h): the whole of a queue's consumer file, `<queue>.consumer`,
 * 2 MiB. The consumer owns it. consumer_index is what the producer reads (and invalidates when the
 * queue looks full); next_seq, 1 MiB further on, is the sequence number the consumer expects next.
 * The magic is a u32 followed by a u32 of padding.
 */
const PCQ_CONSUMER_MAGIC = 0xbeebee4;
const PCQ_CONSUMER_SIZE = 1048608;
export const PCQ_CONSUMER_FILE_SIZE = 2 * 1024 * 1024;
/** Upstream's name for the consumer file of queue `path`. */
const PCQ_CONSUMER_SUFFIX = '.consumer';

export const PCQ_CONSUMER_OFF = {
  magic: 0,
  consumerIndex: 8,
  /** after char pad2[1048576] */
  nextSeq: 1048592,
  pcqcSize: 1048600,
} as const;

export interface PcqConsumer {
  consumerIndex: number;
  nextSeq: number;
  pcqcSize: number;
}

export function consumerPath(queuePath: string): string {
  return `${queuePath}${PCQ_CONSUMER_SUFFIX}`;
}

export function encodePcqConsumer(b: Buffer, c: PcqConsumer): void {
  b.writeUInt32LE(PCQ_CONSUMER_MAGIC, PCQ_CONSUMER_OFF.magic);
  b.writeUInt32LE(0, PCQ_CONSUMER_OFF.magic + 4);
  writeU64(b, PCQ_CONSUMER_OFF.consumerIndex, c.consumerIndex);
  writeU64(b, PCQ_CONSUMER_OFF.nextSeq, c.nextSeq);
  writeU64(b, PCQ_CONSUMER_OFF.pcqcSize, c.pcqcSize);
}

/** Decode and check against the queue's bucket count (upstream pcq_valid). */
export function decodePcqConsumer(b: Buffer, nbuckets: number, what: string): PcqConsumer {
  if (b.length < PCQ_CONSUMER_SIZE) throw new FormatError(`${what}: too small to be a pcq consumer file (${b.length} bytes)`);
  const magic = b.readUInt32LE(PCQ_CONSUMER_OFF.magic);
  if (magic !== PCQ_CONSUMER_MAGIC) {
    throw new FormatError(`${what}: not a pcq consumer file (magic 0x${magic.toString(16)}, expected 0x${PCQ_CONSUMER_MAGIC.toString(16)})`);
  }
  const c: PcqConsumer = {
    consumerIndex: readU64(b, PCQ_CONSUMER_OFF.consumerIndex, `${what}: consumer_index`),
    nextSeq: readU64(b, PCQ_CONSUMER_OFF.nextSeq, `${what}: next_seq`),
    pcqcSize: readU64(b, PCQ_CONSUMER_OFF.pcqcSize, `${what}: pcqc_size`),
  };
  if (c.consumerIndex >= nbuckets) throw new FormatError(`${what}: consumer_index ${c.consumerIndex} is not below nbuckets ${nbuckets}`);
  return c;
}
