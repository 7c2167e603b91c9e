/**
 * famfs for Node applications: open a file system by its memory device, create directories and
 * files (on the master), and map files straight into memory on any host.
 *
 * @example
 * ```ts
 * import { Famfs } from 'famfs-ts';
 * const fs = Famfs.open('/dev/dax0.0');
 * const m = fs.map('data/table', { writable: fs.role === 'master' });
 * m.buffer.readUInt32LE(0);
 * m.unmap();
 * fs.close();
 * ```
 */
export { Famfs } from './famfs.js';
export type { CreatManyItem, CreatOptions, DirEntry, FamfsDevice, FamfsStat, FileMap, FsUsage, MkdirOptions, NodeKind, FamfsOpenOptions } from './famfs.js';
export { FileMapping } from '../map/file-mapping.js';
export type { FileSegment, MapLimitOverrides, MapOptions } from '../map/file-mapping.js';
export { MapLimitError, ReadOnlyMappingError } from '../map/errors.js';
export type { MapLimit } from '../map/errors.js';
export type { MapPiece } from '../map/pieces.js';
export type { ReadStreamOptions, WriteStreamOptions } from '../map/streams.js';
export { DeviceError, FamfsError, FormatError, FsError, RoleError } from '../errors.js';
export type { ErrnoName } from '../errors.js';
export type { InterleaveParams } from '../alloc/interleave.js';
export type { Fmap, InterleavedFmap, SimpleFmap } from '../format/fmap.js';
export type { DeviceRange } from '../format/device-range.js';
export type { Role } from '../fs/role.js';
export { Consumer, Producer } from '../queue/queue.js';
export type { QueueCreateOptions, QueueInfo, QueueOpenOptions } from '../queue/queue.js';
export type { QueuePerm } from '../queue/grants.js';
export type { BackoffOptions } from '../queue/backoff.js';
export { QueueAccessError, QueueCorruptError } from '../queue/errors.js';
export { randomizeBuffer, verifyBuffer, TestDataStream } from '../data/prng.js';
export type { Seed } from '../data/prng.js';
