/**
 * `famfs cp -t N`: copy many host files into famfs with N reads in flight, as upstream's thread
 * pool does. Each read is a pread(2) straight into the destination's device memory, run on libuv's
 * thread pool, so the copy needs no worker threads and no intermediate buffer; a file is flushed
 * and reported the moment its last chunk lands, and only files with chunks in flight stay mapped.
 */
import { read } from 'node:fs';
import type { FileMapping } from '../map/file-mapping.js';
import { FsError } from '../errors.js';
import { COPY_CHUNK } from './copy.js';

/** One source → destination pair; `open` maps the destination and opens the source. */
export interface CopyJob {
  readonly src: string;
  open(): { fd: number; mapping: FileMapping };
}

export interface CopyEvents<J extends CopyJob> {
  progress?(bytes: number): void;
  /** The file is copied and flushed. */
  done(job: J): void;
  /** The file failed; the other files go on. */
  failed(job: J, err: Error): void;
  /** Called once per opened job, after done/failed: close the fd, unmap. */
  release(job: J, fd: number, mapping: FileMapping): void;
}

interface Chunk<J extends CopyJob> {
  readonly file: OpenFile<J>;
  readonly buffer: Buffer;
  readonly at: number;
  readonly fileOffset: number;
  readonly length: number;
}

interface OpenFile<J extends CopyJob> {
  readonly job: J;
  readonly fd: number;
  readonly mapping: FileMapping;
  pending: number;
  error?: Error;
}

function preadFully(fd: number, buffer: Buffer, at: number, length: number, position: number): Promise<number> {
  return new Promise((resolve, reject) => {
    read(fd, buffer, at, length, position, (err, n) => (err ? reject(err) : resolve(n)));
  });
}

/** Copy every job with up to `inFlight` reads at once; resolves when all are done or failed. */
export async function copyFiles<J extends CopyJob>(jobs: readonly J[], inFlight: number, ev: CopyEvents<J>): Promise<void> {
  const chunks = chunksOf(jobs, ev);
  const lane = async (): Promise<void> => {
    for (let next = chunks.next(); !next.done; next = chunks.next()) {
      const c = next.value;
      try {
        if (!c.file.error) await copyChunk(c, ev);
      } catch (err) {
        c.file.error ??= err as Error;
      }
      if (--c.file.pending === 0) finish(c.file, ev);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, inFlight) }, lane));
}

async function copyChunk<J extends CopyJob>(c: Chunk<J>, ev: CopyEvents<J>): Promise<void> {
  for (let done = 0; done < c.length;) {
    const got = await preadFully(c.file.fd, c.buffer, c.at + done, c.length - done, c.fileOffset + done);
    if (got === 0) {
      throw new FsError('EIO', `${c.file.job.src}: ended at ${c.fileOffset + done} bytes, short of ${c.file.mapping.size} (did it shrink while being copied?)`);
    }
    done += got;
    ev.progress?.(got);
  }
}

/** The chunks of every job in order; a job is opened when its first chunk is wanted. */
function* chunksOf<J extends CopyJob>(jobs: readonly J[], ev: CopyEvents<J>): Generator<Chunk<J>> {
  for (const job of jobs) {
    let opened: { fd: number; mapping: FileMapping };
    try {
      opened = job.open();
    } catch (err) {
      ev.failed(job, err as Error);
      continue;
    }
    const file: OpenFile<J> = { job, fd: opened.fd, mapping: opened.mapping, pending: 1 };
    for (const r of opened.mapping.ranges()) {
      for (let at = 0; at < r.buffer.length; at += COPY_CHUNK) {
        file.pending++;
        yield { file, buffer: r.buffer, at, fileOffset: r.offset + at, length: Math.min(COPY_CHUNK, r.buffer.length - at) };
      }
    }
    // The extra count keeps the file open until every chunk has been handed out.
    if (--file.pending === 0) finish(file, ev);
  }
}

function finish<J extends CopyJob>(f: OpenFile<J>, ev: CopyEvents<J>): void {
  try {
    if (!f.error) {
      try {
        f.mapping.flush();
      } catch (err) {
        f.error = err as Error;
      }
    }
    if (f.error) ev.failed(f.job, f.error);
    else ev.done(f.job);
  } finally {
    ev.release(f.job, f.fd, f.mapping);
  }
}
