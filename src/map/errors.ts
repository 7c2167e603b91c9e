import { FamfsError, RoleError } from '../errors.js';

/** Which limit kept a file from being one contiguous Buffer. */
export type MapLimit =
  /** One Node Buffer (ArrayBuffer) holds at most 4 GiB. */
  | 'buffer-size'
  /** Each contiguous piece of a composed mapping is one kernel VMA, and vm.max_map_count caps them. */
  | 'max-map-count';

/**
 * A file cannot be presented the way the caller asked: it is larger than one Buffer, or needs
 * more kernel mappings than vm.max_map_count leaves. Its `segments` still reach every byte.
 */
export class MapLimitError extends FamfsError {
  constructor(readonly limit: MapLimit, message: string) {
    super(limit === 'buffer-size' ? 'EFBIG' : 'ENOMEM', message);
  }
}

/** A writable mapping was asked for where only a read-only one is possible (a client host). */
export class ReadOnlyMappingError extends RoleError {}
