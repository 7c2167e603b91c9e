import type { FamfsHandle } from '../fs/famfs.js';

/** How far behind the log a daemon is: entries appended that it has not played, and for how long. */
export interface FollowLag {
  entries: number;
  /** 0 when caught up; else milliseconds since the last time it was (an upper bound of staleness). */
  ms: number;
}

/** Shortest spacing of the request-rate samples. */
const RATE_SAMPLE_MS = 1000;
const MS_PER_S = 1000;

/**
 * Follows the log: entries other processes append show up without a manual logplay. Every
 * `intervalMs` it plays what was appended (what was played is announced by the handle's onPlayed
 * listeners, whoever played it; a failure goes to `onError` when it first appears, not every
 * period). It keeps when it was last caught up, for the follow lag, and samples a request counter
 * for a request rate.
 */
export class LogFollower {
  private timer: NodeJS.Timeout | undefined;
  private caughtUpAt = Date.now();
  private rateFrom = { at: Date.now(), count: 0 };
  private rateTo = { at: Date.now(), count: 0 };
  /** The last failure reported, so a lasting one is reported once, not every period. */
  private lastError = '';

  constructor(
    private readonly fs: FamfsHandle,
    private readonly refresh: () => number,
    private readonly requests: () => number,
    private readonly onError: (err: Error) => void,
  ) {}

  start(intervalMs: number): void {
    this.timer = setInterval(() => this.tick(), intervalMs);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private tick(): void {
    const now = Date.now();
    if (now - this.rateTo.at >= RATE_SAMPLE_MS) {
      this.rateFrom = this.rateTo;
      this.rateTo = { at: now, count: this.requests() };
    }
    try {
      this.refresh();
      this.lastError = '';
    } catch (err) {
      const msg = (err as Error).message;
      if (msg !== this.lastError) this.onError(err as Error);
      this.lastError = msg;
      return;
    }
    this.caughtUpAt = now;
  }

  /** The lag now: reads the log header (a scrape or a status call, never the request path). */
  lag(): FollowLag {
    const entries = Math.max(0, this.fs.logHeader().nextIndex - this.fs.nextSlot);
    return { entries, ms: entries === 0 ? 0 : Date.now() - this.caughtUpAt };
  }

  /** Requests per second over the last sampled second or more. */
  requestRate(): number {
    const now = Date.now();
    const dt = now - this.rateFrom.at;
    return dt > 0 ? ((this.requests() - this.rateFrom.count) * MS_PER_S) / dt : 0;
  }
}
