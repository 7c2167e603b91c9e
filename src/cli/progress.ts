/**
 * A one-line progress bar with rate and ETA for long data commands (cp, creat -r, verify). Drawn on
 * stderr, and only when stderr is a terminal: in pipes, logs and tests it stays silent, so the
 * commands' stdout lines are all a script sees.
 */

/** Redraw at most this often; the terminal need not see every chunk. */
const REDRAW_MS = 100;
/** Operations that finish sooner than this never draw a bar (no flicker for small files). */
const FIRST_DRAW_MS = 250;
const BAR_WIDTH = 30;
const KIB = 1024;
const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'] as const;
const MS_PER_S = 1000;
const S_PER_MIN = 60;
const PERCENT = 100;
const ERASE_LINE = '\r\x1b[K';

export interface ProgressOptions {
  /** Never draw (the command's -q). */
  quiet?: boolean;
  /** Where to draw; default process.stderr. */
  stream?: NodeJS.WriteStream;
}

export function formatBytes(n: number): string {
  let v = n;
  let u = 0;
  while (v >= KIB && u < UNITS.length - 1) {
    v /= KIB;
    u++;
  }
  return `${u === 0 ? v : v.toFixed(1)} ${UNITS[u]}`;
}

function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '--:--';
  const s = Math.round(seconds);
  return `${Math.floor(s / S_PER_MIN)}:${String(s % S_PER_MIN).padStart(2, '0')}`;
}

export class Progress {
  private done = 0;
  private readonly started = Date.now();
  private lastDraw = 0;
  private drawn = false;
  private readonly stream: NodeJS.WriteStream;
  private readonly enabled: boolean;

  constructor(private readonly label: string, private readonly total: number, opts: ProgressOptions = {}) {
    this.stream = opts.stream ?? process.stderr;
    this.enabled = !opts.quiet && this.stream.isTTY === true;
  }

  /** Count `n` more bytes done. */
  add(n: number): void {
    this.done += n;
    if (!this.enabled) return;
    const now = Date.now();
    if (now - this.started < FIRST_DRAW_MS || now - this.lastDraw < REDRAW_MS) return;
    this.lastDraw = now;
    this.draw(now);
  }

  /** Print a line on stdout without tearing the bar. */
  log(line: string): void {
    if (this.drawn) this.stream.write(ERASE_LINE);
    process.stdout.write(`${line}\n`);
    if (this.drawn) this.draw(Date.now());
  }

  /** Take the bar off the line (before writing to stderr); the next add() draws it again. */
  clear(): void {
    if (this.drawn) this.stream.write(ERASE_LINE);
    this.drawn = false;
  }

  /** Remove the bar. */
  finish(): void {
    if (this.drawn) this.stream.write(ERASE_LINE);
    this.drawn = false;
  }

  private draw(now: number): void {
    const frac = this.total > 0 ? Math.min(1, this.done / this.total) : 1;
    const filled = Math.round(frac * BAR_WIDTH);
    const secs = (now - this.started) / MS_PER_S;
    const rate = secs > 0 ? this.done / secs : 0;
    const eta = rate > 0 ? (this.total - this.done) / rate : Number.POSITIVE_INFINITY;
    const text = `${this.label} [${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}] ${Math.floor(frac * PERCENT)}% `
      + `${formatBytes(this.done)}/${formatBytes(this.total)} ${formatBytes(rate)}/s ETA ${formatDuration(eta)}`;
    this.stream.write(`${ERASE_LINE}${text}`);
    this.drawn = true;
  }
}
