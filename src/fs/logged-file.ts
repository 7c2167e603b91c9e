import { FILE_META_FMAP_OFFSET } from '../format/file-meta.js';
import { type Fmap, decodeFmap } from '../format/fmap.js';
import { LOG_ENTRY_PAYLOAD_OFFSET } from '../format/log-entry.js';
import type { DirNode, FileNode } from './namespace.js';

/**
 * A file as log replay makes it. Replay checks the fmap in place (placement, bitmap) but builds
 * its objects only when someone asks: a mount replays 15,000 files and opens a few. `log` is the
 * replay's private copy of the entries, so the bytes decoded are the bytes that were checked.
 */
export class LoggedFile implements FileNode {
  readonly kind = 'file' as const;
  #fmap: Fmap | undefined;

  constructor(
    public name: string,
    public ino: number,
    public uid: number,
    public gid: number,
    public mode: number,
    public parent: DirNode | null,
    public logIndex: number,
    public size: number,
    public flags: number,
    private readonly log: Buffer,
    private readonly base: number,
  ) {}

  get fmap(): Fmap {
    this.#fmap ??= this.decodeFmap();
    return this.#fmap;
  }

  private decodeFmap(): Fmap {
    return decodeFmap(this.log, this.base + LOG_ENTRY_PAYLOAD_OFFSET + FILE_META_FMAP_OFFSET);
  }
}
