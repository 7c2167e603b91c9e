/*
 * What the addon's source files share: argument helpers and errors defined in famfs_native.c,
 * and each file's registration function, called from its Init.
 * Helpers return 0 after throwing a JS error, 1 on success.
 */
#ifndef FAMFS_NATIVE_H
#define FAMFS_NATIVE_H

#include <node_api.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

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

/*
 * native/uv_watch.c: the lifecycle of a uv_poll_t behind a JS object, shared by the /dev/fuse
 * reader's watcher (poll.c) and the io_uring ring (fuse_uring.c). The owner's record starts with a
 * famfs_watch (which starts with the uv_poll_t), so the record, the watch and the uv handle are
 * one pointer. The JS object owns the record (napi_wrap); the record holds a reference to the
 * object that is strong only while started, so an active watch cannot be collected under libuv
 * and a stopped one does not keep the loop or the object alive. The record is freed once the
 * handle has closed, the object has been finalized and every hold is released. An async cleanup
 * hook closes the handle when the environment (a worker, the process) ends first.
 */
typedef struct famfs_watch famfs_watch;
typedef struct {
  napi_type_tag tag;    /* marks the objects of this kind: another kind's object is refused */
  const char *resource; /* the async resource name async_hooks sees */
  const char *what;     /* for errors: "not a <what>" */
  /* Releases what must go when the handle closes (the ring's fds); runs once, calls no JS. */
  void (*on_close)(famfs_watch *w);
  /* Deletes the owner's own references when the object goes (or is never made). */
  void (*on_finalize)(napi_env env, famfs_watch *w);
  /* Frees the record: runs once, when nothing refers to it any more. */
  void (*on_free)(famfs_watch *w);
} famfs_watch_kind;
struct famfs_watch {
  uv_poll_t poll; /* first: the uv callbacks get this pointer */
  napi_env env;
  const famfs_watch_kind *kind;
  napi_ref self; /* the object; strong while started */
  napi_async_context async;
  napi_async_cleanup_hook_handle cleanup;
  uint32_t holds; /* the owner's other conditions for freeing (the ring's ArrayBuffer) */
  bool started;
  bool closing;       /* uv_close called: no start, no callbacks */
  bool handle_closed; /* its close callback ran */
  bool finalized;     /* the object is gone */
};
/* uv_poll_init on the environment's loop, and the cleanup hook: from here every path ends in the
 * handle's close. On failure (thrown, as `fn`) nothing is registered: the caller frees the record. */
int famfs_watch_init(famfs_watch *w, napi_env env, int fd, const famfs_watch_kind *kind, const char *fn);
/* Makes `obj` own the record. On failure (nothing thrown) the caller calls famfs_watch_abandon. */
int famfs_watch_wrap(famfs_watch *w, napi_value obj);
/* The record when no object will own it (famfs_watch_wrap failed): it goes once the handle closes. */
void famfs_watch_abandon(famfs_watch *w);
/* The record behind an object of `kind`, or NULL after throwing EINVAL (as `fn`). */
famfs_watch *famfs_watch_unwrap(napi_env env, napi_value obj, const famfs_watch_kind *kind, const char *fn);
/* Starts polling for readability and holds the object; on failure (thrown) nothing changes. */
int famfs_watch_start(famfs_watch *w, uv_poll_cb cb);
/* Stops polling and lets the object go; also after libuv stopped the handle on an error. */
void famfs_watch_stop(famfs_watch *w);
/* close() from JS: idempotent; the record goes when the object does. */
void famfs_watch_close(famfs_watch *w);
/* Extra conditions for freeing: each hold is released once. */
void famfs_watch_hold(famfs_watch *w);
void famfs_watch_release(famfs_watch *w);
/* The object in the current handle scope, or NULL once it is gone. */
napi_value famfs_watch_object(famfs_watch *w);
/* Calls cb on the object as an I/O callback (microtasks and nextTicks run after it); an exception
 * goes to process 'uncaughtException' as any throwing callback's would. */
void famfs_watch_call(famfs_watch *w, napi_value obj, napi_value cb, size_t argc, const napi_value *argv);

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
