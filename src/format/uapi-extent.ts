import { formatRangeFault } from '../errors.js';
import { defineStruct, pad } from '../struct/struct.js';

/**
 * struct fuse_famfs_simple_ext (the famfs FUSE UAPI, V10 and after): one extent as the kernel
 * takes it, the device index a u32 where the log's famfs_simple_extent has a u64. The one
 * encoding of it: the GET_FMAP reply (src/daemon/famfs-abi.ts) and the published BPF record
 * (src/bpf/fmap-layout.ts) both carry it, so a record goes unchanged into a reply.
 */
export const UAPI_SIMPLE_EXTENT = defineStruct('fuse_famfs_simple_ext', 24, {
  devIndex: 'u32',
  _reserved: pad(4),
  offset: 'u64',
  len: 'u64',
}, { fault: formatRangeFault });
