#!/usr/bin/env node
import type { Command } from './commander.js';
import { questionMarkHelp } from './upstream-modes.js';

type CommandModule = { register(program: Command): void };

/** Upstream's statuses for a missing and an unknown command. */
const EXIT_NO_COMMAND = 1;
const EXIT_UNKNOWN_COMMAND = 3;

const loadAdddev = (): Promise<CommandModule> => import('./commands/adddev.js');
/** One module answers both of upstream's v1-module-only commands. */
const loadV1Only = (): Promise<CommandModule> => import('./commands/v1-only.js');

/**
 * Every command's module, in help order. Only the one named on the command line is loaded (each
 * pulls in its own dependencies, and a script that runs `famfs creat` per file pays start-up every
 * time); help, an unknown name or no name loads them all.
 */
const COMMANDS: Readonly<Record<string, () => Promise<CommandModule>>> = {
  fsck: () => import('./commands/fsck.js'),
  mkdir: () => import('./commands/mkdir.js'),
  creat: () => import('./commands/creat.js'),
  logplay: () => import('./commands/logplay.js'),
  getmap: () => import('./commands/getmap.js'),
  ls: () => import('./commands/ls.js'),
  emu: () => import('./commands/emu.js'),
  cp: () => import('./commands/cp.js'),
  verify: () => import('./commands/verify.js'),
  flush: () => import('./commands/flush.js'),
  clone: () => import('./commands/clone.js'),
  chkread: () => import('./commands/chkread.js'),
  mount: () => import('./commands/mount.js'),
  umount: () => import('./commands/umount.js'),
  adddev: loadAdddev,
  // upstream's multi-device roadmap names it devadd: the same command, registered as an alias.
  devadd: loadAdddev,
  daxdev: () => import('./commands/daxdev.js'),
  check: loadV1Only,
  mkmeta: loadV1Only,
  bpf: () => import('./commands/bpf.js'),
  status: () => import('./commands/status.js'),
  console: () => import('./commands/console.js'),
  completion: () => import('./commands/completion.js'),
};
/** Commands that need every other command registered (they describe them). */
const NEEDS_ALL = new Set(['completion']);

async function main(): Promise<void> {
  process.argv = upstreamArgv(process.argv);
  (await import('./terminal.js')).exitQuietlyOnBrokenPipe();
  // `famfs mount` starts its daemon first, so the daemon's own start runs while this one loads.
  if (process.argv[2] === 'mount') (await import('./daemon-start.js')).startDaemonEarly(process.argv.slice(3));
  const { Command, CommanderError } = await import('./commander.js');
  const { packageVersion } = await import('./version.js');
  const program = new Command('famfs')
    .description('famfs: the shared-memory file system')
    .version(packageVersion(), '-V, --version')
    .exitOverride()
    // Usage errors are one line, prefixed like every other error of the command.
    .configureOutput({ outputError: (str, write) => write(`famfs: ${str.replace(/^error: /, '')}`) });
  const named = Object.hasOwn(COMMANDS, process.argv[2] ?? '') && !NEEDS_ALL.has(process.argv[2]!) ? COMMANDS[process.argv[2]!] : undefined;
  const modules = new Set(named ? [named] : Object.values(COMMANDS));
  for (const mod of await Promise.all([...modules].map((load) => load()))) mod.register(program);

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
}

/**
 * upstream's command-line conventions that commander lacks, as a rewrite of argv: `-?` is help
 * on every command; `famfs -h|-?|--help <cmd>` prints that command's help; the global option
 * `--dryrun`, which upstream lists but never acts on, is accepted and dropped.
 */
function upstreamArgv(argv: string[]): string[] {
  const out = argv.slice(0, 2);
  let rest = argv.slice(2);
  while (rest[0] === '--dryrun') rest = rest.slice(1);
  if ((rest[0] === '-h' || rest[0] === '-?' || rest[0] === '--help') && rest[1] !== undefined && Object.hasOwn(COMMANDS, rest[1])) {
    rest = [rest[1], '--help'];
  }
  return [...out, ...questionMarkHelp(rest)];
}

void main();
