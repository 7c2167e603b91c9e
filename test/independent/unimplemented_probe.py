#!/usr/bin/env python3
"""Makes requests a FUSE file system may not implement, and reports what each returned.

Usage:
    python3 unimplemented_probe.py FILE SCRATCH OP [OP ...]

OP is one of setxattr, removexattr (user.conformance on FILE), symlink, link (to FILE, named
SCRATCH-symlink and SCRATCH-link) and fallocate (mode 0, 4096 bytes at 0 of FILE, called
through libc: os.posix_fallocate would fall back to writing zeros where the file system refuses). Prints one line per OP as it answers,
"OP ok" or "OP ERRNO", so a caller that times out can tell which one hung.
"""
import ctypes
import os
import sys


def fallocate(path):
    libc = ctypes.CDLL(None, use_errno=True)
    libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_longlong, ctypes.c_longlong]
    fd = os.open(path, os.O_RDWR)
    try:
        if libc.fallocate(fd, 0, 0, 4096) != 0:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err))
    finally:
        os.close(fd)


def main(args):
    if len(args) < 3:
        print("usage: unimplemented_probe.py FILE SCRATCH OP [OP ...]", file=sys.stderr)
        return 2
    path, scratch = args[0], args[1]
    ops = {
        "setxattr": lambda: os.setxattr(path, "user.conformance", b"1"),
        "removexattr": lambda: os.removexattr(path, "user.conformance"),
        "symlink": lambda: os.symlink(path, scratch + "-symlink"),
        "link": lambda: os.link(path, scratch + "-link"),
        "fallocate": lambda: fallocate(path),
    }
    for op in args[2:]:
        if op not in ops:
            print("unknown request " + op, file=sys.stderr)
            return 2
        try:
            ops[op]()
            print(op, "ok", flush=True)
        except OSError as e:
            print(op, e.errno, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
