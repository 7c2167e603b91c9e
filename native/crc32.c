/*
 * CRC-32 as zlib computes it (reflected polynomial 0xEDB88320, initial value and final XOR
 * 0xffffffff): the CRC of every famfs structure. It is zlib's own crc32(): Node re-exports its zlib
 * symbols for addons (the addons guide: libuv, OpenSSL, V8 and zlib), and Node's zlib computes
 * CRCs with the CPU's carry-less multiply, faster than the slice-by-8 tables this file held
 * (bench/README.md). The replay loop (replay.c) checks every log entry with it.
 */
#include <node_api.h>
#include <zlib.h>

#include <limits.h>
#include <stdint.h>

#include "native.h"

/* zlib's crc32(seed, p, n); its length is an unsigned int, so longer ranges go in pieces. */
uint32_t famfs_crc32(uint32_t crc, const uint8_t *p, size_t n) {
  while (n > UINT_MAX) {
    crc = (uint32_t)crc32(crc, p, UINT_MAX);
    p += UINT_MAX;
    n -= UINT_MAX;
  }
  return (uint32_t)crc32(crc, p, (unsigned int)n);
}

/* crc32(bytes, offset, length) -> the CRC of that range, seeded with 0 */
static napi_value js_crc32(napi_env env, napi_callback_info info) {
  napi_value argv[3], result;
  uint8_t *start;
  size_t len;
  if (!famfs_get_args(env, info, 3, argv, "crc32") || !famfs_get_range(env, argv, "crc32", &start, &len))
    return NULL;
  napi_create_uint32(env, famfs_crc32(0, start, len), &result);
  return result;
}

void famfs_crc32_init(napi_env env, napi_value exports) {
  famfs_set_fn(env, exports, "crc32", js_crc32);
}
