/*
 * bpf.c: the few bpf(2) commands famfs needs (maps, pins, program load, BPF_PROG_TEST_RUN) and
 * the bpffs mount, as N-API functions registered on the famfs_native addon by famfs_bpf_init().
 * Each call is one system call on memory the caller owns: there is no state here, file
 * descriptors belong to JS (closed with fs.closeSync), and bpf_attr comes from the system's
 * uapi <linux/bpf.h>, so the layouts are the kernel's own.
 *
 * Errors: Error(`${syscall}: ${strerror}`) with .code (errno name), .errno and .syscall, as in
 * famfs_native.c; a refused BPF_PROG_LOAD also carries .verifierLog.
 */
#define _GNU_SOURCE
#include <node_api.h>

#include <errno.h>
#include <linux/bpf.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>

#define BPF_MAX_ARGS 8
#define BPF_ERR_MSG_LEN 320
#define BPF_PATH_MAX 4096
#define BPF_LICENSE_MAX 128
/* The verifier's log when a load fails: enough for the resolver's whole trace several times. */
#define BPF_DEFAULT_LOG_SIZE (1u << 20)
#define BPF_LOG_LEVEL_ERRORS 1

#include "native.h"

static long sys_bpf(int cmd, union bpf_attr *attr) {
  return syscall(__NR_bpf, cmd, attr, sizeof(*attr));
}

static uint64_t ptr_u64(const void *p) { return (uint64_t)(uintptr_t)p; }

/* ------------------------------------------------------------------------------------------ */
/* errors and arguments: each helper returns 0 after throwing, 1 on success */

static void bpf_throw(napi_env env, const char *syscall_name, int err, const char *log) {
  char msg[BPF_ERR_MSG_LEN];
  snprintf(msg, sizeof msg, "%s: %s", syscall_name, strerror(err));
  const char *name = strerrorname_np(err);
  napi_value js_msg, js_code, error, v;
  bool pending = false;
  napi_value ignored;
  if (napi_is_exception_pending(env, &pending) == napi_ok && pending)
    napi_get_and_clear_last_exception(env, &ignored);
  if (napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &js_msg) != napi_ok ||
      napi_create_string_utf8(env, name ? name : "EUNKNOWN", NAPI_AUTO_LENGTH, &js_code) != napi_ok ||
      napi_create_error(env, js_code, js_msg, &error) != napi_ok) {
    napi_throw_error(env, name, msg);
    return;
  }
  if (napi_create_int32(env, err, &v) == napi_ok) napi_set_named_property(env, error, "errno", v);
  if (napi_create_string_utf8(env, syscall_name, NAPI_AUTO_LENGTH, &v) == napi_ok)
    napi_set_named_property(env, error, "syscall", v);
  if (log != NULL && napi_create_string_utf8(env, log, NAPI_AUTO_LENGTH, &v) == napi_ok)
    napi_set_named_property(env, error, "verifierLog", v);
  napi_throw(env, error);
}

static int args(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  size_t argc = BPF_MAX_ARGS;
  napi_value all[BPF_MAX_ARGS];
  if (napi_get_cb_info(env, info, &argc, all, NULL, NULL) != napi_ok) {
    bpf_throw(env, "bpf arguments", EINVAL, NULL);
    return 0;
  }
  napi_value undef;
  napi_get_undefined(env, &undef);
  for (size_t i = 0; i < want; i++) argv[i] = i < argc ? all[i] : undef;
  return 1;
}

static int is_nullish(napi_env env, napi_value v) {
  napi_valuetype t;
  napi_typeof(env, v, &t);
  return t == napi_undefined || t == napi_null;
}

static int u32_arg(napi_env env, napi_value v, const char *fn, uint32_t *out) {
  napi_valuetype t;
  napi_typeof(env, v, &t);
  double d;
  if (t != napi_number || napi_get_value_double(env, v, &d) != napi_ok || !(d >= 0 && d <= UINT32_MAX) ||
      d != (double)(uint32_t)d) {
    bpf_throw(env, fn, EINVAL, NULL);
    return 0;
  }
  *out = (uint32_t)d;
  return 1;
}

static int opt_u32_arg(napi_env env, napi_value v, const char *fn, uint32_t *out) {
  if (is_nullish(env, v)) {
    *out = 0;
    return 1;
  }
  return u32_arg(env, v, fn, out);
}

/* The bytes of a Buffer / TypedArray / DataView / ArrayBuffer. */
static int bytes_arg(napi_env env, napi_value v, const char *fn, void **data, size_t *len) {
  bool is = false;
  if (napi_is_buffer(env, v, &is) == napi_ok && is) {
    if (napi_get_buffer_info(env, v, data, len) == napi_ok) return 1;
  } else if (napi_is_typedarray(env, v, &is) == napi_ok && is) {
    napi_typedarray_type type;
    size_t n, off;
    napi_value ab;
    if (napi_get_typedarray_info(env, v, &type, &n, data, &ab, &off) == napi_ok && type == napi_uint8_array) {
      *len = n;
      return 1;
    }
  } else if (napi_is_arraybuffer(env, v, &is) == napi_ok && is) {
    if (napi_get_arraybuffer_info(env, v, data, len) == napi_ok) return 1;
  }
  bpf_throw(env, fn, EINVAL, NULL);
  return 0;
}

static int opt_bytes_arg(napi_env env, napi_value v, const char *fn, void **data, size_t *len) {
  if (is_nullish(env, v)) {
    *data = NULL;
    *len = 0;
    return 1;
  }
  return bytes_arg(env, v, fn, data, len);
}

static int string_arg(napi_env env, napi_value v, const char *fn, char *buf, size_t cap) {
  size_t n;
  if (napi_get_value_string_utf8(env, v, buf, cap, &n) != napi_ok || n + 1 >= cap) {
    bpf_throw(env, fn, n + 1 >= cap ? ENAMETOOLONG : EINVAL, NULL);
    return 0;
  }
  return 1;
}

static napi_value num(napi_env env, double x) {
  napi_value v;
  napi_create_double(env, x, &v);
  return v;
}

static napi_value boolean(napi_env env, int x) {
  napi_value v;
  napi_get_boolean(env, x != 0, &v);
  return v;
}

/* ------------------------------------------------------------------------------------------ */
/* maps */

/* bpfMapCreate(type, keySize, valueSize, maxEntries, flags, name) -> fd */
static napi_value js_map_create(napi_env env, napi_callback_info info) {
  napi_value a[6];
  union bpf_attr attr;
  memset(&attr, 0, sizeof attr);
  char name[BPF_OBJ_NAME_LEN + 1]; /* +1: a 16th byte read means the name is too long */
  if (!args(env, info, 6, a) || !u32_arg(env, a[0], "bpf(BPF_MAP_CREATE)", &attr.map_type) ||
      !u32_arg(env, a[1], "bpf(BPF_MAP_CREATE)", &attr.key_size) ||
      !u32_arg(env, a[2], "bpf(BPF_MAP_CREATE)", &attr.value_size) ||
      !u32_arg(env, a[3], "bpf(BPF_MAP_CREATE)", &attr.max_entries) ||
      !opt_u32_arg(env, a[4], "bpf(BPF_MAP_CREATE)", &attr.map_flags) ||
      !string_arg(env, a[5], "bpf(BPF_MAP_CREATE)", name, sizeof name))
    return NULL;
  memcpy(attr.map_name, name, sizeof attr.map_name);
  long fd = sys_bpf(BPF_MAP_CREATE, &attr);
  if (fd < 0) {
    bpf_throw(env, "bpf(BPF_MAP_CREATE)", errno, NULL);
    return NULL;
  }
  return num(env, (double)fd);
}

/* The key (and value) of an element command; both must be exactly the map's sizes, which the
 * kernel reads without knowing our lengths, so JS passes buffers sized from bpfObjInfo. */
static int elem_attr(napi_env env, napi_value fd, napi_value key, const char *fn, union bpf_attr *attr) {
  void *k;
  size_t kl;
  memset(attr, 0, sizeof *attr);
  if (!u32_arg(env, fd, fn, &attr->map_fd) || !opt_bytes_arg(env, key, fn, &k, &kl)) return 0;
  attr->key = ptr_u64(k);
  return 1;
}

/* bpfMapUpdate(fd, key, value, flags) */
static napi_value js_map_update(napi_env env, napi_callback_info info) {
  napi_value a[4];
  union bpf_attr attr;
  void *v;
  size_t vl;
  uint32_t flags;
  const char *fn = "bpf(BPF_MAP_UPDATE_ELEM)";
  if (!args(env, info, 4, a) || !elem_attr(env, a[0], a[1], fn, &attr) || !bytes_arg(env, a[2], fn, &v, &vl) ||
      !opt_u32_arg(env, a[3], fn, &flags))
    return NULL;
  attr.value = ptr_u64(v);
  attr.flags = flags;
  if (sys_bpf(BPF_MAP_UPDATE_ELEM, &attr) < 0) {
    bpf_throw(env, fn, errno, NULL);
    return NULL;
  }
  return NULL;
}

/* bpfMapLookup(fd, key, valueOut) -> false when the key is absent */
static napi_value js_map_lookup(napi_env env, napi_callback_info info) {
  napi_value a[3];
  union bpf_attr attr;
  void *v;
  size_t vl;
  const char *fn = "bpf(BPF_MAP_LOOKUP_ELEM)";
  if (!args(env, info, 3, a) || !elem_attr(env, a[0], a[1], fn, &attr) || !bytes_arg(env, a[2], fn, &v, &vl))
    return NULL;
  attr.value = ptr_u64(v);
  if (sys_bpf(BPF_MAP_LOOKUP_ELEM, &attr) < 0) {
    if (errno == ENOENT) return boolean(env, 0);
    bpf_throw(env, fn, errno, NULL);
    return NULL;
  }
  return boolean(env, 1);
}

/* bpfMapDelete(fd, key) -> false when the key was absent */
static napi_value js_map_delete(napi_env env, napi_callback_info info) {
  napi_value a[2];
  union bpf_attr attr;
  const char *fn = "bpf(BPF_MAP_DELETE_ELEM)";
  if (!args(env, info, 2, a) || !elem_attr(env, a[0], a[1], fn, &attr)) return NULL;
  if (sys_bpf(BPF_MAP_DELETE_ELEM, &attr) < 0) {
    if (errno == ENOENT) return boolean(env, 0);
    bpf_throw(env, fn, errno, NULL);
    return NULL;
  }
  return boolean(env, 1);
}

/* bpfMapNextKey(fd, key | null, nextOut) -> false after the last key */
static napi_value js_map_next_key(napi_env env, napi_callback_info info) {
  napi_value a[3];
  union bpf_attr attr;
  void *next;
  size_t nl;
  const char *fn = "bpf(BPF_MAP_GET_NEXT_KEY)";
  if (!args(env, info, 3, a) || !elem_attr(env, a[0], a[1], fn, &attr) || !bytes_arg(env, a[2], fn, &next, &nl))
    return NULL;
  attr.next_key = ptr_u64(next);
  if (sys_bpf(BPF_MAP_GET_NEXT_KEY, &attr) < 0) {
    if (errno == ENOENT) return boolean(env, 0);
    bpf_throw(env, fn, errno, NULL);
    return NULL;
  }
  return boolean(env, 1);
}

/* ------------------------------------------------------------------------------------------ */
/* pins and object info */

/* bpfObjPin(fd, path) */
static napi_value js_obj_pin(napi_env env, napi_callback_info info) {
  napi_value a[2];
  union bpf_attr attr;
  char path[BPF_PATH_MAX];
  memset(&attr, 0, sizeof attr);
  if (!args(env, info, 2, a) || !u32_arg(env, a[0], "bpf(BPF_OBJ_PIN)", &attr.bpf_fd) ||
      !string_arg(env, a[1], "bpf(BPF_OBJ_PIN)", path, sizeof path))
    return NULL;
  attr.pathname = ptr_u64(path);
  if (sys_bpf(BPF_OBJ_PIN, &attr) < 0) {
    bpf_throw(env, "bpf(BPF_OBJ_PIN)", errno, NULL);
    return NULL;
  }
  return NULL;
}

/* bpfObjGet(path, fileFlags) -> fd */
static napi_value js_obj_get(napi_env env, napi_callback_info info) {
  napi_value a[2];
  union bpf_attr attr;
  char path[BPF_PATH_MAX];
  memset(&attr, 0, sizeof attr);
  if (!args(env, info, 2, a) || !string_arg(env, a[0], "bpf(BPF_OBJ_GET)", path, sizeof path) ||
      !opt_u32_arg(env, a[1], "bpf(BPF_OBJ_GET)", &attr.file_flags))
    return NULL;
  attr.pathname = ptr_u64(path);
  long fd = sys_bpf(BPF_OBJ_GET, &attr);
  if (fd < 0) {
    bpf_throw(env, "bpf(BPF_OBJ_GET)", errno, NULL);
    return NULL;
  }
  return num(env, (double)fd);
}

/* bpfMapInfo(fd) -> { type, id, keySize, valueSize, maxEntries, flags, name } */
static napi_value js_map_info(napi_env env, napi_callback_info info) {
  napi_value a[1], out;
  union bpf_attr attr;
  struct bpf_map_info mi;
  memset(&attr, 0, sizeof attr);
  memset(&mi, 0, sizeof mi);
  if (!args(env, info, 1, a) || !u32_arg(env, a[0], "bpf(BPF_OBJ_GET_INFO_BY_FD)", &attr.info.bpf_fd)) return NULL;
  attr.info.info_len = sizeof mi;
  attr.info.info = ptr_u64(&mi);
  if (sys_bpf(BPF_OBJ_GET_INFO_BY_FD, &attr) < 0) {
    bpf_throw(env, "bpf(BPF_OBJ_GET_INFO_BY_FD)", errno, NULL);
    return NULL;
  }
  char name[BPF_OBJ_NAME_LEN + 1];
  memcpy(name, mi.name, BPF_OBJ_NAME_LEN);
  name[BPF_OBJ_NAME_LEN] = '\0';
  napi_value s;
  napi_create_object(env, &out);
  napi_set_named_property(env, out, "type", num(env, mi.type));
  napi_set_named_property(env, out, "id", num(env, mi.id));
  napi_set_named_property(env, out, "keySize", num(env, mi.key_size));
  napi_set_named_property(env, out, "valueSize", num(env, mi.value_size));
  napi_set_named_property(env, out, "maxEntries", num(env, mi.max_entries));
  napi_set_named_property(env, out, "flags", num(env, mi.map_flags));
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &s);
  napi_set_named_property(env, out, "name", s);
  return out;
}

/* ------------------------------------------------------------------------------------------ */
/* programs */

/* bpfProgLoad(type, insns, license, name, progFlags, expectedAttachType, logSize) -> fd.
 * Loads without a log first (the verifier runs faster), and only on failure loads again with
 * a log, so the error carries the verifier's reasons. */
static napi_value js_prog_load(napi_env env, napi_callback_info info) {
  napi_value a[7];
  union bpf_attr attr;
  void *insns;
  size_t insns_len;
  char license[BPF_LICENSE_MAX], name[BPF_OBJ_NAME_LEN + 1];
  uint32_t log_size;
  const char *fn = "bpf(BPF_PROG_LOAD)";
  memset(&attr, 0, sizeof attr);
  if (!args(env, info, 7, a) || !u32_arg(env, a[0], fn, &attr.prog_type) ||
      !bytes_arg(env, a[1], fn, &insns, &insns_len) || !string_arg(env, a[2], fn, license, sizeof license) ||
      !string_arg(env, a[3], fn, name, sizeof name) || !opt_u32_arg(env, a[4], fn, &attr.prog_flags) ||
      !opt_u32_arg(env, a[5], fn, &attr.expected_attach_type) || !opt_u32_arg(env, a[6], fn, &log_size))
    return NULL;
  if (insns_len == 0 || insns_len % sizeof(struct bpf_insn) != 0) {
    bpf_throw(env, fn, EINVAL, NULL);
    return NULL;
  }
  attr.insn_cnt = (uint32_t)(insns_len / sizeof(struct bpf_insn));
  attr.insns = ptr_u64(insns);
  attr.license = ptr_u64(license);
  memcpy(attr.prog_name, name, sizeof attr.prog_name);
  long fd = sys_bpf(BPF_PROG_LOAD, &attr);
  if (fd >= 0) return num(env, (double)fd);
  int first = errno;
  if (first == EPERM || first == ENOSYS) {
    bpf_throw(env, fn, first, NULL);
    return NULL;
  }
  if (log_size == 0) log_size = BPF_DEFAULT_LOG_SIZE;
  char *log = calloc(1, log_size);
  if (log == NULL) {
    bpf_throw(env, fn, first, NULL);
    return NULL;
  }
  attr.log_level = BPF_LOG_LEVEL_ERRORS;
  attr.log_size = log_size;
  attr.log_buf = ptr_u64(log);
  fd = sys_bpf(BPF_PROG_LOAD, &attr);
  if (fd >= 0) {
    /* Loaded with a log but not without one: report the success rather than guess. */
    free(log);
    return num(env, (double)fd);
  }
  log[log_size - 1] = '\0';
  bpf_throw(env, fn, first, log);
  free(log);
  return NULL;
}

/* bpfProgTestRun(fd, dataIn, dataOut, ctxIn, ctxOut, repeat, flags)
 *   -> { retval, duration, dataSizeOut, ctxSizeOut } */
static napi_value js_prog_test_run(napi_env env, napi_callback_info info) {
  napi_value a[7], out;
  union bpf_attr attr;
  void *di, *dout, *ci, *co;
  size_t dil, dol, cil, col;
  const char *fn = "bpf(BPF_PROG_TEST_RUN)";
  memset(&attr, 0, sizeof attr);
  if (!args(env, info, 7, a) || !u32_arg(env, a[0], fn, &attr.test.prog_fd) ||
      !opt_bytes_arg(env, a[1], fn, &di, &dil) || !opt_bytes_arg(env, a[2], fn, &dout, &dol) ||
      !opt_bytes_arg(env, a[3], fn, &ci, &cil) || !opt_bytes_arg(env, a[4], fn, &co, &col) ||
      !opt_u32_arg(env, a[5], fn, &attr.test.repeat) || !opt_u32_arg(env, a[6], fn, &attr.test.flags))
    return NULL;
  attr.test.data_in = ptr_u64(di);
  attr.test.data_size_in = (uint32_t)dil;
  attr.test.data_out = ptr_u64(dout);
  attr.test.data_size_out = (uint32_t)dol;
  attr.test.ctx_in = ptr_u64(ci);
  attr.test.ctx_size_in = (uint32_t)cil;
  attr.test.ctx_out = ptr_u64(co);
  attr.test.ctx_size_out = (uint32_t)col;
  if (sys_bpf(BPF_PROG_TEST_RUN, &attr) < 0) {
    bpf_throw(env, fn, errno, NULL);
    return NULL;
  }
  napi_create_object(env, &out);
  /* retval is the program's u32 return; JS reads it as signed where it means -errno */
  napi_set_named_property(env, out, "retval", num(env, (double)(int32_t)attr.test.retval));
  napi_set_named_property(env, out, "duration", num(env, attr.test.duration));
  napi_set_named_property(env, out, "dataSizeOut", num(env, attr.test.data_size_out));
  napi_set_named_property(env, out, "ctxSizeOut", num(env, attr.test.ctx_size_out));
  return out;
}

/* ------------------------------------------------------------------------------------------ */
/* bpffs */

/* bpffsMount(path): mount -t bpf bpf <path>, mode 0700 (pins hold device layouts). */
static napi_value js_bpffs_mount(napi_env env, napi_callback_info info) {
  napi_value a[1];
  char path[BPF_PATH_MAX];
  if (!args(env, info, 1, a) || !string_arg(env, a[0], "mount", path, sizeof path)) return NULL;
  if (mount("bpf", path, "bpf", 0, "mode=0700") < 0) {
    bpf_throw(env, "mount", errno, NULL);
    return NULL;
  }
  return NULL;
}

/* umount(path): for tests that mounted bpffs themselves. */
static napi_value js_umount(napi_env env, napi_callback_info info) {
  napi_value a[1];
  char path[BPF_PATH_MAX];
  if (!args(env, info, 1, a) || !string_arg(env, a[0], "umount", path, sizeof path)) return NULL;
  if (umount2(path, 0) < 0) {
    bpf_throw(env, "umount", errno, NULL);
    return NULL;
  }
  return NULL;
}

/* ------------------------------------------------------------------------------------------ */

static void set(napi_env env, napi_value obj, const char *name, napi_callback cb) {
  napi_value fn;
  napi_create_function(env, name, NAPI_AUTO_LENGTH, cb, NULL, &fn);
  napi_set_named_property(env, obj, name, fn);
}

void famfs_bpf_init(napi_env env, napi_value exports) {
  set(env, exports, "bpfMapCreate", js_map_create);
  set(env, exports, "bpfMapUpdate", js_map_update);
  set(env, exports, "bpfMapLookup", js_map_lookup);
  set(env, exports, "bpfMapDelete", js_map_delete);
  set(env, exports, "bpfMapNextKey", js_map_next_key);
  set(env, exports, "bpfMapInfo", js_map_info);
  set(env, exports, "bpfObjPin", js_obj_pin);
  set(env, exports, "bpfObjGet", js_obj_get);
  set(env, exports, "bpfProgLoad", js_prog_load);
  set(env, exports, "bpfProgTestRun", js_prog_test_run);
  set(env, exports, "bpffsMount", js_bpffs_mount);
  set(env, exports, "umount", js_umount);
}
