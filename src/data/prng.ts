import { endianness } from 'node:os';

/**
 * upstream's test-data generator (randomize_buffer / validate_random_buffer, spec §6.7), bit-exact,
 * so files written here verify with upstream's `famfs verify` and the other way round.
 *
 * xoroshiro128+ seeded by two splitmix64 steps from a 32-bit seed; the buffer takes the low 32 bits
 * of each output, little-endian, 4 bytes at a time. Only the seeding needs 64-bit multiplication
 * (BigInt, twice per stream); the hot loop keeps each 64-bit state word as two uint32 halves,
 * because xoroshiro's update is shifts, rotates and xors only, and the output's low word is just
 * the sum of the low halves.
 */

/** Bytes of output per generator step: the low 32 bits of each 64-bit result. */
const WORD_BYTES = 4;
/** The generator takes only the low 32 bits of the seed, as upstream's `unsigned int` does. */
const SEED_MASK = 0xffffffffn;
const U64_MASK = 0xffffffffffffffffn;
const U32_MASK = 0xffffffffn;
const HALF_SHIFT = 32n;
const SPLITMIX_GAMMA = 0x9e3779b97f4a7c15n;
const SPLITMIX_MUL1 = 0xbf58476d1ce4e5b9n;
const SPLITMIX_MUL2 = 0x94d049bb133111ebn;
const SPLITMIX_SHIFT1 = 30n;
const SPLITMIX_SHIFT2 = 27n;
const SPLITMIX_SHIFT3 = 31n;
/** xoroshiro128+ (a, b, c) = (55, 14, 36). The 55 and 36 rotations are done as a half swap then
 * a rotation by 23 and 4; the 14 shift crosses halves with 32 - 14 = 18. */
const ROT_A_AFTER_SWAP = 55 - 32;
const SHIFT_B = 14;
const ROT_C_AFTER_SWAP = 36 - 32;
const WORD_BITS = 32;
const BYTE_BITS = 8;
const BYTE_MASK = 0xff;
/** Words in the scratch buffer used for misaligned views: big enough to amortise, small enough
 * to stay in cache. */
const SCRATCH_WORDS = 64 * 1024;

const LITTLE_ENDIAN_HOST = endianness() === 'LE';

let scratch: Uint32Array | undefined;
function scratchWords(): Uint32Array {
  scratch ??= new Uint32Array(SCRATCH_WORDS);
  return scratch;
}

/** The stream is little-endian words: a Uint32Array can alias the bytes only on a little-endian
 * host and at a 4-byte-aligned address. */
function isWordView(b: Uint8Array): boolean {
  return LITTLE_ENDIAN_HOST && b.byteOffset % WORD_BYTES === 0;
}

/** The first `n` words of `w` as bytes, little-endian whatever the host. */
function wordBytes(w: Uint32Array, n: number): Uint8Array {
  if (!LITTLE_ENDIAN_HOST) byteSwapWords(w, n);
  return new Uint8Array(w.buffer, w.byteOffset, n * WORD_BYTES);
}

function byteSwapWords(w: Uint32Array, n: number): void {
  const v = new DataView(w.buffer, w.byteOffset, n * WORD_BYTES);
  for (let i = 0; i < n; i++) v.setUint32(i * WORD_BYTES, v.getUint32(i * WORD_BYTES, true), false);
}

/** Seed values as the CLI reads them (any unsigned integer; only its low 32 bits matter). */
export type Seed = number | bigint;

function splitmixSeed(seed: Seed): [bigint, bigint] {
  let x = BigInt(seed) & SEED_MASK;
  const next = (): bigint => {
    x = (x + SPLITMIX_GAMMA) & U64_MASK;
    let z = x;
    z = ((z ^ (z >> SPLITMIX_SHIFT1)) * SPLITMIX_MUL1) & U64_MASK;
    z = ((z ^ (z >> SPLITMIX_SHIFT2)) * SPLITMIX_MUL2) & U64_MASK;
    return z ^ (z >> SPLITMIX_SHIFT3);
  };
  const s0 = next();
  return [s0, next()];
}

function checkSeed(seed: Seed): void {
  const ok = typeof seed === 'bigint' ? seed >= 0n : Number.isSafeInteger(seed) && seed >= 0;
  if (!ok) throw new RangeError(`test-data seed must be a non-negative integer (got ${String(seed)})`);
}

/**
 * The generator as a stream positioned at a byte offset, so a file can be filled or checked in
 * pieces (a segmented mapping, a progress bar). Every piece but the last must be a whole number of
 * 4-byte words, because a trailing partial word consumes a whole generator step.
 */
export class TestDataStream {
  /** Bytes produced or checked so far. */
  position = 0;
  // State s0 = (h0:l0), s1 = (h1:l1), each half a uint32.
  private h0: number;
  private l0: number;
  private h1: number;
  private l1: number;
  private ended = false;

  constructor(seed: Seed) {
    checkSeed(seed);
    const [s0, s1] = splitmixSeed(seed);
    this.h0 = Number(s0 >> HALF_SHIFT);
    this.l0 = Number(s0 & U32_MASK);
    this.h1 = Number(s1 >> HALF_SHIFT);
    this.l1 = Number(s1 & U32_MASK);
  }

  /** Writes the next `target.length` bytes of the stream into `target`. */
  fill(target: Uint8Array): void {
    const words = this.begin(target.length, 'fill');
    if (isWordView(target)) {
      this.fillWords(new Uint32Array(target.buffer, target.byteOffset, words));
    } else {
      // An odd-placed view (or a big-endian host) goes through an aligned scratch buffer, so there
      // is one hot loop, over a Uint32Array.
      const scratch = scratchWords();
      for (let done = 0; done < words; done += scratch.length) {
        const n = Math.min(scratch.length, words - done);
        this.fillWords(scratch.subarray(0, n));
        target.set(wordBytes(scratch, n), done * WORD_BYTES);
      }
    }
    const tail = target.length - words * WORD_BYTES;
    if (tail > 0) {
      let last = this.step();
      for (let i = 0; i < tail; i++, last >>>= BYTE_BITS) target[words * WORD_BYTES + i] = last & BYTE_MASK;
    }
    this.position += target.length;
  }

  /**
   * Checks the next `data.length` bytes against the stream. Returns the offset *within data* of the
   * first 4-byte word that differs (upstream reports word offsets, not byte offsets), or -1.
   * After a mismatch the stream is left past `data`, so it can go on to the next piece.
   */
  verify(data: Uint8Array): number {
    const words = this.begin(data.length, 'verify');
    let bad = -1;
    if (isWordView(data)) {
      bad = this.verifyWords(new Uint32Array(data.buffer, data.byteOffset, words));
    } else {
      const scratch = scratchWords();
      for (let done = 0; done < words && bad < 0; done += scratch.length) {
        const n = Math.min(scratch.length, words - done);
        const bytes = wordBytes(scratch, n);
        bytes.set(data.subarray(done * WORD_BYTES, (done + n) * WORD_BYTES));
        if (!LITTLE_ENDIAN_HOST) byteSwapWords(scratch, n);
        const at = this.verifyWords(scratch.subarray(0, n));
        if (at >= 0) bad = done * WORD_BYTES + at;
      }
    }
    if (bad >= 0) {
      // verifyWords stopped at the bad word: keep the stream in step with the data after it.
      this.skip(words - bad / WORD_BYTES);
    }
    const tail = data.length - words * WORD_BYTES;
    if (tail > 0) {
      let last = this.step();
      for (let i = 0; i < tail && bad < 0; i++, last >>>= BYTE_BITS) {
        if (data[words * WORD_BYTES + i] !== (last & BYTE_MASK)) bad = words * WORD_BYTES;
      }
    }
    this.position += data.length;
    return bad;
  }

  /** The hot loop: one output word per element. */
  private fillWords(out: Uint32Array): void {
    let { h0, l0, h1, l1 } = this;
    const n = out.length;
    for (let i = 0; i < n; i++) {
      out[i] = (l0 + l1) >>> 0;
      // s1 ^= s0; s0 = rotl(s0, 55) ^ s1 ^ (s1 << 14); s1 = rotl(s1, 36)
      h1 ^= h0; l1 ^= l0;
      const rh = (l0 << ROT_A_AFTER_SWAP) | (h0 >>> (WORD_BITS - ROT_A_AFTER_SWAP));
      const rl = (h0 << ROT_A_AFTER_SWAP) | (l0 >>> (WORD_BITS - ROT_A_AFTER_SWAP));
      h0 = rh ^ h1 ^ ((h1 << SHIFT_B) | (l1 >>> (WORD_BITS - SHIFT_B)));
      l0 = rl ^ l1 ^ (l1 << SHIFT_B);
      const th = (l1 << ROT_C_AFTER_SWAP) | (h1 >>> (WORD_BITS - ROT_C_AFTER_SWAP));
      l1 = (h1 << ROT_C_AFTER_SWAP) | (l1 >>> (WORD_BITS - ROT_C_AFTER_SWAP));
      h1 = th;
    }
    this.h0 = h0; this.l0 = l0; this.h1 = h1; this.l1 = l1;
  }

  /** The same loop comparing instead of storing; stops *at* the first bad word (not past it). */
  private verifyWords(data: Uint32Array): number {
    let { h0, l0, h1, l1 } = this;
    const n = data.length;
    let bad = -1;
    for (let i = 0; i < n; i++) {
      if (data[i] !== ((l0 + l1) >>> 0)) {
        bad = i * WORD_BYTES;
        break;
      }
      h1 ^= h0; l1 ^= l0;
      const rh = (l0 << ROT_A_AFTER_SWAP) | (h0 >>> (WORD_BITS - ROT_A_AFTER_SWAP));
      const rl = (h0 << ROT_A_AFTER_SWAP) | (l0 >>> (WORD_BITS - ROT_A_AFTER_SWAP));
      h0 = rh ^ h1 ^ ((h1 << SHIFT_B) | (l1 >>> (WORD_BITS - SHIFT_B)));
      l0 = rl ^ l1 ^ (l1 << SHIFT_B);
      const th = (l1 << ROT_C_AFTER_SWAP) | (h1 >>> (WORD_BITS - ROT_C_AFTER_SWAP));
      l1 = (h1 << ROT_C_AFTER_SWAP) | (l1 >>> (WORD_BITS - ROT_C_AFTER_SWAP));
      h1 = th;
    }
    this.h0 = h0; this.l0 = l0; this.h1 = h1; this.l1 = l1;
    return bad;
  }

  /** One generator step: returns the low 32 bits of the output. */
  private step(): number {
    const one = new Uint32Array(1);
    this.fillWords(one);
    return one[0]!;
  }

  /** Advances `words` steps without keeping the output. */
  private skip(words: number): void {
    const scratch = scratchWords();
    for (let done = 0; done < words; done += scratch.length) this.fillWords(scratch.subarray(0, Math.min(scratch.length, words - done)));
  }

  /** Whole words in a piece of `length` bytes; a partial word is only allowed at the very end. */
  private begin(length: number, op: string): number {
    if (this.ended) {
      throw new RangeError(`test-data ${op} at byte ${this.position}: the stream already ended with a partial word`);
    }
    if (length % WORD_BYTES !== 0) this.ended = true;
    return Math.floor(length / WORD_BYTES);
  }
}

/** upstream's randomize_buffer: fills `buf` with the stream for `seed`. */
export function randomizeBuffer(buf: Uint8Array, seed: Seed): void {
  new TestDataStream(seed).fill(buf);
}

/**
 * upstream's validate_random_buffer: the offset of the first 4-byte word of `buf` that differs from
 * the stream for `seed` (a multiple of 4), or -1 when all of it matches.
 */
export function verifyBuffer(buf: Uint8Array, seed: Seed): number {
  return new TestDataStream(seed).verify(buf);
}
