/**
 * Protocol-level tests of src/fuse/abi and the opcode table: requests decoded from byte images
 * built by hand from the kernel's struct layouts (fuse.h, protocol 7.45; fuse-protocol.md §1), and
 * replies checked against hand-written bytes. Offsets are written out here, never computed by the
 * code under test.
 */
import assert from 'node:assert/strict';
import { mkdir, readdir, symlink } from 'node:fs/promises';
import { constants } from 'node:os';
import { after, describe, it } from 'node:test';
import {
  decodeAccessIn, decodeBatchForget, decodeCreateIn, decodeDirents, decodeFallocateIn, decodeFlushIn, decodeForgetIn,
  decodeFsyncIn, decodeGetattrIn, decodeGetxattrIn, decodeInHeader, decodeInitIn, decodeInterruptIn, decodeLinkIn,
  decodeLseekIn, decodeMkdirIn, decodeMknodIn, decodeName, decodeOpenIn, decodeReadIn, decodeReleaseIn, decodeRename2In,
  decodeRenameIn, decodeSetattrIn, decodeSetxattrIn, decodeTwoNames, decodeWriteIn, DirentBuilder, DirentPlusPacker, DirentType,
  encodeAttrOut, encodeDirentInto, encodeEntryOut, encodeGetxattrOut, encodeInitOut, encodeLseekOut,
  encodeNotifyInvalEntry, encodeNotifyInvalInode, encodeOpenOut, encodeOutHeader, encodeStatfsOut, encodeWriteOut,
  EXPIRE_ONLY, FopenFlag, InitFlag, Opcode, requestBody, SetattrValid, UNIQUE_INTERRUPT_BIT,
  fileHandle, nodeId,
} from '../src/fuse/abi.js';
import { FuseError, ProtocolError } from '../src/fuse/errors.js';
import type { Filesystem, MaybePromise, RequestContext } from '../src/fuse/filesystem.js';
import { NOT_IMPLEMENTED, OPCODES, type ReplyPayload, type SessionOps } from '../src/fuse/opcodes.js';
import { FuseServer } from '../src/fuse/serve.js';
import { cleanupMounts, trackedMountpoint } from './helpers/mounts.js';
import { cstr, IN_HEADER_BYTES, request, struct } from './helpers/wire.js';

const { ENOSYS, ERANGE, EIO } = constants.errno;

const KiB = 1024;
const MiB = 1024 * KiB;
/** An offset above 4 GiB, so the high word of a u64 is exercised. */
const BIG_OFFSET = 0x1_0000_0000 + 5;
const UID = 1000;
const GID = 100;

function ctx(opcode: number, nodeid = 1): RequestContext {
  return { unique: 2n, opcode, nodeid: nodeId(nodeid), uid: UID, gid: GID, pid: 4242 };
}

function bodyOf(req: Buffer): Buffer {
  return requestBody(req, decodeInHeader(req, req.length));
}

describe('fuse_in_header and request framing', () => {
  it('decodes every field at its offset, and the body stops before the extensions', () => {
    const ext = struct(16, [[0, 4, 0xabcd]]);
    const req = request({ opcode: Opcode.LOOKUP, unique: 0x1234_5678_9abc_def0n, nodeid: 77, uid: UID, gid: GID, pid: 4242, ext }, cstr('hello'));
    assert.equal(req.length, IN_HEADER_BYTES + 6 + 16);
    assert.equal(req.readUInt16LE(36), 2, 'total_extlen counts 8-byte units');
    const h = decodeInHeader(req, req.length);
    assert.deepEqual(h, { len: 62, opcode: 1, unique: 0x1234_5678_9abc_def0n, nodeid: 77, uid: UID, gid: GID, pid: 4242, extBytes: 16 });
    assert.deepEqual(requestBody(req, h), cstr('hello'));
    assert.equal(decodeName(requestBody(req, h)), 'hello');
  });

  it('refuses a request whose len disagrees with the bytes read, or shorter than a header', () => {
    const req = request({ opcode: Opcode.GETATTR });
    assert.throws(() => decodeInHeader(req, req.length + 8), ProtocolError);
    assert.throws(() => decodeInHeader(req.subarray(0, 39), 39), ProtocolError);
    // total_extlen claiming more bytes than the request holds.
    const bad = Buffer.from(req);
    bad.writeUInt16LE(1, 36);
    assert.throws(() => decodeInHeader(bad, bad.length), ProtocolError);
  });

  it('a name without its NUL is a protocol error (EIO), not a crash', () => {
    assert.throws(() => decodeName(Buffer.from('abc')), (e: unknown) => e instanceof ProtocolError && e.errno === EIO);
  });
});

describe('request bodies', () => {
  it('INIT: major, minor, max_readahead, flags | flags2 << 32 when INIT_EXT is offered', () => {
    // What this kernel (6.18, 7.45) offers, as measured (fuse-protocol.md §1.2).
    const initIn = struct(64, [[0, 4, 7], [4, 4, 45], [8, 4, 128 * KiB], [12, 4, 0x73fffffb], [16, 4, 0x5fd]]);
    const offer = decodeInitIn(bodyOf(request({ opcode: Opcode.INIT }, initIn)));
    assert.deepEqual(offer, { major: 7, minor: 45, maxReadahead: 128 * KiB, flags: 0x5fd_73fffffbn });
    assert.notEqual(offer.flags & InitFlag.DIRECT_IO_ALLOW_MMAP, 0n, 'flags2 bit 4 is global bit 36');
    // Without INIT_EXT (bit 30) flags2 means nothing.
    const noExt = struct(64, [[0, 4, 7], [4, 4, 45], [8, 4, 0], [12, 4, 0x33fffffb], [16, 4, 0x5fd]]);
    assert.equal(decodeInitIn(noExt).flags, 0x33fffffbn);
    // A 7.6-era body (16 bytes) still decodes; anything shorter does not.
    assert.equal(decodeInitIn(initIn.subarray(0, 16)).flags, 0x73fffffbn);
    assert.throws(() => decodeInitIn(initIn.subarray(0, 12)), ProtocolError);
  });

  it('LOOKUP / UNLINK: one name; SYMLINK and RENAME: two names', () => {
    assert.equal(decodeName(cstr('héllo wörld')), 'héllo wörld');
    assert.deepEqual(decodeTwoNames(Buffer.concat([cstr('link'), cstr('../target')]), 0), ['link', '../target']);
    const rename = Buffer.concat([struct(8, [[0, 8, 12]]), cstr('a'), cstr('b')]);
    assert.deepEqual(decodeRenameIn(rename), { newParent: 12, name: 'a', newName: 'b', flags: 0 });
    const rename2 = Buffer.concat([struct(16, [[0, 8, 12], [8, 4, 1], [12, 4, 0]]), cstr('a'), cstr('b')]);
    assert.deepEqual(decodeRename2In(rename2), { newParent: 12, name: 'a', newName: 'b', flags: 1 });
  });

  it('READ / READDIR: fuse_read_in {fh @0, offset @8, size @16, read_flags @20, lock_owner @24, flags @32}', () => {
    const lockOwner = 0xdead_beef_cafe_f00dn;
    const readIn = struct(40, [[0, 8, 7], [8, 8, BIG_OFFSET], [16, 4, 128 * KiB], [20, 4, 2], [24, 8, lockOwner], [32, 4, 0x8002]]);
    const r = decodeReadIn(bodyOf(request({ opcode: Opcode.READ, nodeid: 9 }, readIn)));
    assert.deepEqual(r, { fh: 7, offset: BIG_OFFSET, size: 128 * KiB, readFlags: 2, lockOwner, flags: 0x8002 });
    // Without READ_LOCKOWNER (bit 1) the lock owner field is not meaningful.
    const plain = struct(40, [[0, 8, 3], [8, 8, 17], [16, 4, 4096], [24, 8, lockOwner]]);
    assert.deepEqual(decodeReadIn(plain), { fh: 3, offset: 17, size: 4096, readFlags: 0, lockOwner: undefined, flags: 0 });
    assert.throws(() => decodeReadIn(readIn.subarray(0, 39)), ProtocolError);
  });

  it('WRITE: fuse_write_in (size @16, write_flags @20) then exactly size bytes of data', () => {
    const writeIn = struct(40, [[0, 8, 5], [8, 8, 4096], [16, 4, 3], [20, 4, 0], [32, 4, 0x8001]]);
    const w = decodeWriteIn(Buffer.concat([writeIn, Buffer.from('abcXYZ')]));
    assert.equal(w.fh, 5);
    assert.equal(w.offset, 4096);
    assert.equal(w.flags, 0x8001);
    assert.equal(w.lockOwner, undefined);
    assert.deepEqual(w.data, Buffer.from('abc'));
    const short = struct(40, [[16, 4, 10]]);
    assert.throws(() => decodeWriteIn(Buffer.concat([short, Buffer.from('abc')])), ProtocolError);
  });

  it('GETATTR: fh only when GETATTR_FH (bit 0) is set; an old kernel sends no body', () => {
    assert.deepEqual(decodeGetattrIn(struct(16, [[0, 4, 1], [8, 8, 99]])), { fh: 99 });
    assert.deepEqual(decodeGetattrIn(struct(16, [[0, 4, 0], [8, 8, 99]])), { fh: undefined });
    assert.deepEqual(decodeGetattrIn(Buffer.alloc(0)), { fh: undefined });
  });

  it('SETATTR: only the fields named in valid', () => {
    const valid = SetattrValid.MODE | SetattrValid.SIZE | SetattrValid.MTIME | SetattrValid.FH;
    assert.equal(valid, 0b110_1001);
    const setattrIn = struct(88, [
      [0, 4, valid], [8, 8, 4], [16, 8, 1000], [32, 8, 1_600_000_000], [40, 8, 1_700_000_000],
      [56, 4, 9], [60, 4, 5], [68, 4, 0o100600], [76, 4, UID], [80, 4, GID],
    ]);
    const s = decodeSetattrIn(setattrIn);
    assert.equal(s.valid, valid);
    assert.equal(s.fh, 4);
    assert.equal(s.size, 1000);
    assert.deepEqual(s.mtime, { sec: 1_700_000_000, nsec: 5 });
    assert.equal(s.mode, 0o100600);
    assert.equal(s.atime, undefined, 'ATIME not in valid');
    assert.equal(s.uid, undefined, 'UID not in valid');
    assert.equal(s.killSuidgid, false);
    const now = decodeSetattrIn(struct(88, [[0, 4, SetattrValid.ATIME | SetattrValid.ATIME_NOW]]));
    assert.equal(now.atime, 'now');
  });

  it('FORGET {nlookup @0} and BATCH_FORGET {count @0} + count × {nodeid @0, nlookup @8}', () => {
    assert.deepEqual(decodeForgetIn(struct(8, [[0, 8, 3]])), { nlookup: 3 });
    const batch = struct(8 + 3 * 16, [[0, 4, 3], [8, 8, 5], [16, 8, 1], [24, 8, 0x2_0000_0001], [32, 8, 7], [40, 8, 11], [48, 8, 2]]);
    assert.deepEqual(decodeBatchForget(bodyOf(request({ opcode: Opcode.BATCH_FORGET, nodeid: 0 }, batch))), [
      { nodeid: 5, nlookup: 1 }, { nodeid: 0x2_0000_0001, nlookup: 7 }, { nodeid: 11, nlookup: 2 },
    ]);
    assert.throws(() => decodeBatchForget(batch.subarray(0, 8 + 2 * 16)), ProtocolError, 'count says 3, two present');
  });

  it('INTERRUPT: header unique is the original | 1, body names the original', () => {
    const original = 0x1000n;
    const req = request({ opcode: Opcode.INTERRUPT, unique: original | UNIQUE_INTERRUPT_BIT }, struct(8, [[0, 8, original]]));
    assert.equal(decodeInHeader(req, req.length).unique, 0x1001n);
    assert.deepEqual(decodeInterruptIn(bodyOf(req)), { unique: original });
  });

  it('SETXATTR {size @0, flags @4}, name, value (may hold NULs); GETXATTR/LISTXATTR {size @0}, name', () => {
    const setxattr = Buffer.concat([struct(8, [[0, 4, 3], [4, 4, 1]]), cstr('user.k'), Buffer.from([0x76, 0, 0x78])]);
    const s = decodeSetxattrIn(setxattr);
    assert.equal(s.name, 'user.k');
    assert.equal(s.flags, 1);
    assert.deepEqual(s.value, Buffer.from([0x76, 0, 0x78]));
    const getxattr = Buffer.concat([struct(8, [[0, 4, 64]]), cstr('user.famfs.role')]);
    const g = decodeGetxattrIn(getxattr);
    assert.deepEqual(g, { size: 64, nameOffset: 8 });
    assert.equal(decodeName(getxattr, g.nameOffset), 'user.famfs.role');
    assert.throws(() => decodeSetxattrIn(Buffer.concat([struct(8, [[0, 4, 10]]), cstr('user.k'), Buffer.from('v')])), ProtocolError);
  });

  it('creation ops: MKDIR {mode, umask}, MKNOD {mode, rdev, umask}, CREATE {flags, mode, umask, open_flags}, LINK {oldnodeid}', () => {
    assert.deepEqual(decodeMkdirIn(Buffer.concat([struct(8, [[0, 4, 0o755], [4, 4, 0o022]]), cstr('d')])), { mode: 0o755, umask: 0o022, name: 'd' });
    assert.deepEqual(
      decodeMknodIn(Buffer.concat([struct(16, [[0, 4, 0o100644], [4, 4, 0x0801], [8, 4, 0o022]]), cstr('n')])),
      { mode: 0o100644, rdev: 0x0801, umask: 0o022, name: 'n' },
    );
    assert.deepEqual(
      decodeCreateIn(Buffer.concat([struct(16, [[0, 4, 0o1101], [4, 4, 0o100644], [8, 4, 0o022], [12, 4, 1]]), cstr('f')])),
      { flags: 0o1101, mode: 0o100644, umask: 0o022, openFlags: 1, name: 'f' },
    );
    assert.deepEqual(decodeLinkIn(Buffer.concat([struct(8, [[0, 8, 33]]), cstr('l')])), { oldNodeid: 33, newName: 'l' });
  });

  it('file handle ops: OPEN, RELEASE, FLUSH, FSYNC, LSEEK, FALLOCATE, ACCESS', () => {
    assert.deepEqual(decodeOpenIn(struct(8, [[0, 4, 0x8002], [4, 4, 1]])), { flags: 0x8002, openFlags: 1 });
    assert.deepEqual(decodeReleaseIn(struct(24, [[0, 8, 6], [8, 4, 2], [12, 4, 1], [16, 8, 77]])), {
      fh: 6, flags: 2, releaseFlags: 1, flush: true, lockOwner: 77n,
    });
    assert.deepEqual(decodeFlushIn(struct(24, [[0, 8, 6], [16, 8, 77]])), { fh: 6, lockOwner: 77n });
    assert.deepEqual(decodeFsyncIn(struct(16, [[0, 8, 6], [8, 4, 1]])), { fh: 6, datasync: true });
    assert.deepEqual(decodeLseekIn(struct(24, [[0, 8, 6], [8, 8, 4096], [16, 4, 3]])), { fh: 6, offset: 4096, whence: 3 });
    assert.deepEqual(decodeFallocateIn(struct(32, [[0, 8, 6], [8, 8, 0], [16, 8, MiB], [24, 4, 1]])), { fh: 6, offset: 0, length: MiB, mode: 1 });
    assert.deepEqual(decodeAccessIn(struct(8, [[0, 4, 4]])), { mask: 4 });
    assert.throws(() => decodeReleaseIn(Buffer.alloc(23)), ProtocolError);
  });
});

describe('reply encoders', () => {
  it('fuse_out_header {len u32 @0, error i32 @4, unique u64 @8}', () => {
    const ENOENT_REPLY = 0xfffffffe; // -2 as the kernel reads the i32
    assert.deepEqual(encodeOutHeader(16, -2, 0x10n), struct(16, [[0, 4, 16], [4, 4, ENOENT_REPLY], [8, 8, 0x10]]));
  });

  it('fuse_entry_out: nodeid, generation, valid seconds + nsec, then fuse_attr at 40', () => {
    const out = encodeEntryOut({
      nodeid: nodeId(5), generation: 7, entryTimeout: 1.5, attrTimeout: 0.25,
      attr: {
        ino: 5, mode: 0o100644, size: 5000, nlink: 1, uid: UID, gid: GID, blksize: 4096,
        atime: { sec: 1_700_000_000, nsec: 1 }, mtime: { sec: 1_700_000_001, nsec: 2 }, ctime: { sec: 1_700_000_002, nsec: 3 },
      },
    });
    assert.deepEqual(out, struct(128, [
      [0, 8, 5], [8, 8, 7], [16, 8, 1], [24, 8, 0], [32, 4, 500_000_000], [36, 4, 250_000_000],
      // fuse_attr at 40: ino, size, blocks (512-byte units, rounded up), a/m/ctime, their nsecs, mode, nlink, uid, gid, rdev, blksize, flags
      [40, 8, 5], [48, 8, 5000], [56, 8, 10], [64, 8, 1_700_000_000], [72, 8, 1_700_000_001], [80, 8, 1_700_000_002],
      [88, 4, 1], [92, 4, 2], [96, 4, 3], [100, 4, 0o100644], [104, 4, 1], [108, 4, UID], [112, 4, GID],
      [116, 4, 0], [120, 4, 4096], [124, 4, 0],
    ]));
  });

  it('fuse_attr_out: attr_valid @0, attr_valid_nsec @8, dummy @12, fuse_attr @16', () => {
    const out = encodeAttrOut({ ino: 1, mode: 0o40755, size: 4096, blocks: 8, nlink: 2 }, 2);
    assert.deepEqual(out, struct(104, [
      [0, 8, 2], [8, 4, 0], [12, 4, 0],
      [16, 8, 1], [24, 8, 4096], [32, 8, 8], [76, 4, 0o40755], [80, 4, 2],
    ]));
  });

  it('fuse_open_out {fh u64 @0, open_flags u32 @8, backing_id i32 @12}', () => {
    const out = encodeOpenOut({ fh: fileHandle(0x1_0000_0002), flags: FopenFlag.DIRECT_IO | FopenFlag.KEEP_CACHE, backingId: -1 });
    assert.deepEqual(out, struct(16, [[0, 8, 0x1_0000_0002], [8, 4, 3], [12, 4, 0xffffffff]]));
  });

  it('dirents: {ino @0, off @8, namelen @16, type @20, name @24}, each padded with zeroes to 8 bytes', () => {
    const b = new DirentBuilder(4096, false);
    assert.ok(b.add({ name: '.', ino: 1, type: DirentType.DIR, offset: 1 }));
    assert.ok(b.add({ name: '..', ino: 1, type: DirentType.DIR, offset: 2 }));
    assert.ok(b.add({ name: 'file', ino: 7, type: DirentType.REG, offset: 3 }));
    assert.ok(b.add({ name: 'a-longer-name', ino: 9, type: DirentType.REG, offset: 4 }));
    // 24 + 1 → 32, 24 + 2 → 32, 24 + 4 → 32, 24 + 13 → 40
    assert.deepEqual(b.finish(), struct(136, [
      [0, 8, 1], [8, 8, 1], [16, 4, 1], [20, 4, 4], [24, 'utf8', '.'],
      [32, 8, 1], [40, 8, 2], [48, 4, 2], [52, 4, 4], [56, 'utf8', '..'],
      [64, 8, 7], [72, 8, 3], [80, 4, 4], [84, 4, 8], [88, 'utf8', 'file'],
      [96, 8, 9], [104, 8, 4], [112, 4, 13], [116, 4, 8], [120, 'utf8', 'a-longer-name'],
    ]));
    assert.equal(b.entries, 4);
    assert.deepEqual(decodeDirents(b.finish()).map((e) => [e.name, e.offset, e.entryOffset]), [['.', 1, 0], ['..', 2, 32], ['file', 3, 64], ['a-longer-name', 4, 96]]);
  });

  it('a dirent zeroes its own padding and writes nothing past it', () => {
    const buf = Buffer.alloc(48, 0xee);
    const end = encodeDirentInto(buf, 0, { ino: 3, type: DirentType.REG, offset: 1 }, Buffer.from('abc'));
    assert.equal(end, 32);
    assert.deepEqual(buf.subarray(27, 32), Buffer.alloc(5), 'padding after the name');
    assert.deepEqual(buf.subarray(32), Buffer.alloc(16, 0xee), 'untouched after the record');
  });

  it('the builder never splits a record: an entry that does not fit is refused', () => {
    const b = new DirentBuilder(64, false);
    assert.ok(b.add({ name: '.', ino: 1, type: DirentType.DIR, offset: 1 }));
    assert.ok(b.add({ name: '..', ino: 1, type: DirentType.DIR, offset: 2 }));
    assert.equal(b.add({ name: 'x', ino: 2, type: DirentType.REG, offset: 3 }), false);
    assert.equal(b.size, 64);
    assert.equal(b.entries, 2);
  });

  it('direntplus: entry_out (128 bytes, zero for "no entry") then the dirent, padded to 8', () => {
    const b = new DirentBuilder(4096, true);
    assert.ok(b.add({ name: '.', ino: 1, type: DirentType.DIR, offset: 1 }, null));
    assert.ok(b.add({ name: 'f', ino: 7, type: DirentType.REG, offset: 2 }, {
      nodeid: nodeId(7), entryTimeout: 1, attrTimeout: 1, attr: { ino: 7, mode: 0o100444, size: 3 },
    }));
    // 152 + 1 → 160 each
    assert.deepEqual(b.finish(), struct(320, [
      [128, 8, 1], [136, 8, 1], [144, 4, 1], [148, 4, 4], [152, 'utf8', '.'],
      // entry_out at 160; its fuse_attr at 200
      [160, 8, 7], [168, 8, 0], [176, 8, 1], [184, 8, 1],
      [200, 8, 7], [208, 8, 3], [216, 8, 1], [260, 4, 0o100444], [264, 4, 1],
      [288, 8, 7], [296, 8, 2], [304, 4, 1], [308, 4, 8], [312, 'utf8', 'f'],
    ]));
    assert.deepEqual(decodeDirents(b.finish(), true).map((e) => e.entryOffset), [0, 160]);
  });

  it('the direntplus packer: every byte of each record written over a dirty buffer, the same bytes as the builder', () => {
    const packer = new DirentPlusPacker();
    const buf = packer.reserve(1024).fill(0xee);
    packer.setTimeouts(1.5, 0.25);
    const t = { sec: 0x1_2345_6789, nsec: 999_999_999 };
    const attr = {
      ino: 0x1_0000_0007, mode: 0o104755, size: 0x2_0000_0003, blocks: 0x100_0001, atime: t, mtime: { sec: 5, nsec: 6 },
      ctime: { sec: 7, nsec: 8 }, nlink: 3, uid: 0xffff_fffe, gid: 2 ** 31, rdev: 9, blksize: 4096, flags: 2,
    };
    let off = 0;
    const names = ['..', 'ünï', 'eight-b!'];
    buf.write(names[0]!, DirentPlusPacker.nameAt(off), 'latin1');
    off = packer.putNoEntry(off, 2, 1, DirentType.DIR, 1);
    assert.equal(off, 160);
    buf.write(names[1]!, DirentPlusPacker.nameAt(off));
    off = packer.put(off, 5, { nodeid: nodeId(0x1_0000_0007), generation: 0x3_0000_0001, attr, type: DirentType.REG, offset: 2 });
    // 152 + 5 (ü and ï take two bytes) → 160
    assert.equal(off, 320);
    buf.write(names[2]!, DirentPlusPacker.nameAt(off));
    off = packer.put(off, 8, { nodeid: nodeId(11), generation: 0, attr: { ...attr, ino: 11 }, type: DirentType.DIR, offset: 3 });
    // 152 + 8 → 160: no padding
    assert.equal(off, 480);
    assert.deepEqual(buf.subarray(off, off + 8), Buffer.alloc(8, 0xee), 'untouched after the last record');
    // The second record by hand: entry_out at 160, its fuse_attr at 200, the dirent at 288.
    assert.deepEqual(buf.subarray(160, 320), struct(160, [
      [0, 8, 0x1_0000_0007], [8, 8, 0x3_0000_0001], [16, 8, 1], [24, 8, 0], [32, 4, 500_000_000], [36, 4, 250_000_000],
      [40, 8, 0x1_0000_0007], [48, 8, 0x2_0000_0003], [56, 8, 0x100_0001], [64, 8, 0x1_2345_6789], [72, 8, 5], [80, 8, 7],
      [88, 4, 999_999_999], [92, 4, 6], [96, 4, 8], [100, 4, 0o104755], [104, 4, 3], [108, 4, 0xffff_fffe], [112, 4, 2 ** 31],
      [116, 4, 9], [120, 4, 4096], [124, 4, 2],
      [128, 8, 0x1_0000_0007], [136, 8, 2], [144, 4, 5], [148, 4, 8], [152, 'utf8', 'ünï'],
    ]));
    const b = new DirentBuilder(1024, true);
    const entry = (nodeid: number, generation: number, a: typeof attr): Parameters<DirentBuilder['add']>[1] => ({
      nodeid: nodeId(nodeid), generation, attr: a, entryTimeout: 1.5, attrTimeout: 0.25,
    });
    assert.ok(b.add({ name: '..', ino: 1, type: DirentType.DIR, offset: 1 }, null));
    assert.ok(b.add({ name: 'ünï', ino: attr.ino, type: DirentType.REG, offset: 2 }, entry(0x1_0000_0007, 0x3_0000_0001, attr)));
    assert.ok(b.add({ name: 'eight-b!', ino: 11, type: DirentType.DIR, offset: 3 }, entry(11, 0, { ...attr, ino: 11 })));
    assert.deepEqual(buf.subarray(0, off), b.finish());
  });

  it('fuse_kstatfs: five u64 counts, bsize @40, namelen @44, frsize @48 (defaults to bsize), spare zero', () => {
    const out = encodeStatfsOut({ blocks: 262_144, bfree: 1000, bavail: 900, files: 5000, ffree: 4000, bsize: 4096, namelen: 255 });
    assert.deepEqual(out, struct(80, [
      [0, 8, 262_144], [8, 8, 1000], [16, 8, 900], [24, 8, 5000], [32, 8, 4000], [40, 4, 4096], [44, 4, 255], [48, 4, 4096],
    ]));
  });

  it('fuse_init_out: flags split into flags @12 and flags2 @32, max_pages @28', () => {
    const flags = InitFlag.ASYNC_READ | InitFlag.BIG_WRITES | InitFlag.MAX_PAGES | InitFlag.INIT_EXT | InitFlag.DIRECT_IO_ALLOW_MMAP;
    const out = encodeInitOut({
      major: 7, minor: 45, maxReadahead: 128 * KiB, flags, maxBackground: 64, congestionThreshold: 48,
      maxWrite: MiB, timeGran: 1, maxPages: 256,
    });
    assert.deepEqual(out, struct(64, [
      [0, 4, 7], [4, 4, 45], [8, 4, 128 * KiB],
      [12, 4, 0x4040_0021], // bits 0, 5, 22, 30
      [16, 2, 64], [18, 2, 48], [20, 4, MiB], [24, 4, 1], [28, 2, 256], [30, 2, 0],
      [32, 4, 0x10], // bit 36 is flags2 bit 4
      [36, 4, 0], [40, 2, 0],
    ]));
  });

  it('small replies: write_out, getxattr_out, lseek_out; notifications inval_entry (name + NUL) and inval_inode', () => {
    assert.deepEqual(encodeWriteOut(4096), struct(8, [[0, 4, 4096]]));
    assert.deepEqual(encodeGetxattrOut(42), struct(8, [[0, 4, 42]]));
    assert.deepEqual(encodeLseekOut(8192), struct(8, [[0, 8, 8192]]));
    assert.deepEqual(encodeNotifyInvalEntry(1, 'abc', EXPIRE_ONLY), struct(20, [[0, 8, 1], [8, 4, 3], [12, 4, 1], [16, 'utf8', 'abc']]));
    assert.deepEqual(encodeNotifyInvalInode(7, -1, 0), struct(24, [[0, 8, 7], [8, 8, 0xffff_ffff_ffff_ffffn], [16, 8, 0]]));
  });
});

/** Body sizes of the fixed request structs (fuse-protocol.md §1.3), for the ops that have one. */
// INIT's smallest body is 16 bytes: kernels before 7.36 send only major, minor, max_readahead, flags.
const BODY_SIZES: Partial<Record<keyof typeof Opcode, number>> = {
  FORGET: 8, SETATTR: 88, MKNOD: 16, MKDIR: 8, RENAME: 8, LINK: 8, OPEN: 8, READ: 40, WRITE: 40, RELEASE: 24,
  FSYNC: 16, SETXATTR: 8, GETXATTR: 8, LISTXATTR: 8, FLUSH: 24, INIT: 16, OPENDIR: 8, READDIR: 40, RELEASEDIR: 24,
  FSYNCDIR: 16, ACCESS: 8, CREATE: 16, INTERRUPT: 8, BATCH_FORGET: 8, FALLOCATE: 32, READDIRPLUS: 40, RENAME2: 16, LSEEK: 24,
};
const NO_REPLY = new Set(['FORGET', 'BATCH_FORGET', 'NOTIFY_REPLY']);
const SESSION_OPS = new Set(['INIT', 'INTERRUPT', 'DESTROY', 'NOTIFY_REPLY']);
/** Ops answered with a benign default when the file system lacks the method (opcodes.ts). */
const WITH_DEFAULT = new Set(['FORGET', 'BATCH_FORGET', 'OPEN', 'OPENDIR', 'RELEASE', 'RELEASEDIR', 'STATFS']);

/** The session side of a row's run(): only INIT's row calls it; it records the bodies it got. */
const initBodies: Buffer[] = [];
const INIT_REPLY = Buffer.from('init reply');
const session: SessionOps = {
  init: (body) => {
    initBodies.push(body);
    return Promise.resolve([INIT_REPLY]);
  },
};

function runOp(opcode: number, fs: Filesystem, c: RequestContext, body: Buffer): MaybePromise<ReplyPayload> | typeof NOT_IMPLEMENTED {
  return OPCODES.get(opcode)!.run!(fs, c, body, session);
}

describe('the opcode table', () => {
  it('describes every opcode exactly once, under its own number', () => {
    const names = Object.keys(Opcode) as (keyof typeof Opcode)[];
    assert.equal(OPCODES.size, names.length);
    for (const name of names) {
      const row = OPCODES.get(Opcode[name]);
      assert.ok(row, `${name} missing`);
      assert.equal(row.name, name);
      assert.equal(row.opcode, Opcode[name]);
    }
  });

  it('knows each fixed body size, which ops get no reply, and which are the session\'s', () => {
    for (const row of OPCODES.values()) {
      assert.equal(row.bodySize, BODY_SIZES[row.name] ?? 0, `${row.name} body size`);
      assert.equal(row.reply, !NO_REPLY.has(row.name), `${row.name} reply`);
      assert.equal(row.kind === 'session', SESSION_OPS.has(row.name), `${row.name} kind`);
      assert.equal(row.needsInit, !SESSION_OPS.has(row.name), `${row.name} waits for INIT`);
      if (row.kind === 'fs') assert.ok(row.run && row.method, `${row.name} runs a method`);
      else if (row.kind === 'session') assert.ok(row.run && !row.method, `${row.name} is run by the session`);
      else assert.equal(row.run, undefined, `${row.name} has no runner`);
    }
  });

  it('the session\'s rows: INIT is negotiated by the session, INTERRUPT is ENOSYS, DESTROY and NOTIFY_REPLY are empty', async () => {
    const fs: Filesystem = {};
    const initIn = struct(64, [[0, 4, 7], [4, 4, 45]]);
    assert.deepEqual(await runOp(Opcode.INIT, fs, ctx(Opcode.INIT), initIn), [INIT_REPLY]);
    assert.deepEqual(initBodies.splice(0), [initIn]);
    assert.equal(runOp(Opcode.INTERRUPT, fs, ctx(Opcode.INTERRUPT), struct(8, [[0, 8, 6]])), NOT_IMPLEMENTED);
    assert.deepEqual(runOp(Opcode.DESTROY, fs, ctx(Opcode.DESTROY), Buffer.alloc(0)), []);
    assert.deepEqual(runOp(Opcode.NOTIFY_REPLY, fs, ctx(Opcode.NOTIFY_REPLY), Buffer.alloc(0)), []);
  });

  it('a file system\'s extension ops become rows of its own table, over the protocol\'s row at that number', async () => {
    const seen: Buffer[] = [];
    const table = OPCODES.withExtensions([
      { opcode: Opcode.COPY_FILE_RANGE_64, name: 'GET_FMAP', handle: (_c, body) => { seen.push(body); return Buffer.from('fmap'); } },
      { opcode: 200, name: 'FAR_OP', noReply: true, handle: () => Promise.resolve([]) },
    ]);
    assert.equal(table.size, OPCODES.size + 1);
    assert.equal(table.nameOf(Opcode.COPY_FILE_RANGE_64), 'GET_FMAP');
    assert.equal(table.nameOf(200), 'FAR_OP');
    assert.equal(table.nameOf(Opcode.LOOKUP), 'LOOKUP');
    assert.equal(table.nameOf(4096), 'CUSE_INIT');
    assert.equal(table.nameOf(999), 'OP_999');
    assert.equal(OPCODES.nameOf(Opcode.COPY_FILE_RANGE_64), 'COPY_FILE_RANGE_64', 'the protocol table is left as it was');
    const fmap = table.get(Opcode.COPY_FILE_RANGE_64)!;
    assert.deepEqual([fmap.kind, fmap.reply, fmap.needsInit], ['extension', true, true]);
    assert.deepEqual(fmap.run!({}, ctx(fmap.opcode), Buffer.from('body'), session), [Buffer.from('fmap')]);
    assert.deepEqual(seen, [Buffer.from('body')]);
    const far = table.get(200)!;
    assert.equal(far.reply, false);
    assert.deepEqual(await far.run!({}, ctx(200), Buffer.alloc(0), session), []);
    assert.throws(
      () => OPCODES.withExtensions([{ opcode: 60, name: 'A', handle: () => [] }, { opcode: 60, name: 'B', handle: () => [] }]),
      (e: unknown) => e instanceof FuseError && e.errno === constants.errno.EINVAL,
    );
  });

  it('an op the file system does not implement is answered ENOSYS; a few get a benign default', () => {
    const empty: Filesystem = {};
    for (const row of OPCODES.values()) {
      if (row.kind !== 'fs') continue;
      const result = row.run!(empty, ctx(row.opcode), Buffer.alloc(row.bodySize), session);
      if (WITH_DEFAULT.has(row.name)) assert.notEqual(result, NOT_IMPLEMENTED, row.name);
      else assert.equal(result, NOT_IMPLEMENTED, row.name);
    }
    assert.deepEqual(runOp(Opcode.OPEN, empty, ctx(Opcode.OPEN), struct(8, [])), [Buffer.alloc(16)]);
    const statfs = runOp(Opcode.STATFS, empty, ctx(Opcode.STATFS), Buffer.alloc(0)) as Buffer[];
    assert.equal(statfs[0]!.readUInt32LE(44), 255, 'namelen of the default statfs');
  });

  it('runs a request body through decode → method → encode', () => {
    const seen: unknown[] = [];
    const fs: Filesystem = {
      lookup: (_c, a) => {
        seen.push(a);
        return { nodeid: nodeId(42), attr: { ino: 42, mode: 0o100644 } };
      },
      read: (_c, a) => {
        seen.push(a.offset);
        return [Buffer.from('0123'), Buffer.from('456789')];
      },
      readdir: () => ['a', 'b', 'c'].map((name, i) => ({ name, ino: 10 + i, type: DirentType.REG, offset: i + 1 })),
      getxattr: () => Buffer.from('value'),
      forget: (_c, items) => {
        seen.push(items);
      },
    };
    const lookup = runOp(Opcode.LOOKUP, fs, ctx(Opcode.LOOKUP, 9), cstr('name')) as Buffer[];
    assert.deepEqual(seen.shift(), { parent: 9, name: 'name' });
    assert.equal(lookup[0]!.length, 128);
    assert.equal(lookup[0]!.readUInt32LE(0), 42);

    // The reply is trimmed to the size asked for, across the file system's buffers.
    const readIn = struct(40, [[0, 8, 0], [8, 8, 100], [16, 4, 6]]);
    const read = runOp(Opcode.READ, fs, ctx(Opcode.READ, 9), readIn) as Buffer[];
    assert.equal(seen.shift(), 100);
    assert.equal(Buffer.concat(read).toString(), '012345');

    // Entries past the kernel's buffer are dropped whole: 32 + 32 bytes fit in 70, the third does not.
    const readdirIn = struct(40, [[0, 8, 0], [8, 8, 0], [16, 4, 70]]);
    const dir = runOp(Opcode.READDIR, fs, ctx(Opcode.READDIR, 1), readdirIn) as Buffer[];
    assert.deepEqual(decodeDirents(dir[0]!).map((e) => e.name), ['a', 'b']);

    // GETXATTR size protocol: 0 asks for the length, a short buffer is ERANGE.
    const probe = runOp(Opcode.GETXATTR, fs, ctx(Opcode.GETXATTR), Buffer.concat([struct(8, [[0, 4, 0]]), cstr('user.x')])) as Buffer[];
    assert.deepEqual(probe, [struct(8, [[0, 4, 5]])]);
    assert.throws(
      () => runOp(Opcode.GETXATTR, fs, ctx(Opcode.GETXATTR), Buffer.concat([struct(8, [[0, 4, 2]]), cstr('user.x')])),
      (e: unknown) => e instanceof FuseError && e.errno === ERANGE,
    );

    // FORGET: the header's nodeid with the body's count; no reply payload.
    const forget = runOp(Opcode.FORGET, fs, ctx(Opcode.FORGET, 9), struct(8, [[0, 8, 3]]));
    assert.deepEqual(forget, []);
    assert.deepEqual(seen.shift(), [{ nodeid: 9, nlookup: 3 }]);
  });
});

describe('a session on a real mount', () => {
  let server: FuseServer | undefined;
  after(async () => {
    await server?.unmount();
    cleanupMounts();
  });

  it('negotiates INIT with the kernel, and answers what the file system lacks with ENOSYS', async () => {
    const ROOT = 1;
    // Only what `ls` of an empty root needs: no mkdir, no symlink, no readdirplus.
    const fs: Filesystem = {
      getattr: () => ({ attr: { ino: ROOT, mode: 0o40755, nlink: 2 } }),
      lookup: () => {
        throw new FuseError('ENOENT');
      },
      readdir: (_c, a) => {
        if (a.offset === 0) a.sink.add({ name: '.', ino: ROOT, type: DirentType.DIR, offset: 1 });
      },
    };
    server = await FuseServer.mount(fs, trackedMountpoint(), { subtype: 'abitest' });
    const init = server.init;
    assert.equal(init.major, 7);
    assert.equal(init.minor, Math.min(init.kernelMinor, 45));
    assert.equal(init.maxPages, 256, '1 MiB max_write in 4 KiB pages');
    assert.equal(init.flags & ~init.offered, 0n, 'nothing the kernel did not offer');
    for (const bit of [InitFlag.ASYNC_READ, InitFlag.MAX_PAGES, InitFlag.INIT_EXT]) assert.notEqual(init.flags & bit, 0n);
    assert.equal(init.flags & InitFlag.DO_READDIRPLUS, 0n, 'no readdirplus method, so not asked for');

    // fs.promises runs on the libuv pool, so this thread stays free to serve the mount.
    assert.deepEqual(await readdir(server.mountpoint), []);
    await assert.rejects(mkdir(`${server.mountpoint}/d`), (e: NodeJS.ErrnoException) => e.errno === -ENOSYS || e.code === 'ENOSYS');
    await assert.rejects(symlink('t', `${server.mountpoint}/l`), (e: NodeJS.ErrnoException) => e.code === 'ENOSYS');
    const stats = server.session.requestStats;
    assert.equal(stats.requests[Opcode.MKDIR], 1);
    assert.equal(stats.requests[Opcode.SYMLINK], 1);
    assert.equal(stats.errors[Opcode.MKDIR], 1, 'ENOSYS is an error answer');
    const mkdirFigures = stats.figures().find((f) => f.opcode === Opcode.MKDIR)!;
    assert.equal(mkdirFigures.buckets.reduce((a, b) => a + b, 0), 1, 'one latency observation');
  });
});
