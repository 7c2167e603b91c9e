import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { arrayOf, at, bytes, defineStruct, nested, pad } from '../src/struct/struct.js';
import { readU64, U64RangeError, writeU64 } from '../src/struct/le.js';

describe('struct toolkit', () => {
  it('lays fields out as C does: natural alignment, trailing padding to the largest member', () => {
    // struct { u8 a; u32 b; u16 c; u64 d; u8 e; } is 32 bytes in C on every 64-bit ABI.
    const s = defineStruct('mixed', 32, { a: 'u8', b: 'u32', c: 'u16', d: 'u64', e: 'u8' });
    assert.deepEqual({ ...s.OFF }, { a: 0, b: 4, c: 8, d: 16, e: 24 });
    assert.equal(s.SIZE, 32);
    assert.equal(s.ALIGN, 8);
    assert.ok(Object.isFrozen(s.OFF));
  });

  it('refuses, at definition, a size that disagrees with the C size and an explicit offset that overlaps or misaligns', () => {
    assert.throws(() => defineStruct('short', 12, { a: 'u64', b: 'u32' }), /fields add up to 16 bytes, the C struct is 12/);
    assert.throws(() => defineStruct('overlap', 16, { a: 'u64', b: at(4, 'u32') }), /overlap\.b: offset 4 overlaps/);
    assert.throws(() => defineStruct('misaligned', 16, { a: 'u32', b: at(6, 'u32') }), /misaligned\.b: offset 6 .* 4-byte alignment/);
  });

  it('encodes the bytes a hand-built C image holds and decodes them back', () => {
    const ext = defineStruct('ext', 16, { dev: 'u32', _reserved: pad(4), len: 'u64' });
    const s = defineStruct('outer', 88, {
      magic: 'u64n', kind: 'i32', name: bytes(4), list: at(24, arrayOf(ext, 3)), tail: nested(ext),
    });
    const value = {
      magic: 0xfeedfacecafebeefn, kind: -2, name: Buffer.from('abc'),
      list: [{ dev: 1, len: 2 ** 40 }, { dev: 7, len: 9 }], tail: { dev: 0xffffffff, len: 2 ** 53 - 1 },
    };
    const buf = s.alloc(value);
    const expected = Buffer.alloc(88);
    expected.writeBigUInt64LE(0xfeedfacecafebeefn, 0);
    expected.writeInt32LE(-2, 8);
    expected.write('abc', 12, 'latin1');
    expected.writeUInt32LE(1, 24);
    expected.writeBigUInt64LE(2n ** 40n, 32);
    expected.writeUInt32LE(7, 40);
    expected.writeBigUInt64LE(9n, 48);
    expected.writeUInt32LE(0xffffffff, 72);
    expected.writeBigUInt64LE(2n ** 53n - 1n, 80);
    assert.deepEqual(buf, expected);
    const back = s.decode(buf);
    assert.equal(back.magic, value.magic);
    assert.equal(back.kind, -2);
    assert.deepEqual(back.name, Buffer.from('abc\0'));
    assert.deepEqual(back.list, [...value.list, { dev: 0, len: 0 }]);
    assert.deepEqual(back.tail, value.tail);
    assert.equal('_reserved' in back.tail, false);
  });

  it('writes padding as zeroes and leaves bytes outside the struct alone', () => {
    const s = defineStruct('padded', 16, { a: 'u32', _pad: pad(4), b: 'u64' });
    const buf = Buffer.alloc(20, 0xaa);
    s.encode(buf, 2, { a: 1, b: 2 });
    assert.deepEqual([...buf.subarray(0, 2)], [0xaa, 0xaa]);
    assert.deepEqual([...buf.subarray(6, 10)], [0, 0, 0, 0]);
    assert.deepEqual([...buf.subarray(18)], [0xaa, 0xaa]);
  });

  it('refuses a u64 above 2^53 with the fault the struct names, and a struct outside its buffer', () => {
    class Corrupt extends Error {}
    const s = defineStruct('sized', 8, { size: 'u64' }, { fault: (field, v) => new Corrupt(`${field}: 0x${v.toString(16)}`) });
    const buf = Buffer.alloc(8);
    buf.writeBigUInt64LE(2n ** 53n);
    assert.throws(() => s.decode(buf), (e: unknown) => e instanceof Corrupt && e.message === 'sized.size: 0x20000000000000');
    assert.throws(() => readU64(buf, 0), (e: unknown) => e instanceof U64RangeError && e.code === 'EOVERFLOW');
    assert.throws(() => s.decode(buf, 1), RangeError);
    assert.throws(() => writeU64(buf, 0, -1), RangeError);
    assert.throws(() => writeU64(buf, 0, 2 ** 53), RangeError);
  });
});
