#!/usr/bin/env python3
"""Whether read(2), mmap(2) and a reference file agree, for files in a FUSE mount.

Usage:
    python3 mmap_compare.py MOUNTED REFERENCE [MOUNTED REFERENCE ...]

For each pair: MOUNTED is read whole with read(2) and through a read-only shared mapping; both
must equal REFERENCE's bytes. Prints "ok" when every pair agrees; otherwise exits 1 naming the
first file and which view differs.
"""
import mmap
import sys


def main(args):
    if len(args) == 0 or len(args) % 2:
        print("usage: mmap_compare.py MOUNTED REFERENCE [MOUNTED REFERENCE ...]", file=sys.stderr)
        return 2
    for mounted, reference in zip(args[::2], args[1::2]):
        with open(reference, "rb") as f:
            want = f.read()
        with open(mounted, "rb") as f:
            data = f.read()
            if len(data) == 0:
                mapped = b""
            else:
                with mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ) as m:
                    mapped = m[:]
        if mapped != data:
            print("mmap differs from read: " + mounted, file=sys.stderr)
            return 1
        if data != want:
            print("read differs from the reference: " + mounted, file=sys.stderr)
            return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
