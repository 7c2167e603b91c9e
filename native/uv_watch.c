/*
 * The lifecycle of a uv_poll_t behind a JS object (native.h, famfs_watch), in one place for the
 * /dev/fuse reader's watcher (poll.c) and the FUSE io_uring ring (fuse_uring.c).
 *
 * Three things may end a watch, in any order, and the record must outlive all of them:
 *  - close() from JS (famfs_watch_close), possibly from inside the watch's own callback;
 *  - the object's finalizer, when JS dropped a watch it never closed (or closed);
 *  - the environment's teardown (a worker ending, the process exiting), through the async cleanup
 *    hook: Node waits for the hook's removal, which the handle's close callback does.
 * The first of them closes the handle (close_handle: stop, uv_close, the owner's on_close); the
 * record is freed when the close callback has run, the object is finalized and the owner's holds
 * are released (maybe_free), whichever comes last. Nothing here runs JS except famfs_watch_call.
 */
#include <node_api.h>
#include <uv.h>

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>

#include "native.h"

static void maybe_free(famfs_watch *w) {
  if (w->handle_closed && w->finalized && w->holds == 0) w->kind->on_free(w);
}

static void on_closed(uv_handle_t *h) {
  famfs_watch *w = (famfs_watch *)h;
  w->handle_closed = true;
  /* Removing the hook here also tells Node an environment teardown that started it may finish. */
  napi_remove_async_cleanup_hook(w->cleanup);
  maybe_free(w);
}

/* Holds the object while started: an active uv handle must not outlive its callback's target. */
static void set_started(famfs_watch *w, bool on) {
  if (w->started == on) return;
  w->started = on;
  uint32_t count;
  if (on) napi_reference_ref(w->env, w->self, &count);
  else napi_reference_unref(w->env, w->self, &count);
}

/* Stops and closes the handle, then lets the owner release what goes with it. Calls no JS, so it
 * is safe in a finalizer and at teardown. The owner's on_close runs after uv_close, which has
 * taken the fd out of the loop's epoll set, so closing the fd there is safe. */
static void close_handle(famfs_watch *w) {
  if (w->closing) return;
  w->closing = true;
  uv_poll_stop(&w->poll);
  uv_close((uv_handle_t *)&w->poll, on_closed);
  if (w->kind->on_close != NULL) w->kind->on_close(w);
}

static void on_env_cleanup(napi_async_cleanup_hook_handle handle, void *arg) {
  (void)handle;
  famfs_watch *w = arg;
  /* Nothing will run JS on this environment again: the reference is left as it is, and on_closed
   * completes the teardown. */
  w->started = false;
  close_handle(w);
}

static void on_finalize(napi_env env, void *data, void *hint) {
  (void)hint;
  famfs_watch *w = data;
  w->finalized = true;
  napi_delete_reference(env, w->self);
  if (w->kind->on_finalize != NULL) w->kind->on_finalize(env, w);
  /* close() destroyed the async context already; a teardown's hook leaves it to the environment. */
  if (!w->closing) {
    napi_async_destroy(env, w->async);
    close_handle(w);
  }
  maybe_free(w);
}

int famfs_watch_init(famfs_watch *w, napi_env env, int fd, const famfs_watch_kind *kind, const char *fn) {
  uv_loop_t *loop;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) {
    famfs_throw_errno(env, fn, EINVAL, "no event loop");
    return 0;
  }
  int rc = uv_poll_init(loop, &w->poll, fd);
  if (rc != 0) {
    famfs_throw_errno(env, "uv_poll_init", -rc, uv_strerror(rc));
    return 0;
  }
  w->env = env;
  w->kind = kind;
  napi_add_async_cleanup_hook(env, on_env_cleanup, w, &w->cleanup);
  return 1;
}

int famfs_watch_wrap(famfs_watch *w, napi_value obj) {
  napi_value name;
  return napi_create_string_utf8(w->env, w->kind->resource, NAPI_AUTO_LENGTH, &name) == napi_ok &&
         napi_async_init(w->env, obj, name, &w->async) == napi_ok &&
         napi_create_reference(w->env, obj, 0, &w->self) == napi_ok &&
         napi_type_tag_object(w->env, obj, &w->kind->tag) == napi_ok &&
         napi_wrap(w->env, obj, w, on_finalize, NULL, NULL) == napi_ok;
}

void famfs_watch_abandon(famfs_watch *w) {
  if (w->self != NULL) napi_delete_reference(w->env, w->self);
  if (w->async != NULL) napi_async_destroy(w->env, w->async);
  w->self = NULL;
  w->async = NULL;
  if (w->kind->on_finalize != NULL) w->kind->on_finalize(w->env, w);
  w->finalized = true;
  close_handle(w);
}

famfs_watch *famfs_watch_unwrap(napi_env env, napi_value obj, const famfs_watch_kind *kind, const char *fn) {
  bool tagged = false;
  void *data = NULL;
  if (obj == NULL || napi_check_object_type_tag(env, obj, &kind->tag, &tagged) != napi_ok || !tagged ||
      napi_unwrap(env, obj, &data) != napi_ok || data == NULL) {
    famfs_throw_errno(env, fn, EINVAL, kind->what);
    return NULL;
  }
  return data;
}

int famfs_watch_start(famfs_watch *w, uv_poll_cb cb) {
  int rc = uv_poll_start(&w->poll, UV_READABLE, cb);
  if (rc != 0) {
    famfs_throw_errno(w->env, "uv_poll_start", -rc, uv_strerror(rc));
    return 0;
  }
  set_started(w, true);
  return 1;
}

void famfs_watch_stop(famfs_watch *w) {
  if (!w->closing) uv_poll_stop(&w->poll);
  set_started(w, false);
}

void famfs_watch_close(famfs_watch *w) {
  if (w->closing) return;
  set_started(w, false);
  napi_async_destroy(w->env, w->async);
  close_handle(w);
}

void famfs_watch_hold(famfs_watch *w) {
  w->holds++;
}

void famfs_watch_release(famfs_watch *w) {
  w->holds--;
  maybe_free(w);
}

napi_value famfs_watch_object(famfs_watch *w) {
  napi_value obj = NULL;
  if (napi_get_reference_value(w->env, w->self, &obj) != napi_ok) return NULL;
  return obj;
}

void famfs_watch_call(famfs_watch *w, napi_value obj, napi_value cb, size_t argc, const napi_value *argv) {
  napi_value result, err;
  /* make_callback, not call_function: it runs the microtasks and nextTicks the callback queued, as
   * for any I/O callback, so promise-based work is done before the loop sleeps again. */
  if (napi_make_callback(w->env, w->async, obj, cb, argc, argv, &result) == napi_ok) return;
  bool pending = false;
  if (napi_is_exception_pending(w->env, &pending) == napi_ok && pending &&
      napi_get_and_clear_last_exception(w->env, &err) == napi_ok)
    napi_fatal_exception(w->env, err);
}
