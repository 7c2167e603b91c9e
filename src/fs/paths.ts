import { FsError } from '../errors.js';
import { MAX_RELPATH_LEN } from '../format/layout.js';

/**
 * Names as famfs stores them: a path relative to the mount point, components separated by
 * '/', at most 79 bytes. Upstream validates nothing and truncates; we refuse, up front,
 * anything that could not be replayed to the same tree on every host.
 *
 * Names are UTF-8 without U+FFFD, everywhere. A name reaches us as a string (command arguments,
 * a directory listing, a FUSE request), and every byte that is not UTF-8 has become U+FFFD on
 * the way: `n\x81` and `n\x82` would both be `n\uFFFD`, one file under two names. So U+FFFD is
 * refused here, before anything is written, and replay (native/replay.c) shows no logged name
 * that is not UTF-8 or holds U+FFFD (fsck reports it; its memory stays allocated).
 */

/** The replacement character every undecodable byte becomes. */
const REPLACEMENT = '\ufffd';

const CONTROL = /[\u0000-\u001f\u007f]/;

/** Split a user-given famfs path (leading '/' allowed, repeated '/' folded) into components. */
export function splitPath(path: string): string[] {
  if (path.includes('\0')) throw new FsError('EINVAL', `path contains a NUL byte: ${JSON.stringify(path)}`);
  const parts = path.split('/').filter((c) => c !== '');
  for (const c of parts) {
    if (c === '.' || c === '..') throw new FsError('EINVAL', `path '${path}' contains '${c}'; famfs paths must not`);
    if (CONTROL.test(c)) throw new FsError('EINVAL', `path ${JSON.stringify(path)} contains a control character`);
    if (c.includes(REPLACEMENT)) throw new FsError('EINVAL', `path ${JSON.stringify(path)} is not UTF-8 (or holds U+FFFD); famfs names must be`);
  }
  return parts;
}

/** Every mount shows its own `.meta` directory at the root, so no logged name may take it. */
export const RESERVED_ROOT_NAME = '.meta';

/** The relpath to store for these components; refuses what does not fit the 80-byte field. */
export function toRelpath(parts: readonly string[]): string {
  if (parts.length === 0) throw new FsError('EINVAL', 'the root directory has no log entry');
  if (parts[0] === RESERVED_ROOT_NAME) throw new FsError('EINVAL', `'${RESERVED_ROOT_NAME}' at the root is reserved for famfs's meta files`);
  const rel = parts.join('/');
  const len = Buffer.byteLength(rel, 'utf8');
  if (len > MAX_RELPATH_LEN) {
    throw new FsError('ENAMETOOLONG', `path '${rel}' is ${len} bytes; famfs stores at most ${MAX_RELPATH_LEN}`);
  }
  return rel;
}
