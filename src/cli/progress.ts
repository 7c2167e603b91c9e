/**
 * A one-line progress bar with rate and ETA for long data commands (cp, creat -r, verify), drawn by
 * cli-progress on stderr and only when stderr is a terminal: in pipes, logs and tests it stays
 * silent, so the commands' stdout lines are all a script sees.
 */
import { SingleBar } from 'cli-progress';
import { sizeText } from './size-text.js';
import { onTerminalAbort } from './terminal.js';

/** Operations that finish sooner than this never draw a bar (no flicker for small files). */
const FIRST_DRAW_MS = 250;
/** Redraws per second; the terminal need not see every chunk. */
const FPS = 10;
const MS_PER_S = 1000;
/** cli-progress's own: the line is erased when the bar stops. */
const ERASE_LINE = '\r\x1b[K';
/** Updates the ETA is averaged over: ~10 s at FPS, so one slow file does not make it jump. */
const ETA_UPDATES = 100;

export interface ProgressOptions {
  /** Never draw (the command's -q). */
  quiet?: boolean;
  /** Where to draw; default process.stderr. */
  stream?: NodeJS.WriteStream;
}

/**
 * The one summary line a long data command ends with, on stderr (stdout keeps upstream's lines):
 * files, bytes, time and rate since `startedMs`, then `tail`.
 */
export function printSummary(label: string, what: string, files: number, bytes: number, startedMs: number, tail = ''): void {
  const ms = Math.max(1, Date.now() - startedMs);
  const rate = sizeText((bytes * MS_PER_S) / ms);
  process.stderr.write(`${label}: ${what} ${files} file${files === 1 ? '' : 's'}, ${sizeText(bytes)} in ${(ms / MS_PER_S).toFixed(1)} s (${rate}/s)${tail}\n`);
}

export class Progress {
  private done = 0;
  private readonly started = Date.now();
  private readonly stream: NodeJS.WriteStream;
  private readonly enabled: boolean;
  private bar: SingleBar | undefined;
  /** Unregisters the bar's Ctrl-C/SIGTERM restore (terminal.ts) while it is drawn. */
  private unhook: (() => void) | undefined;

  constructor(private readonly label: string, private readonly total: number, opts: ProgressOptions = {}) {
    this.stream = opts.stream ?? process.stderr;
    this.enabled = !opts.quiet && this.stream.isTTY === true;
  }

  /** Count `n` more bytes done. */
  add(n: number): void {
    this.done += n;
    if (!this.enabled) return;
    const elapsed = Date.now() - this.started;
    if (!this.bar) {
      if (elapsed < FIRST_DRAW_MS) return;
      this.bar = new SingleBar({
        stream: this.stream, fps: FPS, clearOnComplete: true, hideCursor: true, barsize: 30, etaBuffer: ETA_UPDATES,
        format: `${this.label} [{bar}] {percentage}% {done}/{size} {rate}/s ETA {eta_formatted}`,
      });
      // Before start() hides the cursor, so a signal never finds it hidden with no handler; stop()
      // shows the cursor and turns line wrap back on (cli-progress turned both off).
      this.unhook = onTerminalAbort(() => this.bar?.stop());
      this.bar.start(this.total, 0, this.payload(elapsed));
    }
    this.bar.update(this.done, this.payload(elapsed));
  }

  /** Print a line on stdout without tearing the bar. */
  log(line: string): void {
    if (this.bar) this.stream.write(ERASE_LINE);
    process.stdout.write(`${line}\n`);
    this.bar?.render();
  }

  /** Take the bar off the line (before writing to stderr); the next add() draws it again. */
  clear(): void {
    if (this.bar) this.stream.write(ERASE_LINE);
  }

  /** Remove the bar. */
  finish(): void {
    this.bar?.stop();
    this.bar = undefined;
    this.unhook?.();
    this.unhook = undefined;
  }

  /**
   * The command's last line, on stderr whether or not it is a terminal (stdout keeps upstream's
   * per-file lines for scripts): `<label>: <what> <n> files, <bytes> in <s> s (<rate>/s)<tail>`.
   */
  summary(what: string, files: number, tail = ''): void {
    this.finish();
    printSummary(this.label, what, files, this.done, this.started, tail);
  }

  private payload(elapsedMs: number): Record<string, string> {
    const rate = elapsedMs > 0 ? (this.done * MS_PER_S) / elapsedMs : 0;
    return { done: sizeText(this.done), size: sizeText(this.total), rate: sizeText(rate) };
  }
}
