/*
 * FUSE over io_uring (Linux >= 6.14, CONFIG_FUSE_IO_URING, fuse.enable_uring=Y) on Node's own
 * event loop: one io_uring owned by the main thread carries every FUSE queue, the way the FUSE
 * session already serves /dev/fuse from the main thread (native/poll.c).
 *
 *   uringCreate(fuseFd, queues, depth, payloadSize, onEvents) -> ring
 *     Sets up an io_uring with 128-byte SQEs (URING_CMD needs them), `queues` x `depth` ring
 *     entries (the kernel wants at least one on every possible CPU: queues = get_nprocs_conf()),
 *     each with its header (struct fuse_uring_req_header, 288 bytes) and a slot of
 *     REQUEST_HEADROOM + payloadSize bytes, of which the kernel sees the payloadSize part. All
 *     memory is one anonymous mapping, handed to JavaScript as ONE external ArrayBuffer
 *     (ring.memory) without a copy; ring.slotOffset/slotSize locate entry i's slot in it.
 *     An eventfd registered with the ring (IORING_REGISTER_EVENTFD) is watched by a uv_poll_t.
 *   ring.register() -> 0 or -errno
 *     Submits FUSE_IO_URING_CMD_REGISTER for every entry (after the INIT reply that accepted
 *     FUSE_OVER_IO_URING was written: before it the kernel answers -EAGAIN, resubmitted here).
 *   ring.start() / ring.stop()
 *     Watch the eventfd; while started, the ring keeps the event loop alive.
 *   onEvents(count), called on the loop thread with ring.events (Int32Array) holding `count`
 *     pairs (entry, res). res 0: the kernel put a request in the entry's header (in_out: the
 *     fuse_in_header; op_in: the opcode's first argument) and payload (the other arguments);
 *     src/fuse/abi/uring.ts decodes it. res < 0: the entry's command failed (-ENOTCONN: the
 *     connection is going away); the entry is idle for good.
 *   ring.commit(entry) -> 0 or -errno
 *     The caller has written the reply into the entry (fuse_out_header in in_out, arguments in
 *     the payload, their length in payload_sz): queues FUSE_IO_URING_CMD_COMMIT_AND_FETCH with the
 *     entry's commit_id, so the kernel takes the reply and re-arms the entry in one command.
 *     Commits made while onEvents runs (and its microtasks) go out in one io_uring_enter after it
 *     returns (or with ring.next()); a commit made later is submitted at once.
 *   ring.next() -> count, called from onEvents once its batch is answered
 *     Submits the batch's commits, then asks for completions until one comes or SPIN_ENTERS
 *     calls found none; returns how many (entry, res) pairs it put in ring.events (0: none came,
 *     and onEvents should return: the loop then sleeps until the eventfd wakes it). A caller's
 *     next request is so taken inside the same onEvents call, where a new one would cost a
 *     turn of N-API's callback machinery per request.
 *   ring.close()
 *     Stops watching and closes the ring (the kernel cancels the pending commands). The memory
 *     stays mapped until the ArrayBuffer is collected, so a Buffer kept by JavaScript never
 *     points at unmapped memory.
 *
 * Lifetime: native/uv_watch.c, as for the /dev/fuse watcher (close, finalizer, environment
 * teardown), with one more condition before the record is freed: a hold that the ArrayBuffer
 * over the memory releases when it is collected.
 *
 * Raw io_uring_setup/io_uring_enter/io_uring_register system calls, no liburing: the prebuilt
 * addon stays self-contained. The kernel fills an entry from task work of the thread that
 * submitted its command (this one). The ring defers that work (IORING_SETUP_DEFER_TASKRUN): it
 * runs inside this thread's next io_uring_enter, and queuing it signals the eventfd, so a thread
 * asleep in epoll is woken the ordinary way; the default mode interrupts the thread instead (an IPI
 * per request; bench/README.md, "FUSE over io_uring", has the profile).
 */
#define _GNU_SOURCE
#include <node_api.h>
#include <uv.h>

#include <errno.h>
#include <linux/io_uring.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "native.h"

/* include/uapi/linux/fuse.h (7.42+); the system headers may predate it. */
#define URING_HEADER_SZ 288 /* in_out[128], op_in[128], fuse_uring_ent_in_out (32) */
#define URING_ENT_IN_OUT_OFF 256
#define ENT_COMMIT_ID_OFF (URING_ENT_IN_OUT_OFF + 8)
#define FUSE_IO_URING_CMD_REGISTER 1
#define FUSE_IO_URING_CMD_COMMIT_AND_FETCH 2
/* struct fuse_uring_cmd_req in the SQE's cmd area: flags u64, commit_id u64, qid u16. */
#define CMD_COMMIT_ID_OFF 8
#define CMD_QID_OFF 16
/* Room before each payload for the fuse_in_header and the first argument (src/fuse/abi/uring.ts). */
#define REQUEST_HEADROOM 256
#define PAGE 4096
#define EVENT_INTS 2
#define CREATE_ARGS 5
#define COMMIT_ARGS 1
#define RESOURCE_NAME "famfs.FuseUring"
/*
 * io_uring_enter calls that may find nothing before a wake-up ends, when no reply is still due
 * from JavaScript. The next request of a caller (dd's next read, GETATTR after LOOKUP) arrives a
 * few microseconds after its reply; sleeping in epoll and being woken through the eventfd costs
 * more than asking again on this VM (the /dev/fuse reader spins the same way, SPIN_READS). Each
 * call runs the task_work that fills an entry and posts its completion.
 */
#define SPIN_ENTERS 50

typedef enum { ENT_IDLE, ENT_REGISTERING, ENT_WAITING, ENT_SERVING, ENT_GONE } ent_state;

typedef struct {
  uint8_t *header;  /* URING_HEADER_SZ bytes */
  uint8_t *slot;    /* REQUEST_HEADROOM + payload_size bytes */
  struct iovec iov[2];
  uint16_t qid;
  ent_state state;
} ring_ent;

typedef struct {
  famfs_watch watch; /* first: the uv callbacks and napi_unwrap get this pointer */
  napi_ref events_ref;
  int32_t *events;
  int ring_fd;
  int event_fd;
  int fuse_fd;
  /* the rings */
  void *sq_map, *cq_map, *sqe_map;
  size_t sq_map_len, cq_map_len, sqe_map_len;
  _Atomic uint32_t *sq_head, *sq_tail, *cq_head, *cq_tail;
  uint32_t sq_mask, cq_mask, sq_entries;
  uint32_t *sq_array;
  struct io_uring_sqe *sqes; /* 128-byte SQEs: index with sqe_at() */
  struct io_uring_cqe *cqes;
  uint32_t sq_local_tail; /* queued, not yet published */
  uint32_t to_submit;
  /* the entries */
  uint8_t *memory;
  size_t memory_len, slot_size, payload_size;
  uint32_t nents;
  uint32_t serving; /* entries handed to JavaScript and not yet committed */
  ring_ent *ents;
  bool in_batch;
  bool spun; /* ring.next() already spun for this callback and found nothing */
  bool deferred; /* IORING_SETUP_DEFER_TASKRUN: completions appear only inside io_uring_enter */
} fuse_ring;

static int sys_setup(unsigned entries, struct io_uring_params *p) {
  return (int)syscall(__NR_io_uring_setup, entries, p);
}
static int sys_enter(int fd, unsigned submit, unsigned min_complete, unsigned flags) {
  return (int)syscall(__NR_io_uring_enter, fd, submit, min_complete, flags, NULL, 0);
}
static int sys_register(int fd, unsigned op, void *arg, unsigned n) {
  return (int)syscall(__NR_io_uring_register, fd, op, arg, n);
}

static struct io_uring_sqe *sqe_at(fuse_ring *r, uint32_t i) {
  return (struct io_uring_sqe *)((uint8_t *)r->sqes + (size_t)i * 2 * sizeof(struct io_uring_sqe));
}

/* Publishes the queued SQEs and enters the kernel: 0 or -errno. */
static int submit(fuse_ring *r) {
  if (r->ring_fd < 0) return -EBADF;
  atomic_store_explicit(r->sq_tail, r->sq_local_tail, memory_order_release);
  while (r->to_submit > 0) {
    int n = sys_enter(r->ring_fd, r->to_submit, 0, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    r->to_submit -= (uint32_t)n < r->to_submit ? (uint32_t)n : r->to_submit;
    if (n == 0) break;
  }
  return 0;
}

/* A free SQE, zeroed; submits first when the SQ is full. */
static struct io_uring_sqe *next_sqe(fuse_ring *r) {
  uint32_t head = atomic_load_explicit(r->sq_head, memory_order_acquire);
  if (r->sq_local_tail - head >= r->sq_entries) {
    if (submit(r) < 0) return NULL;
    head = atomic_load_explicit(r->sq_head, memory_order_acquire);
    if (r->sq_local_tail - head >= r->sq_entries) return NULL;
  }
  uint32_t idx = r->sq_local_tail & r->sq_mask;
  struct io_uring_sqe *sqe = sqe_at(r, idx);
  memset(sqe, 0, 2 * sizeof *sqe);
  r->sq_array[idx] = idx;
  r->sq_local_tail++;
  r->to_submit++;
  return sqe;
}

static int queue_cmd(fuse_ring *r, uint32_t i, uint32_t op, uint64_t commit_id) {
  ring_ent *e = &r->ents[i];
  struct io_uring_sqe *sqe = next_sqe(r);
  if (sqe == NULL) return -EBUSY;
  sqe->opcode = IORING_OP_URING_CMD;
  sqe->fd = r->fuse_fd;
  sqe->cmd_op = op;
  sqe->user_data = i;
  if (op == FUSE_IO_URING_CMD_REGISTER) {
    sqe->addr = (uint64_t)(uintptr_t)e->iov;
    sqe->len = 2;
  }
  uint8_t *cmd = (uint8_t *)sqe->cmd;
  memcpy(cmd + CMD_COMMIT_ID_OFF, &commit_id, sizeof commit_id);
  memcpy(cmd + CMD_QID_OFF, &e->qid, sizeof e->qid);
  e->state = op == FUSE_IO_URING_CMD_REGISTER ? ENT_REGISTERING : ENT_WAITING;
  return 0;
}

/* Moves the completions into r->events; returns their count. */
static uint32_t reap(fuse_ring *r) {
  uint32_t n = 0;
  uint32_t head = atomic_load_explicit(r->cq_head, memory_order_relaxed);
  uint32_t tail = atomic_load_explicit(r->cq_tail, memory_order_acquire);
  while (head != tail && n < r->nents) {
    struct io_uring_cqe *cqe = &r->cqes[head & r->cq_mask];
    uint64_t i = cqe->user_data;
    int res = cqe->res;
    head++;
    if (i >= r->nents) continue;
    ring_ent *e = &r->ents[i];
    if ((res == -EAGAIN || res == -EINTR) && e->state == ENT_REGISTERING) {
      /* REGISTER before the kernel processed INIT, or a signal: ask again. */
      queue_cmd(r, (uint32_t)i, FUSE_IO_URING_CMD_REGISTER, 0);
      continue;
    }
    int32_t *ev = r->events + (size_t)n * EVENT_INTS;
    ev[0] = (int32_t)i;
    ev[1] = res;
    e->state = res == 0 ? ENT_SERVING : ENT_GONE;
    if (res == 0) r->serving++;
    n++;
  }
  atomic_store_explicit(r->cq_head, head, memory_order_release);
  return n;
}

static bool cq_empty(fuse_ring *r) {
  return atomic_load_explicit(r->cq_tail, memory_order_acquire) == atomic_load_explicit(r->cq_head, memory_order_relaxed);
}

static void release_ring(fuse_ring *r) {
  if (r->sqe_map != NULL) munmap(r->sqe_map, r->sqe_map_len);
  if (r->cq_map != NULL && r->cq_map != r->sq_map) munmap(r->cq_map, r->cq_map_len);
  if (r->sq_map != NULL) munmap(r->sq_map, r->sq_map_len);
  r->sqe_map = r->cq_map = r->sq_map = NULL;
  if (r->ring_fd >= 0) close(r->ring_fd);
  if (r->event_fd >= 0) close(r->event_fd);
  r->ring_fd = r->event_fd = -1;
}

/* The watch's on_close: the kernel cancels the pending commands when the ring fd closes. The
 * entries' memory stays: JavaScript may still hold views of it (on_memory_gone). */
static void close_ring(famfs_watch *w) {
  release_ring((fuse_ring *)w);
}

static void on_finalize(napi_env env, famfs_watch *w) {
  fuse_ring *r = (fuse_ring *)w;
  if (r->events_ref != NULL) napi_delete_reference(env, r->events_ref);
  r->events_ref = NULL;
}

/* The buffers go last: only once the ring is closed can no command still point at them. */
static void free_ring(famfs_watch *w) {
  fuse_ring *r = (fuse_ring *)w;
  if (r->memory != NULL) munmap(r->memory, r->memory_len);
  free(r->ents);
  free(r);
}

static const famfs_watch_kind RING_KIND = {
    .tag = {0x66616d6673757269ULL, 0xc4d2a7183e6b905fULL},
    .resource = RESOURCE_NAME,
    .what = "not a ring from uringCreate()",
    .on_close = close_ring,
    .on_finalize = on_finalize,
    .on_free = free_ring,
};

/*
 * Asks for completions while no reply is due from JavaScript, until one is posted or SPIN_ENTERS
 * calls found none; each call runs the deferred task work that fills an entry.
 */
static void spin(fuse_ring *r) {
  for (int i = 0; i < SPIN_ENTERS && r->serving == 0 && !r->watch.closing && cq_empty(r); i++) {
    if (sys_enter(r->ring_fd, 0, 0, IORING_ENTER_GETEVENTS) < 0 && errno != EINTR) break;
  }
}

/*
 * Resets the eventfd's count (it is non-blocking: nothing to read is fine), then runs the deferred
 * task work, which fills entries and posts their completions. In that order a request queued
 * after this call signals the eventfd again, so none is left waiting while the loop sleeps.
 */
static void take_wakeup(fuse_ring *r) {
  uint64_t count;
  while (read(r->event_fd, &count, sizeof count) < 0 && errno == EINTR) {
  }
  if (r->deferred) sys_enter(r->ring_fd, 0, 0, IORING_ENTER_GETEVENTS);
}

static void on_poll(uv_poll_t *h, int status, int events) {
  (void)events;
  fuse_ring *r = (fuse_ring *)h;
  /* libuv stopped the handle itself: the ring no longer holds its object. */
  if (status < 0) famfs_watch_stop(&r->watch);
  if (status < 0 || r->watch.closing) return;
  take_wakeup(r);
  napi_env env = r->watch.env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value cb, arg;
  napi_value self = famfs_watch_object(&r->watch);
  /* A commit's io_uring_enter may deliver the next request at once: go round while CQEs wait. */
  for (;;) {
    uint32_t n = reap(r);
    if (n == 0) {
      if (r->to_submit > 0) submit(r);
      if (!r->spun) spin(r);
      r->spun = false;
      if (r->watch.closing) break;
      if (cq_empty(r)) {
        /* Before sleeping: also take the count our own io_uring_enter calls added as they posted
         * completions, else the loop would turn once more for nothing. */
        take_wakeup(r);
        if (cq_empty(r)) break;
      }
      continue;
    }
    if (self == NULL || napi_get_named_property(env, self, "onEvents", &cb) != napi_ok ||
        napi_create_uint32(env, n, &arg) != napi_ok)
      break;
    r->in_batch = true;
    r->spun = false;
    /* The microtasks the callback queued run inside this call, so promise replies join the batch. */
    famfs_watch_call(&r->watch, self, cb, 1, &arg);
    r->in_batch = false;
    if (r->watch.closing) break;
    if (r->to_submit > 0) submit(r);
  }
  napi_close_handle_scope(env, scope);
}

/* The ArrayBuffer over the entries was collected: the ring's hold on being freed goes. */
static void on_memory_gone(napi_env env, void *data, void *hint) {
  (void)env;
  (void)data;
  famfs_watch_release(hint);
}

static fuse_ring *this_ring(napi_env env, napi_callback_info info, size_t want, napi_value *argv, const char *fn) {
  napi_value self = NULL;
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, &self, NULL) != napi_ok || argc < want) self = NULL;
  return (fuse_ring *)famfs_watch_unwrap(env, self, &RING_KIND, fn);
}

static napi_value int_value(napi_env env, int32_t v) {
  napi_value out;
  napi_create_int32(env, v, &out);
  return out;
}

static napi_value js_register(napi_env env, napi_callback_info info) {
  fuse_ring *r = this_ring(env, info, 0, NULL, "uringRegister");
  if (r == NULL) return NULL;
  if (r->watch.closing) return int_value(env, -EBADF);
  for (uint32_t i = 0; i < r->nents; i++) {
    int rc = queue_cmd(r, i, FUSE_IO_URING_CMD_REGISTER, 0);
    if (rc < 0) return int_value(env, rc);
  }
  return int_value(env, submit(r));
}

static napi_value js_commit(napi_env env, napi_callback_info info) {
  napi_value argv[COMMIT_ARGS];
  fuse_ring *r = this_ring(env, info, COMMIT_ARGS, argv, "uringCommit");
  if (r == NULL) return NULL;
  uint32_t i;
  if (napi_get_value_uint32(env, argv[0], &i) != napi_ok) {
    famfs_throw_errno(env, "uringCommit", EINVAL, "expected (entry)");
    return NULL;
  }
  if (r->watch.closing) return int_value(env, -EBADF);
  if (i >= r->nents || r->ents[i].state != ENT_SERVING) return int_value(env, -ENOENT);
  uint64_t commit_id;
  memcpy(&commit_id, r->ents[i].header + ENT_COMMIT_ID_OFF, sizeof commit_id);
  int rc = queue_cmd(r, i, FUSE_IO_URING_CMD_COMMIT_AND_FETCH, commit_id);
  if (rc == 0) r->serving--;
  if (rc == 0 && !r->in_batch) rc = submit(r);
  return int_value(env, rc);
}

static napi_value js_next(napi_env env, napi_callback_info info) {
  fuse_ring *r = this_ring(env, info, 0, NULL, "uringNext");
  if (r == NULL) return NULL;
  uint32_t n = 0;
  if (!r->watch.closing) {
    if (r->to_submit > 0) submit(r);
    n = reap(r);
    if (n == 0) {
      spin(r);
      n = reap(r);
      r->spun = n == 0;
    }
  }
  napi_value out;
  napi_create_uint32(env, n, &out);
  return out;
}

static napi_value js_start(napi_env env, napi_callback_info info) {
  fuse_ring *r = this_ring(env, info, 0, NULL, "uringStart");
  if (r == NULL) return NULL;
  if (r->watch.closing) {
    famfs_throw_errno(env, "uringStart", EBADF, "ring closed");
    return NULL;
  }
  if (!famfs_watch_start(&r->watch, on_poll)) return NULL;
  return famfs_undefined(env);
}

static napi_value js_stop(napi_env env, napi_callback_info info) {
  fuse_ring *r = this_ring(env, info, 0, NULL, "uringStop");
  if (r == NULL) return NULL;
  famfs_watch_stop(&r->watch);
  return famfs_undefined(env);
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  fuse_ring *r = this_ring(env, info, 0, NULL, "uringClose");
  if (r == NULL) return NULL;
  famfs_watch_close(&r->watch);
  return famfs_undefined(env);
}

/* io_uring_setup + the three mappings + the eventfd: 0 or -errno (r's ring fields are set). */
static int setup_ring(fuse_ring *r, uint32_t nents) {
  struct io_uring_params p;
  memset(&p, 0, sizeof p);
  /* Deferred task work: the kernel fills an entry when this thread next enters io_uring_enter
   * (the spin below, or the wake-up: the eventfd is signalled as soon as work is queued), instead
   * of interrupting the thread (an IPI per request, most of the daemon's time on this VM). Kernels
   * before 6.1 refuse the flags: the default mode then. */
  p.flags = IORING_SETUP_SQE128 | IORING_SETUP_CQSIZE | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
  p.cq_entries = 2 * nents;
  int fd = sys_setup(nents, &p);
  if (fd < 0 && errno == EINVAL) {
    memset(&p, 0, sizeof p);
    p.flags = IORING_SETUP_SQE128 | IORING_SETUP_CQSIZE;
    p.cq_entries = 2 * nents;
    fd = sys_setup(nents, &p);
  }
  if (fd < 0) return -errno;
  r->deferred = (p.flags & IORING_SETUP_DEFER_TASKRUN) != 0;
  r->ring_fd = fd;
  r->sq_map_len = p.sq_off.array + p.sq_entries * sizeof(uint32_t);
  r->cq_map_len = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
  bool single = (p.features & IORING_FEAT_SINGLE_MMAP) != 0;
  if (single && r->cq_map_len > r->sq_map_len) r->sq_map_len = r->cq_map_len;
  r->sq_map = mmap(NULL, r->sq_map_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQ_RING);
  if (r->sq_map == MAP_FAILED) {
    r->sq_map = NULL;
    return -errno;
  }
  if (single) {
    r->cq_map = r->sq_map;
  } else {
    r->cq_map = mmap(NULL, r->cq_map_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_CQ_RING);
    if (r->cq_map == MAP_FAILED) {
      r->cq_map = NULL;
      return -errno;
    }
  }
  r->sqe_map_len = (size_t)p.sq_entries * 2 * sizeof(struct io_uring_sqe);
  r->sqe_map = mmap(NULL, r->sqe_map_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQES);
  if (r->sqe_map == MAP_FAILED) {
    r->sqe_map = NULL;
    return -errno;
  }
  uint8_t *sq = r->sq_map, *cq = r->cq_map;
  r->sq_head = (_Atomic uint32_t *)(sq + p.sq_off.head);
  r->sq_tail = (_Atomic uint32_t *)(sq + p.sq_off.tail);
  r->sq_mask = *(uint32_t *)(sq + p.sq_off.ring_mask);
  r->sq_entries = p.sq_entries;
  r->sq_array = (uint32_t *)(sq + p.sq_off.array);
  r->cq_head = (_Atomic uint32_t *)(cq + p.cq_off.head);
  r->cq_tail = (_Atomic uint32_t *)(cq + p.cq_off.tail);
  r->cq_mask = *(uint32_t *)(cq + p.cq_off.ring_mask);
  r->cqes = (struct io_uring_cqe *)(cq + p.cq_off.cqes);
  r->sqes = r->sqe_map;
  r->sq_local_tail = atomic_load_explicit(r->sq_tail, memory_order_relaxed);
  r->event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (r->event_fd < 0) return -errno;
  if (sys_register(fd, IORING_REGISTER_EVENTFD, &r->event_fd, 1) < 0) return -errno;
  return 0;
}

static napi_value js_uring_create(napi_env env, napi_callback_info info) {
  napi_value argv[CREATE_ARGS];
  if (!famfs_get_args(env, info, CREATE_ARGS, argv, "uringCreate")) return NULL;
  int fuse_fd;
  uint32_t queues, depth, payload_size;
  napi_valuetype cb_type = napi_undefined;
  if (!famfs_get_int(env, argv[0], "uringCreate", "fd", &fuse_fd)) return NULL;
  if (napi_get_value_uint32(env, argv[1], &queues) != napi_ok || napi_get_value_uint32(env, argv[2], &depth) != napi_ok ||
      napi_get_value_uint32(env, argv[3], &payload_size) != napi_ok || napi_typeof(env, argv[4], &cb_type) != napi_ok ||
      cb_type != napi_function || queues < 1 || queues > UINT16_MAX || depth < 1 || queues * depth > 4096 ||
      payload_size < 8192 || payload_size % PAGE != 0) {
    famfs_throw_errno(env, "uringCreate", EINVAL,
                      "expected (fd, queues 1..65535, depth >= 1 (queues*depth <= 4096), payload size >= 8192 in pages, onEvents)");
    return NULL;
  }
  fuse_ring *r = calloc(1, sizeof *r);
  uint32_t nents = queues * depth;
  ring_ent *ents = calloc(nents, sizeof *ents);
  if (r == NULL || ents == NULL) {
    free(r);
    free(ents);
    famfs_throw_errno(env, "uringCreate", ENOMEM, NULL);
    return NULL;
  }
  r->ring_fd = r->event_fd = -1;
  r->fuse_fd = fuse_fd;
  r->ents = ents;
  r->nents = nents;
  r->payload_size = payload_size;
  r->slot_size = REQUEST_HEADROOM + (size_t)payload_size;
  /* Headers first (page-rounded), then the slots: each payload starts REQUEST_HEADROOM into its slot. */
  size_t headers_len = ((size_t)nents * URING_HEADER_SZ + PAGE - 1) / PAGE * PAGE;
  size_t events_len = (size_t)nents * EVENT_INTS * sizeof(int32_t);
  size_t events_off = headers_len;
  size_t slots_off = ((events_off + events_len + PAGE - 1) / PAGE) * PAGE;
  r->memory_len = slots_off + (size_t)nents * r->slot_size;
  int rc = setup_ring(r, nents);
  if (rc < 0) {
    release_ring(r);
    free(ents);
    free(r);
    famfs_throw_errno(env, "io_uring_setup", -rc, "FUSE over io_uring ring");
    return NULL;
  }
  r->memory = mmap(NULL, r->memory_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (r->memory == MAP_FAILED) {
    int err = errno;
    release_ring(r);
    free(ents);
    free(r);
    famfs_throw_errno(env, "mmap", err, "FUSE over io_uring buffers");
    return NULL;
  }
  r->events = (int32_t *)(r->memory + events_off);
  for (uint32_t i = 0; i < nents; i++) {
    ring_ent *e = &ents[i];
    e->header = r->memory + (size_t)i * URING_HEADER_SZ;
    e->slot = r->memory + slots_off + (size_t)i * r->slot_size;
    e->iov[0].iov_base = e->header;
    e->iov[0].iov_len = URING_HEADER_SZ;
    e->iov[1].iov_base = e->slot + REQUEST_HEADROOM;
    e->iov[1].iov_len = payload_size;
    e->qid = (uint16_t)(i / depth);
  }
  if (!famfs_watch_init(&r->watch, env, r->event_fd, &RING_KIND, "uringCreate")) {
    munmap(r->memory, r->memory_len);
    release_ring(r);
    free(ents);
    free(r);
    return NULL;
  }

  /* The memory outlives the ring while its ArrayBuffer lives: held until on_memory_gone. */
  famfs_watch_hold(&r->watch);
  napi_value obj, memory = NULL, events, v_slot_off, v_slot_size, v_entries, v_depth, v_headroom, v_header_size;
  bool ok = napi_create_object(env, &obj) == napi_ok &&
            napi_create_external_arraybuffer(env, r->memory, r->memory_len, on_memory_gone, &r->watch, &memory) == napi_ok &&
            napi_create_typedarray(env, napi_int32_array, (size_t)nents * EVENT_INTS, memory, events_off, &events) == napi_ok &&
            napi_create_double(env, (double)slots_off, &v_slot_off) == napi_ok &&
            napi_create_double(env, (double)r->slot_size, &v_slot_size) == napi_ok &&
            napi_create_uint32(env, nents, &v_entries) == napi_ok && napi_create_uint32(env, depth, &v_depth) == napi_ok &&
            napi_create_uint32(env, REQUEST_HEADROOM, &v_headroom) == napi_ok &&
            napi_create_uint32(env, URING_HEADER_SZ, &v_header_size) == napi_ok;
  if (ok) {
    napi_property_descriptor props[] = {
        {"register", NULL, js_register, NULL, NULL, NULL, napi_default, NULL},
        {"commit", NULL, js_commit, NULL, NULL, NULL, napi_default, NULL},
        {"next", NULL, js_next, NULL, NULL, NULL, napi_default, NULL},
        {"start", NULL, js_start, NULL, NULL, NULL, napi_default, NULL},
        {"stop", NULL, js_stop, NULL, NULL, NULL, napi_default, NULL},
        {"close", NULL, js_close, NULL, NULL, NULL, napi_default, NULL},
        {"onEvents", NULL, NULL, NULL, NULL, argv[4], napi_default, NULL},
        {"memory", NULL, NULL, NULL, NULL, memory, napi_enumerable, NULL},
        {"events", NULL, NULL, NULL, NULL, events, napi_enumerable, NULL},
        {"slotOffset", NULL, NULL, NULL, NULL, v_slot_off, napi_enumerable, NULL},
        {"slotSize", NULL, NULL, NULL, NULL, v_slot_size, napi_enumerable, NULL},
        {"entries", NULL, NULL, NULL, NULL, v_entries, napi_enumerable, NULL},
        {"depth", NULL, NULL, NULL, NULL, v_depth, napi_enumerable, NULL},
        {"headroom", NULL, NULL, NULL, NULL, v_headroom, napi_enumerable, NULL},
        {"headerSize", NULL, NULL, NULL, NULL, v_header_size, napi_enumerable, NULL},
    };
    ok = napi_define_properties(env, obj, sizeof props / sizeof props[0], props) == napi_ok &&
         napi_create_reference(env, events, 1, &r->events_ref) == napi_ok && famfs_watch_wrap(&r->watch, obj);
  }
  if (!ok) {
    /* The memory goes with the ArrayBuffer if it was made, else with the handle. */
    if (memory == NULL) famfs_watch_release(&r->watch);
    famfs_watch_abandon(&r->watch);
    famfs_throw_errno(env, "uringCreate", ENOMEM, "cannot create the ring object");
    return NULL;
  }
  return obj;
}

void famfs_fuse_uring_init(napi_env env, napi_value exports) {
  napi_property_descriptor fns[] = {
      {"uringCreate", NULL, js_uring_create, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof fns / sizeof fns[0], fns);
}
