import type { Command } from 'commander';
import { FamfsError } from '../../errors.js';
import { type Fmap, fmapExtents } from '../../format/fmap.js';
import { FamfsHandle } from '../../fs/famfs.js';
import { addDeviceMapOption, type DeviceMapOption, deviceMapOf } from '../device-map.js';
import { nodeJson } from '../json.js';
import { printJson, runCommand } from '../run.js';
import { addDeviceOption, type DeviceOption, resolveTarget } from '../target.js';

/** Upstream's statuses: not in famfs 1, a missing file EBADF (its stat failed), a directory EISDIR. */
const EXIT_NOT_FAMFS = 1;
const EXIT_NOT_FOUND = 9;
const EXIT_NOT_REGULAR = 21;

type GetmapOpts = DeviceOption & DeviceMapOption & { quiet: number; json?: boolean; continue?: boolean };

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

/**
 * A file's map in upstream's layout: extents (or strips) as a hex offset without 0x and a decimal
 * length. A map that leaves the primary adds `\tdevice N` to those extents and a `devices:` line
 * (upstream's getmap prints no device index: it only knows one device).
 */
function mapText(fs: FamfsHandle, f: string, size: number, m: Fmap): string {
  const lines = [`File:     ${f}`, `\tsize:    ${size}`, `\textents: ${m.kind === 'simple' ? m.extents.length : 1}`];
  if (m.kind === 'interleaved') {
    lines.push(`Interleave_Param chunk_size: ${m.chunkSize}`, `Interleaved extent has ${m.nstrips} strips:`);
  }
  for (const e of fmapExtents(m)) lines.push(`\t\t${e.offset.toString(16)}\t${e.len}${e.devIndex ? `\tdevice ${e.devIndex}` : ''}`);
  const paths = devicePaths(fs, m);
  if (Object.keys(paths).some((i) => i !== '0')) lines.push(`\tdevices: ${Object.entries(paths).map(([i, p]) => `${i}=${p}`).join(' ')}`);
  lines.push(`famfs_getmap: good file ${f}`);
  return `${lines.join('\n')}\n`;
}

export function register(program: Command): void {
  addDeviceMapOption(addDeviceOption(program
    .command('getmap')
    .description("print a file's extent map (device offsets and lengths)")
    .argument('<file...>', 'famfs paths')
    .option('-q, --quiet', 'only the exit status (-qq: no messages either)', (_v: string, prev: number) => prev + 1, 0)
    .option('-c, --continue', 'go on past a file that fails; the status is the last failure')
    .option('--json', 'print the maps as JSON')))
    .action((files: string[], o: GetmapOpts) =>
      runCommand('famfs getmap', () => {
        const opened = new Map<string, FamfsHandle>();
        const out: unknown[] = [];
        let status = 0;
        const fail = (code: number, msg: string): void => {
          if (o.quiet < 2) process.stderr.write(`famfs_getmap: ${msg}\n`);
          status = code;
        };
        try {
          for (const f of files) {
            if (status && !o.continue) break;
            let fs: FamfsHandle;
            let rel: string;
            try {
              const t = resolveTarget([f], o);
              const key = `${t.device}\0${t.systemUuid?.toString('hex') ?? ''}`;
              fs = opened.get(key) ?? FamfsHandle.open(t.device, { writable: false, systemUuid: t.systemUuid, deviceMap: deviceMapOf(o) });
              opened.set(key, fs);
              rel = t.relpaths[0]!;
            } catch (err) {
              if (!(err instanceof FamfsError)) throw err;
              fail(EXIT_NOT_FAMFS, `file (${f}) not in famfs: ${err.message}`);
              continue;
            }
            const node = fs.lookup(rel);
            if (!node) {
              fail(EXIT_NOT_FOUND, `file not found (${f})`);
              continue;
            }
            if (node.kind !== 'file') {
              fail(EXIT_NOT_REGULAR, `not a regular file (${f})`);
              continue;
            }
            if (o.json) out.push({ ...nodeJson(node, { withFmap: true }), devices: devicePaths(fs, node.fmap) });
            else if (!o.quiet) process.stdout.write(mapText(fs, f, node.size, node.fmap));
          }
        } finally {
          for (const fs of opened.values()) fs.close();
        }
        if (o.json) printJson(out);
        return status;
      }));
}
