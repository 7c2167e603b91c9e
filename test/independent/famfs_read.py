#!/usr/bin/env python3
"""Independent famfs image reader (stdlib only).

Written only from /work/shared/spec/famfs-format.md (sections 1, 2, 3 and 4.1).
It does not share any code with the TypeScript implementation. Its job is to
catch encoder/decoder mistakes that the TypeScript side could make the same
way in both directions.

Usage:
    python3 famfs_read.py [--pretty] <image-or-device-file>
    python3 famfs_read.py --selftest

The image is read with seek + read only: the 200-byte superblock, the 48-byte
log header and the entries in [0, next_index). The file is never read whole
(emulated devices can be up to 64 GiB and sparse).

Output: one JSON object on stdout (see the module's README part below).
Exit codes: 0 ok; 1 I/O problem (missing file, short superblock read);
2 superblock magic is not 0x87b282ff (one-line message on stderr).
Anomalies that have no place in the JSON (extent count > 16, extents outside
the device, misaligned offsets, next_index past the log, ...) are reported as
"warning: ..." lines on stderr; they never change the exit code.

JSON fields
-----------
superblock: magic, version, log_offset, log_len, alloc_unit, omf_major,
    omf_minor, uuid (ts_uuid @48), dev_uuid (ts_dev_uuid @64), system_uuid
    (ts_system_uuid @80), crc (stored u64 @96), crc_ok (stored == crc32 of
    bytes [0,96)), sb_flags (u32 @104), dev_size (dd_size @112), dev_path
    (dd_daxdev @136, up to the first NUL, UTF-8 with replacement).
    UUIDs: the 16 raw bytes in on-media order, canonical lowercase 8-4-4-4-12.
log: magic, len, last_index, crc (stored u64 @24), crc_ok (stored == crc32
    of header bytes [0,24)), next_seqnum, next_index. Read at
    superblock.log_offset.
entries: one object per index i in [0, next_index) (capped at the number of
    544-byte slots that fit in superblock.log_len): index, seqnum, type
    ("FILE"|"MKDIR"|"DELETE"|"ADD_DAXDEV"|"INVALID" or the raw int), crc_ok
    (stored u64 @536 == crc32 of [0,536) AND seqnum == index).
    FILE: path, size, flags, uid, gid, mode, ext_type ("SIMPLE"|"INTERLEAVE"
      or raw int); SIMPLE: extents [{devindex, offset, len}] (first
      min(nextents,16)); INTERLEAVE: nstrips, chunk_size, strips
      [{devindex, offset, len}] (first min(nstrips,16)).
    MKDIR: path, uid, gid, mode.  ADD_DAXDEV: dev_size, dev_uuid, dev_index.
    Payload fields are decoded even when crc_ok is false.
padding_nonzero: "entry <i> bytes <a>..<b>" for every padding / unused
    region of an entry that contains a non-zero byte; a and b are entry-
    relative offsets of the first and last non-zero byte in that region,
    both inclusive. Regions checked (all entries in use, valid or not):
      all known types: 12..15 (after type)
      FILE: relpath bytes after the first NUL (40..119), fmap padding
        124..127 and 132..135; SIMPLE: extent slots >= nextents and the
        union tail 520..535; INTERLEAVE: strip slots >= nstrips (152+24k..535)
      MKDIR: relpath bytes after the first NUL (28..107), 108..535
      ADD_DAXDEV: 44..47, 48..535
bitmap (section 4.1, AU = 0x200000 constant): nbits = ceil(dev_size/AU);
    allocated_bits = number of distinct bits set in [0, nbits) after
    pre-marking [0, 0x200000 + sb.log_len) and marking every valid FILE
    entry's extents / strips (every unit from offset//AU to
    ceil((offset+len)/AU), so an unaligned extent claims each unit it touches;
    bits >= nbits are dropped with a warning); collisions = number of times an already-set
    bit was marked again (total marks - distinct bits); fsize_sum = sum of
    fm_size over valid FILE entries.
"""

import argparse
import json
import struct
import sys
import zlib

# ---------------------------------------------------------------- constants
SUPER_MAGIC = 0x87B282FF
LOG_MAGIC = 0x00000BADCAFEF00D
AU = 0x200000
SB_SIZE = 200
LOG_HDR_SIZE = 48
ENTRY_SIZE = 544
ENTRY_CRC_OFF = 536
MAX_SIMPLE = 16
MAX_STRIPS = 16

TYPE_NAMES = {0: "FILE", 1: "MKDIR", 2: "DELETE", 3: "ADD_DAXDEV", 4: "INVALID"}
EXT_NAMES = {0: "SIMPLE", 1: "INTERLEAVE"}

# FILE entry offsets (entry-relative)
F_SIZE, F_FLAGS, F_UID, F_GID, F_MODE = 16, 24, 28, 32, 36
F_PATH, F_PATH_LEN = 40, 80
F_EXT_TYPE, F_NEXT = 120, 128
F_SE = 136            # se[16] (24 bytes each, 384 bytes) or ie[0] (400 bytes)
F_IE_NSTRIPS, F_IE_CHUNK, F_IE_STRIPS = 136, 144, 152
# MKDIR entry offsets
M_UID, M_GID, M_MODE, M_PATH, M_PATH_LEN, M_END = 16, 20, 24, 28, 80, 108
# ADD_DAXDEV entry offsets
D_SIZE, D_UUID, D_INDEX, D_END = 16, 24, 40, 44


class BadMagic(Exception):
    pass


class ReadError(Exception):
    pass


QUIET = [False]


def warn(msg):
    if not QUIET[0]:
        sys.stderr.write("warning: %s\n" % msg)


def u32(b, off):
    return struct.unpack_from("<I", b, off)[0]


def u64(b, off):
    return struct.unpack_from("<Q", b, off)[0]


def fmt_uuid(raw):
    h = bytes(raw).hex()
    return "%s-%s-%s-%s-%s" % (h[0:8], h[8:12], h[12:16], h[16:20], h[20:32])


def cstr(raw):
    """Bytes up to the first NUL, decoded as UTF-8 (replacement on errors).
    Returns (string, nul_offset_or_None)."""
    raw = bytes(raw)
    n = raw.find(b"\0")
    if n < 0:
        return raw.decode("utf-8", "replace"), None
    return raw[:n].decode("utf-8", "replace"), n


def crc32(b):
    return zlib.crc32(bytes(b)) & 0xFFFFFFFF


def last_index_for(log_len):
    return (log_len - LOG_HDR_SIZE) // ENTRY_SIZE - 1


# ---------------------------------------------------------------- decoders
def parse_superblock(sb):
    if len(sb) < SB_SIZE:
        raise ReadError("short superblock read (%d of %d bytes)" % (len(sb), SB_SIZE))
    magic = u64(sb, 0)
    if magic != SUPER_MAGIC:
        raise BadMagic("bad superblock magic 0x%x (expected 0x%x)" % (magic, SUPER_MAGIC))
    crc = u64(sb, 96)
    path, _ = cstr(sb[136:200])
    return {
        "magic": magic,
        "version": u64(sb, 8),
        "log_offset": u64(sb, 16),
        "log_len": u64(sb, 24),
        "alloc_unit": u64(sb, 32),
        "omf_major": u32(sb, 40),
        "omf_minor": u32(sb, 44),
        "uuid": fmt_uuid(sb[48:64]),
        "dev_uuid": fmt_uuid(sb[64:80]),
        "system_uuid": fmt_uuid(sb[80:96]),
        "crc": crc,
        "crc_ok": crc == crc32(sb[0:96]),
        "sb_flags": u32(sb, 104),
        "dev_size": u64(sb, 112),
        "dev_path": path,
    }


def parse_log_header(h):
    if len(h) < LOG_HDR_SIZE:
        raise ReadError("short log header read (%d of %d bytes)" % (len(h), LOG_HDR_SIZE))
    crc = u64(h, 24)
    return {
        "magic": u64(h, 0),
        "len": u64(h, 8),
        "last_index": u64(h, 16),
        "crc": crc,
        "crc_ok": crc == crc32(h[0:24]),
        "next_seqnum": u64(h, 32),
        "next_index": u64(h, 40),
    }


def _check_zero(e, index, start, end, padding):
    """Record entry-relative region [start, end) if it holds a non-zero byte."""
    if start >= end:
        return
    region = e[start:end]
    if region.count(0) == len(region):
        return
    first = next(k for k in range(len(region)) if region[k] != 0)
    last = next(k for k in range(len(region) - 1, -1, -1) if region[k] != 0)
    padding.append("entry %d bytes %d..%d" % (index, start + first, start + last))


def _extent(e, off):
    return {"devindex": u64(e, off), "offset": u64(e, off + 8), "len": u64(e, off + 16)}


def parse_entry(e, index, padding):
    """Decode one 544-byte entry; append padding findings; return (dict, valid)."""
    seqnum = u64(e, 0)
    etype = u32(e, 8)
    stored_crc = u64(e, ENTRY_CRC_OFF)
    valid = stored_crc == crc32(e[0:ENTRY_CRC_OFF]) and seqnum == index
    out = {"index": index, "seqnum": seqnum,
           "type": TYPE_NAMES.get(etype, etype), "crc_ok": valid}

    if etype in TYPE_NAMES:
        _check_zero(e, index, 12, 16, padding)

    if etype == 0:  # FILE
        path, nul = cstr(e[F_PATH:F_PATH + F_PATH_LEN])
        if nul is None:
            warn("entry %d: FILE relpath is not NUL-terminated within 80 bytes" % index)
        else:
            _check_zero(e, index, F_PATH + nul + 1, F_PATH + F_PATH_LEN, padding)
        out.update({
            "path": path,
            "size": u64(e, F_SIZE),
            "flags": u32(e, F_FLAGS),
            "uid": u32(e, F_UID),
            "gid": u32(e, F_GID),
            "mode": u32(e, F_MODE),
        })
        ext_type = u32(e, F_EXT_TYPE)
        n = u32(e, F_NEXT)
        out["ext_type"] = EXT_NAMES.get(ext_type, ext_type)
        _check_zero(e, index, 124, 128, padding)
        _check_zero(e, index, 132, 136, padding)
        if ext_type == 0:
            if n > MAX_SIMPLE:
                warn("entry %d: nextents %d > %d; listing the first %d"
                     % (index, n, MAX_SIMPLE, MAX_SIMPLE))
            k = min(n, MAX_SIMPLE)
            out["extents"] = [_extent(e, F_SE + 24 * j) for j in range(k)]
            _check_zero(e, index, F_SE + 24 * k, F_SE + 24 * MAX_SIMPLE, padding)
            _check_zero(e, index, F_SE + 24 * MAX_SIMPLE, ENTRY_CRC_OFF, padding)
        elif ext_type == 1:
            if n != 1:
                warn("entry %d: interleaved fmap_niext is %d (expected 1)" % (index, n))
            nstrips = u64(e, F_IE_NSTRIPS)
            if nstrips > MAX_STRIPS:
                warn("entry %d: nstrips %d > %d; listing the first %d"
                     % (index, nstrips, MAX_STRIPS, MAX_STRIPS))
            k = min(nstrips, MAX_STRIPS)
            out["nstrips"] = nstrips
            out["chunk_size"] = u64(e, F_IE_CHUNK)
            out["strips"] = [_extent(e, F_IE_STRIPS + 24 * j) for j in range(k)]
            _check_zero(e, index, F_IE_STRIPS + 24 * k, ENTRY_CRC_OFF, padding)
        else:
            warn("entry %d: unknown fmap_ext_type %d" % (index, ext_type))
    elif etype == 1:  # MKDIR
        path, nul = cstr(e[M_PATH:M_PATH + M_PATH_LEN])
        if nul is None:
            warn("entry %d: MKDIR relpath is not NUL-terminated within 80 bytes" % index)
        else:
            _check_zero(e, index, M_PATH + nul + 1, M_PATH + M_PATH_LEN, padding)
        out.update({"path": path, "uid": u32(e, M_UID), "gid": u32(e, M_GID),
                    "mode": u32(e, M_MODE)})
        _check_zero(e, index, M_END, ENTRY_CRC_OFF, padding)
    elif etype == 3:  # ADD_DAXDEV
        out.update({"dev_size": u64(e, D_SIZE), "dev_uuid": fmt_uuid(e[D_UUID:D_UUID + 16]),
                    "dev_index": u32(e, D_INDEX)})
        _check_zero(e, index, D_END, 48, padding)
        _check_zero(e, index, 48, ENTRY_CRC_OFF, padding)
    return out, valid


# ---------------------------------------------------------------- bitmap
def ceil_div(a, b):
    return -(-a // b)


def build_bitmap(sb, entries_valid):
    """entries_valid: list of (entry_dict, valid). Section 4.1."""
    nbits = ceil_div(sb["dev_size"], AU)
    intervals = []  # [start_bit, end_bit) in marking order
    fsize_sum = 0

    def mark(start, nb, what):
        if nb <= 0:
            return
        end = start + nb
        if end > nbits:
            warn("%s: bits %d..%d lie beyond nbits %d (dropped)"
                 % (what, max(start, nbits), end - 1, nbits))
            end = nbits
        if start < end:
            intervals.append((start, end))

    mark(0, ceil_div(0x200000 + sb["log_len"], AU), "superblock+log")
    for ent, valid in entries_valid:
        if not valid or ent["type"] != "FILE":
            continue
        fsize_sum += ent["size"]
        if ent["ext_type"] == "SIMPLE":
            exts = ent["extents"]
        elif ent["ext_type"] == "INTERLEAVE":
            exts = ent["strips"]
        else:
            continue
        for j, x in enumerate(exts):
            what = "entry %d extent %d" % (ent["index"], j)
            if x["offset"] % AU:
                warn("%s: offset 0x%x is not AU-aligned" % (what, x["offset"]))
            # Every unit the extent touches, rounded out at both ends: its writer uses them all.
            first = x["offset"] // AU
            mark(first, ceil_div(x["offset"] + x["len"], AU) - first, what)

    total = sum(e - s for s, e in intervals)
    union = 0
    cur_s = cur_e = None
    for s, e in sorted(intervals):
        if cur_e is None or s > cur_e:
            if cur_e is not None:
                union += cur_e - cur_s
            cur_s, cur_e = s, e
        elif e > cur_e:
            cur_e = e
    if cur_e is not None:
        union += cur_e - cur_s
    return {"nbits": nbits, "allocated_bits": union, "collisions": total - union,
            "fsize_sum": fsize_sum}


# ---------------------------------------------------------------- reader
def read_at(f, off, n):
    f.seek(off)
    out = b""
    while len(out) < n:
        chunk = f.read(n - len(out))
        if not chunk:
            break
        out += chunk
    return out


def read_image(f):
    sb = parse_superblock(read_at(f, 0, SB_SIZE))
    if sb["version"] != 48:
        warn("superblock version %d (HEAD expects 48)" % sb["version"])
    if not sb["crc_ok"]:
        warn("superblock CRC mismatch")
    if sb["alloc_unit"] != AU:
        warn("superblock alloc_unit 0x%x != 0x%x (bitmap uses 0x%x)" % (sb["alloc_unit"], AU, AU))
    if sb["log_offset"] != 0x200000:
        warn("superblock log_offset 0x%x != 0x200000 (reading the log there anyway)"
             % sb["log_offset"])
    log_off = sb["log_offset"]
    log = parse_log_header(read_at(f, log_off, LOG_HDR_SIZE))
    if log["magic"] != LOG_MAGIC:
        warn("log header magic 0x%x != 0x%x" % (log["magic"], LOG_MAGIC))
    if not log["crc_ok"]:
        warn("log header CRC mismatch")
    if log["len"] != sb["log_len"]:
        warn("log header len 0x%x != superblock log_len 0x%x" % (log["len"], sb["log_len"]))
    if log["last_index"] != last_index_for(sb["log_len"]):
        warn("log last_index %d != floor((log_len-48)/544)-1 = %d"
             % (log["last_index"], last_index_for(sb["log_len"])))
    if log["next_seqnum"] != log["next_index"]:
        warn("next_seqnum %d != next_index %d" % (log["next_seqnum"], log["next_index"]))

    capacity = max(0, last_index_for(sb["log_len"]) + 1)
    count = log["next_index"]
    if count > capacity:
        warn("next_index %d exceeds log capacity %d slots; reading %d entries"
             % (count, capacity, capacity))
        count = capacity

    entries, padding, ev = [], [], []
    batch = 1024
    i = 0
    while i < count:
        n = min(batch, count - i)
        buf = read_at(f, log_off + LOG_HDR_SIZE + ENTRY_SIZE * i, ENTRY_SIZE * n)
        have = len(buf) // ENTRY_SIZE
        for j in range(have):
            e = buf[ENTRY_SIZE * j:ENTRY_SIZE * (j + 1)]
            ent, valid = parse_entry(e, i + j, padding)
            entries.append(ent)
            ev.append((ent, valid))
        if have < n:
            warn("file ends inside the log; read %d of %d entries" % (i + have, count))
            break
        i += n

    bad = sum(1 for _, v in ev if not v)
    if bad:
        warn("%d bad log entries (CRC or seqnum mismatch)" % bad)
    return {"superblock": sb, "log": log, "entries": entries,
            "padding_nonzero": padding, "bitmap": build_bitmap(sb, ev)}


# ---------------------------------------------------------------- self-test
class MemImage(object):
    """Minimal sparse in-memory file (seek/read) for the self-test."""

    def __init__(self, size):
        self.size = size
        self.chunks = {}  # offset -> bytes (non-overlapping)
        self.pos = 0

    def write(self, off, data):
        self.chunks[off] = bytes(data)

    def seek(self, off):
        self.pos = off

    def read(self, n):
        end = min(self.pos + n, self.size)
        if end <= self.pos:
            return b""
        out = bytearray(end - self.pos)
        for off, data in self.chunks.items():
            lo, hi = max(off, self.pos), min(off + len(data), end)
            if lo < hi:
                out[lo - self.pos:hi - self.pos] = data[lo - off:hi - off]
        self.pos = end
        return bytes(out)


def _sb_bytes(uuids, log_len=0x800000, dev_size=4 << 30, path=b"/dev/dax0.0"):
    head = struct.pack("<QQQQQII16s16s16s", SUPER_MAGIC, 48, 0x200000, log_len, 0x200000,
                       2, 2, uuids[0], uuids[1], uuids[2])
    assert len(head) == 96
    crc = zlib.crc32(head)
    tail = struct.pack("<QII Q16s64s", crc, 0, 0, dev_size, b"\0" * 16, path)
    return head + tail


def _loghdr_bytes(log_len, last_index, next_index):
    head = struct.pack("<QQQ", LOG_MAGIC, log_len, last_index)
    return head + struct.pack("<QQQ", zlib.crc32(head), next_index, next_index)


def _mkdir_entry(seq, uid, gid, mode, path):
    body = struct.pack("<QI4xIII80s", seq, 1, uid, gid, mode, path)
    assert len(body) == 108
    body += b"\0" * (536 - len(body))
    return body + struct.pack("<Q", zlib.crc32(body))


def _file_entry(seq, size, flags, uid, gid, mode, path, exts=None, interleave=None):
    body = struct.pack("<QI4xQIIII80s", seq, 0, size, flags, uid, gid, mode, path)
    assert len(body) == 120
    if interleave is None:
        fm = struct.pack("<I4xI4x", 0, len(exts))
        for d, o, l in exts:
            fm += struct.pack("<QQQ", d, o, l)
    else:
        nstrips, chunk, strips = interleave
        fm = struct.pack("<I4xI4xQQ", 1, 1, nstrips, chunk)
        for d, o, l in strips:
            fm += struct.pack("<QQQ", d, o, l)
    body += fm
    body += b"\0" * (536 - len(body))
    return body + struct.pack("<Q", zlib.crc32(body))


def selftest():
    results = []

    def check(name, cond):
        results.append((name, bool(cond)))
        if not cond:
            sys.stderr.write("FAIL: %s\n" % name)

    seq_uuids = (bytes(range(0, 16)), bytes(range(16, 32)), bytes(range(32, 48)))
    zero_uuids = (b"\0" * 16,) * 3

    # 1.9 superblock vectors
    sb1 = _sb_bytes(seq_uuids)
    sb0 = _sb_bytes(zero_uuids)
    check("len(superblock) == 200", len(sb1) == 200)
    check("sb crc (uuids 00..2f) == 0x5eff8a3a", crc32(sb1[0:96]) == 0x5EFF8A3A)
    check("sb crc (zero uuids) == 0xa95718de", crc32(sb0[0:96]) == 0xA95718DE)
    p = parse_superblock(sb1)
    check("parse sb crc_ok/crc", p["crc_ok"] and p["crc"] == 0x5EFF8A3A)
    check("parse sb fields",
          (p["version"], p["log_offset"], p["log_len"], p["alloc_unit"], p["omf_major"],
           p["omf_minor"], p["dev_size"], p["dev_path"], p["sb_flags"])
          == (48, 0x200000, 0x800000, 0x200000, 2, 2, 4 << 30, "/dev/dax0.0", 0))
    check("parse sb uuids",
          (p["uuid"], p["dev_uuid"], p["system_uuid"]) ==
          ("00010203-0405-0607-0809-0a0b0c0d0e0f", "10111213-1415-1617-1819-1a1b1c1d1e1f",
           "20212223-2425-2627-2829-2a2b2c2d2e2f"))
    check("parse sb dd_size not CRC-covered",
          parse_superblock(sb1[:112] + struct.pack("<Q", 123) + sb1[120:])["crc_ok"])
    check("parse sb detects CRC-covered change",
          not parse_superblock(sb1[:40] + struct.pack("<I", 3) + sb1[44:])["crc_ok"])
    try:
        parse_superblock(b"\0" * 8 + sb1[8:])
        check("bad magic raises BadMagic", False)
    except BadMagic:
        check("bad magic raises BadMagic", True)

    # 1.9 log header vectors
    check("last_index(8 MiB) == 15419", last_index_for(0x800000) == 15419)
    check("last_index(256 MiB) == 493446", last_index_for(256 << 20) == 493446)
    h8 = _loghdr_bytes(0x800000, 15419, 0)
    h256 = _loghdr_bytes(256 << 20, 493446, 0)
    check("log crc (8 MiB) == 0xa5875078", crc32(h8[0:24]) == 0xA5875078)
    check("log crc (256 MiB) == 0xe077f1d4", crc32(h256[0:24]) == 0xE077F1D4)
    lh = parse_log_header(_loghdr_bytes(0x800000, 15419, 7))
    check("parse log header", lh["crc_ok"] and lh["crc"] == 0xA5875078 and lh["magic"] == LOG_MAGIC
          and lh["next_index"] == 7 and lh["next_seqnum"] == 7 and lh["last_index"] == 15419)

    # 2.10 entry vectors
    md = _mkdir_entry(0, 0, 0, 0o755, b"dir1")
    fe = _file_entry(1, 1048576, 2, 0, 0, 0o644, b"file1", exts=[(0, 0xA00000, 0x200000)])
    check("len(entries) == 544", len(md) == 544 and len(fe) == 544)
    check("MKDIR entry crc == 0xd6db820b", crc32(md[0:536]) == 0xD6DB820B)
    check("FILE entry crc == 0xbbb30d42", crc32(fe[0:536]) == 0xBBB30D42)
    pad = []
    pm, vm = parse_entry(md, 0, pad)
    check("parse MKDIR", vm and pm == {"index": 0, "seqnum": 0, "type": "MKDIR", "crc_ok": True,
                                       "path": "dir1", "uid": 0, "gid": 0, "mode": 0o755})
    pf, vf = parse_entry(fe, 1, pad)
    check("parse FILE", vf and pf == {
        "index": 1, "seqnum": 1, "type": "FILE", "crc_ok": True, "path": "file1",
        "size": 1048576, "flags": 2, "uid": 0, "gid": 0, "mode": 0o644, "ext_type": "SIMPLE",
        "extents": [{"devindex": 0, "offset": 0xA00000, "len": 0x200000}]})
    check("no padding findings on vectors", pad == [])
    _, v = parse_entry(fe, 2, [])
    check("seqnum != index is invalid", not v)

    # interleaved layout (aliasing: chunk_size at 144 == se[0].se_offset)
    strips = [(0, 0x40000000 * (k + 1), 0x400000) for k in range(3)]
    ie = _file_entry(2, 5 << 20, 2, 1000, 1001, 0o600, b"d/f", interleave=(3, 0x200000, strips))
    pi, vi = parse_entry(ie, 2, pad)
    check("parse INTERLEAVE", vi and pi["ext_type"] == "INTERLEAVE" and pi["nstrips"] == 3
          and pi["chunk_size"] == 0x200000 and u64(ie, 144) == 0x200000
          and [(s["devindex"], s["offset"], s["len"]) for s in pi["strips"]] == strips
          and (pi["uid"], pi["gid"], pi["path"]) == (1000, 1001, "d/f") and pad == [])

    # padding detection: a byte after the MKDIR payload, after type, after a NUL, unused slot
    def poke(b, off, val=0xAA):
        b = bytearray(b)
        b[off] = val
        return bytes(b[:536]) + struct.pack("<Q", zlib.crc32(bytes(b[:536])))
    for name, ent, off, idx in (("mkdir tail", md, 300, 0), ("mkdir type pad", md, 13, 0),
                                ("mkdir path tail", md, 28 + 6, 0),
                                ("file path tail", fe, 40 + 70, 1),
                                ("file fmap pad", fe, 125, 1), ("file fmap pad2", fe, 135, 1),
                                ("file unused se slot", fe, 136 + 24 + 9, 1),
                                ("file union tail", fe, 530, 1),
                                ("interleave unused strip", ie, 152 + 24 * 3, 2)):
        pp = []
        _, vv = parse_entry(poke(ent, off), idx, pp)
        check("padding detected: " + name,
              vv and pp == ["entry %d bytes %d..%d" % (idx, off, off)])
    pp = []
    parse_entry(poke(fe, 136 + 9), 1, pp)  # inside the used extent: not padding
    check("used extent byte is not padding", pp == [])

    # end-to-end on a sparse in-memory 4 GiB image, incl. the 4.1 bitmap
    img = MemImage(4 << 30)
    img.write(0, sb1)
    ents = [md, fe, ie,
            _file_entry(3, 1, 2, 0, 0, 0o644, b"clash", exts=[(0, 0xA00000, 1)]),
            _file_entry(4, 1, 2, 0, 0, 0o644, b"badcrc", exts=[(0, 0xC00000, 0x200000)])[:-8]
            + struct.pack("<Q", 1),
            _mkdir_entry(5, 0, 0, 0o755, b"x" * 79)]
    img.write(0x200000, _loghdr_bytes(0x800000, 15419, len(ents)))
    for k, e in enumerate(ents):
        img.write(0x200000 + 48 + 544 * k, e)
    QUIET[0] = True  # the image above contains a deliberately bad entry
    try:
        r = read_image(img)
    finally:
        QUIET[0] = False
    check("e2e entries", [e["crc_ok"] for e in r["entries"]] == [True] * 4 + [False, True]
          and r["entries"][5]["path"] == "x" * 79)
    check("e2e bitmap", r["bitmap"] == {"nbits": 2048, "allocated_bits": 5 + 1 + 6,
                                        "collisions": 1,
                                        "fsize_sum": 1048576 + (5 << 20) + 1})
    check("e2e padding clean", r["padding_nonzero"] == [])
    json.dumps(r)

    passed = sum(1 for _, ok in results if ok)
    failed = len(results) - passed
    print("selftest: %d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 else 1


# ---------------------------------------------------------------- main
def main(argv=None):
    ap = argparse.ArgumentParser(description="Independent famfs image reader (spec-only).")
    ap.add_argument("image", nargs="?", help="famfs image or emulated device file")
    ap.add_argument("--selftest", action="store_true",
                    help="check CRC/layout code against the spec's test vectors")
    ap.add_argument("--pretty", action="store_true", help="indent the JSON output")
    args = ap.parse_args(argv)
    if args.selftest:
        return selftest()
    if not args.image:
        ap.error("an image file is required (or --selftest)")
    try:
        with open(args.image, "rb") as f:
            result = read_image(f)
    except BadMagic as ex:
        sys.stderr.write("famfs_read: %s: %s\n" % (args.image, ex))
        return 2
    except (OSError, ReadError) as ex:
        sys.stderr.write("famfs_read: %s: %s\n" % (args.image, ex))
        return 1
    json.dump(result, sys.stdout, indent=1 if args.pretty else None)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
