import { InvalidArgumentError } from './commander.js';

/**
 * Argument parsers shared by the commands. Sizes take upstream's syntax (a decimal or 0x
 * number, then an optional k/m/g in powers of 1024) but, unlike upstream, anything else
 * after the number is an error: `10mm` is refused, not read as 10 bytes.
 */
const SIZE = /^(0[xX][0-9a-fA-F]+|\d+)([kKmMgG])?$/;
const UNIT: Record<string, number> = { k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

export function parseSize(text: string): number {
  const m = SIZE.exec(text.trim());
  if (!m) throw new InvalidArgumentError(`'${text}' is not a size (a number with an optional k, m or g suffix)`);
  const n = Number(m[1]!) * (m[2] ? UNIT[m[2].toLowerCase()]! : 1);
  if (!Number.isSafeInteger(n)) throw new InvalidArgumentError(`size '${text}' is too large`);
  return n;
}

export function parseOctalMode(text: string): number {
  if (!/^0?[0-7]{1,4}$/.test(text)) throw new InvalidArgumentError(`'${text}' is not an octal mode`);
  return parseInt(text, 8);
}

export function parseUint(text: string): number {
  if (!/^\d+$/.test(text)) throw new InvalidArgumentError(`'${text}' is not a non-negative integer`);
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n > 0xffffffff) throw new InvalidArgumentError(`'${text}' is out of range`);
  return n;
}
