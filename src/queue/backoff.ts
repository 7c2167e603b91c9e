import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';

/**
 * Waiting for the other side of a queue without a busy core: a short spin (a message usually comes
 * within microseconds when both sides are running), then event-loop turns for about a millisecond,
 * then sleeps doubling from 1 ms to `maxSleepMs`. There is no notification across hosts (only the
 * shared memory), so an idle waiter costs one check per `maxSleepMs`.
 */
export interface BackoffOptions {
  signal?: AbortSignal | undefined;
  /** Longest sleep between checks once idle; default 16 ms (also the worst added latency when idle). */
  maxSleepMs?: number | undefined;
}

const SPIN_CHECKS = 64;
const TURNS_NS = 1_000_000n;
const DEFAULT_MAX_SLEEP_MS = 16;

/** Resolves once ready() is true; rejects with the signal's reason when aborted. */
export async function waitFor(ready: () => boolean, opts: BackoffOptions = {}): Promise<void> {
  const { signal } = opts;
  signal?.throwIfAborted();
  for (let i = 0; i < SPIN_CHECKS; i++) if (ready()) return;
  const turnsUntil = process.hrtime.bigint() + TURNS_NS;
  while (process.hrtime.bigint() < turnsUntil) {
    await nextTurn(undefined, signal ? { signal } : undefined);
    if (ready()) return;
  }
  const maxSleep = opts.maxSleepMs ?? DEFAULT_MAX_SLEEP_MS;
  for (let ms = 1; ; ms = Math.min(ms * 2, maxSleep)) {
    await sleep(ms, undefined, signal ? { signal } : undefined);
    if (ready()) return;
  }
}
