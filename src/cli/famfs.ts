#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { register as registerChkread } from './commands/chkread.js';
import { register as registerClone } from './commands/clone.js';
import { register as registerCp } from './commands/cp.js';
import { register as registerCreat } from './commands/creat.js';
import { register as registerEmu } from './commands/emu.js';
import { register as registerFlush } from './commands/flush.js';
import { register as registerFsck } from './commands/fsck.js';
import { register as registerGetmap } from './commands/getmap.js';
import { register as registerLogplay } from './commands/logplay.js';
import { register as registerLs } from './commands/ls.js';
import { register as registerMkdir } from './commands/mkdir.js';
import { register as registerMount } from './commands/mount.js';
import { register as registerUmount } from './commands/umount.js';
import { register as registerVerify } from './commands/verify.js';

/** Upstream's statuses for a missing and an unknown command. */
const EXIT_NO_COMMAND = 1;
const EXIT_UNKNOWN_COMMAND = 3;

const program = new Command('famfs')
  .description('famfs: the shared-memory file system')
  .exitOverride()
  // Usage errors are one line, prefixed like every other error of the command.
  .configureOutput({ outputError: (str, write) => write(`famfs: ${str.replace(/^error: /, '')}`) });
for (const register of [registerFsck, registerMkdir, registerCreat, registerLogplay, registerGetmap, registerLs, registerEmu,
  registerCp, registerVerify, registerFlush, registerClone, registerChkread, registerMount, registerUmount]) {
  register(program);
}

try {
  if (process.argv.length <= 2) {
    process.stderr.write('famfs: missing command\n');
    program.outputHelp({ error: true });
    process.exitCode = EXIT_NO_COMMAND;
  } else {
    await program.parseAsync(process.argv);
  }
} catch (err) {
  if (!(err instanceof CommanderError)) throw err;
  if (err.code === 'commander.helpDisplayed' || err.code === 'commander.help' || err.code === 'commander.version') process.exitCode = 0;
  else if (err.code === 'commander.unknownCommand') process.exitCode = EXIT_UNKNOWN_COMMAND;
  else process.exitCode = err.exitCode || EXIT_NO_COMMAND;
}
