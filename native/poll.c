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
 * Lifetime: the JS watcher object owns the record (napi_wrap). The record holds a reference to
 * that object, strong only while started, so an active watcher cannot be collected under libuv.
 * The memory is freed when both the uv handle has closed and the object has been finalized. An
 * async cleanup hook closes the handle if the environment (e.g. a worker) ends first.
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

typedef struct {
  uv_poll_t poll; /* first: the uv callbacks get this pointer */
  napi_env env;
  napi_ref self; /* the watcher object; strong while started */
  napi_async_context async;
  napi_async_cleanup_hook_handle cleanup;
  int fd;
  bool started;
  bool closing;         /* uv_close called */
  bool handle_closed;   /* its callback ran */
  bool finalized;       /* the JS object is gone */
} fd_watcher;

static void maybe_free(fd_watcher *w) {
  if (w->handle_closed && w->finalized) free(w);
}

static void on_closed(uv_handle_t *h) {
  fd_watcher *w = (fd_watcher *)h;
  w->handle_closed = true;
  /* Removing the hook here also tells Node an environment teardown that started it may finish. */
  napi_remove_async_cleanup_hook(w->cleanup);
  maybe_free(w);
}

static void set_started(fd_watcher *w, bool on) {
  if (w->started == on) return;
  w->started = on;
  uint32_t count;
  if (on) napi_reference_ref(w->env, w->self, &count);
  else napi_reference_unref(w->env, w->self, &count);
}

/* Stops and closes the handle (no JS is called). */
static void close_watcher(fd_watcher *w) {
  if (w->closing) return;
  w->closing = true;
  uv_poll_stop(&w->poll);
  uv_close((uv_handle_t *)&w->poll, on_closed);
}

static void on_env_cleanup(napi_async_cleanup_hook_handle handle, void *arg) {
  (void)handle;
  fd_watcher *w = arg;
  /* Nothing will run JS on this environment again; on_closed completes the teardown. */
  w->started = false;
  close_watcher(w);
}

static void report_pending_exception(napi_env env) {
  bool pending = false;
  napi_value err;
  if (napi_is_exception_pending(env, &pending) == napi_ok && pending &&
      napi_get_and_clear_last_exception(env, &err) == napi_ok)
    napi_fatal_exception(env, err); /* as any throwing callback: process 'uncaughtException' */
}

static void on_poll(uv_poll_t *h, int status, int events) {
  (void)events;
  fd_watcher *w = (fd_watcher *)h;
  napi_env env = w->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value self = NULL, cb, arg, result;
  /* Taken before set_started() may weaken the reference: this local keeps the object alive. */
  napi_get_reference_value(env, w->self, &self);
  /* libuv stops the handle itself when it reports an error (POLLERR: the fd was disconnected). */
  if (status < 0) set_started(w, false);
  if (self != NULL && napi_get_named_property(env, self, CALLBACK_PROPERTY, &cb) == napi_ok &&
      napi_create_int32(env, status, &arg) == napi_ok) {
    /* make_callback, not call_function: it runs the microtasks and nextTicks the callback queued,
     * as for any I/O callback, so promise-based replies go out before the loop sleeps again. */
    if (napi_make_callback(env, w->async, self, cb, 1, &arg, &result) != napi_ok)
      report_pending_exception(env);
  }
  napi_close_handle_scope(env, scope);
}

static void on_finalize(napi_env env, void *data, void *hint) {
  (void)hint;
  fd_watcher *w = data;
  w->finalized = true;
  napi_delete_reference(env, w->self);
  if (!w->closing) {
    napi_async_destroy(env, w->async);
    close_watcher(w);
  }
  maybe_free(w);
}

/* The record behind `this`; throws if it was closed. */
static fd_watcher *this_watcher(napi_env env, napi_callback_info info, const char *fn) {
  napi_value self;
  void *data = NULL;
  size_t argc = 0;
  if (napi_get_cb_info(env, info, &argc, NULL, &self, NULL) != napi_ok ||
      napi_unwrap(env, self, &data) != napi_ok || data == NULL) {
    famfs_throw_errno(env, fn, EINVAL, "not a watcher from fdWatch()");
    return NULL;
  }
  fd_watcher *w = data;
  if (w->closing) {
    famfs_throw_errno(env, fn, EBADF, "watcher closed");
    return NULL;
  }
  return w;
}

static napi_value undefined_value(napi_env env) {
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}

static napi_value js_watch_start(napi_env env, napi_callback_info info) {
  fd_watcher *w = this_watcher(env, info, "uv_poll_start");
  if (w == NULL) return NULL;
  int rc = uv_poll_start(&w->poll, UV_READABLE, on_poll);
  if (rc != 0) {
    famfs_throw_errno(env, "uv_poll_start", -rc, uv_strerror(rc));
    return NULL;
  }
  set_started(w, true);
  return undefined_value(env);
}

static napi_value js_watch_stop(napi_env env, napi_callback_info info) {
  fd_watcher *w = this_watcher(env, info, "uv_poll_stop");
  if (w == NULL) return NULL;
  uv_poll_stop(&w->poll);
  set_started(w, false);
  return undefined_value(env);
}

/* Idempotent. The fd itself stays open: it belongs to the caller, who closes it after this. */
static napi_value js_watch_close(napi_env env, napi_callback_info info) {
  napi_value self;
  void *data = NULL;
  size_t argc = 0;
  if (napi_get_cb_info(env, info, &argc, NULL, &self, NULL) != napi_ok ||
      napi_unwrap(env, self, &data) != napi_ok || data == NULL) {
    famfs_throw_errno(env, "uv_close", EINVAL, "not a watcher from fdWatch()");
    return NULL;
  }
  fd_watcher *w = data;
  if (!w->closing) {
    set_started(w, false);
    napi_async_destroy(env, w->async);
    close_watcher(w);
  }
  return undefined_value(env);
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
  uv_loop_t *loop;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) {
    famfs_throw_errno(env, "fdWatch", EINVAL, "no event loop");
    return NULL;
  }
  fd_watcher *w = calloc(1, sizeof *w);
  if (w == NULL) {
    famfs_throw_errno(env, "fdWatch", ENOMEM, NULL);
    return NULL;
  }
  int rc = uv_poll_init(loop, &w->poll, fd);
  if (rc != 0) {
    free(w);
    famfs_throw_errno(env, "uv_poll_init", -rc, uv_strerror(rc));
    return NULL;
  }
  w->env = env;
  w->fd = fd;
  /* From here on every path ends in close_watcher(); on_closed removes the hook again. */
  napi_add_async_cleanup_hook(env, on_env_cleanup, w, &w->cleanup);

  napi_value obj, name;
  napi_property_descriptor props[] = {
      {"start", NULL, js_watch_start, NULL, NULL, NULL, napi_default, NULL},
      {"stop", NULL, js_watch_stop, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, js_watch_close, NULL, NULL, NULL, napi_default, NULL},
      {CALLBACK_PROPERTY, NULL, NULL, NULL, NULL, argv[1], napi_default, NULL},
  };
  if (napi_create_object(env, &obj) != napi_ok ||
      napi_define_properties(env, obj, sizeof props / sizeof props[0], props) != napi_ok ||
      napi_create_string_utf8(env, RESOURCE_NAME, NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_async_init(env, obj, name, &w->async) != napi_ok ||
      napi_create_reference(env, obj, 0, &w->self) != napi_ok ||
      napi_wrap(env, obj, w, on_finalize, NULL, NULL) != napi_ok) {
    /* Nothing owns the record yet: it goes when the handle has closed. */
    if (w->self != NULL) napi_delete_reference(env, w->self);
    if (w->async != NULL) napi_async_destroy(env, w->async);
    w->finalized = true;
    close_watcher(w);
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
  return undefined_value(env);
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
