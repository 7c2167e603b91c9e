import { FamfsError } from '../errors.js';

/**
 * A bucket that stays bad after upstream's retries (CONSUMER_NRETRIES, each after invalidating the
 * bucket): a CRC that does not match, or a sequence number other than the one expected. Upstream's
 * consumer stops (exit(-1)); ours throws this and leaves the consumer index on the bucket, so
 * nothing after it is consumed.
 */
export class QueueCorruptError extends FamfsError {
  /** The sequence number the consumer expected in the bucket. */
  readonly seq: number;
  readonly bucket: number;

  constructor(message: string, seq: number, bucket: number) {
    super('EBADMSG', message);
    this.seq = seq;
    this.bucket = bucket;
  }
}

/** This host may not take that role on the queue (pcq --setperm), or another process here has it. */
export class QueueAccessError extends FamfsError {}
