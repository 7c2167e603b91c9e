/*
 * The pcq (producer/consumer queue) bucket trailer over a run of consecutive buckets, in one
 * call instead of one per message: a 64-byte message costs less than a call into the addon.
 * A bucket of `bucket_size` bytes ends with the message's sequence number (u64) and then the
 * CRC (zlib crc32 seeded with 0 over payload and sequence number, stored in a u64 whose high
 * word is zero), as upstream's pcq_lib.c lays it out; src/format/pcq-bucket.ts owns the layout
 * and passes the offsets, so this file only runs the loop.
 */
#include <node_api.h>

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "native.h"

/* (buf, off, bucketSize, count, firstSeq): checked so every bucket lies inside the buffer. */
static int get_run(napi_env env, napi_callback_info info, const char *fn, uint8_t **start,
                   uint64_t *bucket_size, uint64_t *count, uint64_t *first_seq) {
  napi_value argv[5];
  uint8_t *data;
  size_t size;
  uint64_t off;
  if (!famfs_get_args(env, info, 5, argv, fn) || !famfs_get_bytes(env, argv[0], fn, &data, &size) ||
      !famfs_get_u64(env, argv[1], fn, "offset must be a non-negative integer", &off) ||
      !famfs_get_u64(env, argv[2], fn, "bucketSize must be a non-negative integer", bucket_size) ||
      !famfs_get_u64(env, argv[3], fn, "count must be a non-negative integer", count) ||
      !famfs_get_u64(env, argv[4], fn, "firstSeq must be a non-negative integer", first_seq))
    return 0;
  if (*bucket_size < 32 || (*bucket_size & (*bucket_size - 1)) != 0) {
    famfs_throw_errno(env, fn, EINVAL, "bucketSize must be a power of two of at least 32");
    return 0;
  }
  if (off > size || (*count > 0 && *count > (size - off) / *bucket_size)) {
    famfs_throw_errno(env, fn, ERANGE, "the buckets are outside the buffer");
    return 0;
  }
  *start = data + off;
  return 1;
}

/* pcqSeal(buf, off, bucketSize, count, firstSeq): bucket i gets seq firstSeq + i and its CRC. */
static napi_value js_pcq_seal(napi_env env, napi_callback_info info) {
  uint8_t *p;
  uint64_t bs, count, seq;
  if (!get_run(env, info, "pcqSeal", &p, &bs, &count, &seq)) return NULL;
  for (uint64_t i = 0; i < count; i++, p += bs, seq++) {
    uint64_t crc;
    memcpy(p + bs - 16, &seq, 8);
    crc = famfs_crc32(0, p, bs - 8);
    memcpy(p + bs - 8, &crc, 8);
  }
  return famfs_undefined(env);
}

/* pcqCheck(buf, off, bucketSize, count, firstSeq) -> how many leading buckets hold a good CRC
 * and the sequence number expected of them (firstSeq + i). */
static napi_value js_pcq_check(napi_env env, napi_callback_info info) {
  uint8_t *p;
  uint64_t bs, count, seq, good = 0;
  napi_value result;
  if (!get_run(env, info, "pcqCheck", &p, &bs, &count, &seq)) return NULL;
  for (; good < count; good++, p += bs, seq++) {
    uint64_t stored_seq, stored_crc;
    memcpy(&stored_crc, p + bs - 8, 8);
    memcpy(&stored_seq, p + bs - 16, 8);
    if (stored_crc != famfs_crc32(0, p, bs - 8) || stored_seq != seq) break;
  }
  napi_create_double(env, (double)good, &result);
  return result;
}

void famfs_pcq_init(napi_env env, napi_value exports) {
  famfs_set_fn(env, exports, "pcqSeal", js_pcq_seal);
  famfs_set_fn(env, exports, "pcqCheck", js_pcq_check);
}
