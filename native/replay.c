/*
 * The log replay's per-entry loop. An 8 MiB log holds 15,420 entries and a 256 MiB one 493,447;
 * a JS loop over them runs mostly in the interpreter (a replay happens once per process, so the
 * loop never gets hot; bench/README.md, "Replay of a full log", has the figures). Here each
 * entry's frame (CRC, seqnum) is checked, a FILE or MKDIR payload is read in place, an fmap's
 * shape and placement are checked, the allocation bitmaps are marked and every placed path goes
 * into a path index. JS (src/fs/replay.ts, src/fs/namespace.ts) makes objects only for the
 * nodes someone asks for, and gives every entry this scan stops at (bad bytes, problems, other
 * entry types) to the TypeScript decoders, which say what is wrong with it.
 *
 * Offsets and sizes below are the on-media format 2.2 (src/format/log-entry.ts, file-meta.ts,
 * mkdir-entry.ts, fmap.ts, layout.ts); test/replay-scan.test.ts replays the same logs through
 * both and compares.
 */
#define _GNU_SOURCE
#include <node_api.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "native.h"

/* struct famfs_log_entry */
#define ENTRY_SIZE 544
#define ENTRY_CRC_COVERED 536
#define ENTRY_SEQNUM 0
#define ENTRY_TYPE 8
#define ENTRY_PAYLOAD 16
#define ENTRY_CRC 536
#define TYPE_FILE 0
#define TYPE_MKDIR 1
/* struct famfs_log_file_meta */
#define FM_SIZE 0
#define FM_FLAGS 8
#define FM_UID 12
#define FM_GID 16
#define FM_MODE 20
#define FM_RELPATH 24
#define FM_FMAP 104
/* struct famfs_log_mkdir */
#define MD_UID 0
#define MD_GID 4
#define MD_MODE 8
#define MD_RELPATH 12
#define RELPATH_FIELD 80
/* struct famfs_log_fmap and its extents */
#define FMAP_EXT_TYPE 0
#define FMAP_COUNT 8
#define FMAP_UNION 16
#define EXT_SIMPLE 0
#define EXT_INTERLEAVE 1
#define SEXT_SIZE 24
#define SEXT_DEV 0
#define SEXT_OFFSET 8
#define SEXT_LEN 16
#define IEXT_NSTRIPS 0
#define IEXT_CHUNK 8
#define IEXT_STRIPS 16
#define MAX_EXTENTS 16
#define ALLOC_UNIT 0x200000ull
#define SUPERBLOCK_REGION ALLOC_UNIT
/* Every size and offset famfs stores fits in 53 bits: larger values are corrupt, as
 * src/struct/le.ts readU64 refuses them. */
#define SAFE_LIMIT (1ull << 53)
/* src/fs/replay.ts MAX_DEVICES */
#define MAX_DEVICES 24

#define META_NAME ".meta"
#define META_NAME_LEN 5

/* Why the scan stopped at an entry. JS reads these names from the addon (replayStatus). */
enum status {
  ST_OK = 0,
  ST_FRAME,          /* CRC or seqnum: the slot does not hold an entry written for it */
  ST_PAYLOAD,        /* a field the decoder refuses (range, NUL, fmap shape) */
  ST_OTHER_TYPE,     /* not FILE or MKDIR: JS applies it */
  ST_UNKNOWN_DEVICE, /* detail: extent index */
  ST_UNALIGNED,
  ST_IN_METADATA,    /* over the superblock or log (the primary's), or an added device's superblock */
  ST_PAST_END,
  ST_SIZE_ZERO,
  ST_SHORT,          /* the extents hold less than the size */
  ST_PATH_EMPTY,
  ST_PATH_RESERVED,
  ST_PATH_ABSOLUTE,
  ST_PATH_COMPONENT, /* an empty, '.' or '..' component */
  ST_PATH_ENCODING,  /* not UTF-8 */
  ST_PARENT_MISSING,
  ST_PARENT_FILE,
  ST_EXISTS,
};

enum kind { KIND_NONE = 0, KIND_FILE = 1, KIND_DIR = 2 };

/* The scan's results (a Float64Array of OUT_LENGTH). Device deltas are per call. */
/* OUT_OFF_PRIMARY: FILE entries naming a device other than 0, which hosts that know only device 0
 * (upstream today) misread as extents on it. */
enum out_field { OUT_STATUS = 0, OUT_DETAIL, OUT_FILES, OUT_DIRS, OUT_FILE_BYTES, OUT_OFF_PRIMARY, OUT_DEVICES };
#define OUT_LENGTH (OUT_DEVICES + 2 * MAX_DEVICES)

/* A node as replayIndexNode reports it (a Float64Array of NODE_LENGTH). */
enum node_field { NODE_KIND = 0, NODE_PARENT, NODE_UID, NODE_GID, NODE_MODE, NODE_FLAGS, NODE_SIZE, NODE_CRC, NODE_LENGTH };

/* JS names the root -1; inside, it is the slot after the last. */
#define JS_ROOT (-1)
#define NONE (-1)

/*
 * A node: 56 bytes, the name only (the last component) kept in the index's name arena. A full
 * 256 MiB log places ~493,000 of them; the full relpath per slot (80 bytes more) was most of the
 * replay's memory.
 */
typedef struct {
  double size;
  uint32_t crc, uid, gid, mode, flags;
  /* Links are slot + 1, 0 for none, so that a zeroed index needs no setting up: a corrupt
   * superblock may give a huge log, and untouched slots cost no memory. */
  uint32_t parent;
  uint32_t first_child, last_child, next_sibling;
  /* A private copy in `names`: the log may be rewritten after it was checked, the index must not change. */
  uint32_t name_at;
  uint8_t name_len;
  uint8_t kind;
} slot_t;

/* A path table bucket: the relpath's hash and the slot + 1 (0: empty). The hash is kept so that
 * a probe reads a slot only when the hashes match. */
typedef struct {
  uint32_t hash;
  uint32_t id;
} bucket_t;

/*
 * A growable zeroed array. Small ones come from malloc; from BIG_ARRAY bytes on, from mmap, grown
 * with mremap (no copy) and given transparent huge pages where the system allows them on request:
 * a full log's index is tens of MiB, and each 4 KiB page of it would cost a page fault (a VM
 * exit too, on a guest with shadow page tables).
 */
typedef struct {
  uint8_t *p;
  size_t bytes;
} array_t;

#define BIG_ARRAY ((size_t)1 << 20)
/* How many entries ahead a scan fetches the name table's bucket. */
#define PREFETCH_AHEAD 4
/* The smallest array: a log of a few entries costs a few hundred bytes. */
#define MIN_ARRAY ((size_t)256)

/*
 * Memory grows with the entries replayed, not with the log's size: a process may open many file
 * systems in a loop that never yields to the event loop, and Node runs the finalizers that free an
 * index only from the loop (a fuzz run of 100,000 small logs grew by gigabytes when every index
 * took the 2 MiB a full 8 MiB log needs). A scan sizes the index for the slots it is given (a
 * first replay: the log's next_index), so a full log is placed without regrowing.
 */
typedef struct {
  uint32_t nslots; /* the log's slots; the root's id is nslots */
  uint32_t next;
  /* What V8 was told this index holds (napi_adjust_external_memory), given back when freed. */
  int64_t external_bytes;
  slot_t root;
  array_t slots;   /* slot_t, as many as replayed */
  array_t table;   /* bucket_t, a power of two of them, at most half full */
  array_t names;   /* the placed nodes' names, back to back */
  uint32_t names_used;
  uint32_t placed;
  uint32_t ndev;
  uint64_t dev_size[MAX_DEVICES];
  /* Bytes at each device's start that no file may use: the superblock, and on the primary the log. */
  uint64_t dev_meta[MAX_DEVICES];
  double files, dirs, file_bytes, off_primary;
} replay_index;

static const napi_type_tag INDEX_TAG = {0x66616d66735f7278ULL, 0x5e0c9a7d31b24e86ULL};

static void account(napi_env env, replay_index *rx, int64_t bytes) {
  int64_t ignored;
  rx->external_bytes += bytes;
  napi_adjust_external_memory(env, bytes, &ignored);
}

static void array_free(array_t *a) {
  if (a->bytes >= BIG_ARRAY) munmap(a->p, a->bytes);
  else free(a->p);
  a->p = NULL;
  a->bytes = 0;
}

/* Grows `a` to hold at least `need` bytes, the new ones zero. 0 when out of memory. */
static int array_grow(napi_env env, replay_index *rx, array_t *a, size_t need) {
  if (need <= a->bytes) return 1;
  size_t bytes = a->bytes ? a->bytes : MIN_ARRAY;
  while (bytes < need) bytes *= 2;
  uint8_t *p;
  if (bytes < BIG_ARRAY) {
    p = realloc(a->p, bytes);
    if (!p) return 0;
    memset(p + a->bytes, 0, bytes - a->bytes);
  } else if (a->bytes >= BIG_ARRAY) {
    p = mremap(a->p, a->bytes, bytes, MREMAP_MAYMOVE);
    if (p == MAP_FAILED) return 0;
  } else {
    p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return 0;
    if (a->bytes) memcpy(p, a->p, a->bytes);
    free(a->p);
  }
  /* Advice only: where huge pages are off, the array works the same with small ones. */
  if (bytes >= BIG_ARRAY) madvise(p, bytes, MADV_HUGEPAGE);
  account(env, rx, (int64_t)(bytes - a->bytes));
  a->p = p;
  a->bytes = bytes;
  return 1;
}

static uint32_t slots_cap(const replay_index *rx) {
  return (uint32_t)(rx->slots.bytes / sizeof(slot_t));
}

/* The slot `id` (the root for nslots); slots past those replayed were never written: empty. */
static slot_t *slot_of(replay_index *rx, uint32_t id) {
  static slot_t empty;
  if (id == rx->nslots) return &rx->root;
  return id < slots_cap(rx) ? &((slot_t *)rx->slots.p)[id] : &empty;
}

static uint64_t rd64(const uint8_t *p) {
  uint64_t v;
  memcpy(&v, p, sizeof v);
  return v;
}

static uint32_t rd32(const uint8_t *p) {
  uint32_t v;
  memcpy(&v, p, sizeof v);
  return v;
}

/* FNV-1a over the relpath, then murmur3's finalizer so that the low bits (the bucket) depend on
 * every byte. The whole path, not (parent, name): a scan can find an entry's bucket from its
 * bytes alone, before its parent is looked up, and fetch it ahead (prefetch_entry). */
static uint32_t path_hash(const char *p, size_t n) {
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)p[i]) * 16777619u;
  h ^= h >> 16;
  h *= 0x85ebca6bu;
  h ^= h >> 13;
  h *= 0xc2b2ae35u;
  h ^= h >> 16;
  return h;
}

static uint32_t table_mask(const replay_index *rx) {
  return (uint32_t)(rx->table.bytes / sizeof(bucket_t)) - 1;
}

/* Whether placed slot `id` is at relpath p[0, n): its name ends the path, and its parent is at the rest. */
static int slot_at_path(replay_index *rx, uint32_t id, const char *p, size_t n) {
  for (;;) {
    const slot_t *s = slot_of(rx, id);
    size_t len = s->name_len;
    if (len > n || memcmp(rx->names.p + s->name_at, p + n - len, len) != 0) return 0;
    if (s->parent == rx->nslots + 1) return len == n;
    if (len == n || p[n - len - 1] != '/') return 0;
    n -= len + 1;
    id = s->parent - 1;
  }
}

/* The bucket of the node at relpath p[0, n) (hash h), or the empty one where it would go. */
static bucket_t *table_probe(replay_index *rx, const char *p, size_t n, uint32_t h) {
  bucket_t *table = (bucket_t *)rx->table.p;
  uint32_t mask = table_mask(rx);
  for (uint32_t i = h & mask;; i = (i + 1) & mask) {
    bucket_t *b = &table[i];
    if (b->id == 0 || (b->hash == h && slot_at_path(rx, b->id - 1, p, n))) return b;
  }
}

/* The slot placed at relpath p[0, n), or NONE. */
static int32_t find_path(replay_index *rx, const char *p, size_t n) {
  return (int32_t)table_probe(rx, p, n, path_hash(p, n))->id - 1;
}

/* Fetches the bucket of the entry at `e` into the cache, its bytes unchecked (a hint only). */
static void prefetch_entry(const replay_index *rx, const uint8_t *e) {
  uint32_t type = rd32(e + ENTRY_TYPE);
  const uint8_t *field = e + ENTRY_PAYLOAD + (type == TYPE_FILE ? FM_RELPATH : MD_RELPATH);
  if (type != TYPE_FILE && type != TYPE_MKDIR) return;
  const uint8_t *nul = memchr(field, 0, RELPATH_FIELD);
  uint32_t h = path_hash((const char *)field, nul ? (size_t)(nul - field) : RELPATH_FIELD);
  __builtin_prefetch(&((const bucket_t *)rx->table.p)[h & table_mask(rx)], 1);
}

/* Makes room for `more` placements beyond those made, keeping the table at most half full. 0 when out of memory. */
static int table_reserve(napi_env env, replay_index *rx, uint64_t more) {
  uint64_t want = 2 * ((uint64_t)rx->placed + more);
  uint64_t size = rx->table.bytes / sizeof(bucket_t);
  if (want <= size) return 1;
  while (size < want) size *= 2;
  if (size > (uint64_t)UINT32_MAX + 1) return 0;
  array_t old = rx->table, fresh = {NULL, 0};
  if (!array_grow(env, rx, &fresh, size * sizeof(bucket_t))) return 0;
  uint32_t mask = (uint32_t)size - 1;
  bucket_t *to = (bucket_t *)fresh.p;
  const bucket_t *from = (const bucket_t *)old.p;
  for (size_t i = 0; i < old.bytes / sizeof(bucket_t); i++) {
    if (from[i].id == 0) continue;
    uint32_t j = from[i].hash & mask;
    while (to[j].id != 0) j = (j + 1) & mask;
    to[j] = from[i];
  }
  account(env, rx, -(int64_t)old.bytes);
  array_free(&old);
  rx->table = fresh;
  return 1;
}

/* Makes room for slots below `end`. 0 when out of memory. */
static int grow_slots(napi_env env, replay_index *rx, uint64_t end) {
  if (end > rx->nslots) end = rx->nslots;
  return array_grow(env, rx, &rx->slots, (size_t)end * sizeof(slot_t));
}

/*
 * Strict UTF-8 without U+FFFD: what decodes to itself. U+FFFD is refused too because it is
 * what every undecodable byte becomes in a command's arguments: a name holding it could be
 * reached as any number of byte strings (src/fs/paths.ts refuses it for the same reason).
 */
static int utf8_valid(const uint8_t *p, size_t n) {
  size_t i = 0;
  while (i < n) {
    uint8_t c = p[i];
    if (c < 0x80) { i++; continue; }
    size_t len;
    uint32_t cp, min;
    if ((c & 0xe0) == 0xc0) { len = 2; cp = c & 0x1f; min = 0x80; }
    else if ((c & 0xf0) == 0xe0) { len = 3; cp = c & 0x0f; min = 0x800; }
    else if ((c & 0xf8) == 0xf0) { len = 4; cp = c & 0x07; min = 0x10000; }
    else return 0;
    if (i + len > n) return 0;
    for (size_t k = 1; k < len; k++) {
      if ((p[i + k] & 0xc0) != 0x80) return 0;
      cp = (cp << 6) | (p[i + k] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) || cp == 0xfffd) return 0;
    i += len;
  }
  return 1;
}

/* As loggedPathProblem in src/fs/paths.ts, plus UTF-8 (a name must decode to itself, and alone). */
static enum status path_problem(const uint8_t *p, size_t n) {
  if (n == 0) return ST_PATH_EMPTY;
  if (n >= META_NAME_LEN && memcmp(p, META_NAME, META_NAME_LEN) == 0 && (n == META_NAME_LEN || p[META_NAME_LEN] == '/'))
    return ST_PATH_RESERVED;
  if (p[0] == '/') return ST_PATH_ABSOLUTE;
  size_t start = 0;
  for (size_t i = 0; i <= n; i++) {
    if (i < n && p[i] != '/') continue;
    size_t len = i - start;
    if (len == 0 || (len == 1 && p[start] == '.') || (len == 2 && p[start] == '.' && p[start + 1] == '.'))
      return ST_PATH_COMPONENT;
    start = i + 1;
  }
  return utf8_valid(p, n) ? ST_OK : ST_PATH_ENCODING;
}

typedef struct {
  int count;
  uint64_t dev[MAX_EXTENTS], off[MAX_EXTENTS], len[MAX_EXTENTS];
  uint64_t capacity;
} fmap_scan;

/* As scanFmap in src/format/fmap.ts: ST_PAYLOAD for anything it refuses. */
static enum status read_fmap(const uint8_t *f, fmap_scan *out) {
  uint32_t ext_type = rd32(f + FMAP_EXT_TYPE), count = rd32(f + FMAP_COUNT);
  const uint8_t *ext;
  uint64_t chunk = 0;
  if (ext_type == EXT_SIMPLE) {
    if (count < 1 || count > MAX_EXTENTS) return ST_PAYLOAD;
    ext = f + FMAP_UNION;
  } else if (ext_type == EXT_INTERLEAVE) {
    if (count != 1) return ST_PAYLOAD;
    const uint8_t *ie = f + FMAP_UNION;
    uint64_t nstrips = rd64(ie + IEXT_NSTRIPS);
    chunk = rd64(ie + IEXT_CHUNK);
    if (nstrips >= SAFE_LIMIT || chunk >= SAFE_LIMIT) return ST_PAYLOAD;
    if (nstrips < 1 || nstrips > MAX_EXTENTS) return ST_PAYLOAD;
    if (chunk == 0 || (chunk & (chunk - 1)) != 0 || chunk % ALLOC_UNIT != 0) return ST_PAYLOAD;
    count = (uint32_t)nstrips;
    ext = ie + IEXT_STRIPS;
  } else {
    return ST_PAYLOAD;
  }
  uint64_t sum = 0, min_len = UINT64_MAX;
  for (uint32_t i = 0; i < count; i++, ext += SEXT_SIZE) {
    out->dev[i] = rd64(ext + SEXT_DEV);
    out->off[i] = rd64(ext + SEXT_OFFSET);
    out->len[i] = rd64(ext + SEXT_LEN);
    if (out->dev[i] >= SAFE_LIMIT || out->off[i] >= SAFE_LIMIT || out->len[i] >= SAFE_LIMIT) return ST_PAYLOAD;
    if (out->len[i] == 0) return ST_PAYLOAD;
    sum += out->len[i];
    if (out->len[i] < min_len) min_len = out->len[i];
  }
  out->count = (int)count;
  out->capacity = ext_type == EXT_SIMPLE ? sum : (min_len / chunk) * chunk * count;
  return ST_OK;
}

/* As placementProblem in src/fs/placement.ts (the rules' statement); *detail is the extent at fault. */
static enum status placement(const replay_index *rx, const fmap_scan *m, uint64_t size, int *detail) {
  for (int i = 0; i < m->count; i++) {
    *detail = i;
    if (m->dev[i] >= rx->ndev) return ST_UNKNOWN_DEVICE;
    if (m->off[i] % ALLOC_UNIT != 0 || m->len[i] % ALLOC_UNIT != 0) return ST_UNALIGNED;
    if (m->off[i] < rx->dev_meta[m->dev[i]]) return ST_IN_METADATA;
    if (m->off[i] + m->len[i] > rx->dev_size[m->dev[i]]) return ST_PAST_END;
  }
  *detail = 0;
  if (size == 0) return ST_SIZE_ZERO;
  if (m->capacity < size) return ST_SHORT;
  return ST_OK;
}

typedef struct {
  napi_env env;
  napi_value bitmaps;
  uint8_t *bits[MAX_DEVICES];
  double *out;
} scan_ctx;

/*
 * Marks every in-device unit the FILE payload's fmap names, read as leniently as the bytes allow
 * (up to 16 extents or strips, whatever the count, type or alignment says): the entry's writer
 * (an upstream host takes entries this replay refuses) uses that memory while the entry is in
 * the log, shown here or not, so it must never be handed out again. Units rounded out to whole
 * units; a unit already marked is a collision (Bitmap.markRange). Extents on devices the log has
 * not added, or with values no device has, name nothing here.
 */
static int claim(scan_ctx *cx, replay_index *rx, const uint8_t *f) {
  uint32_t ext_type = rd32(f + FMAP_EXT_TYPE);
  uint64_t count;
  const uint8_t *ext;
  if (ext_type == EXT_SIMPLE) {
    count = rd32(f + FMAP_COUNT);
    ext = f + FMAP_UNION;
  } else if (ext_type == EXT_INTERLEAVE) {
    count = rd64(f + FMAP_UNION + IEXT_NSTRIPS);
    ext = f + FMAP_UNION + IEXT_STRIPS;
  } else {
    return 1;
  }
  if (count > MAX_EXTENTS) count = MAX_EXTENTS;
  int off_primary = 0;
  for (uint64_t i = 0; i < count; i++, ext += SEXT_SIZE) {
    uint64_t d = rd64(ext + SEXT_DEV), off = rd64(ext + SEXT_OFFSET), len = rd64(ext + SEXT_LEN);
    if (d != 0 && !off_primary) {
      off_primary = 1;
      rx->off_primary++;
    }
    if (d >= rx->ndev || off >= SAFE_LIMIT || len >= SAFE_LIMIT || len == 0) continue;
    uint64_t nbits = rx->dev_size[d] / ALLOC_UNIT;
    if (!cx->bits[d]) {
      napi_value v;
      size_t n;
      if (napi_get_element(cx->env, cx->bitmaps, (uint32_t)d, &v) != napi_ok ||
          !famfs_get_bytes(cx->env, v, "replayScan", &cx->bits[d], &n))
        return 0;
      if (n < (nbits + 7) / 8) {
        famfs_throw_errno(cx->env, "replayScan", ERANGE, "a bitmap is smaller than its device");
        return 0;
      }
    }
    uint8_t *bits = cx->bits[d];
    uint64_t first = off / ALLOC_UNIT, end = (off + len + ALLOC_UNIT - 1) / ALLOC_UNIT;
    if (end > nbits) end = nbits;
    double added = 0, dup = 0;
    for (uint64_t b = first; b < end; b++) {
      uint8_t bit = (uint8_t)(1u << (b & 7));
      if (bits[b >> 3] & bit) dup++;
      else {
        bits[b >> 3] |= bit;
        added++;
      }
    }
    cx->out[OUT_DEVICES + 2 * d] += added;
    cx->out[OUT_DEVICES + 2 * d + 1] += dup;
  }
  return 1;
}

/* A relpath field copied out of the log: the log may change under the scan, what is checked is what is placed. */
typedef struct {
  char bytes[RELPATH_FIELD];
  int len; /* up to the NUL; -1 without one */
} relpath_t;

static void copy_relpath(relpath_t *r, const uint8_t *field) {
  memcpy(r->bytes, field, RELPATH_FIELD);
  const char *nul = memchr(r->bytes, 0, RELPATH_FIELD);
  r->len = nul ? (int)(nul - r->bytes) : -1;
}

/* Places `slot` at the relpath under its parent, or says why it cannot be. */
static enum status place(scan_ctx *cx, replay_index *rx, uint32_t slot, uint8_t kind, const relpath_t *path) {
  size_t n = (size_t)path->len;
  enum status st = path_problem((const uint8_t *)path->bytes, n);
  if (st != ST_OK) return st;
  const char *slash = memrchr(path->bytes, '/', n);
  size_t name_at = slash ? (size_t)(slash - path->bytes) + 1 : 0;
  uint32_t parent = rx->nslots;
  if (slash) {
    int32_t id = find_path(rx, path->bytes, name_at - 1);
    if (id == NONE) return ST_PARENT_MISSING;
    if (slot_of(rx, (uint32_t)id)->kind != KIND_DIR) return ST_PARENT_FILE;
    parent = (uint32_t)id;
  }
  size_t name_len = n - name_at;
  /* Room first, so that the bucket probed for stays where it is. */
  if (!table_reserve(cx->env, rx, 1) || !array_grow(cx->env, rx, &rx->names, (size_t)rx->names_used + name_len)) {
    famfs_throw_errno(cx->env, "replayScan", ENOMEM, NULL);
    return ST_OK;
  }
  uint32_t h = path_hash(path->bytes, n);
  bucket_t *b = table_probe(rx, path->bytes, n, h);
  if (b->id != 0) return ST_EXISTS;
  b->hash = h;
  b->id = slot + 1;
  rx->placed++;
  slot_t *s = slot_of(rx, slot);
  memcpy(rx->names.p + rx->names_used, path->bytes + name_at, name_len);
  s->name_at = rx->names_used;
  s->name_len = (uint8_t)name_len;
  rx->names_used += (uint32_t)name_len;
  s->parent = parent + 1;
  s->kind = kind;
  slot_t *p = slot_of(rx, parent);
  if (p->last_child == 0) p->first_child = slot + 1;
  else slot_of(rx, p->last_child - 1)->next_sibling = slot + 1;
  p->last_child = slot + 1;
  return ST_OK;
}

/* One entry at `e`, of slot `slot` (its room in the index made); *detail for placement problems. */
static enum status scan_entry(scan_ctx *cx, replay_index *rx, const uint8_t *e, uint32_t slot, int *detail) {
  uint32_t crc = famfs_crc32(0, e, ENTRY_CRC_COVERED);
  if (rd64(e + ENTRY_CRC) != crc || rd64(e + ENTRY_SEQNUM) != slot) return ST_FRAME;
  uint32_t type = rd32(e + ENTRY_TYPE);
  const uint8_t *pl = e + ENTRY_PAYLOAD;
  slot_t *s = slot_of(rx, slot);
  s->crc = crc;
  relpath_t path;
  if (type == TYPE_MKDIR) {
    copy_relpath(&path, pl + MD_RELPATH);
    if (path.len < 0) return ST_PAYLOAD;
    s->uid = rd32(pl + MD_UID);
    s->gid = rd32(pl + MD_GID);
    s->mode = rd32(pl + MD_MODE);
    enum status st = place(cx, rx, slot, KIND_DIR, &path);
    if (st == ST_OK) rx->dirs++;
    return st;
  }
  if (type != TYPE_FILE) return ST_OTHER_TYPE;
  /* Before any check: a refused entry's memory is in use all the same (claim). */
  if (!claim(cx, rx, pl + FM_FMAP)) return ST_OK;
  uint64_t size = rd64(pl + FM_SIZE);
  copy_relpath(&path, pl + FM_RELPATH);
  fmap_scan m;
  if (size >= SAFE_LIMIT || path.len < 0 || read_fmap(pl + FM_FMAP, &m) != ST_OK) return ST_PAYLOAD;
  enum status st = placement(rx, &m, size, detail);
  if (st != ST_OK) return st;
  rx->file_bytes += (double)size;
  s->size = (double)size;
  s->flags = rd32(pl + FM_FLAGS);
  s->uid = rd32(pl + FM_UID);
  s->gid = rd32(pl + FM_GID);
  s->mode = rd32(pl + FM_MODE);
  st = place(cx, rx, slot, KIND_FILE, &path);
  if (st == ST_OK) rx->files++;
  return st;
}

static void index_finalize(napi_env env, void *data, void *hint) {
  (void)hint;
  replay_index *rx = data;
  int64_t ignored;
  napi_adjust_external_memory(env, -rx->external_bytes, &ignored);
  array_free(&rx->slots);
  array_free(&rx->table);
  array_free(&rx->names);
  free(rx);
}

static replay_index *get_index(napi_env env, napi_value v, const char *fn) {
  bool ok = false;
  void *p = NULL;
  if (napi_check_object_type_tag(env, v, &INDEX_TAG, &ok) != napi_ok || !ok ||
      napi_get_value_external(env, v, &p) != napi_ok) {
    famfs_throw_errno(env, fn, EINVAL, "not a replay index");
    return NULL;
  }
  return p;
}

/* replayIndex(slots, primarySize, metadataBytes) -> an index for a log of `slots` entries on
 * one device whose first metadataBytes (superblock and log) no file may use */
static napi_value js_index(napi_env env, napi_callback_info info) {
  napi_value argv[3], result;
  uint64_t nslots, size, meta;
  const char *fn = "replayIndex";
  if (!famfs_get_args(env, info, 3, argv, fn) ||
      !famfs_get_u64(env, argv[0], fn, "slots must be a non-negative integer", &nslots) ||
      !famfs_get_u64(env, argv[1], fn, "size must be a non-negative integer", &size) ||
      !famfs_get_u64(env, argv[2], fn, "metadataBytes must be a non-negative integer", &meta))
    return NULL;
  if (nslots >= INT32_MAX / 2) {
    famfs_throw_errno(env, fn, EINVAL, "too many slots");
    return NULL;
  }
  replay_index *rx = calloc(1, sizeof *rx);
  if (!rx) {
    famfs_throw_errno(env, fn, ENOMEM, NULL);
    return NULL;
  }
  rx->nslots = (uint32_t)nslots;
  rx->ndev = 1;
  rx->dev_size[0] = size;
  rx->dev_meta[0] = meta < SUPERBLOCK_REGION ? SUPERBLOCK_REGION : meta;
  rx->root.kind = KIND_DIR;
  /* V8 sees a small object: it is told what the index holds, so collections come in time. */
  account(env, rx, (int64_t)sizeof *rx);
  if (!array_grow(env, rx, &rx->table, MIN_ARRAY) || napi_create_external(env, rx, index_finalize, NULL, &result) != napi_ok) {
    index_finalize(env, rx, NULL);
    famfs_throw_errno(env, fn, ENOMEM, NULL);
    return NULL;
  }
  if (napi_type_tag_object(env, result, &INDEX_TAG) != napi_ok) {
    famfs_throw_errno(env, fn, ENOMEM, NULL);
    return NULL;
  }
  return result;
}

/* The (index, integer) arguments of replayIndexAddDevice and replayIndexSkip. */
static replay_index *index_and_u64(napi_env env, napi_callback_info info, const char *fn, const char *what, uint64_t *value) {
  napi_value argv[2];
  replay_index *rx;
  if (!famfs_get_args(env, info, 2, argv, fn) || !(rx = get_index(env, argv[0], fn)) ||
      !famfs_get_u64(env, argv[1], fn, what, value))
    return NULL;
  return rx;
}

/* replayIndexAddDevice(index, size): the next device index (JS has checked the ADD_DAXDEV entry) */
static napi_value js_add_device(napi_env env, napi_callback_info info) {
  uint64_t size;
  const char *fn = "replayIndexAddDevice";
  replay_index *rx = index_and_u64(env, info, fn, "size must be a non-negative integer", &size);
  if (!rx) return NULL;
  if (rx->ndev >= MAX_DEVICES) {
    famfs_throw_errno(env, fn, ENOSPC, "no more devices");
    return NULL;
  }
  rx->dev_meta[rx->ndev] = SUPERBLOCK_REGION;
  rx->dev_size[rx->ndev++] = size;
  return famfs_undefined(env);
}

/* replayIndexSkip(index, slot): consumes the next slot, which holds no whole entry */
static napi_value js_skip(napi_env env, napi_callback_info info) {
  uint64_t slot;
  const char *fn = "replayIndexSkip";
  replay_index *rx = index_and_u64(env, info, fn, "slot must be a non-negative integer", &slot);
  if (!rx) return NULL;
  if (slot != rx->next || slot >= rx->nslots) {
    famfs_throw_errno(env, fn, ERANGE, "not the next slot");
    return NULL;
  }
  rx->next++;
  return famfs_undefined(env);
}

/*
 * replayScan(index, log, base, first, count, bitmaps: Uint8Array[], out: Float64Array) -> n:
 * applies slots first.. from `base` in `log` until one it cannot apply, which is then
 * first + n (n < count) and out[OUT_STATUS] says why; n == count when all were applied.
 * Either way the slot is consumed: the next call starts after it.
 */
static napi_value js_scan(napi_env env, napi_callback_info info) {
  napi_value argv[7], result;
  const char *fn = "replayScan";
  replay_index *rx;
  uint8_t *log, *out_bytes;
  size_t log_len, out_len;
  uint64_t base, first, count;
  if (!famfs_get_args(env, info, 7, argv, fn) || !(rx = get_index(env, argv[0], fn)) ||
      !famfs_get_bytes(env, argv[1], fn, &log, &log_len) ||
      !famfs_get_u64(env, argv[2], fn, "base must be a non-negative integer", &base) ||
      !famfs_get_u64(env, argv[3], fn, "first must be a non-negative integer", &first) ||
      !famfs_get_u64(env, argv[4], fn, "count must be a non-negative integer", &count) ||
      !famfs_get_bytes(env, argv[6], fn, &out_bytes, &out_len))
    return NULL;
  if (first != rx->next || count > rx->nslots - first || base > log_len || count > (log_len - base) / ENTRY_SIZE ||
      out_len < OUT_LENGTH * sizeof(double) || ((uintptr_t)out_bytes & 7) != 0) {
    famfs_throw_errno(env, fn, ERANGE, "slots, log bytes or results out of range");
    return NULL;
  }
  scan_ctx cx = {.env = env, .bitmaps = argv[5], .out = (double *)out_bytes};
  memset(cx.out, 0, OUT_LENGTH * sizeof(double));
  /* Sized once for the slots given: a full log is placed without regrowing anything. */
  if (!grow_slots(env, rx, first + count) || !table_reserve(env, rx, count)) {
    famfs_throw_errno(env, fn, ENOMEM, NULL);
    return NULL;
  }
  uint64_t n = 0;
  for (; n < count; n++) {
    /* The bucket of an entry a few ahead: the table is too large for the cache, and each entry's
     * probe would otherwise wait for memory. */
    if (n + PREFETCH_AHEAD < count) prefetch_entry(rx, log + base + (n + PREFETCH_AHEAD) * ENTRY_SIZE);
    int detail = 0;
    enum status st = scan_entry(&cx, rx, log + base + n * ENTRY_SIZE, (uint32_t)(first + n), &detail);
    bool pending;
    if (napi_is_exception_pending(env, &pending) == napi_ok && pending) return NULL;
    rx->next++;
    if (st != ST_OK) {
      cx.out[OUT_STATUS] = st;
      cx.out[OUT_DETAIL] = detail;
      break;
    }
  }
  cx.out[OUT_FILES] = rx->files;
  cx.out[OUT_DIRS] = rx->dirs;
  cx.out[OUT_FILE_BYTES] = rx->file_bytes;
  cx.out[OUT_OFF_PRIMARY] = rx->off_primary;
  napi_create_double(env, (double)n, &result);
  return result;
}

/* A slot number from JS; `dir`: it must hold a directory. */
static int get_slot(napi_env env, napi_value v, replay_index *rx, const char *fn, int dir, int32_t *slot) {
  int s;
  if (!famfs_get_int(env, v, fn, "slot must be an integer", &s)) return 0;
  if (s == JS_ROOT) s = (int)rx->nslots;
  if (s < 0 || (uint32_t)s > rx->nslots) {
    famfs_throw_errno(env, fn, ERANGE, "no such slot");
    return 0;
  }
  if (dir && slot_of(rx, (uint32_t)s)->kind != KIND_DIR) {
    famfs_throw_errno(env, fn, ENOTDIR, "not a directory");
    return 0;
  }
  *slot = s;
  return 1;
}

/* The NODE_ fields of slot `slot` into `out` (KIND_NONE when the slot placed nothing). */
static void node_fields(const replay_index *rx, const slot_t *s, double *out) {
  out[NODE_KIND] = s->kind;
  out[NODE_PARENT] = s->parent == rx->nslots + 1 ? JS_ROOT : (double)s->parent - 1;
  out[NODE_UID] = s->uid;
  out[NODE_GID] = s->gid;
  out[NODE_MODE] = s->mode;
  out[NODE_FLAGS] = s->flags;
  out[NODE_SIZE] = s->size;
  out[NODE_CRC] = s->crc;
}

/* The index, the slot and the results array of replayIndexNode(Into): the first three of `argv`. */
static const slot_t *node_args(napi_env env, napi_value *argv, const char *fn, replay_index **rx, double **out) {
  int32_t slot;
  uint8_t *out_bytes;
  size_t out_len;
  if (!(*rx = get_index(env, argv[0], fn)) || !get_slot(env, argv[1], *rx, fn, 0, &slot) ||
      !famfs_get_bytes(env, argv[2], fn, &out_bytes, &out_len))
    return NULL;
  if (out_len < NODE_LENGTH * sizeof(double) || ((uintptr_t)out_bytes & 7) != 0) {
    famfs_throw_errno(env, fn, ERANGE, "results out of range");
    return NULL;
  }
  *out = (double *)out_bytes;
  return slot_of(*rx, (uint32_t)slot);
}

/* replayIndexNode(index, slot, out: Float64Array) -> name; out gets the NODE_ fields (KIND_NONE
 * and no name when the slot placed nothing) */
static napi_value js_node(napi_env env, napi_callback_info info) {
  napi_value argv[3], result;
  const char *fn = "replayIndexNode";
  replay_index *rx;
  double *out;
  const slot_t *s;
  if (!famfs_get_args(env, info, 3, argv, fn) || !(s = node_args(env, argv, fn, &rx, &out))) return NULL;
  node_fields(rx, s, out);
  napi_create_string_utf8(env, s->kind == KIND_NONE ? "" : (const char *)rx->names.p + s->name_at, s->name_len, &result);
  return result;
}

/* replayIndexNodeInto(index, slot, out: Float64Array, names, at) -> the name's length in bytes:
 * as replayIndexNode, the name's bytes copied to names[at..] instead of made a string (a listing
 * packs them into its reply as they are; the scan admitted only names that decode to themselves).
 * ERANGE when they would not fit; 0 and nothing copied when the slot placed nothing. */
static napi_value js_node_into(napi_env env, napi_callback_info info) {
  napi_value argv[5], result;
  const char *fn = "replayIndexNodeInto";
  replay_index *rx;
  double *out;
  const slot_t *s;
  uint8_t *names;
  size_t names_len;
  uint64_t at;
  if (!famfs_get_args(env, info, 5, argv, fn) || !(s = node_args(env, argv, fn, &rx, &out)) ||
      !famfs_get_bytes(env, argv[3], fn, &names, &names_len) ||
      !famfs_get_u64(env, argv[4], fn, "at must be a non-negative integer", &at))
    return NULL;
  size_t len = s->kind == KIND_NONE ? 0 : s->name_len;
  if (at > names_len || len > names_len - at) {
    famfs_throw_errno(env, fn, ERANGE, "the name does not fit");
    return NULL;
  }
  node_fields(rx, s, out);
  memcpy(names + at, rx->names.p + s->name_at, len);
  napi_create_uint32(env, (uint32_t)len, &result);
  return result;
}

/* replayIndexChildren(index, slot) -> Int32Array of the child slots, in log order */
static napi_value js_children(napi_env env, napi_callback_info info) {
  napi_value argv[2], ab, result;
  const char *fn = "replayIndexChildren";
  replay_index *rx;
  int32_t slot;
  if (!famfs_get_args(env, info, 2, argv, fn) || !(rx = get_index(env, argv[0], fn)) ||
      !get_slot(env, argv[1], rx, fn, 1, &slot))
    return NULL;
  size_t n = 0;
  for (uint32_t c = slot_of(rx, (uint32_t)slot)->first_child; c != 0; c = slot_of(rx, c - 1)->next_sibling) n++;
  void *data;
  if (napi_create_arraybuffer(env, n * sizeof(int32_t), &data, &ab) != napi_ok ||
      napi_create_typedarray(env, napi_int32_array, n, ab, 0, &result) != napi_ok)
    return NULL;
  int32_t *list = data;
  for (uint32_t c = slot_of(rx, (uint32_t)slot)->first_child; c != 0; c = slot_of(rx, c - 1)->next_sibling) *list++ = (int32_t)c - 1;
  return result;
}

/* replayIndexFind(index, path) -> the slot placed at this relpath, or -1 */
static napi_value js_find(napi_env env, napi_callback_info info) {
  napi_value argv[2], result;
  const char *fn = "replayIndexFind";
  replay_index *rx;
  char path[RELPATH_FIELD + 1];
  size_t len;
  if (!famfs_get_args(env, info, 2, argv, fn) || !(rx = get_index(env, argv[0], fn))) return NULL;
  if (napi_get_value_string_utf8(env, argv[1], path, sizeof path, &len) != napi_ok) {
    famfs_throw_errno(env, fn, EINVAL, "path must be a string");
    return NULL;
  }
  /* A longer path was cut to fit: it cannot be in the index. */
  int32_t slot = len >= RELPATH_FIELD ? NONE : find_path(rx, path, len);
  napi_create_int32(env, slot, &result);
  return result;
}

static void set_consts(napi_env env, napi_value exports, const char *name, const char *const *keys, size_t n) {
  napi_value obj, v;
  napi_create_object(env, &obj);
  for (size_t i = 0; i < n; i++) {
    napi_create_uint32(env, (uint32_t)i, &v);
    napi_set_named_property(env, obj, keys[i], v);
  }
  napi_set_named_property(env, exports, name, obj);
}

void famfs_replay_init(napi_env env, napi_value exports) {
  static const char *const statuses[] = {
    "OK", "FRAME", "PAYLOAD", "OTHER_TYPE", "UNKNOWN_DEVICE", "UNALIGNED", "IN_METADATA", "PAST_END",
    "SIZE_ZERO", "SHORT", "PATH_EMPTY", "PATH_RESERVED", "PATH_ABSOLUTE", "PATH_COMPONENT", "PATH_ENCODING",
    "PARENT_MISSING", "PARENT_FILE", "EXISTS",
  };
  static const char *const out_fields[] = {"STATUS", "DETAIL", "FILES", "DIRS", "FILE_BYTES", "OFF_PRIMARY", "DEVICES"};
  static const char *const node_fields[] = {"KIND", "PARENT", "UID", "GID", "MODE", "FLAGS", "SIZE", "CRC", "LENGTH"};
  static const char *const kinds[] = {"NONE", "FILE", "DIR"};
  _Static_assert(sizeof statuses / sizeof *statuses == ST_EXISTS + 1, "every status is named");
  _Static_assert(sizeof out_fields / sizeof *out_fields == OUT_DEVICES + 1, "every out field is named");
  _Static_assert(sizeof node_fields / sizeof *node_fields == NODE_LENGTH + 1, "every node field is named");
  set_consts(env, exports, "replayStatus", statuses, sizeof statuses / sizeof *statuses);
  set_consts(env, exports, "replayOut", out_fields, sizeof out_fields / sizeof *out_fields);
  set_consts(env, exports, "replayNode", node_fields, sizeof node_fields / sizeof *node_fields);
  set_consts(env, exports, "replayKind", kinds, sizeof kinds / sizeof *kinds);
  napi_value v;
  napi_create_uint32(env, OUT_LENGTH, &v);
  napi_set_named_property(env, exports, "REPLAY_OUT_LENGTH", v);
  famfs_set_fn(env, exports, "replayIndex", js_index);
  famfs_set_fn(env, exports, "replayIndexAddDevice", js_add_device);
  famfs_set_fn(env, exports, "replayScan", js_scan);
  famfs_set_fn(env, exports, "replayIndexSkip", js_skip);
  famfs_set_fn(env, exports, "replayIndexNode", js_node);
  famfs_set_fn(env, exports, "replayIndexNodeInto", js_node_into);
  famfs_set_fn(env, exports, "replayIndexChildren", js_children);
  famfs_set_fn(env, exports, "replayIndexFind", js_find);
}
