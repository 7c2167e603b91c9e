import { FormatError, formatRangeFault, formatRangeFaultIn } from '../errors.js';
import { at, defineStruct } from '../struct/struct.js';

/**
 * struct pcq_consumer (upstream src/pcq.h): the whole of a queue's consumer file, `<queue>.consumer`,
 * 2 MiB. The consumer owns it. consumer_index is what the producer reads (and invalidates when the
 * queue looks full); next_seq, 1 MiB further on, is the sequence number the consumer expects next.
 * The magic is a u32 followed by a u32 of padding.
 */
const PCQ_CONSUMER = defineStruct('pcq_consumer', 1048608, {
  magic: 'u32',
  magicPad: 'u32',
  consumerIndex: 'u64',
  /** after char pad2[1048576] */
  nextSeq: at(1048592, 'u64'),
  pcqcSize: 'u64',
}, { fault: formatRangeFault });
const PCQ_CONSUMER_MAGIC = 0xbeebee4;
export const PCQ_CONSUMER_FILE_SIZE = 2 * 1024 * 1024;
/** Upstream's name for the consumer file of queue `path`. */
const PCQ_CONSUMER_SUFFIX = '.consumer';

export const PCQ_CONSUMER_OFF = PCQ_CONSUMER.OFF;

export interface PcqConsumer {
  consumerIndex: number;
  nextSeq: number;
  pcqcSize: number;
}

export function consumerPath(queuePath: string): string {
  return `${queuePath}${PCQ_CONSUMER_SUFFIX}`;
}

export function encodePcqConsumer(b: Buffer, c: PcqConsumer): void {
  PCQ_CONSUMER.encode(b, 0, { ...c, magic: PCQ_CONSUMER_MAGIC, magicPad: 0 });
}

/** Decode and check against the queue's bucket count (upstream pcq_valid). */
export function decodePcqConsumer(b: Buffer, nbuckets: number, what: string): PcqConsumer {
  if (b.length < PCQ_CONSUMER.SIZE) throw new FormatError(`${what}: too small to be a pcq consumer file (${b.length} bytes)`);
  const magic = b.readUInt32LE(PCQ_CONSUMER_OFF.magic);
  if (magic !== PCQ_CONSUMER_MAGIC) {
    throw new FormatError(`${what}: not a pcq consumer file (magic 0x${magic.toString(16)}, expected 0x${PCQ_CONSUMER_MAGIC.toString(16)})`);
  }
  const { magic: _, magicPad: _pad, ...c } = PCQ_CONSUMER.decode(b, 0, formatRangeFaultIn(what));
  if (c.consumerIndex >= nbuckets) throw new FormatError(`${what}: consumer_index ${c.consumerIndex} is not below nbuckets ${nbuckets}`);
  return c;
}
