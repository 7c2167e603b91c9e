import { constants as osConstants } from 'node:os';

/**
 * Linux errno numbers by name, taken from the OS so they match what the kernel uses. Every layer
 * turns names into numbers here (the core's errors, the FUSE server's replies).
 */
export const ERRNO_BY_NAME = osConstants.errno as Readonly<Record<string, number>>;

/** The number of errno `name`; throws on a name this platform lacks (a programming error). */
export function errnoByName(name: string): number {
  const n = ERRNO_BY_NAME[name];
  if (n === undefined) throw new Error(`errno ${name} unknown on this platform`);
  return n;
}
