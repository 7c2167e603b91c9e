/*
 * famfs_native: the few system calls Node cannot make by itself (mmap and friends, flock, ioctl)
 * and CPU cache maintenance for shared memory. Plain C against node_api.h only.
 *
 * Lifetime rules for memory handed to JS:
 *  - Every mapping or reservation is exposed as an external ArrayBuffer that owns one
 *    mapping_record. The ArrayBuffer's finalizer unmaps it, unless munmap() already did.
 *  - munmap() unmaps and then detaches the ArrayBuffer, so every Buffer/TypedArray view over it
 *    drops to length 0: a stale JS access reads undefined instead of touching freed memory.
 *  - The record is found again from the ArrayBuffer through napi_wrap, and a type tag proves the
 *    ArrayBuffer is one of ours before its wrap pointer is trusted.
 */
#define _GNU_SOURCE
#include <node_api.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "native.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define FAMFS_X86 1
#endif

#define MAX_ARGS 7
#define TWO_POW_64 18446744073709551616.0
#define ERR_MSG_LEN 256

/* Bit positions in CPUID results (Intel SDM vol. 2A, CPUID). */
#define CPUID_LEAF_FEATURES 1
#define CPUID_LEAF_EXT_FEATURES 7
#define CPUID_EBX_CLFLUSH_LINE_SHIFT 8 /* leaf 1 EBX[15:8]: line size in 8-byte units */
#define CPUID_EBX_CLFLUSH_LINE_MASK 0xffu
#define CPUID_CLFLUSH_LINE_UNIT 8
#define CPUID_EDX_CLFSH (1u << 19)     /* leaf 1 EDX: clflush present */
#define CPUID_EBX_CLFLUSHOPT (1u << 23) /* leaf 7.0 EBX: clflushopt present */
/* Used when CPUID gives no line size: every x86-64 and arm64 part in use has 64-byte lines. */
#define DEFAULT_CACHE_LINE 64

enum region_kind { REGION_MAPPING = 1, REGION_RESERVATION = 2 };

typedef struct {
  void *addr;
  size_t len;
  int kind;
  /* 1 while the pages are mapped; cleared by munmap() or by the finalizer. */
  int live;
  /* Set while napi_create_external_arraybuffer runs: Node calls the finalizer synchronously
   * when it refuses the buffer (too large), and the record must survive until we look. */
  int creating;
  int finalized;
} mapping_record;

/* Identifies ArrayBuffers this addon created (random, fixed for the life of the format). */
static const napi_type_tag REGION_TAG = {0x66616d6673726567ULL, 0x9d3c52a1e07b44f1ULL};

enum flush_method { FLUSH_FENCE_ONLY = 0, FLUSH_CLFLUSH = 1, FLUSH_CLFLUSHOPT = 2 };
static enum flush_method g_flush_method = FLUSH_FENCE_ONLY;
static size_t g_cache_line = DEFAULT_CACHE_LINE;
static size_t g_page_size = 0;

/* ------------------------------------------------------------------------------------------ */
/* errors */

static const char *errno_name(int err) {
  switch (err) {
#define E(x) case x: return #x;
    E(EPERM) E(ENOENT) E(EINTR) E(EIO) E(ENXIO) E(E2BIG) E(EBADF) E(EAGAIN) E(ENOMEM) E(EACCES)
    E(EFAULT) E(EBUSY) E(EEXIST) E(EXDEV) E(ENODEV) E(ENOTDIR) E(EISDIR) E(EINVAL) E(ENFILE)
    E(EMFILE) E(ENOTTY) E(ETXTBSY) E(EFBIG) E(ENOSPC) E(ESPIPE) E(EROFS) E(ERANGE) E(EDEADLK)
    E(ENOLCK) E(ENOSYS) E(EOVERFLOW) E(EOPNOTSUPP) E(ENOTCONN) E(ECONNABORTED) E(ETIMEDOUT)
#undef E
    default: return "EUNKNOWN";
  }
}

/* Throws Error(`${syscall}: ${strerror} (${detail})`) with .code = errno name, .errno, .syscall. */
void famfs_throw_errno(napi_env env, const char *syscall, int err, const char *detail) {
  char msg[ERR_MSG_LEN];
  if (detail != NULL)
    snprintf(msg, sizeof msg, "%s: %s (%s)", syscall, strerror(err), detail);
  else
    snprintf(msg, sizeof msg, "%s: %s", syscall, strerror(err));

  napi_value js_msg, js_code, error, js_errno, js_syscall;
  if (napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &js_msg) != napi_ok ||
      napi_create_string_utf8(env, errno_name(err), NAPI_AUTO_LENGTH, &js_code) != napi_ok ||
      napi_create_error(env, js_code, js_msg, &error) != napi_ok) {
    napi_throw_error(env, errno_name(err), msg);
    return;
  }
  if (napi_create_int32(env, err, &js_errno) == napi_ok)
    napi_set_named_property(env, error, "errno", js_errno);
  if (napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &js_syscall) == napi_ok)
    napi_set_named_property(env, error, "syscall", js_syscall);
  napi_throw(env, error);
}

/* An exception may already be pending (e.g. from a failed napi call); replace it with ours. */
static void rethrow_errno(napi_env env, const char *syscall, int err, const char *detail) {
  bool pending = false;
  napi_value ignored;
  if (napi_is_exception_pending(env, &pending) == napi_ok && pending)
    napi_get_and_clear_last_exception(env, &ignored);
  famfs_throw_errno(env, syscall, err, detail);
}

/* ------------------------------------------------------------------------------------------ */
/* argument helpers: each returns 0 after throwing, 1 on success */

int famfs_get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv,
                    const char *fn) {
  size_t argc = MAX_ARGS;
  napi_value all[MAX_ARGS];
  if (napi_get_cb_info(env, info, &argc, all, NULL, NULL) != napi_ok) {
    famfs_throw_errno(env, fn, EINVAL, "cannot read arguments");
    return 0;
  }
  napi_value undef;
  napi_get_undefined(env, &undef);
  for (size_t i = 0; i < want; i++) argv[i] = i < argc ? all[i] : undef;
  return 1;
}

/* A non-negative integer from a JS number (exact up to 2^53) or a BigInt. */
int famfs_get_u64(napi_env env, napi_value v, const char *fn, const char *what, uint64_t *out) {
  napi_valuetype t;
  napi_typeof(env, v, &t);
  if (t == napi_bigint) {
    bool lossless = false;
    uint64_t x;
    if (napi_get_value_bigint_uint64(env, v, &x, &lossless) != napi_ok || !lossless) {
      famfs_throw_errno(env, fn, EINVAL, what);
      return 0;
    }
    *out = x;
    return 1;
  }
  double d;
  /* the range test comes first: it rejects NaN and keeps the cast below defined */
  if (t != napi_number || napi_get_value_double(env, v, &d) != napi_ok ||
      !(d >= 0 && d < TWO_POW_64) || d != (double)(uint64_t)d) {
    famfs_throw_errno(env, fn, EINVAL, what);
    return 0;
  }
  *out = (uint64_t)d;
  return 1;
}

int famfs_get_int(napi_env env, napi_value v, const char *fn, const char *what, int *out) {
  napi_valuetype t;
  napi_typeof(env, v, &t);
  int32_t x;
  if (t != napi_number || napi_get_value_int32(env, v, &x) != napi_ok) {
    famfs_throw_errno(env, fn, EINVAL, what);
    return 0;
  }
  *out = x;
  return 1;
}

/* Bytes of an ArrayBuffer, TypedArray/Buffer or DataView. A detached buffer has length 0. */
int famfs_get_bytes(napi_env env, napi_value v, const char *fn, uint8_t **data, size_t *len) {
  bool is = false;
  void *p = NULL;
  size_t n = 0;
  if (napi_is_arraybuffer(env, v, &is) == napi_ok && is) {
    if (napi_get_arraybuffer_info(env, v, &p, &n) != napi_ok) goto bad;
  } else if (napi_is_typedarray(env, v, &is) == napi_ok && is) {
    napi_typedarray_type type;
    size_t elements, byte_offset;
    napi_value ab;
    if (napi_get_typedarray_info(env, v, &type, &elements, &p, &ab, &byte_offset) != napi_ok)
      goto bad;
    /* napi reports a typed array's length in elements and its data already offset */
    size_t elem_size;
    switch (type) {
      case napi_int8_array: case napi_uint8_array: case napi_uint8_clamped_array: elem_size = 1; break;
      case napi_int16_array: case napi_uint16_array: elem_size = 2; break;
      case napi_int32_array: case napi_uint32_array: case napi_float32_array: elem_size = 4; break;
      default: elem_size = 8; break;
    }
    n = elements * elem_size;
  } else if (napi_is_dataview(env, v, &is) == napi_ok && is) {
    napi_value ab;
    size_t byte_offset;
    if (napi_get_dataview_info(env, v, &n, &p, &ab, &byte_offset) != napi_ok) goto bad;
  } else {
    goto bad;
  }
  *data = p;
  *len = n;
  return 1;
bad:
  famfs_throw_errno(env, fn, EINVAL, "expected an ArrayBuffer, Buffer or TypedArray");
  return 0;
}

/* Reads (buf, off, len) and checks the range lies inside the buffer. */
int famfs_get_range(napi_env env, napi_value *argv, const char *fn, uint8_t **start,
                     size_t *len) {
  uint8_t *data;
  size_t size;
  uint64_t off, n;
  if (!famfs_get_bytes(env, argv[0], fn, &data, &size) ||
      !famfs_get_u64(env, argv[1], fn, "offset must be a non-negative integer", &off) ||
      !famfs_get_u64(env, argv[2], fn, "length must be a non-negative integer", &n))
    return 0;
  if (off > size || n > size - off) {
    char detail[ERR_MSG_LEN];
    snprintf(detail, sizeof detail, "range %llu+%llu is outside a buffer of %zu bytes",
             (unsigned long long)off, (unsigned long long)n, size);
    famfs_throw_errno(env, fn, ERANGE, detail);
    return 0;
  }
  *start = data + off;
  *len = (size_t)n;
  return 1;
}

/* The record behind an ArrayBuffer this addon made; NULL (nothing thrown) if it has none. */
static mapping_record *record_of(napi_env env, napi_value ab) {
  bool is = false, tagged = false;
  void *rec = NULL;
  if (napi_is_arraybuffer(env, ab, &is) != napi_ok || !is) return NULL;
  if (napi_check_object_type_tag(env, ab, &REGION_TAG, &tagged) != napi_ok || !tagged) return NULL;
  if (napi_unwrap(env, ab, &rec) != napi_ok) return NULL;
  return rec;
}

napi_value famfs_undefined(napi_env env) {
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}

/* ------------------------------------------------------------------------------------------ */
/* regions: mappings and reservations exposed as ArrayBuffers */

static void region_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)data;
  mapping_record *rec = hint;
  if (rec->live) {
    munmap(rec->addr, rec->len);
    rec->live = 0;
  }
  if (rec->creating) {
    rec->finalized = 1; /* wrap_region still looks at it and frees it */
    return;
  }
  free(rec);
}

/* Hands addr/len to JS as an ArrayBuffer; on any failure the pages are unmapped and a JS error
 * is pending. */
static napi_value wrap_region(napi_env env, void *addr, size_t len, int kind, const char *fn) {
  mapping_record *rec = calloc(1, sizeof *rec);
  if (rec == NULL) {
    munmap(addr, len);
    famfs_throw_errno(env, fn, ENOMEM, "mapping record");
    return NULL;
  }
  rec->addr = addr;
  rec->len = len;
  rec->kind = kind;
  rec->live = 1;
  rec->creating = 1;

  napi_value ab;
  napi_status st = napi_create_external_arraybuffer(env, addr, len, region_finalize, rec, &ab);
  rec->creating = 0;
  if (st != napi_ok) {
    if (rec->live) {
      munmap(addr, len);
      rec->live = 0;
    }
    /* If Node never called the finalizer it may still do so later, and that call frees rec. */
    if (rec->finalized) free(rec);
    char detail[ERR_MSG_LEN];
    snprintf(detail, sizeof detail,
             "cannot expose %zu bytes as an ArrayBuffer; Node caps one at a smaller size", len);
    rethrow_errno(env, fn, EOVERFLOW, detail);
    return NULL;
  }
  if (napi_type_tag_object(env, ab, &REGION_TAG) != napi_ok ||
      napi_wrap(env, ab, rec, NULL, NULL, NULL) != napi_ok) {
    /* The ArrayBuffer exists and its finalizer owns rec: unmap now, let GC free the record. */
    munmap(addr, len);
    rec->live = 0;
    napi_detach_arraybuffer(env, ab);
    rethrow_errno(env, fn, EINVAL, "cannot tag the ArrayBuffer");
    return NULL;
  }
  return ab;
}

/* mmap(fd, offset, length, prot, flags) -> ArrayBuffer */
static napi_value js_mmap(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  int fd, prot, flags;
  uint64_t off, len;
  if (!famfs_get_args(env, info, 5, argv, "mmap") ||
      !famfs_get_int(env, argv[0], "mmap", "fd must be an integer", &fd) ||
      !famfs_get_u64(env, argv[1], "mmap", "offset must be a non-negative integer", &off) ||
      !famfs_get_u64(env, argv[2], "mmap", "length must be a non-negative integer", &len) ||
      !famfs_get_int(env, argv[3], "mmap", "prot must be an integer", &prot) ||
      !famfs_get_int(env, argv[4], "mmap", "flags must be an integer", &flags))
    return NULL;
  if (len == 0 || len > SIZE_MAX || off > INT64_MAX) {
    famfs_throw_errno(env, "mmap", EINVAL, "length must be positive and offset must fit off_t");
    return NULL;
  }
  void *addr = mmap(NULL, (size_t)len, prot, flags, fd, (off_t)off);
  if (addr == MAP_FAILED) {
    famfs_throw_errno(env, "mmap", errno, NULL);
    return NULL;
  }
  return wrap_region(env, addr, (size_t)len, REGION_MAPPING, "mmap");
}

/* reserve(length, alignment = 0) -> ArrayBuffer of PROT_NONE address space.
 * DAX devices refuse a mapping whose virtual address is not aligned to the device alignment
 * (2 MiB normally), so a reservation for them is over-allocated and trimmed to that alignment. */
static napi_value js_reserve(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  uint64_t len, align = 0;
  napi_valuetype t;
  if (!famfs_get_args(env, info, 2, argv, "reserve") ||
      !famfs_get_u64(env, argv[0], "reserve", "length must be a non-negative integer", &len))
    return NULL;
  napi_typeof(env, argv[1], &t);
  if (t != napi_undefined &&
      !famfs_get_u64(env, argv[1], "reserve", "alignment must be a non-negative integer", &align))
    return NULL;
  if (align < g_page_size) align = g_page_size;
  if (len == 0 || len > SIZE_MAX / 2 || (align & (align - 1)) != 0 || align > SIZE_MAX / 2) {
    famfs_throw_errno(env, "reserve", EINVAL, "length must be positive, alignment a power of two");
    return NULL;
  }
  size_t want = (size_t)len, slack = (size_t)align - g_page_size;
  uint8_t *raw = mmap(NULL, want + slack, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                      -1, 0);
  if (raw == MAP_FAILED) {
    famfs_throw_errno(env, "reserve", errno, NULL);
    return NULL;
  }
  uint8_t *base = (uint8_t *)(((uintptr_t)raw + (size_t)align - 1) & ~((uintptr_t)align - 1));
  size_t head = (size_t)(base - raw);
  size_t mapped_end = ((want + g_page_size - 1) / g_page_size) * g_page_size;
  size_t tail = slack - head;
  if (head > 0) munmap(raw, head);
  if (tail > 0) munmap(base + mapped_end, tail);
  return wrap_region(env, base, want, REGION_RESERVATION, "reserve");
}

/* mapFixed(ab, abOffset, fd, fileOffset, length, prot, extraFlags = 0) */
static napi_value js_map_fixed(napi_env env, napi_callback_info info) {
  napi_value argv[7];
  int fd, prot, extra = 0;
  uint64_t file_off;
  uint8_t *start;
  size_t len;
  napi_valuetype t;
  napi_value range_args[3];
  if (!famfs_get_args(env, info, 7, argv, "mapFixed")) return NULL;
  mapping_record *rec = record_of(env, argv[0]);
  if (rec == NULL || rec->kind != REGION_RESERVATION || !rec->live) {
    famfs_throw_errno(env, "mapFixed", EINVAL, "first argument must be a live reservation");
    return NULL;
  }
  range_args[0] = argv[0];
  range_args[1] = argv[1];
  range_args[2] = argv[4];
  if (!famfs_get_range(env, range_args, "mapFixed", &start, &len) ||
      !famfs_get_int(env, argv[2], "mapFixed", "fd must be an integer", &fd) ||
      !famfs_get_u64(env, argv[3], "mapFixed", "fileOffset must be a non-negative integer", &file_off) ||
      !famfs_get_int(env, argv[5], "mapFixed", "prot must be an integer", &prot))
    return NULL;
  napi_typeof(env, argv[6], &t);
  if (t != napi_undefined && !famfs_get_int(env, argv[6], "mapFixed", "flags must be an integer", &extra))
    return NULL;
  if (len == 0 || file_off > INT64_MAX) {
    famfs_throw_errno(env, "mapFixed", EINVAL, "length must be positive and offset must fit off_t");
    return NULL;
  }
  void *got = mmap(start, len, prot, MAP_SHARED | MAP_FIXED | extra, fd, (off_t)file_off);
  if (got == MAP_FAILED) {
    int err = errno;
    /* A failed MAP_FIXED may already have torn down the old pages. Put the PROT_NONE
     * reservation back so no other mapping can land in our range and later be unmapped by us. */
    mmap(start, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
    famfs_throw_errno(env, "mapFixed", err, NULL);
    return NULL;
  }
  return famfs_undefined(env);
}

/* munmap(ab): idempotent. */
static napi_value js_munmap(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!famfs_get_args(env, info, 1, argv, "munmap")) return NULL;
  bool is = false, detached = false, tagged = false;
  if (napi_is_arraybuffer(env, argv[0], &is) != napi_ok || !is ||
      napi_check_object_type_tag(env, argv[0], &REGION_TAG, &tagged) != napi_ok || !tagged) {
    famfs_throw_errno(env, "munmap", EINVAL, "not an ArrayBuffer made by mmap or reserve");
    return NULL;
  }
  napi_is_detached_arraybuffer(env, argv[0], &detached);
  mapping_record *rec = record_of(env, argv[0]);
  if (detached || rec == NULL || !rec->live) return famfs_undefined(env);
  if (munmap(rec->addr, rec->len) != 0) {
    famfs_throw_errno(env, "munmap", errno, NULL);
    return NULL;
  }
  rec->live = 0;
  /* Detaching frees the backing store, which runs the finalizer soon (it frees rec), so the
   * wrap pointer must go first. */
  void *ignored;
  napi_remove_wrap(env, argv[0], &ignored);
  napi_detach_arraybuffer(env, argv[0]);
  return famfs_undefined(env);
}

/* ------------------------------------------------------------------------------------------ */
/* msync, madvise */

/* msync(ab, off, len, flags): widened to whole pages, which only syncs more. */
static napi_value js_msync(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  uint8_t *start;
  size_t len;
  int flags;
  if (!famfs_get_args(env, info, 4, argv, "msync") || !famfs_get_range(env, argv, "msync", &start, &len) ||
      !famfs_get_int(env, argv[3], "msync", "flags must be an integer", &flags))
    return NULL;
  if (len == 0) return famfs_undefined(env);
  uintptr_t first = (uintptr_t)start & ~(uintptr_t)(g_page_size - 1);
  size_t span = (size_t)((uintptr_t)start + len - first);
  if (msync((void *)first, span, flags) != 0) {
    famfs_throw_errno(env, "msync", errno, NULL);
    return NULL;
  }
  return famfs_undefined(env);
}

/* madvise(ab, off, len, advice): not widened, since some advice (DONTNEED) discards data. */
static napi_value js_madvise(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  uint8_t *start;
  size_t len;
  int advice;
  if (!famfs_get_args(env, info, 4, argv, "madvise") || !famfs_get_range(env, argv, "madvise", &start, &len) ||
      !famfs_get_int(env, argv[3], "madvise", "advice must be an integer", &advice))
    return NULL;
  if (madvise(start, len, advice) != 0) {
    famfs_throw_errno(env, "madvise", errno, NULL);
    return NULL;
  }
  return famfs_undefined(env);
}

/* ------------------------------------------------------------------------------------------ */
/* CPU cache maintenance.
 * Another host sharing the memory (CXL) sees only what has left this CPU's caches, and sees
 * stale lines of its own unless it drops them before reading. */

#ifdef FAMFS_X86
static void detect_flush_method(void) {
  unsigned a, b, c, d;
  if (__get_cpuid(CPUID_LEAF_FEATURES, &a, &b, &c, &d) && (d & CPUID_EDX_CLFSH)) {
    size_t line = ((b >> CPUID_EBX_CLFLUSH_LINE_SHIFT) & CPUID_EBX_CLFLUSH_LINE_MASK) *
                  CPUID_CLFLUSH_LINE_UNIT;
    if (line != 0) g_cache_line = line;
    g_flush_method = FLUSH_CLFLUSH;
    if (__get_cpuid_count(CPUID_LEAF_EXT_FEATURES, 0, &a, &b, &c, &d) && (b & CPUID_EBX_CLFLUSHOPT))
      g_flush_method = FLUSH_CLFLUSHOPT;
  }
}

static void flush_lines(const uint8_t *start, size_t len) {
  uintptr_t line = (uintptr_t)start & ~(uintptr_t)(g_cache_line - 1);
  uintptr_t end = (uintptr_t)start + len;
  if (g_flush_method == FLUSH_CLFLUSHOPT) {
    for (; line < end; line += g_cache_line)
      __asm__ volatile("clflushopt %0" : "+m"(*(volatile char *)line));
  } else if (g_flush_method == FLUSH_CLFLUSH) {
    for (; line < end; line += g_cache_line)
      __asm__ volatile("clflush %0" : "+m"(*(volatile char *)line));
  }
  /* clflushopt is weakly ordered: the fence makes the write-backs complete before any later
   * store (e.g. the one that publishes a log entry); mfence also keeps later loads from being
   * satisfied from lines fetched before the flush. */
  __asm__ volatile("mfence" ::: "memory");
}
#else
static void detect_flush_method(void) {}

static void flush_lines(const uint8_t *start, size_t len) {
  /* No portable user-space cache flush here: this only orders memory accesses, which is
   * enough for coherent memory on one host but not for cross-host visibility. */
  (void)start;
  (void)len;
  __sync_synchronize();
}
#endif

/* flushCache(ab, off, len): write back and invalidate the lines. */
static napi_value js_flush_cache(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  uint8_t *start;
  size_t len;
  if (!famfs_get_args(env, info, 3, argv, "flushCache") ||
      !famfs_get_range(env, argv, "flushCache", &start, &len))
    return NULL;
  if (len > 0) flush_lines(start, len);
  return famfs_undefined(env);
}

/* invalidateCache(ab, off, len): on x86 there is no invalidate-without-write-back for user
 * space, and clflush does both, so it is the same operation. */
static napi_value js_invalidate_cache(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  uint8_t *start;
  size_t len;
  if (!famfs_get_args(env, info, 3, argv, "invalidateCache") ||
      !famfs_get_range(env, argv, "invalidateCache", &start, &len))
    return NULL;
  if (len > 0) flush_lines(start, len);
  return famfs_undefined(env);
}

/* ------------------------------------------------------------------------------------------ */
/* flock, memcpy, ioctl, mount, dup2 */

/* flock(fd, op) -> true, or false when LOCK_NB was given and the lock is held elsewhere. */
static napi_value js_flock(napi_env env, napi_callback_info info) {
  napi_value argv[2], result;
  int fd, op, rc;
  if (!famfs_get_args(env, info, 2, argv, "flock") ||
      !famfs_get_int(env, argv[0], "flock", "fd must be an integer", &fd) ||
      !famfs_get_int(env, argv[1], "flock", "op must be an integer", &op))
    return NULL;
  do {
    rc = flock(fd, op);
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    if ((op & LOCK_NB) && errno == EWOULDBLOCK) {
      napi_get_boolean(env, false, &result);
      return result;
    }
    famfs_throw_errno(env, "flock", errno, NULL);
    return NULL;
  }
  napi_get_boolean(env, true, &result);
  return result;
}

/* A string argument, at most `size` - 1 bytes. */
static int get_string(napi_env env, napi_value v, const char *fn, const char *what, char *out, size_t size) {
  size_t len;
  if (napi_get_value_string_utf8(env, v, out, size, &len) != napi_ok || len >= size - 1) {
    famfs_throw_errno(env, fn, EINVAL, what);
    return 0;
  }
  return 1;
}

#define MOUNT_STRING_MAX 4096

/* mount(source, target, fstype, flags, data): mount(2), so a FUSE mount needs no mount(8) process. */
static napi_value js_mount(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  char source[MOUNT_STRING_MAX], target[MOUNT_STRING_MAX], fstype[MOUNT_STRING_MAX], data[MOUNT_STRING_MAX];
  uint64_t flags;
  const char *fn = "mount";
  if (!famfs_get_args(env, info, 5, argv, fn) || !get_string(env, argv[0], fn, "source must be a short string", source, sizeof source) ||
      !get_string(env, argv[1], fn, "target must be a short string", target, sizeof target) ||
      !get_string(env, argv[2], fn, "fstype must be a short string", fstype, sizeof fstype) ||
      !famfs_get_u64(env, argv[3], fn, "flags must be a non-negative integer", &flags) ||
      !get_string(env, argv[4], fn, "data must be a short string", data, sizeof data))
    return NULL;
  if (mount(source, target, fstype, (unsigned long)flags, data) != 0) {
    famfs_throw_errno(env, fn, errno, target);
    return NULL;
  }
  return famfs_undefined(env);
}

/* dup2(oldfd, newfd): lets a daemon send its stdout and stderr to a log it opens itself. */
static napi_value js_dup2(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int from, to, rc;
  if (!famfs_get_args(env, info, 2, argv, "dup2") || !famfs_get_int(env, argv[0], "dup2", "fd must be an integer", &from) ||
      !famfs_get_int(env, argv[1], "dup2", "fd must be an integer", &to))
    return NULL;
  do {
    rc = dup2(from, to);
  } while (rc < 0 && errno == EINTR);
  if (rc < 0) {
    famfs_throw_errno(env, "dup2", errno, NULL);
    return NULL;
  }
  return famfs_undefined(env);
}

#define XATTR_NAME_MAX_BYTES 256
#define XATTR_VALUE_MAX_BYTES 256

/* fsetxattr(fd, name, value): marks a file (an emulated device records that this tool made it). */
static napi_value js_fsetxattr(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  int fd;
  char name[XATTR_NAME_MAX_BYTES], value[XATTR_VALUE_MAX_BYTES];
  const char *fn = "fsetxattr";
  if (!famfs_get_args(env, info, 3, argv, fn) || !famfs_get_int(env, argv[0], fn, "fd must be an integer", &fd) ||
      !get_string(env, argv[1], fn, "name must be a short string", name, sizeof name) ||
      !get_string(env, argv[2], fn, "value must be a short string", value, sizeof value))
    return NULL;
  if (fsetxattr(fd, name, value, strlen(value), 0) != 0) {
    famfs_throw_errno(env, fn, errno, name);
    return NULL;
  }
  return famfs_undefined(env);
}

/* fgetxattr(fd, name): the attribute's value as a string, or null when the file has none. */
static napi_value js_fgetxattr(napi_env env, napi_callback_info info) {
  napi_value argv[2], result;
  int fd;
  char name[XATTR_NAME_MAX_BYTES], value[XATTR_VALUE_MAX_BYTES];
  const char *fn = "fgetxattr";
  if (!famfs_get_args(env, info, 2, argv, fn) || !famfs_get_int(env, argv[0], fn, "fd must be an integer", &fd) ||
      !get_string(env, argv[1], fn, "name must be a short string", name, sizeof name))
    return NULL;
  ssize_t n = fgetxattr(fd, name, value, sizeof value);
  if (n < 0) {
    if (errno == ENODATA || errno == ENOTSUP) {
      napi_get_null(env, &result);
      return result;
    }
    famfs_throw_errno(env, fn, errno, name);
    return NULL;
  }
  napi_create_string_utf8(env, value, (size_t)n, &result);
  return result;
}

/* punchHole(fd, offset, length): fallocate(PUNCH_HOLE | KEEP_SIZE). The range of a file then reads
 * as zeros and holds no memory: mkfs clears an emulated device's log this way. */
static napi_value js_punch_hole(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  int fd, rc;
  uint64_t off, len;
  const char *fn = "punchHole";
  if (!famfs_get_args(env, info, 3, argv, fn) || !famfs_get_int(env, argv[0], fn, "fd must be an integer", &fd) ||
      !famfs_get_u64(env, argv[1], fn, "offset must be a non-negative integer", &off) ||
      !famfs_get_u64(env, argv[2], fn, "length must be a non-negative integer", &len))
    return NULL;
  do {
    rc = fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len);
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    famfs_throw_errno(env, fn, errno, NULL);
    return NULL;
  }
  return famfs_undefined(env);
}

/* seekData(fd, offset, hole): lseek(SEEK_DATA, or SEEK_HOLE when hole is true); -1 when there is
 * no data at or after offset (ENXIO). Lets a sparse file be copied without reading its holes. */
static napi_value js_seek_data(napi_env env, napi_callback_info info) {
  napi_value argv[3], result;
  int fd;
  uint64_t offset;
  bool hole;
  if (!famfs_get_args(env, info, 3, argv, "seekData") ||
      !famfs_get_int(env, argv[0], "seekData", "fd must be an integer", &fd) ||
      !famfs_get_u64(env, argv[1], "seekData", "offset must be a non-negative integer", &offset))
    return NULL;
  if (offset > (uint64_t)INT64_MAX || napi_get_value_bool(env, argv[2], &hole) != napi_ok) {
    famfs_throw_errno(env, "seekData", EINVAL, "offset must fit off_t and hole must be a boolean");
    return NULL;
  }
  off_t at = lseek(fd, (off_t)offset, hole ? SEEK_HOLE : SEEK_DATA);
  if (at < 0 && errno != ENXIO) {
    famfs_throw_errno(env, "seekData", errno, NULL);
    return NULL;
  }
  napi_create_double(env, at < 0 ? -1.0 : (double)at, &result);
  return result;
}

/* memcpy(dst, dstOff, src, srcOff, len) */
static napi_value js_memcpy(napi_env env, napi_callback_info info) {
  napi_value argv[5], dst_args[3], src_args[3];
  uint8_t *dst, *src;
  size_t dst_len, src_len;
  if (!famfs_get_args(env, info, 5, argv, "memcpy")) return NULL;
  dst_args[0] = argv[0];
  dst_args[1] = argv[1];
  dst_args[2] = argv[4];
  src_args[0] = argv[2];
  src_args[1] = argv[3];
  src_args[2] = argv[4];
  if (!famfs_get_range(env, dst_args, "memcpy", &dst, &dst_len) ||
      !famfs_get_range(env, src_args, "memcpy", &src, &src_len))
    return NULL;
  if (dst + dst_len <= src || src + src_len <= dst)
    memcpy(dst, src, dst_len);
  else
    memmove(dst, src, dst_len);
  return famfs_undefined(env);
}

/* ioctl(fd, request, buffer | number | undefined) -> the ioctl's return value */
static napi_value js_ioctl(napi_env env, napi_callback_info info) {
  napi_value argv[3], result;
  int fd, rc;
  uint64_t request, number = 0;
  napi_valuetype t;
  if (!famfs_get_args(env, info, 3, argv, "ioctl") ||
      !famfs_get_int(env, argv[0], "ioctl", "fd must be an integer", &fd) ||
      !famfs_get_u64(env, argv[1], "ioctl", "request must be a non-negative integer", &request))
    return NULL;
  napi_typeof(env, argv[2], &t);
  if (t == napi_undefined || t == napi_number || t == napi_bigint) {
    if (t != napi_undefined &&
        !famfs_get_u64(env, argv[2], "ioctl", "argument must be a non-negative integer", &number))
      return NULL;
    rc = ioctl(fd, (unsigned long)request, (unsigned long)number);
  } else {
    uint8_t *data;
    size_t len;
    if (!famfs_get_bytes(env, argv[2], "ioctl", &data, &len)) return NULL;
    rc = ioctl(fd, (unsigned long)request, data);
  }
  if (rc == -1) {
    famfs_throw_errno(env, "ioctl", errno, NULL);
    return NULL;
  }
  napi_create_int32(env, rc, &result);
  return result;
}

/* ------------------------------------------------------------------------------------------ */
/* module */

static void set_int(napi_env env, napi_value obj, const char *name, int64_t value) {
  napi_value v;
  napi_create_int64(env, value, &v);
  napi_set_named_property(env, obj, name, v);
}

void famfs_set_fn(napi_env env, napi_value obj, const char *name, napi_callback cb) {
  napi_value fn;
  napi_create_function(env, name, NAPI_AUTO_LENGTH, cb, NULL, &fn);
  napi_set_named_property(env, obj, name, fn);
}


static napi_value Init(napi_env env, napi_value exports) {
  famfs_bpf_init(env, exports);
  famfs_poll_init(env, exports);
  famfs_fuse_uring_init(env, exports);
  famfs_crc32_init(env, exports);
  famfs_replay_init(env, exports);
  famfs_pcq_init(env, exports);
  long page = sysconf(_SC_PAGESIZE);
  g_page_size = page > 0 ? (size_t)page : 4096;
  detect_flush_method();

  famfs_set_fn(env, exports, "mmap", js_mmap);
  famfs_set_fn(env, exports, "munmap", js_munmap);
  famfs_set_fn(env, exports, "reserve", js_reserve);
  famfs_set_fn(env, exports, "mapFixed", js_map_fixed);
  famfs_set_fn(env, exports, "msync", js_msync);
  famfs_set_fn(env, exports, "madvise", js_madvise);
  famfs_set_fn(env, exports, "flushCache", js_flush_cache);
  famfs_set_fn(env, exports, "invalidateCache", js_invalidate_cache);
  famfs_set_fn(env, exports, "flock", js_flock);
  famfs_set_fn(env, exports, "memcpy", js_memcpy);
  famfs_set_fn(env, exports, "ioctl", js_ioctl);
  famfs_set_fn(env, exports, "mount", js_mount);
  famfs_set_fn(env, exports, "dup2", js_dup2);
  famfs_set_fn(env, exports, "fsetxattr", js_fsetxattr);
  famfs_set_fn(env, exports, "punchHole", js_punch_hole);
  famfs_set_fn(env, exports, "fgetxattr", js_fgetxattr);
  famfs_set_fn(env, exports, "seekData", js_seek_data);

/* Linux 5.14; older C libraries do not name them. */
#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
#define C(x) set_int(env, exports, #x, x);
  C(PROT_NONE) C(PROT_READ) C(PROT_WRITE) C(PROT_EXEC)
  C(MAP_SHARED) C(MAP_PRIVATE) C(MAP_POPULATE)
  C(MS_ASYNC) C(MS_SYNC) C(MS_INVALIDATE)
  C(MADV_NORMAL) C(MADV_RANDOM) C(MADV_SEQUENTIAL) C(MADV_WILLNEED) C(MADV_DONTNEED)
  C(MADV_HUGEPAGE) C(MADV_NOHUGEPAGE) C(MADV_POPULATE_READ) C(MADV_POPULATE_WRITE)
  C(LOCK_SH) C(LOCK_EX) C(LOCK_UN) C(LOCK_NB)
  C(MS_RDONLY) C(MS_NOSUID) C(MS_NODEV)
#undef C
  set_int(env, exports, "PAGE_SIZE", (int64_t)g_page_size);
  set_int(env, exports, "CACHE_LINE_SIZE", (int64_t)g_cache_line);

  napi_value method;
  const char *names[] = {"fence", "clflush", "clflushopt"};
  napi_create_string_utf8(env, names[g_flush_method], NAPI_AUTO_LENGTH, &method);
  napi_set_named_property(env, exports, "CACHE_FLUSH_METHOD", method);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
