/**
 * INIT negotiation (src/fuse/init-negotiation.ts) against INIT requests as kernels of several
 * generations send them: each request is written here byte by byte from fuse.h's fuse_init_in
 * (major @0, minor @4, max_readahead @8, flags @12, flags2 @16 since 7.36), and each reply is
 * compared with fuse_init_out written out by hand (fuse-protocol.md §1.2): major @0, minor @4,
 * max_readahead @8, flags @12, max_background u16 @16, congestion_threshold u16 @18, max_write @20,
 * time_gran @24, max_pages u16 @28, flags2 @32. No root, no /dev/fuse.
 */
import assert from 'node:assert/strict';
import { constants } from 'node:os';
import { describe, it } from 'node:test';
import { decodeInHeader, decodeInitIn, InitFlag, requestBody } from '../src/fuse/abi.js';
import { FuseError } from '../src/fuse/errors.js';
import { layerWants, negotiateInit, type InitDecision, type ServerInit } from '../src/fuse/init-negotiation.js';
import { request, struct } from './helpers/wire.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const OPCODE_INIT = 26;

/** What the session asks for on every mount, plus readdirplus (a file system with both readdir methods). */
const SESSION_WANTS =
  InitFlag.ASYNC_READ | InitFlag.BIG_WRITES | InitFlag.MAX_PAGES | InitFlag.PARALLEL_DIROPS | InitFlag.ABORT_ERROR |
  InitFlag.INIT_EXT | InitFlag.DO_READDIRPLUS | InitFlag.READDIRPLUS_AUTO;
/** The low word of SESSION_WANTS: bits 0, 5, 13, 14, 18, 21, 22 and 30 (INIT_EXT). */
const SESSION_WANTS_LOW = 0x4064_6021;

const SERVER: ServerInit = { wanted: SESSION_WANTS, maxMinor: 45, maxWrite: MiB, maxBackground: 64, timeGranNs: 1 };

/** The body of an INIT request, as the session gets it: framed with a header, then cut out. */
function negotiate(initIn: Buffer, server: ServerInit = SERVER): InitDecision {
  const req = request({ opcode: OPCODE_INIT, unique: 2n, nodeid: 0 }, initIn);
  return negotiateInit(decodeInitIn(requestBody(req, decodeInHeader(req, req.length))), server);
}

function accepted(d: InitDecision): Extract<InitDecision, { kind: 'accept' }> {
  assert.equal(d.kind, 'accept');
  return d as Extract<InitDecision, { kind: 'accept' }>;
}

describe('INIT negotiation', () => {
  it('what the layer wants: its fixed bits, READDIRPLUS with a readdirplus method, READDIRPLUS_AUTO only with both', () => {
    const serve = (): void => undefined;
    assert.equal(layerWants({ readdir: serve, readdirplus: serve }), BigInt(SESSION_WANTS_LOW));
    // Without bits 13 and 14.
    assert.equal(layerWants({ readdir: serve }), 0x4064_0021n);
    assert.equal(layerWants({}), 0x4064_0021n);
    // Bit 13 without bit 14.
    assert.equal(layerWants({ readdirplus: serve }), 0x4064_2021n);
  });

  it('7.31 (Linux 5.4): a 16-byte fuse_init_in without INIT_EXT; the reply grants the wanted bits it offered, none above 31', () => {
    // Linux 5.4 offers bits 0, 1 and 3–25 and sends no flags2.
    const d = accepted(negotiate(struct(16, [[0, 4, 7], [4, 4, 31], [8, 4, 128 * KiB], [12, 4, 0x03ff_fffb]]), {
      ...SERVER, wanted: SESSION_WANTS | InitFlag.DIRECT_IO_ALLOW_MMAP | InitFlag.OVER_IO_URING,
    }));
    assert.deepEqual(d.reply, struct(64, [
      [0, 4, 7], [4, 4, 31], [8, 4, 128 * KiB],
      [12, 4, 0x0064_6021], // INIT_EXT was not offered, so neither it nor anything in flags2
      [16, 2, 64], [18, 2, 48], [20, 4, MiB], [24, 4, 1], [28, 2, 256],
    ]));
    assert.deepEqual(d.result, {
      major: 7, minor: 31, kernelMinor: 31, offered: 0x03ff_fffbn, flags: 0x0064_6021n, maxWrite: MiB, maxPages: 256, maxReadahead: 128 * KiB,
    });
  });

  it('7.45 (Linux 6.18) with flags2: bits above 31 travel in flags2 with INIT_EXT, and only those offered', () => {
    // As measured here: flags 0x73fffffb, flags2 0x5fd (bit 36 DIRECT_IO_ALLOW_MMAP is flags2 bit 4;
    // bit 41 OVER_IO_URING, flags2 bit 9, and bit 43 are not offered).
    const initIn = struct(64, [[0, 4, 7], [4, 4, 45], [8, 4, 128 * KiB], [12, 4, 0x73ff_fffb], [16, 4, 0x5fd]]);
    const d = accepted(negotiate(initIn, { ...SERVER, wanted: SESSION_WANTS | (1n << 36n) | (1n << 41n) | (1n << 43n), maxMinor: 46 }));
    assert.deepEqual(d.reply, struct(64, [
      [0, 4, 7], [4, 4, 45], [8, 4, 128 * KiB], [12, 4, SESSION_WANTS_LOW],
      [16, 2, 64], [18, 2, 48], [20, 4, MiB], [24, 4, 1], [28, 2, 256], [32, 4, 0x10],
    ]));
    assert.equal(d.result.minor, 45, 'min(kernel 45, server 46)');
    assert.equal(d.result.flags, BigInt(SESSION_WANTS_LOW) | (1n << 36n));
  });

  it('a transport that wants io_uring gets OVER_IO_URING when the kernel offers it', () => {
    const initIn = struct(64, [[0, 4, 7], [4, 4, 45], [8, 4, 128 * KiB], [12, 4, 0x73ff_fffb], [16, 4, 0x7fd]]);
    const withUring = accepted(negotiate(initIn, { ...SERVER, wanted: SESSION_WANTS | InitFlag.OVER_IO_URING }));
    assert.equal(withUring.reply.readUInt32LE(32), 0x200, 'flags2 bit 9');
    const without = accepted(negotiate(initIn));
    assert.equal(without.reply.readUInt32LE(32), 0, 'not asked for, not granted');
  });

  it('flags2 counts only with INIT_EXT: without it in the offer, or in what the server wants, the high word is dropped', () => {
    // The kernel leaves INIT_EXT out (0x33fffffb) but its flags2 field is not zero.
    const noExt = accepted(negotiate(struct(64, [[0, 4, 7], [4, 4, 45], [8, 4, 128 * KiB], [12, 4, 0x33ff_fffb], [16, 4, 0x5fd]]), {
      ...SERVER, wanted: SESSION_WANTS | (1n << 36n),
    }));
    assert.equal(noExt.reply.readUInt32LE(12), 0x0064_6021);
    assert.equal(noExt.reply.readUInt32LE(32), 0);
    assert.equal(noExt.result.offered, 0x33ff_fffbn);

    const serverWithoutExt = accepted(negotiate(struct(64, [[0, 4, 7], [4, 4, 45], [8, 4, 128 * KiB], [12, 4, 0x73ff_fffb], [16, 4, 0x5fd]]), {
      ...SERVER, wanted: (SESSION_WANTS & ~InitFlag.INIT_EXT) | (1n << 36n),
    }));
    assert.equal(serverWithoutExt.reply.readUInt32LE(12), 0x0064_6021);
    assert.equal(serverWithoutExt.reply.readUInt32LE(32), 0);
  });

  it('an older minor gets the reply cut to the fields it knows: 24 bytes before 7.23, no max_background before 7.13', () => {
    // 7.22 (Linux 3.14): bits 0–15 but FILE_OPS (2).
    const d22 = accepted(negotiate(struct(16, [[0, 4, 7], [4, 4, 22], [8, 4, 32 * KiB], [12, 4, 0xfffb]])));
    assert.deepEqual(d22.reply, struct(24, [
      [0, 4, 7], [4, 4, 22], [8, 4, 32 * KiB], [12, 4, 0x6021], [16, 2, 64], [18, 2, 48], [20, 4, MiB],
    ]));
    assert.equal(d22.result.maxPages, 0, 'MAX_PAGES (7.28) was not offered');
    // 7.12: bytes 16–19 were unused; they stay zero.
    const d12 = accepted(negotiate(struct(16, [[0, 4, 7], [4, 4, 12], [8, 4, 32 * KiB], [12, 4, 0x0fff]])));
    assert.deepEqual(d12.reply, struct(24, [[0, 4, 7], [4, 4, 12], [8, 4, 32 * KiB], [12, 4, 0x21], [20, 4, MiB]]));
  });

  it('a newer major is answered with our major and minor only, so the kernel retries at 7', () => {
    const d = negotiate(struct(64, [[0, 4, 8], [4, 4, 0], [8, 4, 128 * KiB], [12, 4, 0x73ff_fffb]]));
    assert.equal(d.kind, 'retry');
    assert.deepEqual(d.kind === 'retry' && d.reply, struct(64, [[0, 4, 7], [4, 4, 45]]));
  });

  it('a major below 7 is refused with EPROTO', () => {
    const d = negotiate(struct(16, [[0, 4, 6], [4, 4, 9]]));
    assert.equal(d.kind, 'refuse');
    assert.ok(d.kind === 'refuse' && d.error instanceof FuseError && d.error.errno === constants.errno.EPROTO);
    assert.match(d.kind === 'refuse' ? d.error.message : '', /6\.9/);
  });

  it('max_pages follows max_write, within its u16; without MAX_PAGES offered it is not sent; max_background is capped too', () => {
    const offer = (flags: number): Buffer => struct(64, [[0, 4, 7], [4, 4, 45], [8, 4, 128 * KiB], [12, 4, flags], [16, 4, 0x5fd]]);
    const small = accepted(negotiate(offer(0x73ff_fffb), { ...SERVER, maxWrite: 128 * KiB }));
    assert.equal(small.reply.readUInt32LE(20), 128 * KiB);
    assert.equal(small.reply.readUInt16LE(28), 32);
    const huge = accepted(negotiate(offer(0x73ff_fffb), { ...SERVER, maxWrite: 512 * MiB, maxBackground: 100_000 }));
    assert.equal(huge.reply.readUInt32LE(20), 512 * MiB);
    assert.equal(huge.reply.readUInt16LE(28), 0xffff);
    assert.equal(huge.reply.readUInt16LE(16), 0xffff, 'max_background');
    assert.equal(huge.reply.readUInt16LE(18), 49_151, 'congestion_threshold: 3/4 of it');
    // The same kernel without MAX_PAGES (bit 22).
    const noMaxPages = accepted(negotiate(offer(0x73bf_fffb)));
    assert.equal(noMaxPages.reply.readUInt32LE(12), SESSION_WANTS_LOW & ~0x40_0000);
    assert.equal(noMaxPages.reply.readUInt16LE(28), 0);
    assert.equal(noMaxPages.result.maxPages, 0);
  });

  it('max_readahead is the kernel\'s own, echoed', () => {
    const d = accepted(negotiate(struct(64, [[0, 4, 7], [4, 4, 45], [8, 4, 512 * KiB], [12, 4, 0x73ff_fffb]])));
    assert.equal(d.reply.readUInt32LE(8), 512 * KiB);
    assert.equal(d.result.maxReadahead, 512 * KiB);
  });
});
