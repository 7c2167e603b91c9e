/**
 * `npm start`: a tour of famfs on an emulated memory device. It runs the real commands a
 * user would type, as two hosts (a master and a client, told apart by FAMFS_SYSTEM_UUID),
 * and removes the device afterwards whatever happens.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const MASTER = '6d617374-6572-4000-8000-000000000001';
const CLIENT = '636c6965-6e74-4000-8000-000000000002';
const DEVICE = process.env.FAMFS_DEMO_DEVICE ?? `/dev/shm/famfs-demo-${process.pid}`;
const here = dirname(fileURLToPath(import.meta.url));
const BIN: Record<string, string> = { famfs: join(here, 'cli', 'famfs.js'), 'mkfs.famfs': join(here, 'cli', 'mkfs.js') };

function run(host: 'master' | 'client', cmd: string, ...args: string[]): void {
  process.stdout.write(`\n[${host}] $ ${cmd} ${args.join(' ')}\n`);
  const r = spawnSync(process.execPath, [BIN[cmd]!, ...args], {
    stdio: 'inherit',
    env: { ...process.env, FAMFS_SYSTEM_UUID: host === 'master' ? MASTER : CLIENT, FAMFS_DEVICE: DEVICE },
  });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited with ${r.status}`);
}

function cleanup(): void {
  if (existsSync(DEVICE)) rmSync(DEVICE);
}

process.on('SIGINT', () => {
  cleanup();
  process.exit(130);
});

try {
  run('master', 'famfs', 'emu', 'create', DEVICE, '--size', '8G');
  run('master', 'mkfs.famfs', DEVICE);
  run('master', 'famfs', 'mkdir', '-p', 'datasets/images/train');
  run('master', 'famfs', 'mkdir', '-p', 'datasets/text');
  run('master', 'famfs', 'creat', '-s', '64m', 'datasets/images/train/shard0');
  run('master', 'famfs', 'creat', '-s', '100m', 'datasets/images/train/shard1');
  run('master', 'famfs', 'creat', '-s', '1g', '-N', '4', '-B', '8', '-C', '2m', 'datasets/text/corpus');
  run('master', 'famfs', 'getmap', 'datasets/text/corpus');
  run('client', 'famfs', 'ls', '-lR', '/');
  process.stdout.write('\n(a client may read but not create:)\n');
  const refused = spawnSync(process.execPath, [BIN.famfs!, 'creat', '-s', '1m', 'nope'], {
    encoding: 'utf8', env: { ...process.env, FAMFS_SYSTEM_UUID: CLIENT, FAMFS_DEVICE: DEVICE },
  });
  process.stdout.write(`[client] $ famfs creat -s 1m nope\n${refused.stderr}(exit ${refused.status})\n`);
  run('client', 'famfs', 'fsck', DEVICE);
  process.stdout.write('\ndemo complete\n');
} catch (err) {
  process.stderr.write(`demo failed: ${(err as Error).message}\n`);
  process.exitCode = 1;
} finally {
  cleanup();
}
