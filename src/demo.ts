/**
 * `npm start`: a tour of famfs on an emulated memory device. It runs the real commands a
 * user would type, as two hosts (a master and a client, told apart by FAMFS_SYSTEM_UUID),
 * and removes the device afterwards whatever happens.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const MASTER = '6d617374-6572-4000-8000-000000000001';
const CLIENT = '636c6965-6e74-4000-8000-000000000002';
const DEVICE = process.env.FAMFS_DEMO_DEVICE ?? `/dev/shm/famfs-demo-${process.pid}`;
/** Leave the device (not the mounts) behind for whoever runs the demo to show it (tools/console-screenshot.mjs). */
const KEEP_DEVICE = process.env.FAMFS_DEMO_KEEP === '1';
const here = dirname(fileURLToPath(import.meta.url));
const BIN: Record<string, string> = { famfs: join(here, '..', 'bin', 'famfs.cjs'), 'mkfs.famfs': join(here, '..', 'bin', 'mkfs.famfs.cjs') };

function run(host: 'master' | 'client', cmd: string, ...args: string[]): void {
  process.stdout.write(`\n[${host}] $ ${cmd} ${args.join(' ')}\n`);
  const r = spawnSync(process.execPath, [BIN[cmd]!, ...args], {
    stdio: 'inherit',
    env: { ...process.env, FAMFS_SYSTEM_UUID: host === 'master' ? MASTER : CLIENT, FAMFS_DEVICE: DEVICE },
  });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited with ${r.status}`);
}

function sh(host: 'master' | 'client', cmd: string, ...args: string[]): void {
  process.stdout.write(`\n[${host}] $ ${cmd} ${args.join(' ')}\n`);
  const r = spawnSync(cmd, args, { stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited with ${r.status}`);
}

/** Mount points made by the FUSE part, unmounted whatever happens. */
const mounts: string[] = [];
let mountRoot: string | undefined;

function cleanup(): void {
  for (const mnt of mounts.splice(0)) {
    spawnSync(process.execPath, [BIN.famfs!, 'umount', mnt], { stdio: 'ignore' });
  }
  if (mountRoot) rmSync(mountRoot, { recursive: true, force: true });
  if (existsSync(DEVICE) && !KEEP_DEVICE) rmSync(DEVICE);
}

/** FUSE needs root and /dev/fuse; elsewhere the tour stops before mounting. */
function canMount(): boolean {
  return process.getuid?.() === 0 && existsSync('/dev/fuse');
}

/** Both hosts mount the file system; the master copies a tree in, the client reads it back. */
function fuseTour(): void {
  mountRoot = mkdtempSync('/tmp/famfs-demo-');
  const m = join(mountRoot, 'master');
  const c = join(mountRoot, 'client');
  mkdirSync(m);
  mkdirSync(c);
  mounts.push(m);
  run('master', 'famfs', 'mount', DEVICE, m);
  mounts.push(c);
  run('client', 'famfs', 'mount', '--follow', '100', DEVICE, c);
  sh('master', 'mkdir', join(m, 'results'));
  run('master', 'famfs', 'cp', '-r', join(here, 'alloc'), join(m, 'results', 'alloc'));
  run('master', 'famfs', 'creat', '-r', '-S', '7', '-s', '16m', join(m, 'results', 'sample'));
  spawnSync('sleep', ['0.3']);
  sh('client', 'ls', '-l', join(c, 'results'));
  run('client', 'famfs', 'verify', '-S', '7', '-f', join(c, 'results', 'sample'));
  const first = readdirSync(join(here, 'alloc')).find((f) => f.endsWith('.js'))!;
  sh('client', 'cmp', join(here, 'alloc', first), join(c, 'results', 'alloc', first));
  run('client', 'famfs', 'umount', c);
  run('master', 'famfs', 'umount', m);
  mounts.length = 0;
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
  if (canMount()) fuseTour();
  else process.stdout.write('\n(famfs mount needs root and /dev/fuse: the FUSE part of the tour is skipped)\n');
  process.stdout.write('\ndemo complete\n');
} catch (err) {
  process.stderr.write(`demo failed: ${(err as Error).message}\n`);
  process.exitCode = 1;
} finally {
  cleanup();
}
