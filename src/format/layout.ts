/**
 * Where things live on a famfs memory device (on-media format 2.2, superblock version 48).
 * Every other module takes its offsets from here or from its own structure's constants.
 */

/** Allocation unit: every extent offset and length is a multiple of this. */
export const ALLOC_UNIT = 0x200000;
/** The superblock region is one allocation unit; the log starts right after it. */
export const SUPERBLOCK_REGION_SIZE = ALLOC_UNIT;
export const LOG_OFFSET = SUPERBLOCK_REGION_SIZE;
/** Default and minimum log length; a log length must also be a power of two. */
export const DEFAULT_LOG_LEN = 0x800000;
export const MIN_LOG_LEN = DEFAULT_LOG_LEN;
/** mkfs refuses smaller devices. */
export const MIN_DEVICE_SIZE = 4 * 1024 ** 3;
/**
 * The largest device a file system may have (64 TiB). A device's size in the log (ADD_DAXDEV)
 * sizes its allocation bitmap, which every replay and every log session holds: a log entry may
 * not make a host allocate more than this implies (4 MiB of bitmap a device). Every device must
 * also be mapped whole into a process, and x86-64 gives a process 128 TiB of addresses.
 */
export const MAX_DEVICE_SIZE = 64 * 1024 ** 4;
/** Relative paths are stored NUL-terminated in 80 bytes, so at most 79 bytes of name. */
export const RELPATH_FIELD_SIZE = 80;
export const MAX_RELPATH_LEN = RELPATH_FIELD_SIZE - 1;
/** Device path stored in the superblock (strncpy'd, NUL-padded). */
export const DEVNAME_FIELD_SIZE = 64;
/** Upstream accepts these two allocation units when validating a superblock. */
export const VALID_ALLOC_UNITS: readonly number[] = [4096, ALLOC_UNIT];

export function isPowerOfTwo(n: number): boolean {
  return Number.isSafeInteger(n) && n > 0 && 2 ** Math.round(Math.log2(n)) === n;
}

export function roundUp(n: number, unit: number): number {
  return Math.ceil(n / unit) * unit;
}
