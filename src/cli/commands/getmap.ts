import type { Command } from 'commander';
import { FamfsError, FsError } from '../../errors.js';
import { type Fmap, fmapExtents } from '../../format/fmap.js';
import type { FamfsHandle } from '../../fs/famfs.js';
import { addDeviceMapOption, type DeviceMapOption, deviceMapOf } from '../device-map.js';
import { nodeJson } from '../json.js';
import { printJson, runCommand } from '../run.js';
import { addDeviceOption, type DeviceOption, withTarget } from '../target.js';

/** Upstream's statuses: a missing file is EBADF (open failed), a directory EISDIR. */
const EXIT_NOT_FOUND = 9;
const EXIT_NOT_REGULAR = 21;

/** Where this host sees each device a map uses (index → path), so offsets can be read off the devices. */
function devicePaths(fs: FamfsHandle, m: Fmap): Record<number, string> {
  const out: Record<number, string> = {};
  for (const i of [...new Set(fmapExtents(m).map((e) => e.devIndex))].sort((a, b) => a - b)) {
    try {
      out[i] = fs.deviceAt(i).path;
    } catch (err) {
      if (!(err instanceof FamfsError)) throw err;
      out[i] = '(not found on this host)';
    }
  }
  return out;
}

export function register(program: Command): void {
  addDeviceMapOption(addDeviceOption(program
    .command('getmap')
    .description("print a file's extent map (device offsets and lengths)")
    .argument('<file...>', 'famfs paths')
    .option('-q, --quiet', 'only the exit status')
    .option('--json', 'print the maps as JSON')))
    .action((files: string[], o: DeviceOption & DeviceMapOption & { quiet?: boolean; json?: boolean }) =>
      runCommand('famfs getmap', () => withTarget(files, o, { writable: false, deviceMap: deviceMapOf(o) }, (fs, rels) => {
        // Upstream stops at the first file it cannot map; the maps before it are still printed.
        const out: unknown[] = [];
        try {
          for (const [i, f] of files.entries()) printOne(fs, f, rels[i]!, o, out);
        } finally {
          if (o.json) printJson(out);
        }
      })));
}

/** One file's map, as upstream's text or into the JSON list; throws for a missing file or a directory. */
function printOne(fs: FamfsHandle, f: string, rel: string, o: { quiet?: boolean; json?: boolean }, out: unknown[]): void {
  const node = fs.lookup(rel);
  if (!node) throw new FsError('ENOENT', `'${f}': no such file in famfs`, EXIT_NOT_FOUND);
  if (node.kind !== 'file') throw new FsError('EISDIR', `'${f}' is not a regular file`, EXIT_NOT_REGULAR);
  const m = node.fmap;
  if (o.json) {
    out.push({ ...nodeJson(node, { withFmap: true }), devices: devicePaths(fs, m) });
    return;
  }
  if (o.quiet) return;
  const lines = [`File:     ${f}`, `\tsize:    ${node.size}`];
  if (m.kind === 'simple') {
    lines.push(`\textents: ${m.extents.length}`);
  } else {
    lines.push(`\tinterleaved: nstrips ${m.nstrips} chunk_size 0x${m.chunkSize.toString(16)}`);
    lines.push(`\tstrips:  ${m.strips.length}`);
  }
  for (const e of fmapExtents(m)) lines.push(`\t\t0x${e.offset.toString(16)}\t${e.len}${e.devIndex ? `\tdevice ${e.devIndex}` : ''}`);
  // Only for maps that leave the primary: one-device output stays upstream's.
  const paths = devicePaths(fs, m);
  if (Object.keys(paths).some((i) => i !== '0')) {
    lines.push(`\tdevices: ${Object.entries(paths).map(([i, p]) => `${i}=${p}`).join(' ')}`);
  }
  lines.push(`famfs_getmap: good file ${f}`);
  process.stdout.write(`${lines.join('\n')}\n`);
}
