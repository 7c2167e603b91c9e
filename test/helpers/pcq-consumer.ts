/**
 * A queue consumer in its own process, for the pcq tests: opens the file system on argv[2] as the
 * host FAMFS_SYSTEM_UUID names, consumes argv[4] messages from queue argv[3] and checks that each
 * payload starts with its sequence number (u64), on top of the queue's own CRC and sequence
 * checks. Prints `first <seq>` once, `at <seq>` after every argv[5]-th message it has finished
 * with, and at the end one JSON line {received, first, last}. Exits 3 on a payload mismatch, and
 * 4 when stdin closes (the test process is gone).
 */
import { Famfs } from '../../src/api/index.js';

// The test that started this process holds the other end of stdin: when it goes, so does this.
process.stdin.on('close', () => process.exit(4));
process.stdin.resume();

const [dev, queue, countText, everyText] = process.argv.slice(2);
const count = Number(countText);
const every = Number(everyText ?? 0);
const fs = Famfs.open(dev!, { systemUuid: process.env.FAMFS_SYSTEM_UUID! });
const c = fs.openConsumer(queue!);
let received = 0;
let first = -1;
let last = -1;
let expect = c.nextSeq;
while (received < count) {
  const batch = c.receiveBatch(Math.min(256, count - received));
  if (batch.length === 0) {
    const m = await c.receiveAsync();
    check(c.nextSeq, m);
    continue;
  }
  for (let i = 0; i < batch.length; i++) check(c.nextSeq + i, batch[i]!);
}
c.close();
fs.close();
process.stdout.write(`${JSON.stringify({ received, first, last })}\n`);
process.exit(0);

function check(seq: number, view: Buffer): void {
  const got = Number(view.readBigUInt64LE(0));
  if (got !== seq) {
    process.stderr.write(`payload says ${got} in message seq ${seq}\n`);
    process.exit(3);
  }
  if (seq !== expect) {
    process.stderr.write(`message seq ${seq} where ${expect} was expected\n`);
    process.exit(3);
  }
  expect++;
  if (first < 0) {
    first = seq;
    process.stdout.write(`first ${seq}\n`);
  }
  last = seq;
  received++;
  if (every > 0 && received % every === 0) process.stdout.write(`at ${seq}\n`);
}
