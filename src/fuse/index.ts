/**
 * The FUSE server's one import point for code outside src/fuse/ (the famfs daemon, the CLI, the
 * example file system's users): the kernel ABI codecs, the Filesystem interface a file system
 * implements, the server that mounts and serves one, its errors, and the mount table tools.
 * Everything else in src/fuse/ is the server's own business (the dependency rules in CI hold
 * other code to this file).
 */
export * from './abi.js';
export type * from './filesystem.js';
export { errno, FuseError, MountError } from './errors.js';
export { FuseServer } from './serve.js';
export type { FuseSession } from './session.js';
export { LATENCY_BOUNDS_US } from './request-stats.js';
export { findFuseMount, isFuseType, recoverMount, unmount } from './mount.js';
