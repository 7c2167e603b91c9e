import { statSync } from 'node:fs';
import type { Readable, Writable } from 'node:stream';
import type { CreatOptions, MkdirOptions } from '../fs/log-session.js';
import type { Fmap } from '../format/fmap.js';
import { ALLOC_UNIT } from '../format/layout.js';
import { formatUuid, parseUuid } from '../format/uuid.js';
import { addDevice } from '../fs/adddev.js';
import { mountOf } from '../mounts/registry.js';
import { FamfsError, FsError, RoleError } from '../errors.js';
import { FamfsHandle } from '../fs/famfs.js';
import { type FsNode, pathOf } from '../fs/namespace.js';
import type { Role } from '../fs/role.js';
import { type FileMapping, type MapOptions, fileAt, mapFile } from '../map/file-mapping.js';
import { type MapPiece, filePieces } from '../map/pieces.js';
import { type ReadStreamOptions, type WriteStreamOptions, mappingReadStream, mappingWriteStream } from '../map/streams.js';
import { getSystemUuid } from '../format/system-uuid.js';
import {
  Consumer, Producer, type QueueCreateOptions, type QueueFiles, type QueueInfo, type QueueOpenOptions, createQueue, queueInfo,
} from '../queue/queue.js';
import { type QueuePerm, setQueuePerm } from '../queue/grants.js';

export interface FamfsOpenOptions {
  /**
   * This host's identity, which decides the role: the master is the host whose system UUID the
   * superblock records; every other host is a client. Default: $FAMFS_SYSTEM_UUID, else
   * /opt/famfs/system_uuid.
   */
  systemUuid?: string | Buffer;
  /** Open read-only even on the master (no creation, no writable mappings). Default false. */
  readOnly?: boolean;
  /**
   * The role the caller expects: 'master' fails (RoleError) unless this host is the master;
   * 'client' opens read-only, as a client would, whichever host this is. Default: whatever the
   * system UUID makes this host.
   */
  role?: Role;
  /**
   * Where this host sees the devices added with `famfs adddev` (device index → path). Default:
   * $FAMFS_DEVICE_MAP, and any device not named there is found by the UUID its superblock carries.
   */
  deviceMap?: Readonly<Record<number, string>>;
}

/** A memory device of the file system: index 0 is the primary; the others were added with adddev. */
export interface FamfsDevice {
  index: number;
  /** The device's own UUID (what the log records, since each host may see it under another path). */
  uuid: string;
  size: number;
  /** Where this host sees it; undefined when it cannot be found here (`problem` says why). */
  path?: string;
  problem?: string;
}

export type { CreatOptions, MkdirOptions } from '../fs/log-session.js';

/** One file of creatMany(): its path and creat()'s options. */
export interface CreatManyItem extends CreatOptions {
  path: string;
}

export type NodeKind = 'file' | 'dir';

/** What stat() reports of a file or directory. */
export interface FamfsStat {
  /** Path from the root of the file system, without a leading '/' ('' for the root). */
  path: string;
  name: string;
  kind: NodeKind;
  /** Stable for the life of the file system (derived from the log slot). */
  ino: number;
  /** Permission bits only. */
  mode: number;
  uid: number;
  gid: number;
  /** Bytes; 0 for a directory. */
  size: number;
}

export interface DirEntry {
  name: string;
  kind: NodeKind;
  ino: number;
}

/** A file's memory: the on-media fmap and, derived from it, the device ranges in file order. */
export interface FileMap {
  path: string;
  size: number;
  fmap: Fmap;
  /** Device ranges holding file bytes [0, size), in file order (spec §3 math). */
  pieces: MapPiece[];
}

/** Space and log use of the file system. */
export interface FsUsage {
  /** Bytes of the device the allocator manages. */
  size: number;
  /** Bytes allocated, including the superblock and log. */
  allocated: number;
  free: number;
  logSlots: number;
  logSlotsFree: number;
  /** Allocation collisions (cross-linked files); 0 on a healthy file system. */
  collisions: number;
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/**
 * A famfs file system, opened through its memory device. The master (the host the superblock names)
 * creates directories and files; every host reads the namespace the log describes and maps files
 * straight into memory with map(). Call close() when done: it unmaps every mapping still live.
 */
export class Famfs {
  readonly #core: FamfsHandle;
  readonly #role: Role;
  readonly #systemUuid: string;

  private constructor(core: FamfsHandle, role: Role, systemUuid: string) {
    this.#core = core;
    this.#role = role;
    this.#systemUuid = systemUuid;
  }

  /**
   * Open the file system on `target`: a DAX device, pmem device or emulated-device file, or the
   * root of a famfs mount (which names its device and, unless `systemUuid` says otherwise, acts as
   * the host that made the mount).
   */
  static open(target: string, opts: FamfsOpenOptions = {}): Famfs {
    let device = target;
    let systemUuid = typeof opts.systemUuid === 'string' ? parseUuid(opts.systemUuid) : opts.systemUuid;
    if (isDirectory(target)) {
      const m = mountOf(target);
      if (!m || m.relpath !== '') throw new FsError('ENODEV', `'${target}' is a directory but not the root of a famfs mount`);
      device = m.record.device;
      systemUuid ??= parseUuid(m.record.systemUuid);
    }
    const deviceMap = opts.deviceMap ? new Map(Object.entries(opts.deviceMap).map(([i, p]) => [Number(i), p])) : undefined;
    const core = FamfsHandle.open(device, {
      writable: !opts.readOnly && opts.role !== 'client', ...(systemUuid ? { systemUuid } : {}), ...(deviceMap ? { deviceMap } : {}),
    });
    if (opts.role === 'master' && core.role !== 'master') {
      core.close();
      throw new RoleError(`this host is a client of famfs ${core.uuid}, not its master`);
    }
    return new Famfs(core, opts.role ?? core.role, formatUuid(systemUuid ?? getSystemUuid()));
  }

  /** 'client' also for the master's host when opened with role 'client'. */
  get role(): Role {
    return this.#role;
  }

  /** The file system UUID. */
  get uuid(): string {
    return this.#core.uuid;
  }

  /** The device path it was opened by. */
  get device(): string {
    return this.#core.device.path;
  }

  /** The file system's devices, in index order, and where this host sees each. */
  devices(): FamfsDevice[] {
    this.#core.refresh();
    return this.#core.deviceRecords().map((d) => {
      const base = { index: d.index, uuid: formatUuid(d.uuid), size: d.size };
      try {
        return { ...base, path: this.#core.deviceAt(d.index).path };
      } catch (err) {
        if (!(err instanceof FamfsError)) throw err;
        return { ...base, problem: err.message };
      }
    });
  }

  /**
   * Add the memory device at `path` to the file system (master only; `famfs adddev`). New files
   * may then be allocated on it, and interleaved files spread across every device.
   */
  addDevice(path: string, opts: { force?: boolean } = {}): FamfsDevice {
    const r = addDevice(this.#core, path, opts);
    return { index: r.index, uuid: r.devUuid, size: r.size, path: r.path };
  }

  /** Play log entries appended since the last look (by the master, possibly on another host); returns how many. */
  refresh(): number {
    return this.#core.refresh();
  }

  stat(path: string): FamfsStat {
    this.#core.refresh();
    return statOf(this.#core.stat(path));
  }

  exists(path: string): boolean {
    this.#core.refresh();
    return this.#core.lookup(path) !== undefined;
  }

  readdir(path: string): DirEntry[] {
    this.#core.refresh();
    return this.#core.readdir(path).map((n) => ({ name: n.name, kind: n.kind, ino: n.ino }));
  }

  getmap(path: string): FileMap {
    const node = fileAt(this.#core, path);
    return { path: pathOf(node), size: node.size, fmap: node.fmap, pieces: filePieces(node.fmap, node.size) };
  }

  /** Create a directory (master only). */
  mkdir(path: string, opts: MkdirOptions = {}): FamfsStat {
    return statOf(this.#core.mkdir(path, opts));
  }

  /**
   * Create and allocate a file (master only). An existing file of the same size (or with size
   * omitted) is returned as it is; a different size is EEXIST. Contents are whatever the memory held.
   */
  creat(path: string, opts: CreatOptions): FamfsStat {
    return statOf(this.#core.creat(path, opts).file);
  }

  /**
   * creat() of many files holding the log lock once (master only): each file is still its own
   * log entry, flushed and published before the next is written, so every file created is
   * durable; only the lock, the catch-up with the log and the allocator set-up are shared. On an
   * error the files before the failing one stay created and the error is thrown.
   */
  creatMany(files: readonly CreatManyItem[]): FamfsStat[] {
    return this.#core.withLog((s) => files.map(({ path, ...opts }) => statOf(s.creat(path, opts).file)));
  }

  /**
   * Map a file into this process: `buffer` is the device memory itself, all extents (or interleaved
   * chunks) shown in file order as one range. Writable only on the master. A file over 4 GiB, or one
   * needing more kernel mappings than vm.max_map_count allows, comes back in `segments` instead.
   */
  map(path: string, opts: MapOptions = {}): FileMapping {
    return mapFile(this.#core, path, opts);
  }

  /** Read a file as a stream; the mapping behind it is released when the stream closes. */
  createReadStream(path: string, opts: ReadStreamOptions = {}): Readable {
    const m = mapFile(this.#core, path);
    try {
      return mappingReadStream(m, opts, { onClose: () => m.unmap() });
    } catch (err) {
      m.unmap();
      throw err;
    }
  }

  /** Write a file (master only) as a stream; it is flushed and unmapped when the stream finishes. */
  createWriteStream(path: string, opts: WriteStreamOptions = {}): Writable {
    const m = mapFile(this.#core, path, { writable: true });
    try {
      return mappingWriteStream(m, opts, { onClose: () => m.unmap() });
    } catch (err) {
      m.unmap();
      throw err;
    }
  }

  /**
   * Create a producer/consumer queue (master only): upstream pcq's two files, `path` (a 2 MiB
   * header region, then nbuckets buckets of bucketSize bytes) and `path.consumer` (2 MiB).
   */
  createQueue(path: string, opts: QueueCreateOptions): QueueInfo {
    return createQueue(this.#queueFiles(), path, opts);
  }

  /** The queue's geometry, indexes and fill (upstream pcq --info). */
  queueInfo(path: string): QueueInfo {
    return queueInfo(this.#queueFiles(), path);
  }

  /** Open the queue's one producer; it writes the producer file (the master, or a host granted 'p'). */
  openProducer(path: string, opts: QueueOpenOptions = {}): Producer {
    return new Producer(this.#queueFiles(), path, opts);
  }

  /** Open the queue's one consumer; it writes the consumer file, so a client needs setQueuePerm 'c' first. */
  openConsumer(path: string, opts: QueueOpenOptions = {}): Consumer {
    return new Consumer(this.#queueFiles(), path, opts);
  }

  /**
   * Which of the queue's files this host may write (upstream pcq --setperm): 'p' producer, 'c'
   * consumer, 'b' both, 'n' neither. Recorded for this host only; see the README's queue section.
   */
  setQueuePerm(path: string, perm: QueuePerm): void {
    const files = this.#queueFiles();
    setQueuePerm({ fsUuid: files.fsUuid, systemUuid: files.systemUuid, path: files.canonicalPath(path) }, perm);
  }

  #queueFiles(): QueueFiles {
    const core = this.#core;
    return {
      fsUuid: this.uuid,
      systemUuid: this.#systemUuid,
      role: this.#role,
      canonicalPath: (path) => pathOf(fileAt(core, path)),
      exists: (path) => this.exists(path),
      createFile: (path, size, opts) => { this.creat(path, { ...opts, size }); },
      map: (path, writable) => mapFile(core, path, {
        writable, allowSegments: false, ...(writable ? { grantedWriteHost: parseUuid(this.#systemUuid) } : {}),
      }),
    };
  }

  usage(): FsUsage {
    this.#core.refresh();
    const u = this.#core.usage();
    const h = this.#core.logHeader();
    return {
      size: u.units * ALLOC_UNIT, allocated: u.allocatedUnits * ALLOC_UNIT, free: u.freeUnits * ALLOC_UNIT,
      logSlots: h.lastIndex + 1, logSlotsFree: h.lastIndex + 1 - h.nextIndex,
      collisions: this.#core.collisions(),
    };
  }

  /** Unmaps every mapping still live and closes the device. Idempotent. */
  close(): void {
    this.#core.close();
  }
}

function statOf(n: FsNode): FamfsStat {
  return {
    path: pathOf(n), name: n.name, kind: n.kind, ino: n.ino, mode: n.mode, uid: n.uid, gid: n.gid,
    size: n.kind === 'file' ? n.size : 0,
  };
}
