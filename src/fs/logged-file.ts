import { FsError } from '../errors.js';
import { FILE_META_FMAP_OFFSET } from '../format/file-meta.js';
import { type Fmap, decodeFmap } from '../format/fmap.js';
import { LOG_ENTRY_PAYLOAD_OFFSET, LOG_ENTRY_SIZE, checkLogEntryFrame } from '../format/log-entry.js';
import { type DirNode, type FileNode, PERMISSION_BITS, inoForLogIndex } from './namespace.js';
import type { IndexedNode } from './replay-index.js';
import type { LogSlot } from '../format/log-header.js';

/**
 * A file as log replay makes it. Replay checks the fmap in place in the shared log (placement,
 * bitmap) but builds its objects only when someone asks (a mount replays 15,000 files and opens
 * a few), also after the file system is closed. The fmap is then decoded from a private copy of
 * the entry whose CRC must still be the one replay checked, so the bytes used are the bytes that
 * were checked, whatever is written to the shared memory meanwhile.
 */
export class LoggedFile implements FileNode {
  readonly kind = 'file' as const;
  name: string;
  ino: number;
  uid: number;
  gid: number;
  mode: number;
  size: number;
  flags: number;
  /** The CRC replay checked the entry against. */
  private readonly crc: number;
  #fmap: Fmap | undefined;

  constructor(
    readonly logIndex: LogSlot,
    placed: IndexedNode,
    public parent: DirNode | null,
    /** The log as mapped (it stays mapped while files refer to it) and the entry's offset in it. */
    private readonly log: Buffer,
    private readonly base: number,
  ) {
    this.name = placed.name;
    this.ino = inoForLogIndex(logIndex);
    this.uid = placed.uid;
    this.gid = placed.gid;
    this.mode = placed.mode & PERMISSION_BITS;
    this.size = placed.size;
    this.flags = placed.flags;
    this.crc = placed.crc;
  }

  get fmap(): Fmap {
    this.#fmap ??= this.decodeFmap();
    return this.#fmap;
  }

  private decodeFmap(): Fmap {
    const entry = Buffer.from(this.log.subarray(this.base, this.base + LOG_ENTRY_SIZE));
    // A FormatError names the entry: its CRC or seqnum no longer hold.
    if (checkLogEntryFrame(entry, this.logIndex, 0) !== this.crc) {
      throw new FsError('EIO', `'${this.name}': log entry ${this.logIndex} changed after it was replayed`);
    }
    return decodeFmap(entry, LOG_ENTRY_PAYLOAD_OFFSET + FILE_META_FMAP_OFFSET);
  }
}
