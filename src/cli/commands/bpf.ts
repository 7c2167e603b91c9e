import type { Command } from 'commander';
import { FsError } from '../../errors.js';
import { fmapExtents } from '../../format/fmap.js';
import { FmapPublisher, lookupPublished, openPublishedMap, unpublish } from '../../bpf/publish.js';
import { pinDir } from '../../bpf/pins.js';
import { BpfResolver } from '../../bpf/resolver.js';
import { parseSize, parseUint } from '../args.js';
import { nodeJson } from '../json.js';
import { printJson, runCommand } from '../run.js';
import { addDeviceOption, type DeviceOption, withTarget } from '../target.js';

/** Upstream's getmap statuses, reused: a missing file, a directory. */
const EXIT_NOT_FOUND = 9;
const EXIT_NOT_REGULAR = 21;
const HEX = 16;

interface PublishOpts extends DeviceOption { follow?: number; programs: boolean; quiet?: boolean }
interface DumpOpts extends DeviceOption { json?: boolean; at?: number }

const hex = (n: number): string => `0x${n.toString(HEX)}`;

/** Keep publishing until SIGINT/SIGTERM: every `ms`, the entries appended since the last pass. */
function follow(pub: FmapPublisher, ms: number, quiet: boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setInterval(() => {
      try {
        const n = pub.sync();
        if (n > 0 && !quiet) process.stdout.write(`published ${n} more\n`);
      } catch (err) {
        stop();
        reject(err);
      }
    }, ms);
    const stop = (): void => {
      clearInterval(timer);
      process.off('SIGINT', stop).off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop).on('SIGTERM', stop);
  });
}

export function register(program: Command): void {
  const bpf = program.command('bpf').description('publish famfs fmaps to BPF maps and resolve offsets with a BPF program (not in upstream)');

  addDeviceOption(bpf.command('publish')
    .description('pin a BPF hash map of every file\'s fmap (key: inode) at /sys/fs/bpf/famfs/<fs-uuid>/fmap, with the resolver programs')
    .argument('[path]', 'a path in a famfs mount (or use --device)')
    .option('--follow <ms>', 'keep publishing files as the log grows, polling every ms, until interrupted', parseUint)
    .option('--no-programs', 'pin only the map, not the resolver programs')
    .option('-q, --quiet', 'print nothing'))
    .action((path: string | undefined, o: PublishOpts) =>
      runCommand('famfs bpf publish', () => withTarget(path ? [path] : [], o, { writable: false }, async (fs) => {
        const pub = FmapPublisher.open(fs);
        try {
          const r = pub.publishAll();
          const progs = o.programs ? pub.pinPrograms() : [];
          if (!o.quiet) {
            process.stdout.write(`published ${r.published} fmaps of famfs ${fs.uuid} at ${r.dir}/fmap${r.removed ? ` (removed ${r.removed} stale)` : ''}\n`);
            for (const p of progs) process.stdout.write(`pinned ${p}\n`);
          }
          if (o.follow !== undefined) await follow(pub, Math.max(1, o.follow), o.quiet ?? false);
        } finally {
          pub.close();
        }
      })));

  addDeviceOption(bpf.command('dump')
    .description('print the fmap published for a file, and optionally where an offset resolves through the BPF program')
    .argument('<file>', 'a famfs path')
    .option('--at <offset>', 'resolve this file offset with the BPF resolver', parseSize)
    .option('--json', 'print JSON'))
    .action((file: string, o: DumpOpts) =>
      runCommand('famfs bpf dump', () => withTarget([file], o, { writable: false }, (fs, rels) => {
        const node = fs.lookup(rels[0]!);
        if (!node) throw new FsError('ENOENT', `'${file}': no such file in famfs`, EXIT_NOT_FOUND);
        if (node.kind !== 'file') throw new FsError('EISDIR', `'${file}' is not a regular file`, EXIT_NOT_REGULAR);
        const rec = lookupPublished(fs.uuid, node.ino);
        if (!rec) throw new FsError('ENOENT', `'${file}' (inode ${node.ino}) is not published in ${pinDir(fs.uuid)}: run famfs bpf publish`, EXIT_NOT_FOUND);
        let at: ReturnType<BpfResolver['resolve']> | undefined;
        if (o.at !== undefined) {
          const map = openPublishedMap(fs.uuid)!;
          try {
            const r = BpfResolver.load(map);
            try {
              at = r.resolve(node.ino, o.at);
            } finally {
              r.close();
            }
          } finally {
            map.close();
          }
        }
        if (o.json) {
          printJson({ ...nodeJson(node), size: rec.size, fmap: rec.fmap, ...(at ? { resolve: { offset: o.at, rc: at.rc, devIndex: at.devIndex, devOffset: at.offset, length: at.len } } : {}) });
          return;
        }
        const m = rec.fmap;
        const lines = [`File:     ${file}`, `\tinode:   ${node.ino}`, `\tsize:    ${rec.size}`];
        if (m.kind === 'simple') lines.push(`\textents: ${m.extents.length}`);
        else lines.push(`\tinterleaved: nstrips ${m.nstrips} chunk_size ${hex(m.chunkSize)}`);
        for (const e of fmapExtents(m)) lines.push(`\t\tdevice ${e.devIndex}\t${hex(e.offset)}\t${e.len}`);
        if (at) {
          lines.push(at.rc === 0
            ? `\toffset ${hex(o.at!)} -> device ${at.devIndex} offset ${hex(at.offset)}, ${at.len} bytes in this piece`
            : `\toffset ${hex(o.at!)} -> error ${at.rc}`);
        }
        process.stdout.write(`${lines.join('\n')}\n`);
      })));

  addDeviceOption(bpf.command('unpublish')
    .description('remove the pinned fmap map and resolver programs of a file system')
    .argument('[path]', 'a path in a famfs mount (or use --device)'))
    .action((path: string | undefined, o: DeviceOption) =>
      runCommand('famfs bpf unpublish', () => withTarget(path ? [path] : [], o, { writable: false }, (fs) => {
        const removed = unpublish(fs.uuid);
        process.stdout.write(removed.length ? `removed ${removed.join(' ')}\n` : `famfs ${fs.uuid} was not published\n`);
      })));
}
