import assert from 'node:assert/strict';

const DEFAULT_WAIT_MS = 3000;
const DEFAULT_POLL_MS = 50;

/** Polls `check` until it holds; fails the test naming `what` after `ms`. */
export async function eventually(what: string, check: () => boolean, ms = DEFAULT_WAIT_MS, pollMs = DEFAULT_POLL_MS): Promise<void> {
  for (const end = Date.now() + ms; Date.now() < end;) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, pollMs));
  }
  assert.fail(`${what}: not within ${ms} ms`);
}
