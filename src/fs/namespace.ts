import { FsError } from '../errors.js';
import type { Fmap } from '../format/fmap.js';
import { type IndexedFields, type IndexedNode, ROOT_SLOT, type ReplayIndex } from './replay-index.js';
import { type LogSlot, logSlot } from '../format/log-header.js';

/** Index attributes kept at most (~100 bytes each): a few thousand covers any working set of stat() callers. */
const STAT_CACHE_ENTRIES = 4096;

/** Inode number of the root directory; every other node's is its log index + FIRST_LOGGED_INO. */
export const ROOT_INO = 1;
export const FIRST_LOGGED_INO = 2;
export const DEFAULT_DIR_MODE = 0o755;
/** What a node keeps of a logged mode: the file type comes from the entry type, not from it. */
export const PERMISSION_BITS = 0o7777;

interface NodeBase {
  name: string;
  /** Stable for the life of the file system: derived from the log slot, never reused. */
  ino: number;
  uid: number;
  gid: number;
  mode: number;
  parent: DirNode | null;
  /** Log slot that created it; NO_SLOT for the root. */
  logIndex: LogSlot;
}

export interface DirNode extends NodeBase {
  kind: 'dir';
  readonly children: Map<string, FsNode>;
}

export interface FileNode extends NodeBase {
  kind: 'file';
  size: number;
  flags: number;
  fmap: Fmap;
}

export type FsNode = DirNode | FileNode;

/**
 * What a stat, a lookup or a listing needs of a node, read from the replay index without making
 * the node's object: a daemon asked about half a million files keeps no object per file.
 */
export interface NodeStat {
  readonly kind: 'file' | 'dir';
  readonly name: string;
  readonly ino: number;
  readonly uid: number;
  readonly gid: number;
  /** Permission bits only (PERMISSION_BITS), as the node objects keep them. */
  readonly mode: number;
  /** A file's size; 0 for a directory. */
  readonly size: number;
  /** The directory holding it (the root's own for the root). */
  readonly parentIno: number;
}

/** A NodeStat without its name, filled in place by statSlotInto: a listing makes no object per entry. */
export type NodeStatFields = { -readonly [K in Exclude<keyof NodeStat, 'name'>]: NodeStat[K] };

export function inoForLogIndex(slot: LogSlot): number {
  return slot + FIRST_LOGGED_INO;
}

/** Makes the file object of a slot (it knows where the slot's entry lies). */
export type FileMaker = (slot: LogSlot, node: IndexedNode, parent: DirNode) => FileNode;

/** A replayed directory: its children become objects the first time someone asks for them. */
class IndexedDir implements DirNode {
  readonly kind = 'dir' as const;
  name: string;
  ino: number;
  uid: number;
  gid: number;
  mode: number;
  #children: Map<string, FsNode> | undefined;

  /** `slot`: the directory's log slot (ROOT_SLOT for the root). */
  constructor(
    private readonly load: (dir: IndexedDir) => Map<string, FsNode>,
    readonly logIndex: LogSlot,
    placed: Pick<IndexedNode, 'name' | 'uid' | 'gid' | 'mode'>,
    public parent: DirNode | null,
  ) {
    this.name = placed.name;
    this.ino = logIndex === ROOT_SLOT ? ROOT_INO : inoForLogIndex(logIndex);
    this.uid = placed.uid;
    this.gid = placed.gid;
    this.mode = placed.mode & PERMISSION_BITS;
  }

  get children(): Map<string, FsNode> {
    this.#children ??= this.load(this);
    return this.#children;
  }

  /** The children made so far, or undefined when none were asked for. */
  get loaded(): Map<string, FsNode> | undefined {
    return this.#children;
  }
}

/**
 * The tree a log replay builds, over the replay's path index: a mount replays 15,000 entries
 * and looks at a few, so a node becomes an object when it is looked up, listed or asked for by
 * inode, and stays one (its inode's object is the same for the life of the namespace).
 */
export class Namespace {
  readonly root: DirNode;
  /** Indexed by inode number, which is dense (log slot + 2), so an array beats a Map. */
  private readonly byIno: (FsNode | undefined)[] = [];
  /**
   * Attributes read from the index for files and directories with no object, kept because a
   * logged entry never changes: a stat() at zero timeouts asks for the same inode three times
   * (LOOKUP and two GETATTRs). Bounded so that a walk of a million files keeps no per-file state.
   */
  private readonly statCache = new Map<number, NodeStat>();
  /** Where statSlotInto has the index put a slot's fields (one object for every call). */
  private readonly placed: IndexedFields = { kind: 'file', parent: ROOT_SLOT, uid: 0, gid: 0, mode: 0, flags: 0, size: 0, crc: 0 };
  /** Directories whose children were made: new entries must be added to them. */
  private loadedDirs = 0;

  constructor(private readonly index: ReplayIndex, private readonly makeFile: FileMaker, rootUid = 0, rootGid = 0) {
    this.root = new IndexedDir((d) => this.load(d), ROOT_SLOT, { name: '', uid: rootUid, gid: rootGid, mode: DEFAULT_DIR_MODE }, null);
    this.byIno[ROOT_INO] = this.root;
  }

  getIno(ino: number): FsNode | undefined {
    const known = this.byIno[ino];
    if (known || ino < FIRST_LOGGED_INO || !Number.isSafeInteger(ino)) return known;
    return this.nodeAt(logSlot(ino - FIRST_LOGGED_INO));
  }

  /** The node at these components, or undefined; throws ENOTDIR when a file is in the way. */
  lookup(parts: readonly string[]): FsNode | undefined {
    if (parts.length === 0) return this.root;
    const slot = this.index.find(parts.join('/'));
    if (slot >= 0) return this.nodeAt(slot);
    for (let i = 1; i < parts.length; i++) {
      const above = this.index.find(parts.slice(0, i).join('/'));
      if (above < 0) return undefined;
      const node = this.nodeAt(above);
      if (node?.kind === 'file') throw new FsError('ENOTDIR', `'${pathOf(node)}' is a file, not a directory`);
    }
    return undefined;
  }

  /** The attributes of inode `ino`, from its object when one was made, else from the index. */
  statIno(ino: number): NodeStat | undefined {
    const known = this.byIno[ino];
    if (known) return statOf(known);
    if (ino < FIRST_LOGGED_INO || !Number.isSafeInteger(ino)) return undefined;
    return this.statSlot(logSlot(ino - FIRST_LOGGED_INO));
  }

  /** The attributes of the node logged at `slot`, or undefined when the slot placed nothing. */
  statSlot(slot: LogSlot): NodeStat | undefined {
    const ino = inoForLogIndex(slot);
    const known = this.byIno[ino];
    if (known) return statOf(known);
    const cached = this.statCache.get(ino);
    if (cached) return cached;
    const placed = this.index.node(slot);
    if (!placed) return undefined;
    const stat = { name: placed.name, kind: placed.kind, ino, uid: 0, gid: 0, mode: 0, size: 0, parentIno: ROOT_INO };
    statFields(stat, ino, placed);
    if (this.statCache.size >= STAT_CACHE_ENTRIES) this.statCache.clear();
    this.statCache.set(ino, stat);
    return stat;
  }

  /**
   * As statSlot, for a listing (which asks once for every child of a directory): the attributes
   * into `into` and the name's UTF-8 bytes into `names` at `at`, with no object, string or cache
   * entry made. Returns the name's length in bytes, or -1 when the slot placed nothing; ERANGE
   * when the name would not fit.
   */
  statSlotInto(slot: LogSlot, into: NodeStatFields, names: Buffer, at: number): number {
    const ino = inoForLogIndex(slot);
    const known = this.byIno[ino];
    if (known) {
      const len = Buffer.byteLength(known.name);
      if (at > names.length || len > names.length - at) throw new FsError('ERANGE', `the name of inode ${ino} does not fit`);
      statFieldsOfNode(into, known);
      return names.write(known.name, at);
    }
    const placed = this.placed;
    const len = this.index.nodeInto(slot, placed, names, at);
    if (len >= 0) statFields(into, ino, placed);
    return len;
  }

  /** The child `name` of `dir`, by the index's path lookup: the directory's children stay unmade. */
  statChild(dir: DirNode, name: string): NodeStat | undefined {
    const above = pathOf(dir);
    const slot = this.index.find(above === '' ? name : `${above}/${name}`);
    return slot >= 0 ? this.statSlot(slot) : undefined;
  }

  /** The log slots placed in `dir`, in log order (a copy: later entries do not appear in it). */
  childSlots(dir: DirNode): Int32Array {
    return this.index.children(dir.logIndex);
  }

  /** The nodes made so far (looked up by path, opened, listed through the tree API), the root first. */
  *madeNodes(): Generator<FsNode> {
    for (const n of this.byIno) if (n) yield n;
  }

  *walk(dir: DirNode = this.root): Generator<FsNode> {
    for (const child of dir.children.values()) {
      yield child;
      if (child.kind === 'dir') yield* this.walk(child);
    }
  }

  /** Slots [first, end) were replayed: their nodes join the directories already made. */
  replayed(first: LogSlot, end: LogSlot): void {
    if (this.loadedDirs === 0) return;
    for (let slot = first; slot < end; slot = logSlot(slot + 1)) {
      const placed = this.index.node(slot);
      if (!placed) continue;
      const parent = placed.parent === ROOT_SLOT ? this.root : this.byIno[inoForLogIndex(placed.parent)];
      const children = parent instanceof IndexedDir ? parent.loaded : undefined;
      if (!children) continue;
      const node = this.nodeAt(slot, placed)!;
      children.set(node.name, node);
    }
  }

  /** The object of `slot`, made at the first call; `record`: its index record, when the caller has it. */
  private nodeAt(slot: LogSlot, record?: IndexedNode): FsNode | undefined {
    const ino = inoForLogIndex(slot);
    const known = this.byIno[ino];
    if (known) return known;
    const placed = record ?? this.index.node(slot);
    if (!placed) return undefined;
    const parent = placed.parent === ROOT_SLOT ? this.root : this.nodeAt(placed.parent) as DirNode;
    const node: FsNode = placed.kind === 'dir' ? new IndexedDir((d) => this.load(d), slot, placed, parent) : this.makeFile(slot, placed, parent);
    this.byIno[ino] = node;
    return node;
  }

  private load(dir: IndexedDir): Map<string, FsNode> {
    const children = new Map<string, FsNode>();
    for (const slot of this.index.children(dir.logIndex)) {
      const node = this.nodeAt(logSlot(slot))!;
      children.set(node.name, node);
    }
    this.loadedDirs++;
    return children;
  }
}

function statOf(n: FsNode): NodeStat {
  const stat = { name: n.name, kind: n.kind, ino: n.ino, uid: 0, gid: 0, mode: 0, size: 0, parentIno: ROOT_INO };
  statFieldsOfNode(stat, n);
  return stat;
}

/** A made node's attributes, as NodeStat has them. */
function statFieldsOfNode(into: NodeStatFields, n: FsNode): void {
  into.kind = n.kind;
  into.ino = n.ino;
  into.uid = n.uid;
  into.gid = n.gid;
  into.mode = n.mode;
  into.size = n.kind === 'file' ? n.size : 0;
  into.parentIno = n.parent?.ino ?? n.ino;
}

/** An indexed node's attributes, as NodeStat has them (`ino`: its inode number). */
function statFields(into: NodeStatFields, ino: number, placed: IndexedFields): void {
  into.kind = placed.kind;
  into.ino = ino;
  into.uid = placed.uid;
  into.gid = placed.gid;
  into.mode = placed.mode & PERMISSION_BITS;
  into.size = placed.kind === 'file' ? placed.size : 0;
  into.parentIno = placed.parent === ROOT_SLOT ? ROOT_INO : inoForLogIndex(placed.parent);
}

export function pathOf(node: FsNode): string {
  const parts: string[] = [];
  for (let n: FsNode | null = node; n && n.parent; n = n.parent) parts.unshift(n.name);
  return parts.join('/');
}
