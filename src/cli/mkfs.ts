#!/usr/bin/env node
import { Command, CommanderError } from './commander.js';
import { FamfsHandle } from '../fs/famfs.js';
import { fsck } from '../fs/fsck.js';
import { mkfs } from '../fs/mkfs.js';
import { parseSize } from './args.js';
import { fsckText } from './fsck-text.js';
import { runCommand } from './run.js';
import { addModeOptions, type ModeOptions, questionMarkHelp, requireFuseMode } from './upstream-modes.js';
import { exitQuietlyOnBrokenPipe } from './terminal.js';
import { packageVersion } from './version.js';

/** mkfs.famfs statuses: 1 for usage (missing device, not root), 2 for any other failure. */
const EXIT_USAGE = 1;
const EXIT_FAILED = 2;

exitQuietlyOnBrokenPipe();
const program = new Command('mkfs.famfs')
  .description('create a famfs file system on a memory device; this host becomes its master')
  .version(packageVersion(), '-V, --version')
  .argument('<device>', 'memory device: /dev/daxX.Y, a pmem block device, or an emulated device file')
  .option('-f, --force', 'overwrite an existing file system (even one owned by another host)')
  .option('-k, --kill', 'with -f: invalidate the superblock (zero its magic) and stop')
  .option('-l, --loglen <len>', 'log length: a power of two, at least 8M (default 8M)', parseSize)
  .option('-v, --verbose', 'print the new file system')
  .option('-D, --nodax', 'accepted (upstream: a test option for devices that are not DAX)')
  .exitOverride()
  .configureOutput({ outputError: (str, write) => write(`mkfs.famfs: ${str.replace(/^error: /, '')}`) })
  .action((device: string, o: ModeOptions & { force?: boolean; kill?: boolean; loglen?: number; verbose?: boolean }) =>
    runCommand('mkfs.famfs', () => {
      requireFuseMode('mkfs.famfs', o, EXIT_FAILED);
      if (process.geteuid && process.geteuid() !== 0) {
        process.stderr.write('mkfs.famfs: must be run as root\n');
        return EXIT_USAGE;
      }
      try {
        const r = mkfs(device, { force: !!o.force, kill: !!o.kill, logLen: o.loglen });
        if (r.killed) {
          process.stdout.write('Famfs superblock killed\n');
          return 0;
        }
      } catch (err) {
        process.stderr.write(`mkfs.famfs: ${(err as Error).message}\n`);
        return EXIT_FAILED;
      }
      // Upstream prints the new file system the way fsck reports it.
      const fs = FamfsHandle.open(device, { writable: false });
      try {
        process.stdout.write(fsckText(fsck(fs), { human: false, verbose: o.verbose ? 1 : 0 }));
      } finally {
        fs.close();
      }
      return 0;
    }));

addModeOptions(program, { nofuse: true, setDaxmode: true });

program.parseAsync(questionMarkHelp(process.argv)).catch((err: unknown) => {
  if (!(err instanceof CommanderError)) throw err;
  process.exitCode = err.code === 'commander.helpDisplayed' || err.code === 'commander.help' || err.code === 'commander.version' ? 0 : EXIT_USAGE;
});
