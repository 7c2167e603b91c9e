import { LOG_OFFSET, SUPERBLOCK_REGION_SIZE } from '../format/layout.js';
import type { Superblock } from '../format/superblock.js';
import type { DirNode, FileNode } from './namespace.js';
import { RESERVED_ROOT_NAME } from './paths.js';
import { NO_SLOT } from '../format/log-header.js';

/**
 * The `.meta` directory every famfs mount shows, as upstream: `.superblock` and `.log` are
 * files whose extents are the superblock region and the log, so tools can read them like
 * any file. They are not in the log; each mount makes them.
 */
const META_DIR_NAME = RESERVED_ROOT_NAME;
/** Inodes above any log slot (a log holds far fewer than 2^40 entries). */
export const META_DIR_INO = 2 ** 40;
export const META_SB_INO = META_DIR_INO + 1;
export const META_LOG_INO = META_DIR_INO + 2;
/** `.meta`, `.superblock` and `.log`. */
export const META_NODE_COUNT = 3;
const META_DIR_MODE = 0o755;
/**
 * Root only, read only (upstream's tools run as root): the log names every file, also those in
 * 0700 directories, and the superblock says where the log is. Writes go through famfs commands.
 */
const META_FILE_MODE = 0o400;

export interface MetaFiles {
  dir: DirNode;
  superblock: FileNode;
  log: FileNode;
}

export function makeMetaFiles(sb: Superblock, root: DirNode): MetaFiles {
  const dir: DirNode = {
    kind: 'dir', name: META_DIR_NAME, ino: META_DIR_INO, uid: 0, gid: 0, mode: META_DIR_MODE, parent: root, logIndex: NO_SLOT, children: new Map(),
  };
  const file = (name: string, ino: number, mode: number, offset: number, len: number): FileNode => ({
    kind: 'file', name, ino, uid: 0, gid: 0, mode, parent: dir, logIndex: NO_SLOT, size: len, flags: 0,
    fmap: { kind: 'simple', extents: [{ devIndex: 0, offset, len }] },
  });
  const superblock = file('.superblock', META_SB_INO, META_FILE_MODE, 0, SUPERBLOCK_REGION_SIZE);
  const log = file('.log', META_LOG_INO, META_FILE_MODE, LOG_OFFSET, sb.logLen);
  dir.children.set(superblock.name, superblock);
  dir.children.set(log.name, log);
  return { dir, superblock, log };
}

/** Which meta file a famfs path names (`.meta/.superblock`, `.meta/.log`, as upstream's tools accept them); else undefined. */
export function metaFileKind(relpath: string): 'superblock' | 'log' | undefined {
  const p = relpath.replace(/^\/+/, '').replace(/\/+$/, '');
  if (p === `${META_DIR_NAME}/.superblock`) return 'superblock';
  if (p === `${META_DIR_NAME}/.log`) return 'log';
  return undefined;
}
