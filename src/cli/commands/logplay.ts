import { accessSync, constants } from 'node:fs';
import type { Command } from 'commander';
import { FsError, UsageError } from '../../errors.js';
import { FamfsHandle } from '../../fs/famfs.js';
import { pathOf } from '../../fs/namespace.js';
import { playShadow, shadowRootOf, shadowStatsText } from '../../fs/shadow-tree.js';
import { collect } from '../data-args.js';
import { nodeJson } from '../json.js';
import { printJson, runCommand } from '../run.js';
import { addDeviceOption, type DeviceOption, withTarget } from '../target.js';
import { addModeOptions, type ModeOptions, readOptionWarning, requireFuseMode } from '../upstream-modes.js';

interface LogplayOpts extends DeviceOption, ModeOptions {
  dryrun?: boolean; verbose: number; json?: boolean;
  read?: boolean; mmap?: boolean; client?: boolean; shadowtest?: boolean; shadow: string[]; daxdev?: string;
}

const EXIT_SETUP = 1;
const MAX_EXIT = 127;

/**
 * upstream's shadow logplay: the log (of the mount `path` is in, or of `--daxdev` read directly)
 * played into a shadow tree, as upstream's daemon would serve it. Exit: the errors counted.
 */
async function shadowLogplay(path: string, o: LogplayOpts): Promise<number> {
  const shadow = o.shadow[0]!;
  process.stdout.write('Logplay: running in shadow test mode\n');
  if (o.daxdev !== undefined) {
    try {
      accessSync(shadow, constants.W_OK);
    } catch {
      throw new FsError('EACCES', `shadowpath ${shadow} is not a writable directory`, EXIT_SETUP);
    }
  }
  const root = shadowRootOf(shadow);
  const play = (fs: FamfsHandle): number => {
    const st = playShadow(fs, root, {
      dryRun: !!o.dryrun, test: !!o.shadowtest,
      say: o.verbose ? (line) => process.stdout.write(`${line}\n`) : undefined,
    });
    process.stdout.write(shadowStatsText(st, o.verbose > 0));
    return Math.min(fs.stats.badEntries.length + st.fileErrors + st.dirErrors + st.yamlErrors, MAX_EXIT);
  };
  if (o.daxdev === undefined) return withTarget([path], o, { writable: false }, play);
  const fs = FamfsHandle.open(o.daxdev, { writable: false });
  try {
    return play(fs);
  } finally {
    fs.close();
  }
}

export function register(program: Command): void {
  addDeviceOption(addModeOptions(program
    .command('logplay')
    .description('replay the metadata log and report what it holds; -n lists what a replay would create')
    .argument('[path]', 'a path in a famfs mount (or use --device)', '/')
    .option('-n, --dryrun', 'list every file and directory a replay would create')
    .option('-v, --verbose', 'also list bad and skipped entries (repeatable)', (_v: string, prev: number) => prev + 1, 0)
    .option('--json', 'machine-readable output')
    .option('-m, --mmap', 'read the log through mmap (the default)')
    .option('-r, --read', 'read the log with read(2) (upstream warns: cache coherency)')
    .option('-c, --client', 'play as a client would')
    .option('-S, --shadow <dir>', "play into upstream's shadow tree: <dir>/root (or <dir> if it ends in /root) gets a YAML file per famfs file", collect, [] as string[])
    .option('-s, --shadowtest', 'with -S: read each shadow file back and compare it with its log entry')
    .option('-d, --daxdev <dev>', 'with -S: play the log of this device (no mount needed)'), { setDaxmode: true }))
    .action((path: string, o: LogplayOpts) =>
      runCommand('famfs logplay', () => {
        requireFuseMode('famfs logplay', o, EXIT_SETUP);
        if (o.read && o.mmap) throw new UsageError('Error: The --mmap and --read arguments are mutually exclusive');
        if (o.read) readOptionWarning('do_famfs_cli_logplay');
        if (o.shadow.length > 1) throw new FsError('EINVAL', "don't specify more than one shadowpath");
        if (o.daxdev !== undefined && o.shadow.length === 0) throw new UsageError('Error: daxdev only used with shadow logplay');
        if (o.dryrun && !o.json) process.stdout.write('Logplay: dry_run selected\n');
        if (o.shadow.length > 0) return shadowLogplay(path, o);
        return withTarget([path], o, { writable: false }, (fs) => {
          const st = fs.stats;
          const nodes = [...fs.ns.walk()].sort((a, b) => a.logIndex - b.logIndex);
          if (o.json) {
            printJson({
              entries: st.entries, files: st.files, directories: st.dirs, badEntries: st.badEntries, skipped: st.skipped,
              ...(o.dryrun ? { objects: nodes.map((n) => nodeJson(n, { withFmap: true })) } : {}),
            });
          } else {
            if (o.dryrun) {
              for (const n of nodes) {
                process.stdout.write(n.kind === 'file'
                  ? `would create file ${pathOf(n)} (${n.size} bytes, mode 0${n.mode.toString(8)})\n`
                  : `would create directory ${pathOf(n)} (mode 0${n.mode.toString(8)})\n`);
              }
            }
            if (o.verbose) {
              for (const b of st.badEntries) process.stdout.write(`bad entry ${b.index}: ${b.reason}\n`);
              for (const s of st.skipped) process.stdout.write(`skipped entry ${s.index}: ${s.reason}\n`);
            }
            process.stdout.write(`famfs_logplay: processed ${st.entries} log entries; ${st.files} new files; ${st.dirs} new directories\n`);
            if (st.badEntries.length || st.skipped.length) {
              process.stdout.write(`famfs_logplay: ${st.badEntries.length} bad entries, ${st.skipped.length} skipped entries\n`);
            }
          }
          return Math.min(st.badEntries.length + st.skipped.length, MAX_EXIT);
        });
      }));
}
