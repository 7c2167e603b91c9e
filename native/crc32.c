/*
 * CRC-32 as zlib computes it (reflected polynomial 0xEDB88320, initial value and final XOR
 * 0xffffffff): the CRC of every famfs structure, slice-by-8. The replay loop (replay.c) checks
 * every log entry with it.
 */
#include <node_api.h>

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "native.h"

#define CRC_POLY 0xEDB88320u
#define SLICES 8

static uint32_t g_table[SLICES][256];

static void crc_init_tables(void) {
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ CRC_POLY : c >> 1;
    g_table[0][i] = c;
  }
  for (uint32_t i = 0; i < 256; i++)
    for (int s = 1; s < SLICES; s++)
      g_table[s][i] = (g_table[s - 1][i] >> 8) ^ g_table[0][g_table[s - 1][i] & 0xff];
}

/* zlib's crc32(seed, p, n), little-endian hosts (x86_64, aarch64). */
uint32_t famfs_crc32(uint32_t crc, const uint8_t *p, size_t n) {
  crc = ~crc;
  while (n > 0 && ((uintptr_t)p & 7) != 0) {
    crc = g_table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
    n--;
  }
  while (n >= 8) {
    uint32_t lo, hi;
    memcpy(&lo, p, 4);
    memcpy(&hi, p + 4, 4);
    lo ^= crc;
    crc = g_table[7][lo & 0xff] ^ g_table[6][(lo >> 8) & 0xff] ^ g_table[5][(lo >> 16) & 0xff] ^
          g_table[4][lo >> 24] ^ g_table[3][hi & 0xff] ^ g_table[2][(hi >> 8) & 0xff] ^
          g_table[1][(hi >> 16) & 0xff] ^ g_table[0][hi >> 24];
    p += 8;
    n -= 8;
  }
  while (n-- > 0) crc = g_table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
  return ~crc;
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
  crc_init_tables();
  famfs_set_fn(env, exports, "crc32", js_crc32);
}
