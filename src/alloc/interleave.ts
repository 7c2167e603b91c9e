import { FsError } from '../errors.js';
import { MAX_STRIPS } from '../format/fmap.js';
import { ALLOC_UNIT, isPowerOfTwo } from '../format/layout.js';

/** Interleave ("strided") allocation parameters, as on upstream's command line and alloc.cfg. */
export interface InterleaveParams {
  nbuckets: number;
  nstrips: number;
  chunkSize: number;
}

const MAX_NBUCKETS = 64;
/** Upstream's default chunk when -N/-B are given without -C. */
export const DEFAULT_CHUNK_SIZE = ALLOC_UNIT;
/** Buckets smaller than this make striping pointless; upstream refuses them. */
const MIN_BUCKET_SIZE = 1024 ** 3;

/** Allocation units in each of the `nbuckets` equal buckets interleaved allocation cuts a device of `devSize` bytes into (the rest is never striped). */
export function bucketUnits(devSize: number, nbuckets: number): number {
  return Math.floor(devSize / (nbuckets * ALLOC_UNIT));
}

/** Whether a file of `size` bytes is striped: upstream makes a file smaller than one chunk contiguous. */
export function isStriped(size: number, p: InterleaveParams | undefined): p is InterleaveParams {
  return p !== undefined && size >= p.chunkSize;
}

/** Allocation units each strip of an interleaved file of `size` bytes takes: one chunk per stripe, as many stripes as cover the size. */
export function stripUnits(size: number, p: InterleaveParams): number {
  const chunkUnits = p.chunkSize / ALLOC_UNIT;
  return Math.ceil(Math.ceil(size / ALLOC_UNIT) / (p.nstrips * chunkUnits)) * chunkUnits;
}

/**
 * Validate like upstream's famfs_validate_interleave_param, plus what upstream forgot:
 * nstrips must be 1..16 (0 divides by zero, >16 overflows the fmap).
 */
export function validateInterleave(p: InterleaveParams, devSize: number): void {
  const bad = (msg: string): never => {
    throw new FsError('EINVAL', `invalid interleave: ${msg}`);
  };
  if (!isPowerOfTwo(p.chunkSize) || p.chunkSize % ALLOC_UNIT !== 0) {
    bad(`chunk size ${p.chunkSize} must be a power of two and a multiple of 2 MiB`);
  }
  if (!Number.isInteger(p.nbuckets) || p.nbuckets < 1 || p.nbuckets > MAX_NBUCKETS) {
    bad(`nbuckets ${p.nbuckets} must be 1..${MAX_NBUCKETS}`);
  }
  if (!Number.isInteger(p.nstrips) || p.nstrips < 1 || p.nstrips > MAX_STRIPS) {
    bad(`nstrips ${p.nstrips} must be 1..${MAX_STRIPS}`);
  }
  if (p.nstrips > p.nbuckets) bad(`nstrips ${p.nstrips} exceeds nbuckets ${p.nbuckets}`);
  const bucketSize = Math.floor(devSize / p.nbuckets);
  if (bucketSize < MIN_BUCKET_SIZE) {
    bad(`bucket size ${bucketSize} (device ${devSize} / ${p.nbuckets} buckets) is under 1 GiB`);
  }
}
