import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Fmap } from '../src/format/fmap.js';
import { resolveRange } from '../src/fs/resolve.js';
import { seededRandomInt } from './helpers/prng.js';

const MiB = 1024 ** 2;

/** Byte-by-byte reference: the device address of one file offset. */
function addressOf(fmap: Fmap, o: number): [number, number] {
  if (fmap.kind === 'simple') {
    for (const e of fmap.extents) {
      if (o < e.len) return [e.devIndex, e.offset + o];
      o -= e.len;
    }
    throw new Error('past the extents');
  }
  const chunk = Math.floor(o / fmap.chunkSize);
  const s = fmap.strips[chunk % fmap.nstrips]!;
  return [s.devIndex, s.offset + Math.floor(chunk / fmap.nstrips) * fmap.chunkSize + (o % fmap.chunkSize)];
}

function check(fmap: Fmap, size: number, off: number, len: number): void {
  const pieces = resolveRange(fmap, size, off, len);
  let o = off;
  for (const p of pieces) {
    assert.ok(p.len > 0);
    for (const probe of [0, p.len - 1, Math.floor(p.len / 2)]) {
      assert.deepEqual([p.devIndex, p.offset + probe], addressOf(fmap, o + probe), `offset ${o + probe}`);
    }
    o += p.len;
  }
  assert.equal(o, Math.max(off, Math.min(size, off + len)));
}

describe('resolveRange', () => {
  const simple: Fmap = { kind: 'simple', extents: [
    { devIndex: 0, offset: 10 * MiB, len: 4 * MiB }, { devIndex: 0, offset: 14 * MiB, len: 2 * MiB }, { devIndex: 1, offset: 2 * MiB, len: 6 * MiB },
  ] };
  const striped: Fmap = { kind: 'interleaved', nstrips: 4, chunkSize: 2 * MiB, strips: [0, 1, 2, 3].map((k) => ({ devIndex: k % 2, offset: (k + 1) * 1024 * MiB, len: 8 * MiB })) };

  it('merges device-contiguous extents and crosses extents and devices', () => {
    assert.deepEqual(resolveRange(simple, 12 * MiB, 3 * MiB, 4 * MiB), [
      { devIndex: 0, offset: 13 * MiB, len: 3 * MiB }, { devIndex: 1, offset: 2 * MiB, len: MiB },
    ]);
  });
  it('interleave: 15 MiB with 4 strips of 2 MiB chunks is chunk 7, strip 3, 3 MiB into the strip', () => {
    assert.deepEqual(resolveRange(striped, 32 * MiB, 15 * MiB, 1), [{ devIndex: 1, offset: 4 * 1024 * MiB + 3 * MiB, len: 1 }]);
  });
  it('agrees with byte-by-byte resolution on random and edge ranges; clamps to the size', () => {
    const rnd = seededRandomInt(42);
    for (const [fmap, size] of [[simple, 12 * MiB - 5], [striped, 30 * MiB + 7]] as const) {
      for (let i = 0; i < 300; i++) check(fmap, size, rnd(size + MiB), rnd(5 * MiB) + 1);
      for (const edge of [0, 2 * MiB - 1, 2 * MiB, size - 1, size, size + 1]) check(fmap, size, edge, 2 * MiB + 1);
    }
    assert.deepEqual(resolveRange(simple, 100, 100, 10), []);
  });
});
