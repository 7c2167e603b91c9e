{
  "targets": [
    {
      "target_name": "famfs_native",
      "sources": ["native/famfs_native.c", "native/bpf.c", "native/poll.c", "native/fuse_uring.c", "native/uv_watch.c", "native/crc32.c", "native/replay.c", "native/pcq.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-std=gnu11"]
    }
  ]
}
