import { readU32, writeCString, writeU32 } from './bytes.js';
import { decodeRelpath, encodeRelpath } from './file-meta.js';
import { RELPATH_FIELD_SIZE } from './layout.js';

/** struct famfs_log_mkdir: the MKDIR payload, 92 bytes at entry offset 16. */
const MKDIR_SIZE = 92;

const OFF = { uid: 0, gid: 4, mode: 8, relpath: 12 } as const;

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
  writeCString(b, off + OFF.relpath, RELPATH_FIELD_SIZE, encodeRelpath(m.path));
}

export function decodeMkdir(b: Buffer, off: number): MkdirMeta {
  return {
    uid: readU32(b, off + OFF.uid),
    gid: readU32(b, off + OFF.gid),
    mode: readU32(b, off + OFF.mode),
    path: decodeRelpath(b, off + OFF.relpath),
  };
}

if (MKDIR_SIZE !== OFF.relpath + RELPATH_FIELD_SIZE) throw new Error('mkdir layout does not add up');
