import { errnoByName } from './errno.js';
import type { RangeFault } from './struct/le.js';

/** errno names this project raises; the numbers come from the OS so they match the kernel. */
export type ErrnoName =
  | 'EPERM' | 'ENOENT' | 'EIO' | 'EBADF' | 'EEXIST' | 'ENOTDIR' | 'EISDIR' | 'EINVAL'
  | 'ENOSPC' | 'EROFS' | 'ENAMETOOLONG' | 'ENOSYS' | 'EBUSY' | 'EFBIG' | 'ERANGE'
  | 'EOVERFLOW' | 'ENODEV' | 'EACCES' | 'ENOTEMPTY' | 'EOPNOTSUPP' | 'ENOMEM' | 'ENODATA' | 'ENOTCONN' | 'EBADMSG' | 'EAGAIN';

/** Base of every error the library throws on purpose: one line of text, an errno and an exit code. */
export class FamfsError extends Error {
  readonly errno: number;
  readonly code: ErrnoName;
  /** Process exit status a CLI command uses for this error. */
  readonly exitCode: number;

  constructor(code: ErrnoName, message: string, exitCode?: number) {
    super(message);
    this.name = new.target.name;
    this.code = code;
    this.errno = errnoByName(code);
    this.exitCode = exitCode ?? Math.min(this.errno, 127);
  }
}

/** On-media bytes that do not decode: bad magic, CRC, version, field out of range. */
export class FormatError extends FamfsError {
  constructor(message: string, code: ErrnoName = 'EINVAL') {
    super(code, message);
  }
}

/** What an on-media struct throws for a u64 above 2^53 (src/struct/le.ts): corrupt bytes, not a number to round. */
export const formatRangeFault: RangeFault = (field, value) => new FormatError(`${field} is out of range (0x${value.toString(16)})`);

/** The same for a struct read from `what` (a file's name), which the message names first. */
export function formatRangeFaultIn(what: string): RangeFault {
  return (field, value) => new FormatError(`${what}: ${field} is out of range (0x${value.toString(16)})`);
}

/** A caller asked for something the file system cannot do (bad name, exists, no space). */
export class FsError extends FamfsError {}

/** The memory device could not be opened, sized or mapped. */
export class DeviceError extends FamfsError {}

/** This host may not do that: a client tried to change metadata. */
export class RoleError extends FamfsError {
  constructor(message: string) {
    // Upstream exits 1 when a client tries to append (famfs_init_locked_log fails).
    super('EROFS', message, 1);
  }
}

/** Bad command-line usage. */
export class UsageError extends FamfsError {
  constructor(message: string) {
    super('EINVAL', message, 1);
  }
}
