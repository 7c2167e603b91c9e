import type { Command } from 'commander';
import { pathOf } from '../../fs/namespace.js';
import { nodeJson } from '../json.js';
import { printJson, runCommand } from '../run.js';
import { addDeviceOption, type DeviceOption, withTarget } from '../target.js';

export function register(program: Command): void {
  addDeviceOption(program
    .command('logplay')
    .description('replay the metadata log and report what it holds; -n lists what a replay would create')
    .argument('[path]', 'a path in a famfs mount (or use --device)', '/')
    .option('-n, --dryrun', 'list every file and directory a replay would create')
    .option('-v, --verbose', 'also list bad and skipped entries')
    .option('--json', 'machine-readable output'))
    .action((path: string, o: DeviceOption & { dryrun?: boolean; verbose?: boolean; json?: boolean }) =>
      runCommand('famfs logplay', () => withTarget([path], o, { writable: false }, (fs) => {
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
        return Math.min(st.badEntries.length + st.skipped.length, 127);
      })));
}
