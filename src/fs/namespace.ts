import { FsError } from '../errors.js';
import type { Fmap } from '../format/fmap.js';

/** Inode number of the root directory; every other node's is its log index + FIRST_LOGGED_INO. */
export const ROOT_INO = 1;
export const FIRST_LOGGED_INO = 2;
export const DEFAULT_DIR_MODE = 0o755;

interface NodeBase {
  name: string;
  /** Stable for the life of the file system: derived from the log slot, never reused. */
  ino: number;
  uid: number;
  gid: number;
  mode: number;
  parent: DirNode | null;
  /** Log slot that created it; -1 for the root. */
  logIndex: number;
}

export interface DirNode extends NodeBase {
  kind: 'dir';
  children: Map<string, FsNode>;
}

export interface FileNode extends NodeBase {
  kind: 'file';
  size: number;
  flags: number;
  fmap: Fmap;
}

export type FsNode = DirNode | FileNode;

export function inoForLogIndex(index: number): number {
  return index + FIRST_LOGGED_INO;
}

/** The tree a log replay builds; lookups by path or by inode. */
export class Namespace {
  readonly root: DirNode;
  /** Indexed by inode number, which is dense (log slot + 2), so an array beats a Map. */
  private readonly byIno: (FsNode | undefined)[] = [];
  fileCount = 0;
  dirCount = 0;

  constructor(rootUid = 0, rootGid = 0) {
    this.root = { kind: 'dir', name: '', ino: ROOT_INO, uid: rootUid, gid: rootGid, mode: DEFAULT_DIR_MODE, parent: null, logIndex: -1, children: new Map() };
    this.byIno[ROOT_INO] = this.root;
  }

  getIno(ino: number): FsNode | undefined {
    return this.byIno[ino];
  }

  /** The node at these components, or undefined; throws ENOTDIR when a file is in the way. */
  lookup(parts: readonly string[]): FsNode | undefined {
    let node: FsNode = this.root;
    for (const c of parts) {
      if (node.kind !== 'dir') throw new FsError('ENOTDIR', `'${pathOf(node)}' is a file, not a directory`);
      const next = node.children.get(c);
      if (!next) return undefined;
      node = next;
    }
    return node;
  }

  /** lookup() of a '/'-separated path that may run into files: undefined then. */
  lookupPath(path: string): FsNode | undefined {
    try {
      return this.lookup(path.split('/'));
    } catch {
      return undefined;
    }
  }

  add(parent: DirNode, node: FsNode): void {
    parent.children.set(node.name, node);
    this.byIno[node.ino] = node;
    if (node.kind === 'file') this.fileCount++;
    else this.dirCount++;
  }

  *walk(dir: DirNode = this.root): Generator<FsNode> {
    for (const child of dir.children.values()) {
      yield child;
      if (child.kind === 'dir') yield* this.walk(child);
    }
  }
}

export function pathOf(node: FsNode): string {
  const parts: string[] = [];
  for (let n: FsNode | null = node; n && n.parent; n = n.parent) parts.unshift(n.name);
  return parts.join('/');
}
