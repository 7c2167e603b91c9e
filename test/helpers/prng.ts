/**
 * The tests' one source of reproducible randomness: mulberry32, a small seeded generator, so a
 * failing run can be replayed from its seed. Not for anything secret, and not upstream's test-data
 * stream (that is src/data/prng.ts, which `famfs creat -r` and `famfs verify` share).
 */

/** A generator of floats in [0, 1) for `seed`. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 0x1_0000_0000;
  };
}

/** An integer in [lo, hi] drawn from `rnd`. */
export const randInt = (rnd: () => number, lo: number, hi: number): number => lo + Math.floor(rnd() * (hi - lo + 1));

/** 0..n-1 from prng(seed): the allocator's and the core's `random` option, for a reproducible bucket order. */
export function seededRandomInt(seed: number): (n: number) => number {
  const rnd = prng(seed);
  return (n) => Math.floor(rnd() * n);
}

const U32 = 0x1_0000_0000;
const WORD = 4;

/** `length` bytes from prng(seed), 4 to a draw: neighbouring words and different seeds differ, so a misplaced range shows. */
export function seededBytes(length: number, seed: number): Buffer {
  const rnd = prng(seed);
  const out = Buffer.alloc(length);
  for (let o = 0; o < length; o += WORD) {
    const w = Math.floor(rnd() * U32);
    for (let k = 0; k < WORD && o + k < length; k++) out[o + k] = (w >>> (8 * k)) & 0xff;
  }
  return out;
}
