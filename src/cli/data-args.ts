import { InvalidArgumentError } from './commander.js';
import { parseSize } from './args.js';

/**
 * Parsers for the data commands' arguments (seeds, thread counts, -M/-m lists), with upstream's
 * syntax: numbers are decimal or 0x hex as strtoull reads them.
 */

const UNSIGNED = /^(0[xX][0-9a-fA-F]+|\d+)$/;
const U64_MAX = (1n << 64n) - 1n;
/** upstream's -t range. */
const MAX_THREADS = 256;

/** A PRNG seed: any unsigned 64-bit number (the generator uses its low 32 bits); 0 means "none". */
export function parseSeed(text: string): bigint {
  const t = text.trim();
  if (!UNSIGNED.test(t)) throw new InvalidArgumentError(`'${text}' is not a seed (an unsigned decimal or 0x number)`);
  const v = BigInt(t);
  if (v > U64_MAX) throw new InvalidArgumentError(`seed '${text}' does not fit 64 bits`);
  return v;
}

export function parseThreads(text: string): number {
  if (!/^\d+$/.test(text) || Number(text) > MAX_THREADS) throw new InvalidArgumentError(`thread count '${text}' must be 0..${MAX_THREADS}`);
  return Number(text);
}

/** For options that may repeat: collects every value. */
export function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

export interface MultiCreat {
  file: string;
  size: number;
  /** 0 (or absent): create without randomizing. */
  seed: bigint;
}

/** creat -M <file>,<size>[,<seed>] */
export function parseMultiCreat(text: string): MultiCreat {
  const parts = text.split(',');
  if (parts.length < 2 || parts.length > 3 || parts[0] === '') {
    throw new InvalidArgumentError(`bad multi arg '${text}': expected <file>,<size>[,<seed>]`);
  }
  return { file: parts[0]!, size: parseSize(parts[1]!), seed: parts[2] === undefined ? 0n : parseSeed(parts[2]) };
}

export interface MultiVerify {
  file: string;
  seed: bigint;
}

/** verify -m <file>,<seed> */
export function parseMultiVerify(text: string): MultiVerify {
  const parts = text.split(',');
  if (parts.length !== 2 || parts[0] === '') throw new InvalidArgumentError(`bad multi arg '${text}': expected <file>,<seed>`);
  return { file: parts[0]!, seed: parseSeed(parts[1]!) };
}
