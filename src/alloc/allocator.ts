import { FsError } from '../errors.js';
import { type Fmap, fmapExtents } from '../format/fmap.js';
import type { DeviceRange } from '../format/device-range.js';
import { ALLOC_UNIT, roundUp } from '../format/layout.js';
import type { Bitmap } from './bitmap.js';
import { type InterleaveParams, bucketUnits, isStriped, stripUnits, validateInterleave } from './interleave.js';

/** A source of bucket order for interleaved allocation; tests pass a seeded one. */
export type RandomInt = (exclusiveMax: number) => number;

export const mathRandomInt: RandomInt = (n) => Math.floor(Math.random() * n);

/** One device the allocator hands memory out of. */
interface Pool {
  devIndex: number;
  bitmap: Bitmap;
  devSize: number;
  /** Where the next contiguous allocation on this device starts looking. */
  curPos: number;
}

/**
 * Memory a new file of `size` bytes takes (spec §4.2, §4.3): whole allocation units, and for an
 * interleaved file whole stripes. What allocate() hands out, for checks made before allocating.
 */
export function allocationBytes(size: number, interleave?: InterleaveParams): number {
  if (!isStriped(size, interleave)) return roundUp(size, ALLOC_UNIT);
  return stripUnits(size, interleave) * interleave.nstrips * ALLOC_UNIT;
}
/**
 * One allocation session over the devices' bitmaps, as upstream's locked-log session:
 * contiguous allocations continue from where the last one ended (`curPos`), so the
 * files of one `cp` are laid out in order. Unlike upstream, the search is bounded by the
 * device end and wraps to the start once before reporting ENOSPC.
 *
 * With several devices (`addDevice`): a contiguous file goes on the device the previous one went
 * to, else on the first device, in index order, that has room — so devices fill one after the
 * other and a single-device file system allocates exactly as before. An interleaved file spreads
 * its strips round-robin over the devices (strip k prefers device k mod n), so consecutive
 * chunks land on different devices; each device is cut into `nbuckets` buckets and its buckets
 * are tried in random order, as upstream does for one device. A device out of free buckets
 * hands its turn to the next one.
 */
export class Allocator {
  private readonly pools: Pool[] = [];
  /** The pool the last contiguous allocation came from. */
  private current = 0;

  constructor(bitmap: Bitmap, devSize: number, devIndex = 0, private readonly random: RandomInt = mathRandomInt) {
    this.addDevice(bitmap, devSize, devIndex);
  }

  /** Another device to allocate from (its bitmap already marks what is in use). */
  addDevice(bitmap: Bitmap, devSize: number, devIndex: number): void {
    this.pools.push({ devIndex, bitmap, devSize, curPos: 0 });
  }

  /** Allocate memory for a file of `size` bytes; interleaved when params are given. */
  allocate(size: number, interleave?: InterleaveParams): Fmap {
    if (!Number.isSafeInteger(size) || size <= 0) throw new FsError('EINVAL', `invalid file size ${size}`);
    if (interleave) {
      for (const p of this.pools) this.validateOn(p, interleave);
      if (isStriped(size, interleave)) return this.allocateInterleaved(size, interleave);
      return { kind: 'simple', extents: [this.contiguous(size, false)] };
    }
    return { kind: 'simple', extents: [this.contiguous(size, true)] };
  }

  private validateOn(pool: Pool, p: InterleaveParams): void {
    try {
      validateInterleave(p, pool.devSize);
    } catch (err) {
      if (this.pools.length === 1 || !(err instanceof FsError)) throw err;
      throw new FsError(err.code, `device ${pool.devIndex}: ${err.message}`);
    }
  }

  /** One run on the current device (from its cursor when `follow`), else on the others in order. */
  private contiguous(size: number, follow: boolean): DeviceRange {
    const units = Math.ceil(size / ALLOC_UNIT);
    const order = follow ? [this.current, ...this.pools.keys()] : [...this.pools.keys()];
    for (const i of new Set(order)) {
      const pool = this.pools[i]!;
      const from = follow ? pool.curPos : 0;
      let first = pool.bitmap.findFree(units, from, pool.bitmap.nbits);
      if (first < 0 && from > 0) first = pool.bitmap.findFree(units, 0, pool.bitmap.nbits);
      if (first < 0) continue;
      pool.bitmap.mark(first, units);
      pool.curPos = first + units;
      this.current = i;
      return { devIndex: pool.devIndex, offset: first * ALLOC_UNIT, len: units * ALLOC_UNIT };
    }
    const free = this.pools.reduce((s, p) => s + p.bitmap.freeBits(), 0) * ALLOC_UNIT;
    const where = this.pools.length > 1 ? ` on any of ${this.pools.length} devices` : '';
    throw new FsError('ENOSPC', `out of space: no free run of ${units * ALLOC_UNIT} bytes${where} for a file of ${size} bytes`
      + ` (${free} bytes free)`);
  }

  /**
   * Upstream's strided allocation: each device is cut into `nbuckets` equal buckets; each
   * strip is a contiguous run inside one bucket, buckets tried in random order.
   */
  private allocateInterleaved(size: number, p: InterleaveParams): Fmap {
    const units = stripUnits(size, p);
    const buckets = this.pools.map((pool) => ({
      pool,
      bucketUnits: bucketUnits(pool.devSize, p.nbuckets),
      order: this.shuffled(p.nbuckets),
      next: 0,
    }));
    const strips: DeviceRange[] = [];
    const taken: { pool: Pool; first: number }[] = [];
    for (let k = 0; k < p.nstrips; k++) {
      let found = false;
      for (let t = 0; t < buckets.length && !found; t++) {
        const d = buckets[(k + t) % buckets.length]!;
        while (d.next < d.order.length) {
          const b = d.order[d.next++]!;
          const first = d.pool.bitmap.findFree(units, b * d.bucketUnits, (b + 1) * d.bucketUnits);
          if (first < 0) continue;
          d.pool.bitmap.mark(first, units);
          taken.push({ pool: d.pool, first });
          strips.push({ devIndex: d.pool.devIndex, offset: first * ALLOC_UNIT, len: units * ALLOC_UNIT });
          found = true;
          break;
        }
      }
      if (!found) break;
    }
    if (strips.length < p.nstrips) {
      for (const t of taken) t.pool.bitmap.unmark(t.first, units);
      throw new FsError('ENOSPC', `out of space: found ${strips.length} of ${p.nstrips} buckets with a free strip of `
        + `${units * ALLOC_UNIT} bytes`);
    }
    return { kind: 'interleaved', nstrips: p.nstrips, chunkSize: p.chunkSize, strips };
  }

  /** 0..n-1 in random order (Fisher-Yates with the session's random source). */
  private shuffled(n: number): number[] {
    const order = Array.from({ length: n }, (_, i) => i);
    for (let i = order.length - 1; i > 0; i--) {
      const j = this.random(i + 1);
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    return order;
  }

  private poolOf(devIndex: number): Pool | undefined {
    return this.pools.find((p) => p.devIndex === devIndex);
  }

  /** Take memory chosen outside this allocator (a logged fmap), so later allocations avoid it. */
  claim(fmap: Fmap): void {
    for (const e of fmapExtents(fmap)) this.poolOf(e.devIndex)?.bitmap.markRange(e.offset, e.len);
  }

  /** Give back what `allocate` took, when the entry could not be logged. */
  release(fmap: Fmap): void {
    for (const e of fmapExtents(fmap)) this.poolOf(e.devIndex)?.bitmap.unmark(e.offset / ALLOC_UNIT, e.len / ALLOC_UNIT);
  }
}
