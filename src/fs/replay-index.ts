import { type FamfsNative, type ReplayIndexHandle, type ReplayStatus, loadNative } from '../addon.js';
import { type LogSlot, logSlot, NO_SLOT } from '../format/log-header.js';

/** A placed node as the index holds it: what a namespace object is made from. */
export interface IndexedNode {
  kind: 'file' | 'dir';
  name: string;
  /** Slot of the parent directory; ROOT_SLOT for the root. */
  parent: LogSlot;
  uid: number;
  gid: number;
  mode: number;
  flags: number;
  size: number;
  /** The CRC the entry was checked against. */
  crc: number;
}

/** An IndexedNode without its name: what nodeInto fills in place. */
export type IndexedFields = Omit<IndexedNode, 'name'>;

/** Where a scan stopped: the slot it could not apply and why. */
export interface ScanStop {
  slot: LogSlot;
  status: Exclude<ReplayStatus, 'OK'>;
  /** The extent at fault, for placement problems. */
  detail: number;
}

/** The root directory's slot in the index. */
export const ROOT_SLOT = NO_SLOT;

/**
 * The addon's replay loop and path index (native/replay.c): per entry, the frame, payload and
 * placement checks, the bitmap marks and the path placement, with no JS call or object per entry.
 * Counters are cumulative; device marks are handed back per scan for the Bitmap objects' counts.
 */
export class ReplayIndex {
  private readonly native: FamfsNative;
  private readonly handle: ReplayIndexHandle;
  private readonly out: Float64Array;
  private readonly nodeOut: Float64Array;
  private readonly statusNames: ReplayStatus[] = [];

  /** `metadataBytes`: the primary's superblock and log, which no file extent may overlap. */
  constructor(slots: number, primarySize: number, metadataBytes: number) {
    this.native = loadNative();
    this.handle = this.native.replayIndex(slots, primarySize, metadataBytes);
    this.out = new Float64Array(this.native.REPLAY_OUT_LENGTH);
    this.nodeOut = new Float64Array(this.native.replayNode.LENGTH);
    for (const [name, code] of Object.entries(this.native.replayStatus)) this.statusNames[code] = name as ReplayStatus;
  }

  addDevice(size: number): void {
    this.native.replayIndexAddDevice(this.handle, size);
  }

  /**
   * Apply slots from `first` (entries laid from `base` in `log`) until one cannot be applied.
   * `marked(device, units, collisions)` is called for every device whose bitmap was marked.
   */
  scan(log: Buffer, base: number, first: number, count: number, bitmaps: readonly Uint8Array[],
    marked: (device: number, units: number, collisions: number) => void): ScanStop | undefined {
    const out = this.out;
    const keys = this.native.replayOut;
    const applied = this.native.replayScan(this.handle, log, base, first, count, bitmaps, out);
    for (let d = 0; d < bitmaps.length; d++) {
      const units = out[keys.DEVICES + 2 * d]!;
      const collisions = out[keys.DEVICES + 2 * d + 1]!;
      if (units > 0 || collisions > 0) marked(d, units, collisions);
    }
    if (applied === count) return undefined;
    return { slot: logSlot(first + applied), status: this.statusNames[out[keys.STATUS]!] as ScanStop['status'], detail: out[keys.DETAIL]! };
  }

  /** Pass over a slot that holds no whole entry (its bytes end early). */
  skip(slot: LogSlot): void {
    this.native.replayIndexSkip(this.handle, slot);
  }

  get files(): number {
    return this.out[this.native.replayOut.FILES]!;
  }

  get dirs(): number {
    return this.out[this.native.replayOut.DIRS]!;
  }

  get fileBytes(): number {
    return this.out[this.native.replayOut.FILE_BYTES]!;
  }

  /** FILE entries (shown or not) with an extent naming a device other than 0. */
  get filesOffPrimary(): number {
    return this.out[this.native.replayOut.OFF_PRIMARY]!;
  }

  /** The node placed from this slot, or undefined when the slot placed nothing. */
  node(slot: LogSlot): IndexedNode | undefined {
    const name = this.native.replayIndexNode(this.handle, slot, this.nodeOut);
    const n: IndexedNode = { kind: 'file', name, parent: ROOT_SLOT, uid: 0, gid: 0, mode: 0, flags: 0, size: 0, crc: 0 };
    return this.readFields(n) ? n : undefined;
  }

  /**
   * As node(), making no object and no string (a listing asks for every child of a directory):
   * the fields into `into`, the name's bytes into `names` at `at`. Returns the name's length in
   * bytes, or -1 when the slot placed nothing. ERANGE when the name would not fit.
   */
  nodeInto(slot: LogSlot, into: IndexedFields, names: Uint8Array, at: number): number {
    const len = this.native.replayIndexNodeInto(this.handle, slot, this.nodeOut, names, at);
    return this.readFields(into) ? len : -1;
  }

  /** The fields the last replayIndexNode(Into) reported, into `into`; false when its slot placed nothing. */
  private readFields(into: IndexedFields): boolean {
    const o = this.nodeOut;
    const f = this.native.replayNode;
    const kind = o[f.KIND];
    if (kind === this.native.replayKind.NONE) return false;
    into.kind = kind === this.native.replayKind.DIR ? 'dir' : 'file';
    into.parent = logSlot(o[f.PARENT]!);
    into.uid = o[f.UID]!;
    into.gid = o[f.GID]!;
    into.mode = o[f.MODE]!;
    into.flags = o[f.FLAGS]!;
    into.size = o[f.SIZE]!;
    into.crc = o[f.CRC]!;
    return true;
  }

  /** The slots placed in a directory (ROOT_SLOT for the root), in log order (read them as LogSlots). */
  children(slot: LogSlot): Int32Array {
    return this.native.replayIndexChildren(this.handle, slot);
  }

  /** The slot placed at this relpath, or -1. */
  find(relpath: string): LogSlot {
    return logSlot(this.native.replayIndexFind(this.handle, relpath));
  }
}
