// map(): the file's bytes as views of device memory. Sequential read and write of a 4 GiB file
// (1 GiB with --quick) in 1 MiB application chunks, next to the addon's memcpy of the same chunks
// over a plain mmap of the same device range (no famfs code on that path); and random 64-byte reads
// through the mapping next to the same reads from a plain Buffer of the same size.
// Goals: >= 0.9x memcpy, >= 0.9x plain Buffer.
import { openSync, closeSync } from 'node:fs';
import { loadNative } from '../dist/src/addon.js';
import { GB, GIB, MIB, QUICK, elapsedNs, emit, nowNs, phase, privateRunDir, row, runMain, summary } from './lib/common.mjs';
import { METADATA_RESERVE, fillBuffer, fillFile, makeFs, openApi } from './lib/famfs-setup.mjs';

const FILE_SIZE = QUICK ? GIB : 4 * GIB;
const RUNS = QUICK ? 5 : 7;
const CHUNK = MIB;
const RANDOM_READ = 64;
/** Random offsets drawn once and replayed on both sides, so both touch the same cache lines. */
const RANDOM_OFFSETS = QUICK ? 1 << 18 : 1 << 21;
/** The reference maps the device in windows no larger than an ArrayBuffer may be. */
const WINDOW = GIB;
const SEED = 0x9e3779b9;

/** Copies every byte of the segments into one reused application chunk; returns GB/s. */
function seqRead(segments, dst, copy) {
  let bytes = 0;
  const t0 = nowNs();
  for (const s of segments) {
    for (let off = 0; off < s.length; off += CHUNK) {
      const n = Math.min(CHUNK, s.length - off);
      copy(dst, s, off, n);
      bytes += n;
    }
  }
  return bytes / (elapsedNs(t0) / 1e9) / GB;
}

function seqWrite(segments, src, copy) {
  let bytes = 0;
  const t0 = nowNs();
  for (const s of segments) {
    for (let off = 0; off < s.length; off += CHUNK) {
      const n = Math.min(CHUNK, s.length - off);
      copy(s, off, src, n);
      bytes += n;
    }
  }
  return bytes / (elapsedNs(t0) / 1e9) / GB;
}

/** Offsets inside [0, size - 64), from a xorshift generator (Math.random differs run to run). */
function randomOffsets(size) {
  const out = new Float64Array(RANDOM_OFFSETS);
  let x = SEED;
  for (let i = 0; i < out.length; i++) {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    out[i] = Math.floor((x / 2 ** 32) * (size - RANDOM_READ));
  }
  return out;
}

/** Random 64-byte reads per second over a list of { offset, buffer } segments covering the file. */
function randomReads(segments, offsets) {
  const dst = Buffer.allocUnsafe(RANDOM_READ);
  const single = segments.length === 1 ? segments[0].buffer : null;
  const t0 = nowNs();
  if (single !== null) {
    for (let i = 0; i < offsets.length; i++) single.copy(dst, 0, offsets[i], offsets[i] + RANDOM_READ);
  } else {
    // Segments are in file order and equal-sized except the last: pick one by division.
    const segLen = segments[0].buffer.length;
    for (let i = 0; i < offsets.length; i++) {
      const off = offsets[i];
      let k = Math.floor(off / segLen);
      let at = off - k * segLen;
      if (at + RANDOM_READ > segments[k].buffer.length) { k++; at = 0; }
      segments[k].buffer.copy(dst, 0, at, at + RANDOM_READ);
    }
  }
  return offsets.length / (elapsedNs(t0) / 1e9);
}

/**
 * A plain Buffer over anonymous memory, pre-faulted (a private /dev/zero mapping with MAP_POPULATE):
 * Buffer.alloc of gigabytes would take one slow write fault per page on this VM.
 */
function anonymousBuffer(native, size) {
  const fd = openSync('/dev/zero', 'r');
  try {
    const buf = Buffer.from(native.mmap(fd, 0, size, native.PROT_READ | native.PROT_WRITE, native.MAP_PRIVATE | native.MAP_POPULATE));
    fillBuffer(buf);
    return buf;
  } finally {
    closeSync(fd);
  }
}

function main() {
  privateRunDir();
  const native = loadNative();
  const dev = makeFs('map', FILE_SIZE + METADATA_RESERVE);
  const fs = openApi(dev);
  try {
    fs.creat('big', { size: FILE_SIZE });
    phase('map: filling the file');
    fillFile(fs, dev, 'big');
    phase('map: sequential');
    const pieces = fs.getmap('big').pieces;
    const m = fs.map('big', { writable: true });
    const mapped = m.segments.map((s) => s.buffer);

    // The reference: the same device range through plain mmap windows (tmpfs pages, MAP_SHARED).
    const fd = openSync(dev, 'r+');
    const plain = [];
    for (const p of pieces) {
      for (let at = 0; at < p.len; at += WINDOW) {
        const len = Math.min(WINDOW, p.len - at);
        plain.push(Buffer.from(native.mmap(fd, p.offset + at, len, native.PROT_READ | native.PROT_WRITE, native.MAP_SHARED)));
      }
    }
    closeSync(fd);
    const chunk = Buffer.alloc(CHUNK, 1);
    const viaMap = (dst, s, off, n) => s.copy(dst, 0, off, off + n);
    const viaMemcpy = (dst, s, off, n) => native.memcpy(dst, 0, s, off, n);
    const writeMap = (s, off, src, n) => src.copy(s, off, 0, n);
    const writeMemcpy = (s, off, src, n) => native.memcpy(s, off, src, 0, n);
    // One untimed pass each: page-table faults and JIT compilation are not what is measured.
    seqRead(plain, chunk, viaMemcpy);
    seqRead(mapped, chunk, viaMap);
    // Interleaved runs: the machine's noise hits both sides alike.
    const rMap = [], rRef = [], wMap = [], wRef = [];
    for (let i = 0; i < RUNS; i++) {
      rRef.push(seqRead(plain, chunk, viaMemcpy));
      rMap.push(seqRead(mapped, chunk, viaMap));
      wRef.push(seqWrite(plain, chunk, writeMemcpy));
      wMap.push(seqWrite(mapped, chunk, writeMap));
    }
    for (const b of plain) native.munmap(b.buffer);
    const size = `${FILE_SIZE / GIB} GiB`;
    const rows = [
      row({ name: `map() sequential read, ${size}`, unit: 'GB/s', value: summary(rMap), ref: summary(rRef), refName: 'memcpy', goal: { kind: 'ratio', op: '>=', target: 0.9 }, detail: `1 MiB chunks, ${mapped.length} segment(s)` }),
      row({ name: `map() sequential write, ${size}`, unit: 'GB/s', value: summary(wMap), ref: summary(wRef), refName: 'memcpy', goal: { kind: 'ratio', op: '>=', target: 0.9 } }),
    ];

    // Random 64-byte reads: the mapping against an anonymous Buffer of the same size, both resident.
    phase('map: random reads');
    const offsets = randomOffsets(FILE_SIZE);
    const buf = anonymousBuffer(native, FILE_SIZE);
    const plainSeg = [{ offset: 0, buffer: buf }];
    const mapSegs = m.segments;
    randomReads(mapSegs, offsets); // JIT warm-up of both loops
    randomReads(plainSeg, offsets);
    const qMap = [], qRef = [];
    for (let i = 0; i < RUNS; i++) {
      qRef.push(randomReads(plainSeg, offsets));
      qMap.push(randomReads(mapSegs, offsets));
    }
    rows.push(row({ name: 'map() random 64-byte reads', unit: 'reads/s', value: summary(qMap), ref: summary(qRef), refName: 'plain Buffer', goal: { kind: 'ratio', op: '>=', target: 0.9 }, detail: `${size}, ${RANDOM_OFFSETS} offsets` }));
    native.munmap(buf.buffer);
    m.unmap();
    emit(rows);
  } finally {
    fs.close();
  }
}

runMain(main);
