/**
 * FUSE over io_uring framing (src/fuse/abi/uring.ts) against ring entries written byte by byte as
 * include/uapi/linux/fuse.h lays them out: struct fuse_uring_req_header (in_out[128] at 0, op_in[128]
 * at 128, fuse_uring_ent_in_out at 256: flags, commit_id at 264, payload_sz at 272) and the payload,
 * which the transport places 256 bytes into each entry's slot. The request must come out exactly as a
 * read of /dev/fuse delivers it, decodable by the same decoders; a reply must land where the kernel
 * reads it. Real mounts on this transport are in fuse-generic.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeCreateIn, decodeInHeader, decodeReadIn, decodeWriteIn, requestBody } from '../src/fuse/abi.js';
import { ringCommitId, ringRequest, ringRequestUnique, writeRingReply } from '../src/fuse/abi/uring.js';
import { ProtocolError } from '../src/fuse/errors.js';

const HEADER_BYTES = 288;
const PAYLOAD_AT = 256;
const PAYLOAD_BYTES = 128 * 1024;
const FILLER = 0xaa;

interface HandBuilt {
  readonly header: Buffer;
  readonly slot: Buffer;
  /** The same request as /dev/fuse would deliver it. */
  readonly wire: Buffer;
}

/** fuse_in_header, byte by byte. */
function inHeader(len: number, opcode: number, unique: bigint, nodeid: bigint): Buffer {
  const b = Buffer.alloc(40);
  b.writeUInt32LE(len, 0);
  b.writeUInt32LE(opcode, 4);
  b.writeBigUInt64LE(unique, 8);
  b.writeBigUInt64LE(nodeid, 16);
  b.writeUInt32LE(1000, 24); // uid
  b.writeUInt32LE(100, 28); // gid
  b.writeUInt32LE(4242, 32); // pid
  return b;
}

/** A ring entry as the kernel fills it: the first argument in op_in, the rest in the payload. */
function entry(opcode: number, unique: bigint, nodeid: bigint, firstArg: Buffer, rest: Buffer): HandBuilt {
  const len = 40 + firstArg.length + rest.length;
  const hdr = inHeader(len, opcode, unique, nodeid);
  const header = Buffer.alloc(HEADER_BYTES, FILLER);
  hdr.copy(header, 0);
  firstArg.copy(header, 128);
  header.writeBigUInt64LE(0n, 256); // flags
  header.writeBigUInt64LE(unique, 264); // commit_id
  header.writeUInt32LE(rest.length, 272); // payload_sz
  header.writeUInt32LE(0, 276);
  header.writeBigUInt64LE(0n, 280);
  const slot = Buffer.alloc(PAYLOAD_AT + PAYLOAD_BYTES, FILLER);
  rest.copy(slot, PAYLOAD_AT);
  return { header, slot, wire: Buffer.concat([hdr, firstArg, rest]) };
}

function readIn(fh: bigint, offset: bigint, size: number): Buffer {
  const b = Buffer.alloc(40);
  b.writeBigUInt64LE(fh, 0);
  b.writeBigUInt64LE(offset, 8);
  b.writeUInt32LE(size, 16);
  b.writeUInt32LE(0o100002, 32); // O_RDWR | O_LARGEFILE
  return b;
}

describe('FUSE over io_uring: requests from ring entries', () => {
  it('READ: fuse_read_in from op_in, empty payload, decoded as from /dev/fuse', () => {
    const e = entry(15, 0x1234n, 7n, readIn(9n, 4096n, 131072), Buffer.alloc(0));
    const req = ringRequest(e.header, e.slot);
    assert.ok(req.equals(e.wire));
    const h = decodeInHeader(req, req.length);
    assert.deepEqual([h.opcode, h.unique, h.uid, h.gid, h.pid], [15, 0x1234n, 1000, 100, 4242]);
    const r = decodeReadIn(requestBody(req, h));
    assert.deepEqual([r.fh, r.offset, r.size], [9, 4096, 131072]);
    assert.equal(ringCommitId(e.header), 0x1234n);
  });

  it('LOOKUP: no first argument (op_in ignored), the name from the payload', () => {
    const e = entry(1, 77n, 1n, Buffer.alloc(0), Buffer.from('name\0'));
    const req = ringRequest(e.header, e.slot);
    assert.ok(req.equals(e.wire));
    assert.ok(!req.includes(FILLER), 'no op_in bytes leak into the request');
  });

  it('WRITE: fuse_write_in from op_in, the data stays where the kernel put it (no copy)', () => {
    const data = Buffer.alloc(64 * 1024);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7) & 0xff;
    const e = entry(16, 99n, 5n, readIn(3n, 1n << 33n, data.length), data);
    const req = ringRequest(e.header, e.slot);
    assert.ok(req.equals(e.wire));
    const w = decodeWriteIn(requestBody(req, decodeInHeader(req, req.length)));
    assert.equal(w.offset, 2 ** 33);
    assert.ok(w.data.equals(data));
    assert.equal(w.data.buffer, e.slot.buffer, 'a view of the entry');
    assert.equal(w.data.byteOffset, e.slot.byteOffset + PAYLOAD_AT, 'at the payload the kernel filled');
  });

  it('CREATE: fuse_create_in from op_in, the name from the payload', () => {
    const createIn = Buffer.alloc(16);
    createIn.writeUInt32LE(0o100101, 0); // O_CREAT | O_EXCL | O_WRONLY
    createIn.writeUInt32LE(0o100644, 4);
    createIn.writeUInt32LE(0o022, 8);
    const e = entry(35, 5n, 1n, createIn, Buffer.from('f.txt\0'));
    const req = ringRequest(e.header, e.slot);
    assert.ok(req.equals(e.wire));
    const c = decodeCreateIn(requestBody(req, decodeInHeader(req, req.length)));
    assert.deepEqual([c.mode, c.umask, c.name], [0o100644, 0o022, 'f.txt']);
  });

  it('sizes that do not add up are refused, and the unique is still known for the error reply', () => {
    const tooLong = entry(15, 8n, 1n, readIn(1n, 0n, 4096), Buffer.alloc(0));
    tooLong.header.writeUInt32LE(40 + 40 + 200, 0); // the first argument would be 200 bytes: op_in holds 128
    assert.throws(() => ringRequest(tooLong.header, tooLong.slot), ProtocolError);
    assert.equal(ringRequestUnique(tooLong.header), 8n);
    const short = entry(1, 9n, 1n, Buffer.alloc(0), Buffer.from('x\0'));
    short.header.writeUInt32LE(41, 0); // shorter than its payload
    assert.throws(() => ringRequest(short.header, short.slot), ProtocolError);
    const huge = entry(1, 10n, 1n, Buffer.alloc(0), Buffer.from('x\0'));
    huge.header.writeUInt32LE(PAYLOAD_BYTES + 1, 272);
    huge.header.writeUInt32LE(40 + PAYLOAD_BYTES + 1, 0);
    assert.throws(() => ringRequest(huge.header, huge.slot), ProtocolError);
  });
});

describe('FUSE over io_uring: replies into ring entries', () => {
  /** fuse_out_header, byte by byte. */
  function outHeader(len: number, error: number, unique: bigint): Buffer {
    const b = Buffer.alloc(16);
    b.writeUInt32LE(len, 0);
    b.writeInt32LE(error, 4);
    b.writeBigUInt64LE(unique, 8);
    return b;
  }

  it('fuse_out_header into in_out, the arguments back to back into the payload, their length into payload_sz', () => {
    const e = entry(3, 0x55n, 2n, Buffer.alloc(16), Buffer.alloc(0));
    const attr = Buffer.alloc(104, 0x11);
    const tail = Buffer.from('tail');
    assert.equal(writeRingReply(e.header, e.slot, [outHeader(16 + 108, 0, 0x55n), attr, tail]), 108);
    assert.ok(e.header.subarray(0, 16).equals(outHeader(16 + 108, 0, 0x55n)));
    assert.ok(e.slot.subarray(PAYLOAD_AT, PAYLOAD_AT + 108).equals(Buffer.concat([attr, tail])));
    assert.equal(e.header.readUInt32LE(272), 108);
    assert.equal(e.header.readBigUInt64LE(264), 0x55n, 'commit_id untouched');
    assert.equal(e.slot[PAYLOAD_AT - 1], FILLER, 'nothing written before the payload');
  });

  it('an error reply has an empty payload', () => {
    const e = entry(1, 6n, 1n, Buffer.alloc(0), Buffer.from('gone\0'));
    assert.equal(writeRingReply(e.header, e.slot, [outHeader(16, -2, 6n)]), 0);
    assert.equal(e.header.readInt32LE(4), -2);
    assert.equal(e.header.readUInt32LE(272), 0);
  });

  it('a piece that is a view of the payload itself (data read into the entry) is moved correctly', () => {
    const e = entry(15, 7n, 1n, readIn(1n, 0n, 8), Buffer.alloc(0));
    e.slot.write('abcdefgh', PAYLOAD_AT + 4);
    const inPlace = e.slot.subarray(PAYLOAD_AT + 4, PAYLOAD_AT + 12);
    assert.equal(writeRingReply(e.header, e.slot, [outHeader(24, 0, 7n), inPlace]), 8);
    assert.equal(e.slot.toString('latin1', PAYLOAD_AT, PAYLOAD_AT + 8), 'abcdefgh');
  });

  it('a reply larger than the payload buffer is refused (-1), and a reply must start with a 16-byte header', () => {
    const e = entry(15, 7n, 1n, readIn(1n, 0n, 8), Buffer.alloc(0));
    assert.equal(writeRingReply(e.header, e.slot, [outHeader(16, 0, 7n), Buffer.alloc(PAYLOAD_BYTES + 1)]), -1);
    assert.throws(() => writeRingReply(e.header, e.slot, [Buffer.alloc(8)]), ProtocolError);
  });
});
