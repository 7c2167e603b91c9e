#!/usr/bin/env python3
"""Random reads of a file whose 32-bit little-endian word w holds (w * 2654435761) mod 2^32.

Usage:
    python3 pattern_reader.py PATH SEED SECONDS

Reads for SECONDS at offsets and lengths (4 B, 4 KiB, 64 KiB, 1 MiB) drawn from Python's
random.Random(SEED): through a read-only mmap when SEED is odd, with pread when it is even. Small
reads check every word, large ones a word every 4093 (a prime stride, so every offset class is
hit over a run). Prints the number of reads and exits 0, or prints "MISMATCH at OFFSET" and
exits 1 at the first word that is wrong.
"""
import mmap
import os
import random
import struct
import sys
import time

GOLDEN = 2654435761
WORD = 4
SPARSE_STRIDE_WORDS = 4093
SMALL_READ = 4096


def main(args):
    if len(args) != 3:
        print("usage: pattern_reader.py PATH SEED SECONDS", file=sys.stderr)
        return 2
    path, seed, secs = args[0], int(args[1]), float(args[2])
    rnd = random.Random(seed)
    size = os.stat(path).st_size
    fd = os.open(path, os.O_RDONLY)
    m = mmap.mmap(fd, 0, prot=mmap.PROT_READ) if seed % 2 else None
    n = 0
    end = time.time() + secs
    while time.time() < end:
        off = rnd.randrange(0, size - 2 * WORD) & ~(WORD - 1)
        ln = min(size - off, rnd.choice([WORD, SMALL_READ, 65536, 1 << 20]))
        ln -= ln % WORD
        data = m[off:off + ln] if m else os.pread(fd, ln, off)
        step = WORD if ln <= SMALL_READ else SPARSE_STRIDE_WORDS * WORD
        for i in range(0, len(data), step):
            w = (off + i) // WORD
            if struct.unpack_from("<I", data, i)[0] != (w * GOLDEN) & 0xFFFFFFFF:
                print("MISMATCH at", off + i)
                return 1
        n += 1
    print(n)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
