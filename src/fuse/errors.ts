import { ERRNO_BY_NAME, errnoByName } from '../errno.js';

export type FuseErrnoName =
  | 'EPERM' | 'ENOENT' | 'EIO' | 'EBADF' | 'EAGAIN' | 'ENOMEM' | 'EACCES' | 'EBUSY' | 'EEXIST'
  | 'EXDEV' | 'ENOTDIR' | 'EISDIR' | 'EINVAL' | 'EFBIG' | 'ENOSPC' | 'EROFS' | 'ERANGE'
  | 'ENAMETOOLONG' | 'ENOSYS' | 'ENOTEMPTY' | 'ENODATA' | 'EOVERFLOW' | 'EPROTO' | 'EOPNOTSUPP'
  | 'ENOTCONN' | 'ENODEV' | 'ECONNABORTED' | 'ETIMEDOUT' | 'E2BIG' | 'EINTR';

/** The number of a FUSE reply's errno, by name. */
export function errno(name: FuseErrnoName): number {
  return errnoByName(name);
}

/**
 * The kernel accepts a reply error only in (-1000, 0]; anything else makes the write fail with
 * EINVAL and leaves the caller blocked forever, so every errno is checked against this bound.
 */
const MAX_REPLY_ERRNO = 999;

/** An error a Filesystem method throws to answer the request with `-errno`. */
export class FuseError extends Error {
  readonly errno: number;

  constructor(code: FuseErrnoName | number, message?: string) {
    const n = typeof code === 'number' ? code : errno(code);
    super(message ?? (typeof code === 'number' ? `errno ${code}` : code));
    this.name = new.target.name;
    this.errno = n;
  }
}

/** The FUSE device or the mount helper failed: a setup problem, not a request error. */
export class MountError extends FuseError {}

/** A request body shorter than its opcode's fixed struct, or a string missing its NUL. */
export class ProtocolError extends FuseError {
  constructor(message: string) {
    super('EIO', message);
  }
}

/** The errno to send for a thrown value, or undefined when it carries none (a bug: reply EIO). */
export function errnoOf(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as { errno?: unknown; code?: unknown };
  // Node's SystemError carries a negative errno, the project's own errors a positive one.
  if (typeof e.errno === 'number' && Number.isInteger(e.errno) && e.errno !== 0) {
    const n = Math.abs(e.errno);
    if (n <= MAX_REPLY_ERRNO) return n;
  }
  if (typeof e.code === 'string') {
    const n = ERRNO_BY_NAME[e.code];
    if (n !== undefined && n > 0 && n <= MAX_REPLY_ERRNO) return n;
  }
  return undefined;
}
