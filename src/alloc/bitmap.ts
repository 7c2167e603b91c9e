import { ALLOC_UNIT } from '../format/layout.js';

const BITS_PER_BYTE = 8;
const BYTE_MASK = BITS_PER_BYTE - 1;
const FULL_BYTE = 0xff;

/**
 * One bit per allocation unit of a device, LSB first within each byte as upstream. Never
 * stored: rebuilt from the log. Marking a bit that is already set is a collision (two
 * files claim the same memory), which fsck reports.
 */
export class Bitmap {
  readonly nbits: number;
  private readonly bits: Uint8Array;
  /** Units marked, each counted once even when claimed twice. */
  allocatedBits = 0;
  collisions = 0;
  /**
   * Every bit below this one is set: a search for free units starts here. Bits are only ever
   * set from outside (the replay marks `bytes` in place), which keeps it true; clearing one
   * moves it down. A file system fills from the start of its device, so without it every
   * allocation session's first search walked the whole allocated prefix (62 KiB of bitmap on a
   * 2 TiB device with a full 256 MiB log), a cost per append that grew with the log.
   */
  #allSetBelow = 0;

  constructor(nbits: number) {
    this.nbits = nbits;
    this.bits = new Uint8Array(Math.ceil(nbits / 8));
  }

  /** A device's bitmap covers only whole units: a partial unit at the end is never handed out. */
  static forDevice(devSize: number): Bitmap {
    return new Bitmap(Math.floor(devSize / ALLOC_UNIT));
  }

  /** The bits themselves, for the addon's replay loop, which marks them in place (countMarks). */
  get bytes(): Uint8Array {
    return this.bits;
  }

  /** Counts marks made in `bytes` by someone else: `units` newly set, `collisions` already set. */
  countMarks(units: number, collisions: number): void {
    this.allocatedBits += units;
    this.collisions += collisions;
  }

  /** An independent copy, for an allocation session that must not disturb the replayed state. */
  clone(): Bitmap {
    const c = new Bitmap(this.nbits);
    c.bits.set(this.bits);
    c.allocatedBits = this.allocatedBits;
    c.collisions = this.collisions;
    c.#allSetBelow = this.#allSetBelow;
    return c;
  }

  isSet(i: number): boolean {
    return (this.bits[i >> 3]! & (1 << (i & 7))) !== 0;
  }

  set(i: number): void {
    this.bits[i >> 3]! |= 1 << (i & 7);
  }

  clear(i: number): void {
    this.bits[i >> 3]! &= ~(1 << (i & 7));
    if (i < this.#allSetBelow) this.#allSetBelow = i;
  }

  /** Mark bits [first, first+count): returns how many were already set (collisions). */
  mark(first: number, count: number): number {
    let dup = 0;
    for (let i = first; i < first + count; i++) {
      if (this.isSet(i)) dup++;
      else {
        this.set(i);
        this.allocatedBits++;
      }
    }
    this.collisions += dup;
    return dup;
  }

  /** Mark a byte range, rounded out to whole units; units past the end are not representable. */
  markRange(offset: number, len: number): number {
    const first = Math.floor(offset / ALLOC_UNIT);
    const end = Math.min(this.nbits, Math.ceil((offset + len) / ALLOC_UNIT));
    return end > first ? this.mark(first, end - first) : 0;
  }

  unmark(first: number, count: number): void {
    for (let i = first; i < first + count; i++) {
      if (this.isSet(i)) {
        this.clear(i);
        this.allocatedBits--;
      }
    }
  }

  /** First run of `count` clear bits lying inside [from, to); -1 if none. */
  findFree(count: number, from: number, to: number): number {
    const end = Math.min(to, this.nbits);
    // From below the set prefix, the search starts at its end and moves it to the first clear bit.
    let growing = from <= this.#allSetBelow;
    let run = 0;
    for (let i = Math.max(from, this.#allSetBelow); i < end; i++) {
      // A full byte cannot hold the start of a run: step over it whole.
      if ((i & BYTE_MASK) === 0 && this.bits[i >> 3] === FULL_BYTE && i + BITS_PER_BYTE <= end) {
        run = 0;
        i += BITS_PER_BYTE - 1;
        continue;
      }
      if (this.isSet(i)) {
        run = 0;
        continue;
      }
      if (growing) {
        this.#allSetBelow = i;
        growing = false;
      }
      if (++run === count) return i - count + 1;
    }
    if (growing && end > this.#allSetBelow) this.#allSetBelow = end;
    return -1;
  }

  /** Same size and the same counts of marked units and collisions (a cheap check that two copies agree). */
  sameCounts(other: Bitmap): boolean {
    return this.nbits === other.nbits && this.allocatedBits === other.allocatedBits && this.collisions === other.collisions;
  }

  freeBits(): number {
    return this.nbits - this.allocatedBits;
  }

  /** The longest run of clear bits (fragmentation: the most units one contiguous extent can get). */
  longestClearRun(): number {
    let best = 0;
    let run = 0;
    for (let i = 0; i < this.nbits; i++) {
      if (this.isSet(i)) run = 0;
      else if (++run > best) best = run;
    }
    return best;
  }
}
