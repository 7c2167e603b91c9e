/**
 * FUSE over io_uring's per-entry buffers (include/uapi/linux/fuse.h, protocol 7.42+): each ring
 * entry has a header buffer, struct fuse_uring_req_header, and a payload buffer.
 *
 *   struct fuse_uring_req_header {            288 bytes
 *     char in_out[128];      @0    kernel -> server: fuse_in_header; server -> kernel: fuse_out_header
 *     char op_in[128];       @128  the opcode's first argument (fuse_read_in, fuse_open_in, ...)
 *     struct fuse_uring_ent_in_out {          @256, 32 bytes
 *       u64 flags; u64 commit_id; u32 payload_sz; u32 padding; u64 reserved;
 *     };
 *   };
 *
 * The kernel puts the first argument in op_in (nothing when its size is 0, as LOOKUP's) and every
 * further argument back to back in the payload; fuse_in_header.len still counts them all. A reply
 * is fuse_out_header in in_out (the kernel reads its error and unique, not its len) and the reply
 * arguments back to back in the payload, their length in payload_sz.
 *
 * The ring transport lays each entry's payload out HEADROOM bytes into a slot, so a request can be
 * made contiguous, fuse_in_header + first argument + payload, exactly as a read(2) of /dev/fuse
 * returns it, by copying at most 168 bytes in front of the payload: both transports then feed the
 * same request decoding, and large WRITE data is never copied.
 */
import { bytes, defineStruct, nested, pad } from '../../struct/struct.js';
import { ProtocolError } from '../errors.js';
import { StructSize } from './sizes.js';

const ENT_IN_OUT = defineStruct('fuse_uring_ent_in_out', 32, {
  flags: 'u64n',
  /** The kernel's handle for the request in this entry (its unique), echoed in the commit. */
  commitId: 'u64n',
  /** kernel -> server: request payload bytes; server -> kernel: reply payload bytes. */
  payloadSz: 'u32',
  padding: pad(4),
  reserved: pad(8),
});
/** FUSE_URING_IN_OUT_HEADER_SZ and FUSE_URING_OP_IN_OUT_SZ are both 128. */
const URING_OP_IN_SIZE = 128;
const REQ_HEADER = defineStruct('fuse_uring_req_header', 288, {
  inOut: bytes(128),
  opIn: bytes(URING_OP_IN_SIZE),
  ringEntInOut: nested(ENT_IN_OUT),
});

export const URING_HEADER_SIZE = REQ_HEADER.SIZE;
/** Bytes in front of each payload in its slot: room for fuse_in_header and the first argument. */
export const URING_HEADROOM = 256;

const HeaderOff = REQ_HEADER.OFF;
const COMMIT_ID_OFF = HeaderOff.ringEntInOut + ENT_IN_OUT.OFF.commitId;
const PAYLOAD_SZ_OFF = HeaderOff.ringEntInOut + ENT_IN_OUT.OFF.payloadSz;
/** fuse_in_header.unique and fuse_out_header.unique sit at the same offset. */
const UNIQUE_OFF = 8;

/** fuse_uring_ent_in_out.commit_id: the kernel's handle for the request in this entry (its unique). */
export function ringCommitId(header: Buffer): bigint {
  return header.readBigUInt64LE(COMMIT_ID_OFF);
}

/** fuse_uring_ent_in_out.payload_sz. */
function ringPayloadSize(header: Buffer): number {
  return header.readUInt32LE(PAYLOAD_SZ_OFF);
}

/**
 * The request in a ring entry, made contiguous in `slot` (header bytes copied into the headroom in
 * front of the payload, which starts at URING_HEADROOM): a view of `slot` laid out as a read of
 * /dev/fuse. Throws ProtocolError when the sizes the kernel wrote do not add up.
 */
export function ringRequest(header: Buffer, slot: Buffer): Buffer {
  const payloadSize = ringPayloadSize(header);
  const len = header.readUInt32LE(HeaderOff.inOut);
  const firstArg = len - StructSize.IN_HEADER - payloadSize;
  if (payloadSize > slot.length - URING_HEADROOM || firstArg < 0 || firstArg > URING_OP_IN_SIZE) {
    throw new ProtocolError(`ring entry: request length ${len} with a payload of ${payloadSize} bytes`);
  }
  const start = URING_HEADROOM - firstArg - StructSize.IN_HEADER;
  header.copy(slot, start, HeaderOff.inOut, HeaderOff.inOut + StructSize.IN_HEADER);
  header.copy(slot, URING_HEADROOM - firstArg, HeaderOff.opIn, HeaderOff.opIn + firstArg);
  return slot.subarray(start, start + len);
}

/** The unique of the request in a ring entry (from its fuse_in_header), even when its sizes do not add up. */
export function ringRequestUnique(header: Buffer): bigint {
  return header.readBigUInt64LE(HeaderOff.inOut + UNIQUE_OFF);
}

/**
 * Writes a reply into a ring entry: `reply[0]` is the fuse_out_header (16 bytes, as written to
 * /dev/fuse), the rest the arguments, copied back to back into the payload (which starts at
 * URING_HEADROOM in `slot`). Returns the payload bytes, or -1 if they do not fit.
 */
export function writeRingReply(header: Buffer, slot: Buffer, reply: readonly Buffer[]): number {
  const out = reply[0];
  if (out?.length !== StructSize.OUT_HEADER) throw new ProtocolError('a reply starts with its 16-byte fuse_out_header');
  out.copy(header, HeaderOff.inOut);
  let at = URING_HEADROOM;
  for (let i = 1; i < reply.length; i++) {
    const piece = reply[i]!;
    if (piece.length > slot.length - at) return -1;
    // Buffer.copy is memmove: a piece may be a view of this very payload.
    piece.copy(slot, at);
    at += piece.length;
  }
  const payloadSize = at - URING_HEADROOM;
  header.writeUInt32LE(payloadSize, PAYLOAD_SZ_OFF);
  return payloadSize;
}
