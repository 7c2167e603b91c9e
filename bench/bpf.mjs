#!/usr/bin/env node
// BPF fmap benchmark: ns per resolution (in the kernel, and a round trip from Node), the
// TypeScript resolver for comparison, and BPF map update / lookup latency through the addon.
// Needs root and the resolver object (npm install with clang); prints why when it cannot run.
import { performance } from 'node:perf_hooks';
import { encodeFmapKey, encodePublishedFmap, FMAP_KEY_SIZE, FMAP_VALUE_SIZE } from '../dist/src/bpf/fmap-layout.js';
import { BpfMap } from '../dist/src/bpf/map.js';
import { resolverUnavailableReason } from '../dist/src/bpf/probe.js';
import { BpfResolver } from '../dist/src/bpf/resolver.js';
import { BPF_F_NO_PREALLOC, BPF_MAP_TYPE_ARRAY, BPF_MAP_TYPE_HASH } from '../dist/src/bpf/uapi.js';
import { resolveRange } from '../dist/src/fs/resolve.js';

const MiB = 1024 ** 2;
const UNIT = 2 * MiB;
const KERNEL_REPEAT = 1_000_000;
const ROUND_TRIPS = 100_000;
const UPDATES = 20_000;
const RUNS = 5;

const why = resolverUnavailableReason();
if (why) {
  console.log(`bench/bpf: skipped: ${why}`);
  process.exit(0);
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (ns) => `${ns.toFixed(ns < 100 ? 1 : 0)} ns`;

const files = {
  'simple, 1 extent, offset in it': { ino: 2, off: 5 * MiB, size: 64 * MiB, fmap: { kind: 'simple', extents: [{ devIndex: 0, offset: 64 * MiB, len: 64 * MiB }] } },
  'simple, 16 extents, offset in the 16th': {
    ino: 3, off: 15 * 4 * MiB + 1, size: 64 * MiB,
    fmap: { kind: 'simple', extents: Array.from({ length: 16 }, (_, i) => ({ devIndex: 0, offset: (200 + 8 * i) * MiB, len: 4 * MiB })) },
  },
  'interleaved, 16 strips, 2 MiB chunks': {
    ino: 4, off: 1000 * MiB + 12345, size: 1024 * MiB,
    fmap: { kind: 'interleaved', nstrips: 16, chunkSize: UNIT, strips: Array.from({ length: 16 }, (_, i) => ({ devIndex: i % 2, offset: (1024 + 64 * i) * MiB, len: 64 * MiB })) },
  },
  'unknown inode (lookup miss)': { ino: 999, off: 0 },
};

const map = BpfMap.create({ type: BPF_MAP_TYPE_HASH, keySize: FMAP_KEY_SIZE, valueSize: FMAP_VALUE_SIZE, maxEntries: UPDATES + 16, flags: BPF_F_NO_PREALLOC, name: 'famfs_bench' });
const resolver = BpfResolver.load(map);
try {
  for (const f of Object.values(files)) if (f.fmap) map.update(encodeFmapKey(f.ino), encodePublishedFmap({ size: f.size, fmap: f.fmap }));

  console.log(`resolution (median of ${RUNS}; kernel: XDP test run x${KERNEL_REPEAT}, harness included; node: one SYSCALL test run per call)`);
  console.log('case                                      kernel     node->bpf   resolveRange (TS)');
  for (const [name, f] of Object.entries(files)) {
    const kernel = median(Array.from({ length: RUNS }, () => resolver.resolveTimed(f.ino, f.off, 0, KERNEL_REPEAT).nsPerRun));
    const rt = median(Array.from({ length: RUNS }, () => {
      const t0 = performance.now();
      for (let i = 0; i < ROUND_TRIPS; i++) resolver.resolve(f.ino, f.off);
      return ((performance.now() - t0) * 1e6) / ROUND_TRIPS;
    }));
    let ts = '';
    if (f.fmap) {
      const tsNs = median(Array.from({ length: RUNS }, () => {
        const t0 = performance.now();
        for (let i = 0; i < ROUND_TRIPS; i++) resolveRange(f.fmap, f.size, f.off, 1);
        return ((performance.now() - t0) * 1e6) / ROUND_TRIPS;
      }));
      ts = fmt(tsNs);
    }
    console.log(`${name.padEnd(40)}  ${fmt(kernel).padStart(8)}  ${fmt(rt).padStart(10)}  ${ts.padStart(10)}`);
  }

  const value = encodePublishedFmap({ size: files['interleaved, 16 strips, 2 MiB chunks'].size, fmap: files['interleaved, 16 strips, 2 MiB chunks'].fmap });
  const keys = Array.from({ length: UPDATES }, (_, i) => encodeFmapKey(10_000 + i));
  const time = (fn) => {
    const t0 = performance.now();
    for (const k of keys) fn(k);
    return ((performance.now() - t0) * 1e6) / keys.length;
  };
  const insert = time((k) => map.update(k, value));
  const overwrite = median(Array.from({ length: RUNS }, () => time((k) => map.update(k, value))));
  const lookup = median(Array.from({ length: RUNS }, () => time((k) => map.lookup(k))));
  const del = time((k) => map.delete(k));
  // The floor under every addon call: one bpf(2) that does almost nothing.
  const probe = BpfMap.create({ type: BPF_MAP_TYPE_ARRAY, keySize: 4, valueSize: 8, maxEntries: 1, flags: 0, name: 'famfs_floor' });
  const zero = Buffer.alloc(4);
  const floor = median(Array.from({ length: RUNS }, () => time(() => probe.lookup(zero))));
  probe.close();
  console.log(`\nmap (${FMAP_VALUE_SIZE}-byte values, ${UPDATES} keys, through the addon)`);
  console.log(`insert ${fmt(insert)}   update ${fmt(overwrite)}   lookup ${fmt(lookup)}   delete ${fmt(del)}   (per element)`);
  console.log(`floor: BPF_MAP_LOOKUP_ELEM of a 1-element array ${fmt(floor)} (the cost of any bpf(2) from Node here)`);
} finally {
  resolver.close();
  map.close();
}
