/** Sizes in bytes of the 7.45 wire structs (every struct is padded to 8 bytes). */
export const StructSize = {
  IN_HEADER: 40,
  OUT_HEADER: 16,
  ATTR: 88,
  ENTRY_OUT: 128,
  ATTR_OUT: 104,
  INIT_IN: 64,
  INIT_OUT: 64,
  OPEN_IN: 8,
  OPEN_OUT: 16,
  GETATTR_IN: 16,
  SETATTR_IN: 88,
  READ_IN: 40,
  WRITE_IN: 40,
  WRITE_OUT: 8,
  KSTATFS: 80,
  STATFS_OUT: 80,
  RELEASE_IN: 24,
  FLUSH_IN: 24,
  FSYNC_IN: 16,
  SETXATTR_IN: 8,
  GETXATTR_IN: 8,
  GETXATTR_OUT: 8,
  ACCESS_IN: 8,
  FORGET_IN: 8,
  BATCH_FORGET_IN: 8,
  FORGET_ONE: 16,
  MKNOD_IN: 16,
  MKDIR_IN: 8,
  CREATE_IN: 16,
  RENAME_IN: 8,
  RENAME2_IN: 16,
  LINK_IN: 8,
  INTERRUPT_IN: 8,
  LSEEK_IN: 24,
  LSEEK_OUT: 8,
  FALLOCATE_IN: 32,
  /** Fixed part of fuse_dirent before the name (FUSE_NAME_OFFSET). */
  DIRENT: 24,
  /** entry_out + fixed dirent part before the name (FUSE_NAME_OFFSET_DIRENTPLUS). */
  DIRENTPLUS: 152,
  NOTIFY_INVAL_INODE_OUT: 24,
  NOTIFY_INVAL_ENTRY_OUT: 16,
  NOTIFY_DELETE_OUT: 24,
} as const;

/** Dirent records are padded to a multiple of a u64. */
export const DIRENT_ALIGN = 8;
/** in_header.total_extlen counts trailing request extensions in units of this many bytes. */
export const EXTLEN_UNIT = 8;
