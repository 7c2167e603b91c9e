import { createHash } from 'node:crypto';
import { closeSync, openSync, readSync, writeSync } from 'node:fs';

/**
 * Byte access to a file by path — an emulated device, an image, or a file inside a mount — the
 * way a second observer has it: pread/pwrite at an offset through the page cache, past every
 * famfs code path (no mapping, no log). Each call opens and closes the file, so nothing is left
 * open when a test fails. These return bytes; the tests compare them.
 */

/** Up to `length` bytes at `offset`: fewer where the file ends. */
export function readUpTo(path: string, offset: number, length: number): Buffer {
  const out = Buffer.alloc(length);
  const fd = openSync(path, 'r');
  try {
    let got = 0;
    while (got < length) {
      const n = readSync(fd, out, got, length - got, offset + got);
      if (n === 0) break;
      got += n;
    }
    return out.subarray(0, got);
  } finally {
    closeSync(fd);
  }
}

/** Exactly `length` bytes at `offset`; throws when the file ends sooner. */
export function readAt(path: string, offset: number, length: number): Buffer {
  const out = readUpTo(path, offset, length);
  if (out.length !== length) throw new Error(`short read of ${path}: ${out.length} of ${length} bytes at ${offset}`);
  return out;
}

/** Writes all of `bytes` at `offset` (pwrite until done); errors (EFBIG, EROFS, …) are thrown as the kernel gives them. */
export function writeAt(path: string, offset: number, bytes: Uint8Array): void {
  const fd = openSync(path, 'r+');
  try {
    for (let done = 0; done < bytes.length;) done += writeSync(fd, bytes, done, bytes.length - done, offset + done);
  } finally {
    closeSync(fd);
  }
}

/** sha256 (hex) of `length` bytes at `offset`: compared before and after, "these bytes are exactly as they were". */
export function digestAt(path: string, offset: number, length: number): string {
  return createHash('sha256').update(readAt(path, offset, length)).digest('hex');
}

/** Where `len` bytes of a file, from `fileOffset`, lie on its device (a map piece's shape, any device index). */
export interface PlacedRange {
  readonly fileOffset: number;
  readonly offset: number;
  readonly len: number;
}

/** A file of `size` bytes gathered from its device file at the given places (one device). */
export function readPlaced(device: string, size: number, ranges: Iterable<PlacedRange>): Buffer {
  const out = Buffer.alloc(size);
  for (const r of ranges) readAt(device, r.offset, r.len).copy(out, r.fileOffset);
  return out;
}
