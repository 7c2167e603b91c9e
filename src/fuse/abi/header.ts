import { ProtocolError } from '../errors.js';
import { type NodeId, nodeId } from './ids.js';
import { readU64, readU64n, writeU64n } from '../../struct/le.js';
import { EXTLEN_UNIT, StructSize } from './sizes.js';
import { IN_HEADER, OUT_HEADER } from './structs.js';
import { fuseRangeFault } from './wire.js';

/** fuse_in_header, decoded. */
export interface InHeader {
  readonly len: number;
  readonly opcode: number;
  readonly unique: bigint;
  readonly nodeid: NodeId;
  readonly uid: number;
  readonly gid: number;
  readonly pid: number;
  /** Bytes of request extensions (security context, groups) after the op body. */
  readonly extBytes: number;
}

const InHeaderOff = IN_HEADER.OFF;
const OutHeaderOff = OUT_HEADER.OFF;

export function decodeInHeader(buf: Buffer, bytesRead: number): InHeader {
  if (bytesRead < StructSize.IN_HEADER) throw new ProtocolError(`short request: ${bytesRead} bytes`);
  const len = buf.readUInt32LE(InHeaderOff.len);
  const extBytes = buf.readUInt16LE(InHeaderOff.totalExtlen) * EXTLEN_UNIT;
  if (len !== bytesRead || len < StructSize.IN_HEADER + extBytes) {
    throw new ProtocolError(`request length ${len} does not match the ${bytesRead} bytes read`);
  }
  return {
    len,
    opcode: buf.readUInt32LE(InHeaderOff.opcode),
    unique: readU64n(buf, InHeaderOff.unique),
    nodeid: nodeId(readU64(buf, InHeaderOff.nodeid, 'fuse_in_header.nodeid', fuseRangeFault)),
    uid: buf.readUInt32LE(InHeaderOff.uid),
    gid: buf.readUInt32LE(InHeaderOff.gid),
    pid: buf.readUInt32LE(InHeaderOff.pid),
    extBytes,
  };
}

/** The opcode's own payload: after the header, before any extensions. */
export function requestBody(buf: Buffer, hdr: InHeader): Buffer {
  return buf.subarray(StructSize.IN_HEADER, hdr.len - hdr.extBytes);
}

/**
 * fuse_out_header. `error` is 0 or -errno for replies, the notify code for notifications
 * (unique 0). `len` must equal the bytes of the whole write.
 */
export function encodeOutHeader(len: number, error: number, unique: bigint): Buffer {
  const buf = Buffer.allocUnsafe(StructSize.OUT_HEADER);
  buf.writeUInt32LE(len, OutHeaderOff.len);
  buf.writeInt32LE(error, OutHeaderOff.error);
  writeU64n(buf, OutHeaderOff.unique, unique);
  return buf;
}
