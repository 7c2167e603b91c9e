import { readU32, writeFixedBytes, writeU32 } from '../struct/le.js';
import { bytes, defineStruct } from '../struct/struct.js';
import { decodeRelpath, encodeRelpath } from './file-meta.js';
import { RELPATH_FIELD_SIZE } from './layout.js';

/** struct famfs_log_mkdir: the MKDIR payload, 92 bytes at entry offset 16. */
export const MKDIR_ENTRY = defineStruct('famfs_log_mkdir', 92, {
  uid: 'u32',
  gid: 'u32',
  mode: 'u32',
  relpath: bytes(RELPATH_FIELD_SIZE),
});

const OFF = MKDIR_ENTRY.OFF;

export interface MkdirMeta {
  path: string;
  uid: number;
  gid: number;
  mode: number;
}

export function encodeMkdir(b: Buffer, off: number, m: MkdirMeta): void {
  writeU32(b, off + OFF.uid, m.uid);
  writeU32(b, off + OFF.gid, m.gid);
  writeU32(b, off + OFF.mode, m.mode);
  writeFixedBytes(b, off + OFF.relpath, RELPATH_FIELD_SIZE, encodeRelpath(m.path));
}

export function decodeMkdir(b: Buffer, off: number): MkdirMeta {
  return {
    uid: readU32(b, off + OFF.uid),
    gid: readU32(b, off + OFF.gid),
    mode: readU32(b, off + OFF.mode),
    path: decodeRelpath(b, off + OFF.relpath),
  };
}
