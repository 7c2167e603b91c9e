/*
 * CRC-32 as zlib computes it (reflected polynomial 0xEDB88320, initial value and final XOR
 * 0xffffffff): the CRC of every famfs structure and pcq message. The replay loop (replay.c)
 * checks every log entry with it. Three paths give the same value, chosen by length and CPU:
 *   - under 64 bytes (pcq's small buckets), slice-by-8 tables: a call into zlib costs more there;
 *   - from 256 bytes, where the CPU has AVX-512 and VPCLMULQDQ, 512-bit carry-less folding;
 *   - everything else, zlib's own crc32(), which Node re-exports to addons (the addons guide:
 *     libuv, OpenSSL, V8 and zlib) and which folds 128 bits at a time with PCLMULQDQ.
 * test/format.test.ts checks the CRCs against zlib's at every length class; bench/README.md holds
 * the figures behind the choice.
 */
#include <node_api.h>
#include <zlib.h>

#include <limits.h>
#include <stdint.h>
#include <string.h>

#include "native.h"

#if defined(__x86_64__)
#include <immintrin.h>

/*
 * Long inputs (pcq buckets of KiBs) with 512-bit carry-less multiplication, where the CPU has
 * VPCLMULQDQ and AVX-512: 16 lanes of 128 bits, 256 bytes a step, where zlib folds one lane of 128
 * bits (bench/README.md, "Queues", for what that is worth per bucket). The method is Gopal et al., "Fast
 * CRC Computation for Generic Polynomials Using PCLMULQDQ Instruction" (Intel, 2009) for the
 * bit-reflected polynomial: lanes folded ahead, then into one 128-bit lane, then reduced to 32 bits
 * with Barrett's method. The constants are x^k mod P(x) for the paper's k, bit-reflected, and P(x)'
 * and mu for the reduction. Checked once at load; shorter inputs and other CPUs go to zlib.
 */
static int g_vclmul;

#define FOLD_4x128_K1 0x0154442bd4ull
#define FOLD_4x128_K2 0x01c6e41596ull
#define FOLD_1x128_K3 0x01751997d0ull
#define FOLD_1x128_K4 0x00ccaa009eull
#define FOLD_64_K5 0x0163cd6124ull
/* x^(2048+32) and x^(2048-32) mod P(x), bit-reflected, for folding 256 bytes ahead. */
#define FOLD_16x128_KLO 0x011542778aull
#define FOLD_16x128_KHI 0x01322d1430ull
#define BARRETT_POLY 0x01db710641ull
#define BARRETT_MU 0x01f7011641ull

__attribute__((target("pclmul,sse4.1"))) static __m128i fold(__m128i acc, __m128i k, __m128i next) {
  __m128i lo = _mm_clmulepi64_si128(acc, k, 0x00);
  __m128i hi = _mm_clmulepi64_si128(acc, k, 0x11);
  return _mm_xor_si128(_mm_xor_si128(hi, lo), next);
}

/* Folds the remaining 16-byte blocks (n a multiple of 16) into `a`, then reduces it to 32 bits. */
__attribute__((target("pclmul,sse4.1"))) static uint32_t fold_tail_and_reduce(__m128i a, const uint8_t *p, size_t n) {
  const __m128i k = _mm_set_epi64x((long long)FOLD_1x128_K4, (long long)FOLD_1x128_K3);
  for (; n >= 16; p += 16, n -= 16) a = fold(a, k, _mm_loadu_si128((const __m128i *)p));

  /* 128 -> 64 bits, then 64 -> 32 with the low half multiplied by K5. */
  const __m128i low32 = _mm_setr_epi32(~0, 0, ~0, 0);
  __m128i t = _mm_clmulepi64_si128(a, k, 0x10);
  a = _mm_xor_si128(_mm_srli_si128(a, 8), t);
  __m128i k5 = _mm_set_epi64x(0, (long long)FOLD_64_K5);
  t = _mm_srli_si128(a, 4);
  a = _mm_xor_si128(_mm_clmulepi64_si128(_mm_and_si128(a, low32), k5, 0x00), t);

  /* Barrett reduction to 32 bits. */
  __m128i pm = _mm_set_epi64x((long long)BARRETT_MU, (long long)BARRETT_POLY);
  t = _mm_clmulepi64_si128(_mm_and_si128(a, low32), pm, 0x10);
  t = _mm_clmulepi64_si128(_mm_and_si128(t, low32), pm, 0x00);
  a = _mm_xor_si128(a, t);
  return (uint32_t)_mm_extract_epi32(a, 1);
}

#define ZMM_FOLD_TARGET "avx512f,avx512vl,vpclmulqdq,pclmul,sse4.1"

__attribute__((target(ZMM_FOLD_TARGET))) static __m512i fold512(__m512i acc, __m512i k, __m512i next) {
  __m512i lo = _mm512_clmulepi64_epi128(acc, k, 0x00);
  __m512i hi = _mm512_clmulepi64_epi128(acc, k, 0x11);
  return _mm512_ternarylogic_epi64(lo, hi, next, 0x96); /* lo ^ hi ^ next */
}

/* As crc32_clmul for n >= 256: the 16 lanes are folded 256 bytes ahead, then one after another. */
__attribute__((target(ZMM_FOLD_TARGET))) static uint32_t crc32_vclmul(uint32_t state, const uint8_t *p, size_t n) {
  __m512i a = _mm512_loadu_si512((const void *)p);
  __m512i b = _mm512_loadu_si512((const void *)(p + 64));
  __m512i c = _mm512_loadu_si512((const void *)(p + 128));
  __m512i d = _mm512_loadu_si512((const void *)(p + 192));
  a = _mm512_xor_si512(a, _mm512_inserti32x4(_mm512_setzero_si512(), _mm_cvtsi32_si128((int)state), 0));
  p += 256;
  n -= 256;
  const __m512i k = _mm512_set_epi64((long long)FOLD_16x128_KHI, (long long)FOLD_16x128_KLO, (long long)FOLD_16x128_KHI,
                                     (long long)FOLD_16x128_KLO, (long long)FOLD_16x128_KHI, (long long)FOLD_16x128_KLO,
                                     (long long)FOLD_16x128_KHI, (long long)FOLD_16x128_KLO);
  for (; n >= 256; p += 256, n -= 256) {
    a = fold512(a, k, _mm512_loadu_si512((const void *)p));
    b = fold512(b, k, _mm512_loadu_si512((const void *)(p + 64)));
    c = fold512(c, k, _mm512_loadu_si512((const void *)(p + 128)));
    d = fold512(d, k, _mm512_loadu_si512((const void *)(p + 192)));
  }
  /* The 16 lanes hold 256 consecutive bytes' worth of remainder: fold them in order, 128 bits apart. */
  __m128i lanes[16];
  _mm512_storeu_si512((void *)lanes, a);
  _mm512_storeu_si512((void *)(lanes + 4), b);
  _mm512_storeu_si512((void *)(lanes + 8), c);
  _mm512_storeu_si512((void *)(lanes + 12), d);
  const __m128i k1 = _mm_set_epi64x((long long)FOLD_1x128_K4, (long long)FOLD_1x128_K3);
  __m128i x = lanes[0];
  for (int i = 1; i < 16; i++) x = fold(x, k1, lanes[i]);
  return fold_tail_and_reduce(x, p, n);
}
#endif

/*
 * Short inputs (pcq's 64-byte buckets) by slice-by-8 tables: zlib's carry-less path starts at 64
 * bytes, and below it a call into zlib costs more than the tables (bench/README.md, "Queues").
 */
#define SHORT_INPUT 64
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
    for (int s = 1; s < SLICES; s++) g_table[s][i] = (g_table[s - 1][i] >> 8) ^ g_table[0][g_table[s - 1][i] & 0xff];
}

static uint32_t crc32_short(uint32_t crc, const uint8_t *p, size_t n) {
  crc = ~crc;
  for (; n >= 8; p += 8, n -= 8) {
    uint32_t lo, hi;
    memcpy(&lo, p, 4);
    memcpy(&hi, p + 4, 4);
    lo ^= crc;
    crc = g_table[7][lo & 0xff] ^ g_table[6][(lo >> 8) & 0xff] ^ g_table[5][(lo >> 16) & 0xff] ^ g_table[4][lo >> 24] ^
          g_table[3][hi & 0xff] ^ g_table[2][(hi >> 8) & 0xff] ^ g_table[1][(hi >> 16) & 0xff] ^ g_table[0][hi >> 24];
  }
  while (n-- > 0) crc = g_table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
  return ~crc;
}

/* The CRC of n bytes at p, continuing from crc (0 to start). zlib's crc32() takes an unsigned int
 * length, so longer ranges go to it in pieces. */
uint32_t famfs_crc32(uint32_t crc, const uint8_t *p, size_t n) {
  if (n < SHORT_INPUT) return crc32_short(crc, p, n);
#if defined(__x86_64__)
  if (g_vclmul && n >= 256) {
    size_t bulk = n & ~(size_t)15;
    crc = ~crc32_vclmul(~crc, p, bulk);
    p += bulk;
    n -= bulk;
  }
#endif
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
  crc_init_tables();
#if defined(__x86_64__)
  __builtin_cpu_init();
  g_vclmul = __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse4.1") && __builtin_cpu_supports("avx512f") &&
             __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("vpclmulqdq");
#endif
  famfs_set_fn(env, exports, "crc32", js_crc32);
}
