/*
 * What the addon's source files share: argument helpers and errors defined in famfs_native.c,
 * and each file's registration function, called from its Init.
 * Helpers return 0 after throwing a JS error, 1 on success.
 */
#ifndef FAMFS_NATIVE_H
#define FAMFS_NATIVE_H

#include <node_api.h>
#include <stddef.h>
#include <stdint.h>

/* Throws Error(`${syscall}: ${strerror} (${detail})`) with .code = errno name, .errno, .syscall. */
void famfs_throw_errno(napi_env env, const char *syscall, int err, const char *detail);
int famfs_get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv, const char *fn);
/* A non-negative integer from a JS number (exact up to 2^53) or a BigInt. */
int famfs_get_u64(napi_env env, napi_value v, const char *fn, const char *what, uint64_t *out);
int famfs_get_int(napi_env env, napi_value v, const char *fn, const char *what, int *out);
/* Bytes of an ArrayBuffer, TypedArray/Buffer or DataView. */
int famfs_get_bytes(napi_env env, napi_value v, const char *fn, uint8_t **data, size_t *len);
/* (buf, off, len) from argv[0..2], checked to lie inside the buffer. */
int famfs_get_range(napi_env env, napi_value *argv, const char *fn, uint8_t **start, size_t *len);
napi_value famfs_undefined(napi_env env);
void famfs_set_fn(napi_env env, napi_value obj, const char *name, napi_callback cb);

/* native/bpf.c: the bpf(2) wrappers. */
void famfs_bpf_init(napi_env env, napi_value exports);
/* native/poll.c: fd readiness on the event loop (the FUSE session's reader). */
void famfs_poll_init(napi_env env, napi_value exports);
/* native/fuse_uring.c: FUSE over io_uring on the event loop (the FUSE session's ring transport). */
void famfs_fuse_uring_init(napi_env env, napi_value exports);
/* native/crc32.c: zlib's CRC-32. */
void famfs_crc32_init(napi_env env, napi_value exports);
uint32_t famfs_crc32(uint32_t seed, const uint8_t *p, size_t n);
/* native/replay.c: the log replay's per-entry loop and its path index. */
void famfs_replay_init(napi_env env, napi_value exports);
/* native/pcq.c: seal and check runs of pcq buckets (sequence number and CRC). */
void famfs_pcq_init(napi_env env, napi_value exports);

#endif
