/*
 * Readiness of a file descriptor on Node's own event loop, so a FUSE session can serve /dev/fuse
 * from the main thread the way libfuse's single-threaded loop does: the kernel wakes the one
 * thread that reads, handles and replies, with no hand-off between threads.
 *
 *   fdWatch(fd, onReadable) -> watcher { start(), stop(), close() }
 *     A uv_poll_t on the loop of the calling environment. While started, onReadable(status) runs
 *     on that thread each time the fd is readable (status 0) or has failed (status < 0: a libuv
 *     error; the watcher is then already stopped). It keeps the loop alive only while started.
 *   readOrErrno(fd, bytes) -> n >= 0, or -errno
 *     read(2) that returns the errno instead of throwing: a non-blocking reader meets EAGAIN
 *     once per wake-up, and building an exception for it costs more than the read.
 *   writevOrErrno(fd, [bytes...]) -> n >= 0, or -errno
 *     writev(2) of the pieces in one call (a FUSE reply must be one write): what fs.writevSync
 *     does, without its request bookkeeping, trace hooks and exception on failure, which cost
 *     more per reply than the system call when the reply is a few hundred bytes.
 *   setNonBlocking(fd, on)
 *
 * Lifetime: native/uv_watch.c. The watcher object owns the record (a famfs_watch, nothing more);
 * the record holds the object, and the handle the loop, only while started.
 */
#define _GNU_SOURCE
#include <node_api.h>
#include <uv.h>

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/uio.h>
#include <unistd.h>

#include "native.h"

#define WATCH_ARGS 2
#define READ_ARGS 2
#define NONBLOCK_ARGS 2
#define WRITEV_ARGS 2
/* Linux's IOV_MAX; the session never sends more pieces. */
#define MAX_IOV 1024
#define CALLBACK_PROPERTY "onReadable"
#define RESOURCE_NAME "famfs.FdWatch"

static void free_watcher(famfs_watch *w) {
  free(w);
}

static const famfs_watch_kind WATCHER_KIND = {
    .tag = {0x66616d6673706f6cULL, 0x5b1e0c7d42a93f68ULL},
    .resource = RESOURCE_NAME,
    .what = "not a watcher from fdWatch()",
    .on_free = free_watcher,
};

static void on_poll(uv_poll_t *h, int status, int events) {
  (void)events;
  famfs_watch *w = (famfs_watch *)h;
  napi_env env = w->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value cb, arg;
  /* Taken before famfs_watch_stop() may weaken the reference: this local keeps the object alive. */
  napi_value self = famfs_watch_object(w);
  /* libuv stops the handle itself when it reports an error (POLLERR: the fd was disconnected). */
  if (status < 0) famfs_watch_stop(w);
  if (self != NULL && napi_get_named_property(env, self, CALLBACK_PROPERTY, &cb) == napi_ok &&
      napi_create_int32(env, status, &arg) == napi_ok)
    famfs_watch_call(w, self, cb, 1, &arg);
  napi_close_handle_scope(env, scope);
}

/* The watch behind `this`, or NULL after throwing. */
static famfs_watch *this_watch(napi_env env, napi_callback_info info, const char *fn) {
  napi_value self = NULL;
  size_t argc = 0;
  if (napi_get_cb_info(env, info, &argc, NULL, &self, NULL) != napi_ok) self = NULL;
  return famfs_watch_unwrap(env, self, &WATCHER_KIND, fn);
}

/* The watch behind `this`; throws if it was closed. */
static famfs_watch *open_watch(napi_env env, napi_callback_info info, const char *fn) {
  famfs_watch *w = this_watch(env, info, fn);
  if (w != NULL && w->closing) {
    famfs_throw_errno(env, fn, EBADF, "watcher closed");
    return NULL;
  }
  return w;
}

static napi_value js_watch_start(napi_env env, napi_callback_info info) {
  famfs_watch *w = open_watch(env, info, "uv_poll_start");
  if (w == NULL || !famfs_watch_start(w, on_poll)) return NULL;
  return famfs_undefined(env);
}

static napi_value js_watch_stop(napi_env env, napi_callback_info info) {
  famfs_watch *w = open_watch(env, info, "uv_poll_stop");
  if (w == NULL) return NULL;
  famfs_watch_stop(w);
  return famfs_undefined(env);
}

/* Idempotent. The fd itself stays open: it belongs to the caller, who closes it after this. */
static napi_value js_watch_close(napi_env env, napi_callback_info info) {
  famfs_watch *w = this_watch(env, info, "uv_close");
  if (w == NULL) return NULL;
  famfs_watch_close(w);
  return famfs_undefined(env);
}

static napi_value js_fd_watch(napi_env env, napi_callback_info info) {
  size_t argc = WATCH_ARGS;
  napi_value argv[WATCH_ARGS];
  int32_t fd;
  napi_valuetype cb_type = napi_undefined;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < WATCH_ARGS ||
      napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0 ||
      napi_typeof(env, argv[1], &cb_type) != napi_ok || cb_type != napi_function) {
    famfs_throw_errno(env, "fdWatch", EINVAL, "expected (fd, onReadable)");
    return NULL;
  }
  famfs_watch *w = calloc(1, sizeof *w);
  if (w == NULL) {
    famfs_throw_errno(env, "fdWatch", ENOMEM, NULL);
    return NULL;
  }
  if (!famfs_watch_init(w, env, fd, &WATCHER_KIND, "fdWatch")) {
    free(w);
    return NULL;
  }

  napi_value obj;
  napi_property_descriptor props[] = {
      {"start", NULL, js_watch_start, NULL, NULL, NULL, napi_default, NULL},
      {"stop", NULL, js_watch_stop, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, js_watch_close, NULL, NULL, NULL, napi_default, NULL},
      {CALLBACK_PROPERTY, NULL, NULL, NULL, NULL, argv[1], napi_default, NULL},
  };
  if (napi_create_object(env, &obj) != napi_ok ||
      napi_define_properties(env, obj, sizeof props / sizeof props[0], props) != napi_ok ||
      !famfs_watch_wrap(w, obj)) {
    famfs_watch_abandon(w);
    famfs_throw_errno(env, "fdWatch", ENOMEM, "cannot create the watcher object");
    return NULL;
  }
  return obj;
}

/* The bytes of a Buffer or other byte array (Uint8Array and friends only: lengths are in bytes). */
static int typed_bytes(napi_env env, napi_value v, void **data, size_t *len) {
  bool is = false;
  napi_typedarray_type type;
  size_t elements, offset;
  napi_value ab;
  if (napi_is_typedarray(env, v, &is) != napi_ok || !is ||
      napi_get_typedarray_info(env, v, &type, &elements, data, &ab, &offset) != napi_ok)
    return 0;
  if (type != napi_uint8_array && type != napi_int8_array && type != napi_uint8_clamped_array) return 0;
  *len = elements;
  return 1;
}

static napi_value js_read_or_errno(napi_env env, napi_callback_info info) {
  size_t argc = READ_ARGS;
  napi_value argv[READ_ARGS], result;
  int32_t fd;
  void *data;
  size_t len;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < READ_ARGS ||
      napi_get_value_int32(env, argv[0], &fd) != napi_ok ||
      !typed_bytes(env, argv[1], &data, &len)) {
    famfs_throw_errno(env, "read", EINVAL, "expected (fd, Buffer)");
    return NULL;
  }
  ssize_t n = read(fd, data, len);
  napi_create_int64(env, n >= 0 ? (int64_t)n : -(int64_t)errno, &result);
  return result;
}

static napi_value js_writev_or_errno(napi_env env, napi_callback_info info) {
  size_t argc = WRITEV_ARGS;
  napi_value argv[WRITEV_ARGS], result;
  int32_t fd;
  uint32_t count = 0;
  bool is_array = false;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < WRITEV_ARGS ||
      napi_get_value_int32(env, argv[0], &fd) != napi_ok ||
      napi_is_array(env, argv[1], &is_array) != napi_ok || !is_array ||
      napi_get_array_length(env, argv[1], &count) != napi_ok || count > MAX_IOV) {
    famfs_throw_errno(env, "writev", EINVAL, "expected (fd, Buffer[]) with at most 1024 pieces");
    return NULL;
  }
  struct iovec iov[MAX_IOV];
  for (uint32_t i = 0; i < count; i++) {
    napi_value piece;
    if (napi_get_element(env, argv[1], i, &piece) != napi_ok ||
        !typed_bytes(env, piece, &iov[i].iov_base, &iov[i].iov_len)) {
      famfs_throw_errno(env, "writev", EINVAL, "every piece must be a Buffer or Uint8Array");
      return NULL;
    }
  }
  ssize_t n = writev(fd, iov, (int)count);
  napi_create_int64(env, n >= 0 ? (int64_t)n : -(int64_t)errno, &result);
  return result;
}

static napi_value js_set_non_blocking(napi_env env, napi_callback_info info) {
  size_t argc = NONBLOCK_ARGS;
  napi_value argv[NONBLOCK_ARGS];
  int32_t fd;
  bool on;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < NONBLOCK_ARGS ||
      napi_get_value_int32(env, argv[0], &fd) != napi_ok ||
      napi_get_value_bool(env, argv[1], &on) != napi_ok) {
    famfs_throw_errno(env, "fcntl", EINVAL, "expected (fd, boolean)");
    return NULL;
  }
  int flags = fcntl(fd, F_GETFL);
  if (flags == -1 || fcntl(fd, F_SETFL, on ? flags | O_NONBLOCK : flags & ~O_NONBLOCK) == -1) {
    famfs_throw_errno(env, "fcntl", errno, NULL);
    return NULL;
  }
  return famfs_undefined(env);
}

void famfs_poll_init(napi_env env, napi_value exports) {
  napi_property_descriptor fns[] = {
      {"fdWatch", NULL, js_fd_watch, NULL, NULL, NULL, napi_default, NULL},
      {"readOrErrno", NULL, js_read_or_errno, NULL, NULL, NULL, napi_default, NULL},
      {"writevOrErrno", NULL, js_writev_or_errno, NULL, NULL, NULL, napi_default, NULL},
      {"setNonBlocking", NULL, js_set_non_blocking, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof fns / sizeof fns[0], fns);
}
