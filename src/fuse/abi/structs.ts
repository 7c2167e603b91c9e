/**
 * The FUSE wire structs of protocol 7.45 (include/uapi/linux/fuse.h), each declared once with the
 * struct toolkit: sizes.ts's StructSize and every codec's offsets come from here, and each size
 * is checked against the header's at load. Field names are the header's, in camelCase.
 */
import { defineStruct, nested, pad } from '../../struct/struct.js';
import { fuseRangeFault } from './wire.js';

const fault = fuseRangeFault;

export const IN_HEADER = defineStruct('fuse_in_header', 40, {
  len: 'u32', opcode: 'u32', unique: 'u64n', nodeid: 'u64', uid: 'u32', gid: 'u32', pid: 'u32',
  totalExtlen: 'u16', _padding: pad(2),
}, { fault });

export const OUT_HEADER = defineStruct('fuse_out_header', 16, { len: 'u32', error: 'i32', unique: 'u64n' }, { fault });

export const ATTR = defineStruct('fuse_attr', 88, {
  ino: 'u64', size: 'u64', blocks: 'u64', atime: 'u64', mtime: 'u64', ctime: 'u64',
  atimensec: 'u32', mtimensec: 'u32', ctimensec: 'u32', mode: 'u32', nlink: 'u32', uid: 'u32', gid: 'u32',
  rdev: 'u32', blksize: 'u32', flags: 'u32',
}, { fault });

export const ENTRY_OUT = defineStruct('fuse_entry_out', 128, {
  nodeid: 'u64', generation: 'u64', entryValid: 'u64', attrValid: 'u64', entryValidNsec: 'u32', attrValidNsec: 'u32',
  attr: nested(ATTR),
}, { fault });

export const ATTR_OUT = defineStruct('fuse_attr_out', 104, {
  attrValid: 'u64', attrValidNsec: 'u32', _dummy: pad(4), attr: nested(ATTR),
}, { fault });

export const INIT_IN = defineStruct('fuse_init_in', 64, {
  major: 'u32', minor: 'u32', maxReadahead: 'u32', flags: 'u32', flags2: 'u32', _unused: pad(44),
}, { fault });

export const INIT_OUT = defineStruct('fuse_init_out', 64, {
  major: 'u32', minor: 'u32', maxReadahead: 'u32', flags: 'u32', maxBackground: 'u16', congestionThreshold: 'u16',
  maxWrite: 'u32', timeGran: 'u32', maxPages: 'u16', mapAlignment: 'u16', flags2: 'u32', maxStackDepth: 'u32',
  requestTimeout: 'u16', _unused: pad(22),
}, { fault });

export const OPEN_IN = defineStruct('fuse_open_in', 8, { flags: 'u32', openFlags: 'u32' }, { fault });
export const OPEN_OUT = defineStruct('fuse_open_out', 16, { fh: 'u64', openFlags: 'u32', backingId: 'i32' }, { fault });
export const GETATTR_IN = defineStruct('fuse_getattr_in', 16, { getattrFlags: 'u32', _dummy: pad(4), fh: 'u64' }, { fault });

export const SETATTR_IN = defineStruct('fuse_setattr_in', 88, {
  valid: 'u32', _padding: pad(4), fh: 'u64', size: 'u64', lockOwner: 'u64n', atime: 'u64', mtime: 'u64', ctime: 'u64',
  atimensec: 'u32', mtimensec: 'u32', ctimensec: 'u32', mode: 'u32', _unused4: pad(4), uid: 'u32', gid: 'u32', _unused5: pad(4),
}, { fault });

/** fuse_read_in; fuse_write_in has the same layout, its io flags named write_flags. */
export const READ_IN = defineStruct('fuse_read_in', 40, {
  fh: 'u64', offset: 'u64', size: 'u32', ioFlags: 'u32', lockOwner: 'u64n', flags: 'u32', _padding: pad(4),
}, { fault });
export const WRITE_IN = READ_IN;
export const WRITE_OUT = defineStruct('fuse_write_out', 8, { size: 'u32', _padding: pad(4) }, { fault });

export const KSTATFS = defineStruct('fuse_kstatfs', 80, {
  blocks: 'u64', bfree: 'u64', bavail: 'u64', files: 'u64', ffree: 'u64', bsize: 'u32', namelen: 'u32', frsize: 'u32',
  _padding: pad(4), _spare: pad(24),
}, { fault });
export const STATFS_OUT = defineStruct('fuse_statfs_out', 80, { st: nested(KSTATFS) }, { fault });

export const RELEASE_IN = defineStruct('fuse_release_in', 24, { fh: 'u64', flags: 'u32', releaseFlags: 'u32', lockOwner: 'u64n' }, { fault });
export const FLUSH_IN = defineStruct('fuse_flush_in', 24, { fh: 'u64', _unused: pad(8), lockOwner: 'u64n' }, { fault });
export const FSYNC_IN = defineStruct('fuse_fsync_in', 16, { fh: 'u64', fsyncFlags: 'u32', _padding: pad(4) }, { fault });
/** FUSE_COMPAT_SETXATTR_IN_SIZE: the layout without SETXATTR_EXT, which this layer never negotiates. */
export const SETXATTR_IN = defineStruct('fuse_setxattr_in (compat)', 8, { size: 'u32', flags: 'u32' }, { fault });
export const GETXATTR_IN = defineStruct('fuse_getxattr_in', 8, { size: 'u32', _padding: pad(4) }, { fault });
export const GETXATTR_OUT = defineStruct('fuse_getxattr_out', 8, { size: 'u32', _padding: pad(4) }, { fault });
export const ACCESS_IN = defineStruct('fuse_access_in', 8, { mask: 'u32', _padding: pad(4) }, { fault });
export const FORGET_IN = defineStruct('fuse_forget_in', 8, { nlookup: 'u64' }, { fault });
export const BATCH_FORGET_IN = defineStruct('fuse_batch_forget_in', 8, { count: 'u32', _dummy: pad(4) }, { fault });
export const FORGET_ONE = defineStruct('fuse_forget_one', 16, { nodeid: 'u64', nlookup: 'u64' }, { fault });
export const MKNOD_IN = defineStruct('fuse_mknod_in', 16, { mode: 'u32', rdev: 'u32', umask: 'u32', _padding: pad(4) }, { fault });
export const MKDIR_IN = defineStruct('fuse_mkdir_in', 8, { mode: 'u32', umask: 'u32' }, { fault });
export const CREATE_IN = defineStruct('fuse_create_in', 16, { flags: 'u32', mode: 'u32', umask: 'u32', openFlags: 'u32' }, { fault });
export const RENAME_IN = defineStruct('fuse_rename_in', 8, { newdir: 'u64' }, { fault });
export const RENAME2_IN = defineStruct('fuse_rename2_in', 16, { newdir: 'u64', flags: 'u32', _padding: pad(4) }, { fault });
export const LINK_IN = defineStruct('fuse_link_in', 8, { oldnodeid: 'u64' }, { fault });
export const INTERRUPT_IN = defineStruct('fuse_interrupt_in', 8, { unique: 'u64n' }, { fault });
export const LSEEK_IN = defineStruct('fuse_lseek_in', 24, { fh: 'u64', offset: 'u64', whence: 'u32', _padding: pad(4) }, { fault });
export const LSEEK_OUT = defineStruct('fuse_lseek_out', 8, { offset: 'u64' }, { fault });
export const FALLOCATE_IN = defineStruct('fuse_fallocate_in', 32, { fh: 'u64', offset: 'u64', length: 'u64', mode: 'u32', _padding: pad(4) }, { fault });

/** The fixed part of fuse_dirent; the name follows (FUSE_NAME_OFFSET), the record padded to 8 bytes. */
export const DIRENT = defineStruct('fuse_dirent', 24, { ino: 'u64', off: 'u64', namelen: 'u32', type: 'u32' }, { fault });
/** fuse_direntplus before the name (FUSE_NAME_OFFSET_DIRENTPLUS). */
export const DIRENTPLUS = defineStruct('fuse_direntplus', 152, { entryOut: nested(ENTRY_OUT), dirent: nested(DIRENT) }, { fault });

export const NOTIFY_INVAL_INODE_OUT = defineStruct('fuse_notify_inval_inode_out', 24, { ino: 'u64', off: 'i64', len: 'i64' }, { fault });
export const NOTIFY_INVAL_ENTRY_OUT = defineStruct('fuse_notify_inval_entry_out', 16, { parent: 'u64', namelen: 'u32', flags: 'u32' }, { fault });
export const NOTIFY_DELETE_OUT = defineStruct('fuse_notify_delete_out', 24, { parent: 'u64', child: 'u64', namelen: 'u32', _padding: pad(4) }, { fault });
