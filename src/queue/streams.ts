import { Readable, Writable } from 'node:stream';
import type { BackoffOptions } from './backoff.js';
import type { Consumer, Producer } from './queue.js';

/** Messages handed out per batch by the Readable (each is copied: stream buffers outlive a bucket). */
const READ_BATCH = 256;

/**
 * A Readable of the queue's messages, one chunk (a copy) per message, in object mode: a message is
 * a unit, not a run of bytes. A queue has no end; the stream stops when `signal` aborts (it is
 * destroyed with the abort's reason) or it is destroyed, and ends when the consumer is closed.
 * The consumer stays open.
 */
export function consumerReadStream(consumer: Consumer, opts: BackoffOptions & { highWaterMark?: number } = {}): Readable {
  let reading = false;
  const stream = new Readable({
    objectMode: true,
    highWaterMark: opts.highWaterMark ?? READ_BATCH,
    ...(opts.signal ? { signal: opts.signal } : {}),
    read() {
      if (reading) return;
      reading = true;
      void pump().catch((err: unknown) => stream.destroy(err as Error)).finally(() => { reading = false; });
    },
  });
  async function pump(): Promise<void> {
    for (;;) {
      if (stream.destroyed) return;
      if (consumer.closed) {
        stream.push(null);
        return;
      }
      let batch = consumer.receiveBatch(READ_BATCH);
      if (batch.length === 0) batch = [Buffer.from(await consumer.receiveAsync(opts))];
      let more = true;
      for (const m of batch) more = stream.push(Buffer.from(m));
      if (!more) return;
    }
  }
  return stream;
}

/**
 * A Writable whose every chunk is one message (at most payloadSize bytes; shorter ones are padded
 * with zeros). Chunks written together go into the queue as one batch. Waits while the queue is
 * full; `signal` aborts the wait. The producer stays open.
 */
export function producerWriteStream(producer: Producer, opts: BackoffOptions & { highWaterMark?: number } = {}): Writable {
  return new Writable({
    highWaterMark: opts.highWaterMark ?? 64 * producer.payloadSize,
    ...(opts.signal ? { signal: opts.signal } : {}),
    write(chunk: Buffer, _enc, done) {
      producer.sendAsync(chunk, opts).then(() => done(), done);
    },
    writev(chunks, done) {
      producer.sendAllAsync(chunks.map((c) => c.chunk as Buffer), opts).then(() => done(), done);
    },
  });
}
