import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { FamfsHandle } from '../fs/famfs.js';
import { FIRST_LOGGED_INO, inoForLogIndex } from '../fs/namespace.js';
import { bpfErrorFrom, BpfError } from './errors.js';
import { decodeFmapKey, decodePublishedFmap, encodeFmapKey, encodePublishedFmap, FMAP_KEY_SIZE, FMAP_VALUE_SIZE, type PublishedFmap } from './fmap-layout.js';
import { BpfMap } from './map.js';
import { loadBpfNative } from './native.js';
import { ensureBpffs, FMAP_PIN, makePinDir, pinDir, removePins, RESOLVE_PROG_PIN, RESOLVE_XDP_PIN, resolverObjectPath } from './pins.js';
import { BpfResolver } from './resolver.js';
import { BPF_F_NO_PREALLOC, BPF_MAP_TYPE_HASH } from './uapi.js';

/** Name of the map in the kernel (bpftool map list shows it). */
export const FMAP_MAP_NAME = 'famfs_fmap';
/** Room for every file a default famfs log can hold; entries are allocated on insert. */
export const FMAP_MAX_ENTRIES = 65536;

const FMAP_SPEC = { type: BPF_MAP_TYPE_HASH, keySize: FMAP_KEY_SIZE, valueSize: FMAP_VALUE_SIZE, maxEntries: FMAP_MAX_ENTRIES, flags: BPF_F_NO_PREALLOC, name: FMAP_MAP_NAME };

export interface PublishResult {
  dir: string;
  /** Entries written by this call. */
  published: number;
  /** Entries in the map for inodes the file system does not have, removed. */
  removed: number;
  /** Pinned program paths (empty when the resolver object is not built). */
  programs: string[];
}

/** The pinned fmap map of a file system, or undefined when it is not published. */
export function openPublishedMap(fsUuid: string): BpfMap | undefined {
  const path = join(pinDir(fsUuid), FMAP_PIN);
  return existsSync(path) ? BpfMap.openPinned(path, FMAP_SPEC) : undefined;
}

/**
 * Publishes a file system's fmaps to /sys/fs/bpf/famfs/<uuid>/fmap and keeps them in step:
 * `sync()` replays the log entries appended since the last call and writes only the files
 * they created (famfs files never change once logged, so there is nothing to update).
 */
export class FmapPublisher {
  private nextIno = FIRST_LOGGED_INO;

  private constructor(private readonly fs: FamfsHandle, readonly map: BpfMap, readonly dir: string) {}

  static open(fs: FamfsHandle): FmapPublisher {
    ensureBpffs();
    const dir = makePinDir(fs.uuid);
    let map = openPublishedMap(fs.uuid);
    if (!map) {
      map = BpfMap.create(FMAP_SPEC);
      try {
        map.pin(join(dir, FMAP_PIN));
      } catch (err) {
        map.close();
        throw err;
      }
    }
    return new FmapPublisher(fs, map, dir);
  }

  /** Write every file the log holds and drop entries for inodes it does not. */
  publishAll(): PublishResult {
    this.fs.refresh();
    let removed = 0;
    for (const key of this.map.keys()) {
      const node = this.fs.ns.getIno(decodeFmapKey(key));
      if (!node || node.kind !== 'file') removed += this.map.delete(key) ? 1 : 0;
    }
    this.nextIno = FIRST_LOGGED_INO;
    return { dir: this.dir, published: this.sync(), removed, programs: [] };
  }

  /** Publish files logged since the last call; returns how many. */
  sync(): number {
    this.fs.refresh();
    const end = inoForLogIndex(this.fs.nextSlot);
    let n = 0;
    for (; this.nextIno < end; this.nextIno++) {
      const node = this.fs.ns.getIno(this.nextIno);
      if (node?.kind !== 'file') continue;
      this.map.update(encodeFmapKey(node.ino), encodePublishedFmap({ size: node.size, fmap: node.fmap }));
      n++;
    }
    return n;
  }

  /** Load the resolver against the map and pin its programs next to it (when it is built). */
  pinPrograms(): string[] {
    if (!existsSync(resolverObjectPath())) return [];
    const resolver = BpfResolver.load(this.map);
    try {
      const pins: string[] = [];
      for (const [prog, name] of [[resolver.syscallProg, RESOLVE_PROG_PIN], [resolver.xdpProg, RESOLVE_XDP_PIN]] as const) {
        const path = join(this.dir, name);
        if (!existsSync(path)) {
          try {
            loadBpfNative().bpfObjPin(prog.fd, path);
          } catch (err) {
            throw bpfErrorFrom(err, `pinning BPF program at ${path}`);
          }
        }
        pins.push(path);
      }
      return pins;
    } finally {
      resolver.close();
    }
  }

  close(): void {
    this.map.close();
  }
}

/** The published record of inode `ino`, or undefined. */
export function lookupPublished(fsUuid: string, ino: number): PublishedFmap | undefined {
  const map = openPublishedMap(fsUuid);
  if (!map) throw new BpfError('ENOENT', `famfs ${fsUuid} has no published fmaps (run famfs bpf publish)`);
  try {
    const v = map.lookup(encodeFmapKey(ino));
    return v ? decodePublishedFmap(v) : undefined;
  } finally {
    map.close();
  }
}

/** Remove a file system's pinned map and programs; returns the paths removed. */
export function unpublish(fsUuid: string): string[] {
  return removePins(fsUuid);
}
