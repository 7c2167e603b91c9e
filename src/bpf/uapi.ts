/**
 * Numbers from the kernel's uapi <linux/bpf.h> (and <elf.h> for BPF objects) that the TypeScript
 * side needs; the addon itself compiles against the header.
 */
export const BPF_MAP_TYPE_HASH = 1;
export const BPF_MAP_TYPE_ARRAY = 2;

export const BPF_PROG_TYPE_SOCKET_FILTER = 1;
export const BPF_PROG_TYPE_XDP = 6;
export const BPF_PROG_TYPE_SYSCALL = 31;

/** map_flags: allocate hash elements on insert, so an idle map costs next to nothing. */
export const BPF_F_NO_PREALLOC = 1 << 0;
/** prog_flags: SYSCALL programs must be loaded sleepable. */
export const BPF_F_SLEEPABLE = 1 << 4;

/** BPF_MAP_UPDATE_ELEM flags. */
export const BPF_ANY = 0;

/** Object and program names are at most 15 bytes and a NUL. */
export const BPF_OBJ_NAME_LEN = 16;

/** struct bpf_insn: 8 bytes; ld_imm64 takes two. */
export const BPF_INSN_SIZE = 8;
/** BPF_LD | BPF_IMM | BPF_DW: the 16-byte load of a 64-bit immediate (map references). */
export const BPF_LD_IMM64 = 0x18;
/** src_reg of an ld_imm64 whose imm is a map file descriptor. */
export const BPF_PSEUDO_MAP_FD = 1;

/** ELF relocation type for a 64-bit immediate in BPF objects (R_BPF_64_64). */
export const R_BPF_64_64 = 1;

/** The errno values the resolver program answers with (asm-generic/errno-base.h). */
export const RESOLVE_ENOENT = -2;
export const RESOLVE_EIO = -5;
export const RESOLVE_ENXIO = -6;
export const RESOLVE_EINVAL = -22;
