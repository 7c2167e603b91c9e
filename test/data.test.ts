import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Famfs } from '../src/api/index.js';
import { TestDataStream, randomizeBuffer, verifyBuffer } from '../src/data/prng.js';
import { FamfsHandle } from '../src/fs/famfs.js';
import { mkfs } from '../src/fs/mkfs.js';
import { CLIENT_UUID, cleanupDevices, emuDevice, GiB, master, MASTER_UUID, MiB } from './helpers/emu.js';
import { famfs } from './helpers/run.js';
import { writeAt } from './helpers/device-io.js';

after(cleanupDevices);

/** Spec §6.7 vector. */
const SEED1_HEAD = '28 49 91 ee 66 b6 fb 34 3a 87 ca 18 de 44 17 78';

/** The generator as §6.7 describes it, in BigInt, one word at a time: slow and obvious. */
function reference(seed: bigint, length: number): Buffer {
  const M = (1n << 64n) - 1n;
  let x = seed & 0xffffffffn;
  const splitmix = (): bigint => {
    x = (x + 0x9e3779b97f4a7c15n) & M;
    let z = x;
    z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & M;
    z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & M;
    return z ^ (z >> 31n);
  };
  let s0 = splitmix();
  let s1 = splitmix();
  const rotl = (v: bigint, k: bigint): bigint => ((v << k) | (v >> (64n - k))) & M;
  const out = Buffer.alloc(length);
  for (let i = 0; i < length; i += 4) {
    const word = Number((s0 + s1) & 0xffffffffn);
    s1 ^= s0;
    s0 = rotl(s0, 55n) ^ s1 ^ ((s1 << 14n) & M);
    s1 = rotl(s1, 36n);
    for (let b = 0; b < 4 && i + b < length; b++) out[i + b] = (word >>> (8 * b)) & 0xff;
  }
  return out;
}

const hex = (b: Uint8Array): string => [...b].map((x) => x.toString(16).padStart(2, '0')).join(' ');

describe('test-data PRNG (spec §6.7)', () => {
  it('seed 1 gives the spec vector', () => {
    const b = Buffer.alloc(16);
    randomizeBuffer(b, 1);
    assert.equal(hex(b), SEED1_HEAD);
  });

  it('matches a BigInt rendering of the spec for several seeds and lengths, partial last word included', () => {
    for (const seed of [0n, 1n, 42n, 0xdeadbeefn, (1n << 32n) + 1n, (1n << 64n) - 1n]) {
      for (const len of [0, 1, 3, 4, 5, 4099, 65536 + 2]) {
        const fast = Buffer.alloc(len);
        randomizeBuffer(fast, seed);
        assert.ok(fast.equals(reference(seed, len)), `seed ${seed} length ${len}`);
      }
    }
    const a = Buffer.alloc(64);
    const b = Buffer.alloc(64);
    randomizeBuffer(a, (1n << 32n) + 7n);
    randomizeBuffer(b, 7);
    assert.ok(a.equals(b), 'only the low 32 bits of the seed count');
  });

  it('fills and checks views at any byte alignment, and in pieces as one stream', () => {
    const want = reference(9n, 100_003);
    const backing = Buffer.alloc(want.length + 3);
    const odd = backing.subarray(3);
    randomizeBuffer(odd, 9);
    assert.ok(odd.equals(want));
    assert.equal(verifyBuffer(odd, 9), -1);
    const s = new TestDataStream(9);
    const pieces = Buffer.alloc(want.length);
    for (const [from, to] of [[0, 4096], [4096, 4100], [4100, 70_000], [70_000, want.length]] as const) s.fill(pieces.subarray(from, to));
    assert.ok(pieces.equals(want));
    assert.throws(() => s.fill(Buffer.alloc(4)), RangeError, 'nothing follows a partial word');
  });

  it('verify reports the first bad 4-byte word, rounded down as upstream', () => {
    const len = 10_003;
    for (const flip of [0, 1, 3, 4, 4098, 10_000, 10_002]) {
      const b = Buffer.alloc(len);
      randomizeBuffer(b, 5);
      b[flip]! ^= 0x40;
      assert.equal(verifyBuffer(b, 5), Math.floor(flip / 4) * 4, `flip at ${flip}`);
      assert.equal(verifyBuffer(b.subarray(1), 5) >= 0, true);
    }
    const s = new TestDataStream(5);
    const b = Buffer.alloc(8192);
    randomizeBuffer(b, 5);
    b[100]! ^= 1;
    assert.equal(s.verify(b.subarray(0, 4096)), 100);
    assert.equal(s.verify(b.subarray(4096)), -1, 'the stream stays in step after a mismatch');
  });
});

/** Where byte `off` of a famfs file lives on the device (via getmap; §3 is tested in api.test). */
function devOffset(dev: string, path: string, off: number): number {
  const fs = Famfs.open(dev, { systemUuid: CLIENT_UUID });
  try {
    const p = fs.getmap(path).pieces.find((x) => x.fileOffset <= off && off < x.fileOffset + x.len)!;
    return p.offset + (off - p.fileOffset);
  } finally {
    fs.close();
  }
}

function nextIndex(dev: string): number {
  const fs = FamfsHandle.open(dev, { systemUuid: master });
  try {
    return fs.logHeader().nextIndex;
  } finally {
    fs.close();
  }
}

describe('CLI data commands', () => {
  let dev = '';
  let host = '';
  const run = (args: string[], as = MASTER_UUID) => famfs([...args, '--device', dev], as);

  before(() => {
    dev = emuDevice(8 * GiB, 'data');
    mkfs(dev, { systemUuid: master });
    host = mkdtempSync(join(tmpdir(), 'famfs-data-test-'));
  });
  after(() => rmSync(host, { recursive: true, force: true }));

  it('creat -r -S 1 writes the spec vector; verify passes, and finds a flipped byte', () => {
    const size = 3 * MiB + 10;
    let r = run(['creat', '-r', '-S', '1', '-s', String(size), 'rnd']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, `randomized ${size} bytes: rnd\n`);
    const c = Famfs.open(dev, { systemUuid: CLIENT_UUID });
    try {
      const m = c.map('rnd');
      assert.equal(hex(m.buffer.subarray(0, 16)), SEED1_HEAD);
      m.unmap();
    } finally {
      c.close();
    }
    r = run(['verify', '-S', '1', '-f', 'rnd']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, `Success: verified ${size} bytes in file rnd\n`);

    const flip = 2 * MiB + 4001;
    writeAt(dev, devOffset(dev, 'rnd', flip), Buffer.from([0x5a]));
    r = run(['verify', '-S', '1', '-f', 'rnd']);
    assert.equal(r.status, 1);
    assert.equal(r.stderr, `Verify fail: rnd at offset ${flip - (flip % 4)} of ${size} bytes\n`);
    r = run(['verify', '-S', '2', '-f', 'rnd']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^Verify fail: rnd at offset 0 of /);
    r = run(['creat', '-S', '3', '-s', '1m', 'noseed']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /seed \(-S\) without randomize \(-r\)/);
  });

  it('creat -M and verify -m: several files, upstream summary lines, exit = error count', () => {
    let r = run(['creat', '-M', 'm1,1m,11', '-M', 'm2,2m', '-M', 'm3,512k,13']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, ['Create complete for 3 of 3 files with 0 errs', 'randomized 1048576 bytes: m1',
      'randomized 524288 bytes: m3', 'Randomize complete for 2 of 3 files with 0 errs', ''].join('\n'));
    r = run(['verify', '-m', 'm1,11', '-m', 'm3,13', '-m', 'm2,5']);
    assert.equal(r.status, 1);
    assert.match(r.stdout, /Verify complete for 3 files with 1 errs\n$/);
    assert.match(r.stderr, /^Verify fail: m2 at offset 0 of 2097152 bytes$/m);
  });

  it('cp -r copies a tree; cp -c then passes, catches a changed byte, and a re-run copy is restartable', () => {
    const src = join(host, 'tree');
    mkdirSync(join(src, 'sub', 'deeper'), { recursive: true });
    const big = Buffer.alloc(3 * MiB + 17);
    randomizeBuffer(big, 77);
    writeFileSync(join(src, 'a.txt'), 'hello famfs\n');
    writeFileSync(join(src, 'sub', 'b.bin'), big);
    writeFileSync(join(src, 'sub', 'deeper', 'c.bin'), Buffer.alloc(100, 7));
    writeFileSync(join(src, 'sub', 'two-mib.bin'), Buffer.alloc(2 * MiB, 3));
    let r = run(['cp', '-r', src, 'copied']);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split('\n').sort(), ['a.txt', 'sub/b.bin', 'sub/deeper/c.bin', 'sub/two-mib.bin']
      .map((f) => `famfs cp: 100%: copied/${f}`));
    r = run(['cp', '-c', '-r', src, 'copied']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim().split('\n').filter((l) => l.startsWith('famfs cp: compare ok: ')).length, 4);

    const changed = Buffer.from(big);
    changed[MiB + 5]! ^= 1;
    writeFileSync(join(src, 'sub', 'b.bin'), changed);
    r = run(['cp', '-c', '-r', src, 'copied']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, new RegExp(`compare fail: copied/sub/b\\.bin differs from .*b\\.bin at offset ${MiB + 5}`));
    const before = nextIndex(dev);
    r = run(['cp', '-r', src, 'copied']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(nextIndex(dev), before, 'destinations of the same size are reused, nothing new is logged');
    r = run(['cp', '-c', '-r', src, 'copied']);
    assert.equal(r.status, 0, r.stderr);
  });

  it('cp onto an existing destination of another size fails, having created nothing', () => {
    const other = join(host, 'other.bin');
    writeFileSync(other, Buffer.alloc(5000, 1));
    const fresh = join(host, 'fresh.bin');
    writeFileSync(fresh, Buffer.alloc(10, 2));
    const before = nextIndex(dev);
    const r = run(['cp', fresh, other, 'copied/sub/two-mib.bin']);
    assert.equal(r.status, 1);
    const r2 = run(['cp', other, 'copied/sub/two-mib.bin']);
    assert.equal(r2.status, 1);
    assert.match(r2.stderr, /exists with size 2097152, not the 5000 bytes/);
    assert.equal(nextIndex(dev), before);
  });

  it('cp of sources larger than the free space fails before anything is logged', () => {
    const small = join(host, 'small.bin');
    writeFileSync(small, Buffer.alloc(4096, 9));
    const huge = join(host, 'huge.bin');
    writeFileSync(huge, '');
    truncateSync(huge, 9 * GiB); // sparse: costs nothing, and is never read
    const before = nextIndex(dev);
    const r = run(['cp', small, huge, 'copied']);
    assert.equal(r.status, 28, r.stderr);
    assert.match(r.stderr, /not enough space: 2 new files need \d+ bytes, \d+ bytes are free; nothing was copied/);
    assert.equal(nextIndex(dev), before);
    assert.equal(run(['ls', 'copied/small.bin']).status, 2, 'the small file was not created either');
  });

  it('clone makes a cross-linked file that fsck reports; a client may not clone', () => {
    let r = run(['clone', 'rnd', 'rnd-clone']);
    assert.equal(r.status, 0, r.stderr);
    r = famfs(['fsck', dev]);
    assert.equal(r.status, 2, 'fsck exits with the number of colliding allocation units (3 MiB + 10 bytes: 2)');
    assert.match(r.stdout, /2 ALLOCATION COLLISIONS/);
    r = run(['clone', 'rnd', 'rnd-clone2'], CLIENT_UUID);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /client/);
  });

  it('flush counts the files it could not flush; chkread matches the mapping with the raw device', () => {
    let r = run(['flush', '-v', 'm1', 'nope', 'copied']);
    assert.equal(r.status, 2);
    assert.match(r.stdout, /famfs flush: flushing: m1\n/);
    assert.match(r.stdout, /do_famfs_cli_flush: 2 errors were detected\n$/);
    assert.match(r.stderr, /file not found \(nope\)/);
    r = run(['flush', 'm1', 'rnd'], CLIENT_UUID);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, '');
    r = run(['chkread', 'copied/sub/b.bin'], CLIENT_UUID);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /Read and mmap match\n$/);
    r = run(['chkread', '-s']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^Superblock by mmap\n([0-9a-f]{2} ){16}\n/m);
    assert.match(r.stdout, /Read and mmap match\n$/);
  });
});
