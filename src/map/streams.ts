import { Readable, Writable } from 'node:stream';
import { FsError } from '../errors.js';
import type { FileMapping } from './file-mapping.js';

/** Bytes per stream chunk: large enough that per-chunk overhead (a cache invalidate or flush, a
 * callback) is small next to the copy. */
const DEFAULT_STREAM_CHUNK = 1024 * 1024;

export interface ReadStreamOptions {
  /** First byte to read. Default 0. */
  start?: number;
  /** Last byte to read, inclusive, as fs.createReadStream. Default: the end of the file. */
  end?: number;
  /** Bytes per chunk. */
  highWaterMark?: number;
  /** Invalidate CPU caches for each chunk before copying it, so it is what other hosts wrote. Default true. */
  invalidate?: boolean;
}

export interface WriteStreamOptions {
  /** File offset of the first byte written. Default 0. */
  start?: number;
  highWaterMark?: number;
}

/** Hooks for a stream that owns its mapping (Famfs.createReadStream): run once when it closes. */
export interface StreamOwner {
  onClose?: () => void;
}

function checkOffset(value: number, what: string, m: FileMapping, max: number): void {
  if (!Number.isSafeInteger(value) || value < 0 || value > max) {
    throw new FsError('ERANGE', `${what} ${value} is outside '${m.path}' (${m.size} bytes)`);
  }
}

/** Chunks are copies: a consumer may keep them after the mapping is gone. */
export function mappingReadStream(m: FileMapping, opts: ReadStreamOptions, owner: StreamOwner = {}): Readable {
  const start = opts.start ?? 0;
  const endExclusive = opts.end === undefined ? m.size : opts.end + 1;
  checkOffset(start, 'start', m, m.size);
  checkOffset(endExclusive, 'end + 1', m, m.size);
  const chunk = opts.highWaterMark ?? DEFAULT_STREAM_CHUNK;
  const invalidate = opts.invalidate ?? true;
  let pos = start;
  return new Readable({
    highWaterMark: chunk,
    read(): void {
      try {
        if (pos >= endExclusive) {
          this.push(null);
          return;
        }
        const n = Math.min(chunk, endExclusive - pos);
        if (invalidate) m.invalidate(pos, n);
        const buf = Buffer.allocUnsafe(n);
        m.read(buf, pos);
        pos += n;
        this.push(buf);
      } catch (err) {
        this.destroy(err as Error);
      }
    },
    destroy(err, callback): void {
      owner.onClose?.();
      callback(err);
    },
  });
}

/** Writes go straight into device memory; the range written is flushed when the stream finishes. */
export function mappingWriteStream(m: FileMapping, opts: WriteStreamOptions, owner: StreamOwner = {}): Writable {
  const start = opts.start ?? 0;
  checkOffset(start, 'start', m, m.size);
  let pos = start;
  return new Writable({
    highWaterMark: opts.highWaterMark ?? DEFAULT_STREAM_CHUNK,
    write(data: Buffer, _encoding, callback): void {
      try {
        m.write(data, pos);
        pos += data.length;
        callback();
      } catch (err) {
        callback(err as Error);
      }
    },
    final(callback): void {
      try {
        m.flush(start, pos - start);
        callback();
      } catch (err) {
        callback(err as Error);
      }
    },
    destroy(err, callback): void {
      owner.onClose?.();
      callback(err);
    },
  });
}
