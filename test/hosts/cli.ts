#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { Cluster } from './harness.js';
import { GiB } from '../helpers/emu.js';

/**
 * By hand: `node dist/test/hosts/cli.js up --clients 3 [--size-gib 8] [--follow 100]` brings up a
 * master and N clients, prints where each is mounted and as which host, and tears it all down on
 * Ctrl-C (or SIGTERM).
 */
const USAGE = 'usage: cli.js up [--clients N] [--size-gib G] [--follow MS]';

async function main(): Promise<number> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: { clients: { type: 'string', default: '2' }, 'size-gib': { type: 'string', default: '8' }, follow: { type: 'string', default: '100' } },
  });
  if (positionals[0] !== 'up') {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  const clients = Number(values.clients);
  const sizeGib = Number(values['size-gib']);
  const followMs = Number(values.follow);
  if (![clients, sizeGib, followMs].every((n) => Number.isInteger(n) && n >= 0)) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  const c = await Cluster.up({ clients, devSize: sizeGib * GiB, followMs, tag: 'cli' });
  process.stdout.write(`device ${c.device}\n`);
  for (const h of c.hosts) process.stdout.write(`${h.name.padEnd(8)} ${h.role.padEnd(6)} FAMFS_SYSTEM_UUID=${h.uuid} ${h.mnt} (daemon ${h.daemonPid() ?? '?'})\n`);
  process.stdout.write('up; Ctrl-C tears everything down\n');
  // Stay alive until a signal: the harness's hooks unmount and remove the device.
  setInterval(() => undefined, 1 << 30);
  return 0;
}

main().then((code) => {
  if (code !== 0) process.exit(code);
}, (err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
