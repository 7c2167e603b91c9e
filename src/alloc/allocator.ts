import { FsError } from '../errors.js';
import type { Fmap, SimpleExtent } from '../format/fmap.js';
import { ALLOC_UNIT } from '../format/layout.js';
import type { Bitmap } from './bitmap.js';
import { type InterleaveParams, validateInterleave } from './interleave.js';

/** A source of bucket order for interleaved allocation; tests pass a seeded one. */
export type RandomInt = (exclusiveMax: number) => number;

export const mathRandomInt: RandomInt = (n) => Math.floor(Math.random() * n);

/**
 * One allocation session over one device's bitmap, as upstream's locked-log session:
 * contiguous allocations continue from where the last one ended (`curPos`), so the
 * files of one `cp` are laid out in order. Unlike upstream, the search is bounded by the
 * device end and wraps to the start once before reporting ENOSPC.
 */
export class Allocator {
  private curPos = 0;

  constructor(
    private readonly bitmap: Bitmap,
    private readonly devSize: number,
    private readonly devIndex = 0,
    private readonly random: RandomInt = mathRandomInt,
  ) {}

  /** Allocate memory for a file of `size` bytes; interleaved when params are given. */
  allocate(size: number, interleave?: InterleaveParams): Fmap {
    if (!Number.isSafeInteger(size) || size <= 0) throw new FsError('EINVAL', `invalid file size ${size}`);
    if (interleave) {
      validateInterleave(interleave, this.devSize);
      // Upstream: a file smaller than one chunk is not worth striping.
      if (size >= interleave.chunkSize) return this.allocateInterleaved(size, interleave);
      return { kind: 'simple', extents: [this.contiguous(size, 0)] };
    }
    return { kind: 'simple', extents: [this.contiguous(size, this.curPos)] };
  }

  private contiguous(size: number, from: number): SimpleExtent {
    const units = Math.ceil(size / ALLOC_UNIT);
    let first = this.bitmap.findFree(units, from, this.bitmap.nbits);
    if (first < 0 && from > 0) first = this.bitmap.findFree(units, 0, this.bitmap.nbits);
    if (first < 0) {
      throw new FsError('ENOSPC', `out of space: no free run of ${units * ALLOC_UNIT} bytes for a file of ${size} bytes`
        + ` (${this.bitmap.freeBits() * ALLOC_UNIT} bytes free)`);
    }
    this.bitmap.mark(first, units);
    this.curPos = first + units;
    return { devIndex: this.devIndex, offset: first * ALLOC_UNIT, len: units * ALLOC_UNIT };
  }

  /**
   * Upstream's strided allocation: the device is cut into `nbuckets` equal buckets; each
   * strip is a contiguous run inside one bucket, buckets tried in random order.
   */
  private allocateInterleaved(size: number, p: InterleaveParams): Fmap {
    const chunkUnits = p.chunkSize / ALLOC_UNIT;
    const bucketUnits = Math.floor(Math.floor(this.devSize / ALLOC_UNIT) / p.nbuckets);
    const sizeUnits = Math.ceil(size / ALLOC_UNIT);
    const stripeUnits = p.nstrips * chunkUnits;
    const nstripes = Math.ceil(sizeUnits / stripeUnits);
    const stripUnits = nstripes * chunkUnits;

    const order = Array.from({ length: p.nbuckets }, (_, i) => i);
    for (let i = order.length - 1; i > 0; i--) {
      const j = this.random(i + 1);
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    const strips: SimpleExtent[] = [];
    for (const b of order) {
      if (strips.length === p.nstrips) break;
      const first = this.bitmap.findFree(stripUnits, b * bucketUnits, (b + 1) * bucketUnits);
      if (first < 0) continue;
      this.bitmap.mark(first, stripUnits);
      strips.push({ devIndex: this.devIndex, offset: first * ALLOC_UNIT, len: stripUnits * ALLOC_UNIT });
    }
    if (strips.length < p.nstrips) {
      for (const s of strips) this.bitmap.unmark(s.offset / ALLOC_UNIT, s.len / ALLOC_UNIT);
      throw new FsError('ENOSPC', `out of space: found ${strips.length} of ${p.nstrips} buckets with a free strip of `
        + `${stripUnits * ALLOC_UNIT} bytes`);
    }
    return { kind: 'interleaved', nstrips: p.nstrips, chunkSize: p.chunkSize, strips };
  }

  /** Take memory chosen outside this allocator (a logged fmap), so later allocations avoid it. */
  claim(fmap: Fmap): void {
    const list = fmap.kind === 'simple' ? fmap.extents : fmap.strips;
    for (const e of list) if (e.devIndex === this.devIndex) this.bitmap.markRange(e.offset, e.len);
  }

  /** Give back what `allocate` took, when the entry could not be logged. */
  release(fmap: Fmap): void {
    const list = fmap.kind === 'simple' ? fmap.extents : fmap.strips;
    for (const e of list) this.bitmap.unmark(e.offset / ALLOC_UNIT, e.len / ALLOC_UNIT);
  }
}
