import { closeSync, openSync, readSync } from 'node:fs';
import type { Command } from 'commander';
import { mapFile } from '../../map/file-mapping.js';
import { filePieces } from '../../map/pieces.js';
import type { MemoryDevice } from '../../device/device.js';
import { FsError, UsageError } from '../../errors.js';
import { LOG_OFFSET, SUPERBLOCK_REGION_SIZE } from '../../format/layout.js';
import type { FamfsHandle } from '../../fs/famfs.js';
import { COPY_CHUNK } from '../../data/copy.js';
import { metaFileKind } from '../../fs/meta-files.js';
import { runCommand } from '../run.js';
import { addDeviceOption, type DeviceOption, withTarget } from '../target.js';

/**
 * upstream's chkread compares a file read with read(2) against the same file mmapped. Without a
 * mount there is no file to read(2), so the "read" side here is the raw device at the offsets the
 * file's fmap gives (spec §3), and the "mmap" side is the composed mapping the API hands out: the
 * check is that the mapping shows exactly the device bytes the fmap names, in file order.
 */

const EXIT_MISCOMPARE = 1;
/** upstream dumps this much of the superblock and of the log header. */
const SUPERBLOCK_DUMP_BYTES = 32;
const LOG_DUMP_BYTES = 64;
const HEX_PER_LINE = 16;

/** upstream's hex_dump: a title, then 16 "xx " bytes per line. */
function hexDump(bytes: Uint8Array, title: string): string {
  let out = `${title}\n`;
  for (let i = 0; i < bytes.length; i += HEX_PER_LINE) {
    out += `${[...bytes.subarray(i, i + HEX_PER_LINE)].map((b) => `${b.toString(16).padStart(2, '0')} `).join('')}\n`;
  }
  return out;
}

/** Reads device bytes the plain way: pread on a regular file or pmem block device; a devdax
 * device cannot be read(2), so there a separate mapping of the raw range stands in. */
class RawReader {
  private fd: number | null = null;

  constructor(private readonly device: MemoryDevice) {
    if (device.kind !== 'devdax') this.fd = openSync(device.path, 'r');
  }

  read(target: Buffer, devOffset: number): number {
    if (this.fd !== null) {
      let done = 0;
      while (done < target.length) {
        const got = readSync(this.fd, target, done, target.length - done, devOffset + done);
        if (got === 0) break;
        done += got;
      }
      return done;
    }
    const m = this.device.map(devOffset, target.length, { writable: false });
    try {
      m.invalidate();
      m.buffer.copy(target);
      return target.length;
    } finally {
      m.unmap();
    }
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}

/** First offset where a and b differ, or -1. */
function firstDifference(a: Uint8Array, b: Uint8Array): number {
  if (Buffer.compare(a, b) === 0 && a.length === b.length) return -1;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return n;
}

function checkFile(fs: FamfsHandle, rel: string, file: string): number {
  const m = mapFile(fs, rel);
  // One reader per device the file uses: a file system may span several (famfs adddev).
  const readers = new Map<number, RawReader>();
  const rawOf = (devIndex: number): RawReader => {
    let r = readers.get(devIndex);
    if (!r) readers.set(devIndex, (r = new RawReader(fs.deviceAt(devIndex))));
    return r;
  };
  try {
    const node = fs.stat(rel);
    if (node.kind !== 'file') throw new FsError('EISDIR', `'${file}' is a directory`);
    const scratch = Buffer.allocUnsafe(Math.min(COPY_CHUNK, m.size));
    const mappedScratch = Buffer.allocUnsafe(scratch.length);
    let got = 0;
    let bad = -1;
    let badDev = -1;
    for (const p of filePieces(node.fmap, node.size)) {
      for (let at = 0; at < p.len && bad < 0; at += scratch.length) {
        const n = Math.min(scratch.length, p.len - at);
        const chunk = scratch.subarray(0, rawOf(p.devIndex).read(scratch.subarray(0, n), p.offset + at));
        got += chunk.length;
        m.invalidate(p.fileOffset + at, n);
        const mapped = mappedScratch.subarray(0, n);
        m.read(mapped, p.fileOffset + at);
        const d = firstDifference(mapped, chunk);
        if (d >= 0) {
          bad = p.fileOffset + at + d;
          badDev = p.offset + at + d;
        }
      }
    }
    process.stdout.write(`read tried=${m.size} got=${got}\n`);
    if (bad >= 0) {
      process.stderr.write('Read and mmap miscompare\n');
      process.stderr.write(`famfs chkread: ${file}: first difference at file offset ${bad} (device offset ${badDev})\n`);
      return EXIT_MISCOMPARE;
    }
    process.stdout.write('Read and mmap match\n');
    return 0;
  } finally {
    for (const r of readers.values()) r.close();
    m.unmap();
  }
}

/** -s / -l: the superblock region or the log, mapped vs read. */
function checkMetadata(fs: FamfsHandle, what: 'superblock' | 'log'): number {
  const [offset, length, dump, title] = what === 'superblock'
    ? [0, SUPERBLOCK_REGION_SIZE, SUPERBLOCK_DUMP_BYTES, 'Superblock']
    : [LOG_OFFSET, fs.sb.logLen, LOG_DUMP_BYTES, 'Log'];
  const m = fs.device.map(offset, length, { writable: false });
  const raw = new RawReader(fs.device);
  try {
    m.invalidate();
    const read = Buffer.alloc(length);
    const got = raw.read(read, offset);
    process.stdout.write(`read tried=${length} got=${got}\n`);
    process.stdout.write(hexDump(m.buffer.subarray(0, dump), `${title} by mmap`));
    process.stdout.write(hexDump(read.subarray(0, dump), `${title} by read`));
    if (firstDifference(m.buffer, read) >= 0) {
      process.stderr.write('Read and mmap miscompare\n');
      return EXIT_MISCOMPARE;
    }
    process.stdout.write('Read and mmap match\n');
    return 0;
  } finally {
    raw.close();
    m.unmap();
  }
}

export function register(program: Command): void {
  addDeviceOption(program
    .command('chkread')
    .description('check that a mapped file shows exactly the device bytes its fmap names (or, with -s/-l, the superblock or log)')
    .argument('[file]', 'famfs file; with -s/-l the mount\'s .meta/.superblock or .meta/.log (none: the device\'s)')
    .option('-s, --superblock', 'check the superblock region of the device')
    .option('-l, --log', 'check the log of the device'))
    .action((file: string | undefined, o: DeviceOption & { superblock?: boolean; log?: boolean }) =>
      runCommand('famfs chkread', () => {
        const meta = o.superblock ? 'superblock' : o.log ? 'log' : undefined;
        if (o.superblock && o.log) throw new UsageError('-s and -l are exclusive');
        if (meta && file === undefined) return withTarget([], o, { writable: false }, (fs) => checkMetadata(fs, meta));
        if (file === undefined) throw new UsageError('Must specify at least one file');
        return withTarget([file], o, { writable: false }, (fs, [rel]) => {
          // upstream's chkread reads the meta files like any file; -s/-l say which one it is.
          const kind = metaFileKind(rel!);
          if (meta && kind !== meta) throw new FsError('ENOENT', `could not stat file ${file}: not the famfs ${meta} file`, 1);
          return kind ? checkMetadata(fs, kind) : checkFile(fs, rel!, file);
        });
      }));
}
