import type { Readable, Writable } from 'node:stream';
import { type DeviceMapping, MAX_MAPPING_BYTES, MemoryDevice } from '../device/device.js';
import { FamfsError, FsError } from '../errors.js';
import { fmapCapacity, fmapExtents } from '../format/fmap.js';
import { formatUuid } from '../format/uuid.js';
import type { FamfsHandle } from '../fs/famfs.js';
import type { FileNode } from '../fs/namespace.js';
import { MapLimitError, type MapLimit, ReadOnlyMappingError } from './errors.js';
import { FEW_PIECES, mappingBudget, maxMapCount } from './limits.js';
import { type MapPlan, planByDeviceRun, planComposed } from './map-plan.js';
import { filePieces } from './pieces.js';
import { type ReadStreamOptions, type WriteStreamOptions, mappingReadStream, mappingWriteStream } from './streams.js';

/** Options of Famfs.map(). */
export interface MapOptions {
  /** Map for writing. Only the master can; on a client this throws ReadOnlyMappingError. Default false. */
  writable?: boolean;
  /**
   * When the file cannot be one contiguous Buffer (over 4 GiB, or too many kernel mappings), throw
   * MapLimitError instead of returning a segmented mapping. Default true (segments allowed).
   */
  allowSegments?: boolean;
  /** Tighter limits than the process's own, e.g. to bound address-space use (or to test the fallbacks). */
  limits?: Partial<MapLimitOverrides>;
  /**
   * @internal Map writable on a client too, as the host with this system UUID: for a file whose
   * bytes this host was handed to write by agreement (a pcq consumer file after `pcq --setperm c`;
   * upstream chmods it on that host). Clients still never change metadata. The device is opened
   * writable for this mapping alone, as that host (whose view a non-coherent device shows).
   */
  grantedWriteHost?: Uint8Array;
}

export interface MapLimitOverrides {
  /** Largest Buffer one mapping window may be; at most 4 GiB, a multiple of the device alignment. */
  maxBufferBytes: number;
  /** Kernel mappings (VMAs) this mapping may create; default: what vm.max_map_count leaves. */
  maxMappings: number;
}

/** A file range that is contiguous in memory: `buffer` holds file bytes [offset, offset + buffer.length). */
export interface FileSegment {
  readonly offset: number;
  readonly buffer: Buffer;
}

interface LiveSegment {
  fileOffset: number;
  length: number;
  mapping: DeviceMapping;
  /** Offset of the segment inside its mapping's buffer. */
  at: number;
}

/** Collected FileMappings give their memory back; an explicit unmap() is still the better habit. */
const collector = new FinalizationRegistry<{ mappings: readonly DeviceMapping[]; devices: readonly MemoryDevice[] }>((held) => {
  for (const m of held.mappings) m.unmap();
  for (const d of held.devices) d.close();
});

/**
 * A famfs file mapped into this process: the device memory itself, no copy. Normally one contiguous
 * `buffer`, however many extents (or interleaved chunks) the file has; when a limit prevents that,
 * `segments` list the file's ranges in order, and `buffer` throws MapLimitError saying which limit.
 *
 * Writes through a mapping are visible to other processes on this host at once, and to other hosts
 * after flush(); before reading what another host wrote, invalidate(). A read-only mapping's buffer
 * must not be written: the pages are mapped without write permission and the process would take a
 * SIGSEGV. Buffers taken from the mapping become empty once it is unmapped (explicitly, by closing
 * the file system, or when the FileMapping is garbage-collected), so keep the FileMapping alive
 * while its buffers are in use.
 */
export class FileMapping {
  /** The famfs path that was mapped. */
  readonly path: string;
  readonly size: number;
  readonly writable: boolean;
  /** Why the file is in several segments; undefined when `buffer` is the whole file. */
  readonly limit: MapLimit | undefined;
  readonly #why: string | undefined;
  readonly #mappings: readonly DeviceMapping[];
  readonly #segments: readonly LiveSegment[];
  /** Devices opened for this mapping alone (a granted write on a client), closed with it. */
  readonly #devices: readonly MemoryDevice[];
  #unmapped = false;

  /** @internal Built by mapFile(). */
  constructor(path: string, size: number, writable: boolean, mappings: readonly DeviceMapping[],
    segments: readonly LiveSegment[], limit: MapLimit | undefined, why: string | undefined, devices: readonly MemoryDevice[] = []) {
    this.path = path;
    this.size = size;
    this.writable = writable;
    this.limit = limit;
    this.#why = why;
    this.#mappings = mappings;
    this.#segments = segments;
    this.#devices = devices;
    collector.register(this, { mappings, devices }, this);
  }

  /** True until unmap() (or closing the file system) releases the memory. */
  get mapped(): boolean {
    return !this.#unmapped && this.#mappings.every((m) => m.mapped);
  }

  /** True when `buffer` can be used: the whole file is one range of addresses. */
  get contiguous(): boolean {
    return this.limit === undefined;
  }

  /** The whole file as one Buffer over device memory. Throws MapLimitError for a segmented mapping. */
  get buffer(): Buffer {
    this.#checkLive('buffer');
    if (this.limit !== undefined) throw new MapLimitError(this.limit, this.#why!);
    return this.#view(this.#segments[0]!);
  }

  /** The file's ranges in order, each contiguous in memory; one segment when `contiguous`. */
  get segments(): readonly FileSegment[] {
    this.#checkLive('segments');
    return this.#segments.map((s) => ({ offset: s.fileOffset, buffer: this.#view(s) }));
  }

  /** The pieces of file range [offset, offset + length), in order, as views of device memory. */
  *ranges(offset = 0, length = this.size - offset): Generator<FileSegment> {
    for (const r of this.#slices(offset, length, 'ranges')) {
      yield { offset: r.fileOffset, buffer: r.segment.mapping.buffer.subarray(r.at, r.at + r.length) };
    }
  }

  /** Copies file bytes from `position` into `target`; returns how many (fewer at the end of the file). */
  read(target: Uint8Array, position = 0): number {
    const n = Math.max(0, Math.min(target.length, this.size - position));
    let done = 0;
    for (const r of this.#slices(position, n, 'read')) {
      target.set(r.segment.mapping.buffer.subarray(r.at, r.at + r.length), done);
      done += r.length;
    }
    return n;
  }

  /**
   * Copies `source` into the file at `position`, checked: a read-only mapping throws
   * ReadOnlyMappingError (EROFS) where a store into its Buffer would kill the process with SIGSEGV.
   * famfs files never grow: past the end is EFBIG. Takes (source, position), as fs.write, or
   * (position, source).
   */
  write(source: Uint8Array, position?: number): number;
  write(position: number, source: Uint8Array): number;
  write(a: Uint8Array | number, b?: number | Uint8Array): number {
    const [source, position] = typeof a === 'number' ? [b as Uint8Array, a] : [a, (b as number | undefined) ?? 0];
    this.#checkWritable('write');
    if (position + source.length > this.size) {
      throw new FsError('EFBIG', `'${this.path}': write of ${source.length} bytes at ${position} passes the end of the file (${this.size} bytes); famfs files have a fixed size`);
    }
    let done = 0;
    for (const r of this.#slices(position, source.length, 'write')) {
      r.segment.mapping.buffer.set(source.subarray(done, done + r.length), r.at);
      done += r.length;
    }
    return source.length;
  }

  /** Writes back CPU caches for the range so other hosts see what this one wrote. */
  flush(offset = 0, length = this.size - offset): void {
    for (const r of this.#slices(offset, length, 'flush')) r.segment.mapping.flush(r.at, r.length);
  }

  /** Drops cached copies of the range so the next reads see what other hosts wrote. */
  invalidate(offset = 0, length = this.size - offset): void {
    for (const r of this.#slices(offset, length, 'invalidate')) r.segment.mapping.invalidate(r.at, r.length);
  }

  /** Gives the range its memory before it is touched: an ENOSPC DeviceError, not SIGBUS, when an emulated device's file system is full (DeviceMapping.populate). */
  populate(offset = 0, length = this.size - offset): void {
    for (const r of this.#slices(offset, length, 'populate')) r.segment.mapping.populate(r.at, r.length);
  }

  /** Releases the memory now. Idempotent. Buffers taken from the mapping become empty. */
  unmap(): void {
    if (this.#unmapped) return;
    this.#unmapped = true;
    collector.unregister(this);
    for (const m of this.#mappings) m.unmap();
    for (const d of this.#devices) d.close();
  }

  /** A Readable of the file's bytes (copies, invalidated first so they are what other hosts wrote). */
  createReadStream(opts: ReadStreamOptions = {}): Readable {
    this.#checkLive('createReadStream');
    return mappingReadStream(this, opts);
  }

  /** A Writable into the file from `start`; flushes what it wrote when it finishes. Master only. */
  createWriteStream(opts: WriteStreamOptions = {}): Writable {
    this.#checkWritable('createWriteStream');
    return mappingWriteStream(this, opts);
  }

  #view(s: LiveSegment): Buffer {
    return s.mapping.buffer.subarray(s.at, s.at + s.length);
  }

  #checkLive(op: string): void {
    if (!this.mapped) throw new FsError('EBADF', `${op}: the mapping of '${this.path}' was unmapped`);
  }

  #checkWritable(op: string): void {
    this.#checkLive(op);
    if (!this.writable) throw new ReadOnlyMappingError(`${op}: '${this.path}' is mapped read-only`);
  }

  *#slices(offset: number, length: number, op: string): Generator<{ segment: LiveSegment; fileOffset: number; at: number; length: number }> {
    this.#checkLive(op);
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > this.size) {
      throw new FsError('ERANGE', `${op}: range ${offset}+${length} is outside '${this.path}' (${this.size} bytes)`);
    }
    const end = offset + length;
    for (let i = firstSegment(this.#segments, offset); i < this.#segments.length; i++) {
      const s = this.#segments[i]!;
      if (s.fileOffset >= end) break;
      const from = Math.max(offset, s.fileOffset);
      const to = Math.min(end, s.fileOffset + s.length);
      if (to > from) yield { segment: s, fileOffset: from, at: s.at + (from - s.fileOffset), length: to - from };
    }
  }
}

function firstSegment(segments: readonly LiveSegment[], offset: number): number {
  let lo = 0;
  let hi = segments.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (segments[mid]!.fileOffset <= offset) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** The file node at `path`, or a typed error: missing (ENOENT) or a directory (EISDIR). */
export function fileAt(fs: FamfsHandle, path: string): FileNode {
  fs.refresh();
  const node = fs.lookup(path);
  if (!node) throw new FsError('ENOENT', `'${path}': no such file in famfs ${fs.uuid}`);
  if (node.kind !== 'file') throw new FsError('EISDIR', `'${path}' is a directory; only files can be mapped`);
  return node;
}

/** Maps a famfs file of an open file system; see Famfs.map() in the API. */
export function mapFile(fs: FamfsHandle, path: string, opts: MapOptions = {}): FileMapping {
  const node = fileAt(fs, path);
  const writable = opts.writable ?? false;
  const granted = writable && fs.role !== 'master' && opts.grantedWriteHost !== undefined;
  if (writable && fs.role !== 'master' && !granted) {
    throw new ReadOnlyMappingError(`'${path}': this host is a client of famfs ${fs.uuid}, so the mapping is read-only; `
      + `only the master (system UUID ${formatUuid(fs.sb.systemUuid)}) can map files writable`);
  }
  if (writable && !granted && !fs.device.writable) {
    throw new ReadOnlyMappingError(`'${path}': the file system was opened read-only, so the mapping is read-only`);
  }
  // Every device the file uses is found (ENODEV when this host cannot) before anything is mapped.
  const devices = new Map<number, MemoryDevice>();
  for (const e of fmapExtents(node.fmap)) if (!devices.has(e.devIndex)) devices.set(e.devIndex, fs.deviceAt(e.devIndex));
  if (granted) {
    const opened: MemoryDevice[] = [];
    try {
      for (const [i, d] of devices) {
        // `host` names the view of a device whose hosts' caches are not coherent; other devices ignore it.
        const how = { writable: true, host: opts.grantedWriteHost };
        const w = MemoryDevice.open(d.path, how);
        opened.push(w);
        devices.set(i, w);
      }
    } catch (err) {
      for (const d of opened) d.close();
      throw err;
    }
  }
  const owned = granted ? [...devices.values()] : [];
  // Alignments are powers of two: the largest is a multiple of all, so pieces cut to it suit every device.
  const alignment = Math.max(...[...devices.values()].map((d) => d.alignment));
  const maxBuffer = Math.floor(Math.min(opts.limits?.maxBufferBytes ?? MAX_MAPPING_BYTES, MAX_MAPPING_BYTES) / alignment) * alignment;
  if (maxBuffer < alignment) throw new FsError('EINVAL', `maxBufferBytes must be at least the device alignment (${alignment} bytes)`);
  // Whole pages (device alignment units) are mapped; the buffers show only the file's bytes.
  const mapped = Math.min(Math.ceil(node.size / alignment) * alignment, fmapCapacity(node.fmap));
  const pieces = filePieces(node.fmap, node.size, mapped - node.size);
  const budget = opts.limits?.maxMappings ?? (pieces.length <= FEW_PIECES ? Number.POSITIVE_INFINITY : mappingBudget());

  const composed = planComposed(pieces, maxBuffer);
  let plan = composed;
  let why: string | undefined;
  if (composed.vmas > budget) {
    plan = planByDeviceRun(pieces, maxBuffer);
    why = vmaMessage(path, composed.vmas, budget, plan);
  } else if (composed.limit === 'buffer-size') {
    why = `'${path}' is ${node.size} bytes, more than one Node Buffer holds (${maxBuffer} bytes): it is mapped as ${plan.segments.length} segments`;
  }
  if (plan.vmas > budget) {
    throw new MapLimitError('max-map-count', `'${path}' needs at least ${plan.vmas} kernel mappings, but vm.max_map_count (${maxMapCount()}) leaves ${budget} for it`);
  }
  if (plan.limit !== undefined && opts.allowSegments === false) throw new MapLimitError(plan.limit, why!);
  try {
    try {
      return build(devices, path, node.size, writable, plan, why, owned);
    } catch (err) {
      // The kernel ran out of mappings before our estimate said it would: fall back once.
      if (plan !== composed || !(err instanceof FamfsError) || err.code !== 'ENOMEM') throw err;
      const fallback = planByDeviceRun(pieces, maxBuffer);
      const reason = vmaMessage(path, composed.vmas, 'fewer', fallback);
      if (opts.allowSegments === false) throw new MapLimitError('max-map-count', reason);
      return build(devices, path, node.size, writable, fallback, reason, owned);
    }
  } catch (err) {
    for (const d of owned) d.close();
    throw err;
  }
}

function vmaMessage(path: string, needed: number, budget: number | 'fewer', plan: MapPlan): string {
  return `'${path}' needs ${needed} kernel mappings to be one contiguous range, but vm.max_map_count (${maxMapCount()}) leaves `
    + `${budget}: it is mapped as ${plan.segments.length} segments over ${plan.vmas} device ranges`;
}

function build(devices: ReadonlyMap<number, MemoryDevice>, path: string, size: number, writable: boolean, plan: MapPlan,
  why: string | undefined, owned: readonly MemoryDevice[]): FileMapping {
  const mappings: DeviceMapping[] = [];
  try {
    for (const w of plan.windows) {
      mappings.push(MemoryDevice.mapAcross(w.ranges.map((r) => ({ offset: r.offset, len: r.len, device: devices.get(r.devIndex)! })), { writable }));
    }
  } catch (err) {
    for (const m of mappings) m.unmap();
    throw err;
  }
  const segments: LiveSegment[] = [];
  for (const s of plan.segments) {
    if (s.fileOffset >= size) continue;
    segments.push({ fileOffset: s.fileOffset, length: Math.min(s.length, size - s.fileOffset), mapping: mappings[s.window]!, at: s.at });
  }
  return new FileMapping(path, size, writable, mappings, segments, plan.limit, why, owned);
}
