/*
 * The published fmap: the value of the pinned BPF hash map famfs_fmap (key: u64 inode number),
 * one fixed 416-byte record per file. src/bpf/fmap-layout.ts encodes the same bytes and is the
 * documentation; the offsets here must match it (the resolver test proves they do).
 *
 * Extent records are the V10 UAPI's struct fuse_famfs_simple_ext (u32 device index at offset 0),
 * so a record can be handed to a fuse GET_FMAP reply or a fuse_iomap_io without repacking.
 */
#ifndef FAMFS_BPF_FMAP_H
#define FAMFS_BPF_FMAP_H

typedef __UINT64_TYPE__ famfs_u64;
typedef __UINT32_TYPE__ famfs_u32;
typedef __UINT16_TYPE__ famfs_u16;
typedef __INT32_TYPE__ famfs_s32;

#define FAMFS_BPF_FMAP_VERSION 1
#define FAMFS_BPF_MAX_EXTENTS 16 /* famfs log: 16 simple extents, or 16 strips */
#define FAMFS_BPF_EXT_SIMPLE 0
#define FAMFS_BPF_EXT_INTERLEAVE 1

struct famfs_bpf_extent {
  famfs_u32 dev_index;
  famfs_u32 reserved;
  famfs_u64 offset; /* byte offset in the device */
  famfs_u64 len;
};

struct famfs_bpf_fmap {
  famfs_u64 file_size;
  famfs_u32 ext_type;   /* FAMFS_BPF_EXT_* */
  famfs_u32 nextents;   /* simple: extents in file order; interleave: strips */
  famfs_u64 chunk_size; /* interleave only, else 0 */
  famfs_u16 version;    /* FAMFS_BPF_FMAP_VERSION */
  famfs_u16 reserved0;
  famfs_u32 reserved1;
  struct famfs_bpf_extent ext[FAMFS_BPF_MAX_EXTENTS];
};

/* One resolution: the request (ino, offset, length; length 0 = to the end of the piece) and
 * the answer. The same 40 bytes are the SYSCALL program's context and the XDP program's packet. */
struct famfs_bpf_resolve {
  famfs_u64 ino;
  famfs_u64 offset;
  famfs_u64 length;     /* in: bytes wanted; out: bytes mapped from dev_offset on */
  famfs_u64 dev_offset; /* out */
  famfs_s32 rc;         /* out: 0, or -errno */
  famfs_u32 dev_index;  /* out */
};

_Static_assert(sizeof(struct famfs_bpf_extent) == 24, "extent record is 24 bytes");
_Static_assert(sizeof(struct famfs_bpf_fmap) == 416, "fmap record is 416 bytes");
_Static_assert(sizeof(struct famfs_bpf_resolve) == 40, "resolve record is 40 bytes");

#endif
