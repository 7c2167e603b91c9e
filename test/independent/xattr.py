#!/usr/bin/env python3
"""Extended attributes as any program on the machine meets them (os.getxattr, os.setxattr).

Usage:
    python3 xattr.py get PATH NAME        prints the value (UTF-8), no newline; exit 1 with
                                          the error on stderr when the call fails
    python3 xattr.py set PATH NAME VALUE  prints "ok", or the errno number the call failed with
"""
import os
import sys


def main(argv):
    if len(argv) == 3 and argv[0] == "get":
        try:
            sys.stdout.write(os.getxattr(argv[1], argv[2]).decode())
        except OSError as e:
            print(e, file=sys.stderr)
            return 1
        return 0
    if len(argv) == 4 and argv[0] == "set":
        try:
            os.setxattr(argv[1], argv[2], argv[3].encode())
            print("ok")
        except OSError as e:
            print(e.errno)
        return 0
    print("usage: xattr.py get PATH NAME | set PATH NAME VALUE", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
