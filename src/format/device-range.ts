/**
 * `len` bytes at byte `offset` of device `devIndex` (0 is the primary, then the devices the log
 * added, in order): the one shape of a range of device memory in every layer. A log extent or
 * interleave strip (fmap.ts, struct famfs_simple_extent decoded), a piece of a file's bytes
 * (fs/resolve.ts; map/pieces.ts adds its file offset), a window of a map plan, a BPF resolver's
 * answer (bpf/resolve-record.ts adds its status). The device layer, where each device knows
 * itself, takes the same shape without `devIndex` (DeviceExtent).
 */
export interface DeviceRange {
  devIndex: number;
  offset: number;
  len: number;
}
