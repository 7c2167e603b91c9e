#!/usr/bin/env python3
"""Independent reader of a pcq (producer/consumer queue) in a famfs image (stdlib only).

Written from upstream famfs's pcq layout (src/pcq.h, markdown/pcq_guide.md) and the famfs
format spec; it shares no code with the TypeScript queue. famfs_read.py (beside it, also
spec-only) finds the two files' extents in the log.

Usage:
    python3 pcq_read.py <image-or-device-file> <queue-path>

Layout (all little-endian, x86_64 sizes):
    producer file <queue>:           consumer file <queue>.consumer (2 MiB):
      @0     u64 pcq_magic 0xBEEBEE3    @0        u32 pcq_consumer_magic 0xBEEBEE4
      @8     u64 nbuckets               @4        u32 pad
      @16    u64 bucket_size            @8        u64 consumer_index
      @24    u64 bucket_array_offset    @16       char pad2[1048576]
      @32    u64 producer_index         @1048592  u64 next_seq
      @40    char pad[1024]             @1048600  u64 pcqc_size
      @1064  u64 next_seq
      @1072  u64 pcq_size
    bucket i at bucket_array_offset + i * bucket_size:
      payload (bucket_size - 16), u64 seq, unsigned long crc (8 bytes) where
      crc = zlib.crc32(payload + seq bytes) (seed 0), stored zero-extended.
    Messages in the queue: buckets consumer_index, consumer_index + 1, ... (mod nbuckets)
    up to but not including producer_index.

Output: one JSON object: producer {...}, consumer {...}, messages [{bucket, seq, crc_ok,
payload_hex}] for the messages in the queue. Exit 0 ok, 2 file not found or bad magic.
"""

import json
import os
import struct
import sys
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import famfs_read  # noqa: E402

PCQ_MAGIC = 0xBEEBEE3
PCQ_CONSUMER_MAGIC = 0xBEEBEE4


def file_reader(f, entry):
    """A function (off, n) -> bytes of the famfs file `entry` (simple or interleaved)."""
    if entry.get("ext_type") == "SIMPLE":
        exts = entry["extents"]

        def read(off, n):
            out = b""
            while n > 0:
                base = 0
                for e in exts:
                    if off < base + e["len"]:
                        take = min(n, base + e["len"] - off)
                        out += famfs_read.read_at(f, e["offset"] + off - base, take)
                        off += take
                        n -= take
                        break
                    base += e["len"]
                else:
                    raise ValueError("read past the file's extents")
            return out
        return read
    strips, chunk = entry["strips"], entry["chunk_size"]

    def read_interleaved(off, n):
        out = b""
        while n > 0:
            cnum, coff = divmod(off, chunk)
            strip, stripe = cnum % len(strips), cnum // len(strips)
            take = min(n, chunk - coff)
            out += famfs_read.read_at(f, strips[strip]["offset"] + stripe * chunk + coff, take)
            off += take
            n -= take
        return out
    return read_interleaved


def main(argv):
    image, qpath = argv[1], argv[2]
    with open(image, "rb") as f:
        img = famfs_read.read_image(f)
        files = {e["path"]: e for e in img["entries"] if e.get("type") == "FILE" and e["crc_ok"]}
        if qpath not in files or qpath + ".consumer" not in files:
            sys.stderr.write("pcq_read: no queue %s in the log\n" % qpath)
            return 2
        prod = file_reader(f, files[qpath])
        cons = file_reader(f, files[qpath + ".consumer"])
        h = prod(0, 1080)
        magic, nbuckets, bsize, array_off, pidx = struct.unpack_from("<5Q", h, 0)
        p_next_seq, pcq_size = struct.unpack_from("<2Q", h, 1064)
        if magic != PCQ_MAGIC:
            sys.stderr.write("pcq_read: producer magic 0x%x\n" % magic)
            return 2
        cmagic, _pad, cidx = struct.unpack_from("<IIQ", cons(0, 16), 0)
        c_next_seq, pcqc_size = struct.unpack_from("<2Q", cons(1048592, 16), 0)
        if cmagic != PCQ_CONSUMER_MAGIC:
            sys.stderr.write("pcq_read: consumer magic 0x%x\n" % cmagic)
            return 2
        messages = []
        i = cidx
        while i != pidx:
            b = prod(array_off + i * bsize, bsize)
            seq, crc = struct.unpack_from("<2Q", b, bsize - 16)
            messages.append({"bucket": i, "seq": seq, "crc_ok": crc == zlib.crc32(b[:bsize - 8]),
                             "payload_hex": b[:bsize - 16].hex()})
            i = (i + 1) % nbuckets
        json.dump({
            "producer": {"magic": magic, "nbuckets": nbuckets, "bucket_size": bsize,
                         "bucket_array_offset": array_off, "producer_index": pidx,
                         "next_seq": p_next_seq, "pcq_size": pcq_size},
            "consumer": {"magic": cmagic, "consumer_index": cidx, "next_seq": c_next_seq,
                         "pcqc_size": pcqc_size},
            "messages": messages,
        }, sys.stdout)
        sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
