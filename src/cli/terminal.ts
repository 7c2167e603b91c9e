/**
 * How a command leaves the terminal and the pipe it writes to: quiet on a closed pipe (`famfs ls -R
 * | head`), and the terminal put back (cursor shown, line wrap on) when Ctrl-C or SIGTERM ends a
 * command mid-way, which then exits 128 + the signal's number as a shell would report it.
 */
import { constants } from 'node:os';

/** What a C program killed by SIGPIPE reports (upstream's commands die so in `| head`). */
export const EXIT_BROKEN_PIPE = 128 + constants.signals.SIGPIPE;

const restorers = new Set<() => void>();
const HANDLED_SIGNALS = ['SIGINT', 'SIGTERM'] as const;
let signalsHooked = false;

function restoreAll(): void {
  for (const r of restorers) r();
  restorers.clear();
}

function onSignal(signal: (typeof HANDLED_SIGNALS)[number]): void {
  restoreAll();
  process.exit(128 + constants.signals[signal]);
}

/**
 * Run `restore` if the process is ended by SIGINT or SIGTERM (then exit 130 or 143) or exits any
 * other way while it is registered. Returns the function that unregisters it. The signal handlers
 * exist only while something is registered, so a command without a bar keeps the default action.
 */
export function onTerminalAbort(restore: () => void): () => void {
  restorers.add(restore);
  if (!signalsHooked) {
    signalsHooked = true;
    for (const s of HANDLED_SIGNALS) process.on(s, onSignal);
    process.on('exit', restoreAll);
  }
  return () => {
    restorers.delete(restore);
    if (restorers.size > 0 || !signalsHooked) return;
    signalsHooked = false;
    for (const s of HANDLED_SIGNALS) process.off(s, onSignal);
    process.off('exit', restoreAll);
  };
}

/**
 * A reader that closed the pipe (EPIPE on stdout or stderr) ends the command at once, with no
 * message and the status of a SIGPIPE death; any other stream error is thrown as before.
 */
export function exitQuietlyOnBrokenPipe(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE') throw err;
      restoreAll();
      process.exit(EXIT_BROKEN_PIPE);
    });
  }
}
