/**
 * A directory listing encoded once and served by slicing: for file systems whose directories only
 * grow (famfs never removes a name), so a READDIR reply is a view of bytes already packed rather
 * than a thousand records built per request. The cookie of record i is i + 1, so the kernel's
 * READDIR offset is the index of the next record to send.
 */
import type { Entry } from './abi/attr.js';
import { type DirEntry, direntRecordSize, encodeDirentRecordInto } from './abi/dirent.js';

const INITIAL_BYTES = 4096;

export class EncodedDirents {
  private buf = Buffer.alloc(INITIAL_BYTES);
  /** ends[i]: where record i ends in buf. */
  private readonly ends: number[] = [];

  /** `plus`: READDIRPLUS records (entry_out before each dirent). */
  constructor(readonly plus: boolean) {}

  get length(): number {
    return this.ends.length;
  }

  /** Append the next record; its cookie is its index + 1. `lookup` is only for plus lists. */
  append(entry: Omit<DirEntry, 'offset'>, lookup: Entry | null = null): void {
    const name = Buffer.from(entry.name, 'utf8');
    const start = this.ends.length === 0 ? 0 : this.ends[this.ends.length - 1]!;
    const room = direntRecordSize(this.plus, name.length);
    if (start + room > this.buf.length) {
      const bigger = Buffer.alloc(Math.max(this.buf.length * 2, start + room));
      this.buf.copy(bigger, 0, 0, start);
      this.buf = bigger;
    }
    const cookie = this.ends.length + 1;
    this.ends.push(encodeDirentRecordInto(this.buf, start, this.plus, { ino: entry.ino, type: entry.type, offset: cookie }, name, lookup));
  }

  /** The whole records from cookie `offset` on that fit in `size` bytes (empty at the end). */
  slice(offset: number, size: number): Buffer {
    const n = this.ends.length;
    if (offset >= n) return this.buf.subarray(0, 0);
    const start = offset === 0 ? 0 : this.ends[offset - 1]!;
    // The last record that ends within start + size: a binary search over the ends.
    let lo = offset - 1;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.ends[mid]! - start <= size) lo = mid;
      else hi = mid - 1;
    }
    return lo < offset ? this.buf.subarray(0, 0) : this.buf.subarray(start, this.ends[lo]!);
  }
}
