/** Payloads of daemon→kernel notifications (sent with unique 0 and the code in out_header.error). */
import { writeI64, writeU64 } from '../../struct/le.js';
import { StructSize } from './sizes.js';
import { NOTIFY_DELETE_OUT, NOTIFY_INVAL_ENTRY_OUT, NOTIFY_INVAL_INODE_OUT } from './structs.js';

const InvalInodeOff = NOTIFY_INVAL_INODE_OUT.OFF;
const InvalEntryOff = NOTIFY_INVAL_ENTRY_OUT.OFF;
const DeleteOff = NOTIFY_DELETE_OUT.OFF;
const NUL_BYTES = 1;

/** `off < 0` drops attributes only; otherwise pages from off, `len <= 0` meaning to the end. */
export function encodeNotifyInvalInode(ino: number, off: number, len: number): Buffer {
  const buf = Buffer.alloc(StructSize.NOTIFY_INVAL_INODE_OUT);
  writeU64(buf, InvalInodeOff.ino, ino);
  writeI64(buf, InvalInodeOff.off, off);
  writeI64(buf, InvalInodeOff.len, len);
  return buf;
}

/** The kernel insists on exactly struct + name + NUL. */
export function encodeNotifyInvalEntry(parent: number, name: string, flags: number): Buffer {
  const nameBytes = Buffer.from(name, 'utf8');
  const buf = Buffer.alloc(StructSize.NOTIFY_INVAL_ENTRY_OUT + nameBytes.length + NUL_BYTES);
  writeU64(buf, InvalEntryOff.parent, parent);
  buf.writeUInt32LE(nameBytes.length, InvalEntryOff.namelen);
  buf.writeUInt32LE(flags, InvalEntryOff.flags);
  nameBytes.copy(buf, StructSize.NOTIFY_INVAL_ENTRY_OUT);
  return buf;
}

export function encodeNotifyDelete(parent: number, child: number, name: string): Buffer {
  const nameBytes = Buffer.from(name, 'utf8');
  const buf = Buffer.alloc(StructSize.NOTIFY_DELETE_OUT + nameBytes.length + NUL_BYTES);
  writeU64(buf, DeleteOff.parent, parent);
  writeU64(buf, DeleteOff.child, child);
  buf.writeUInt32LE(nameBytes.length, DeleteOff.namelen);
  nameBytes.copy(buf, StructSize.NOTIFY_DELETE_OUT);
  return buf;
}
