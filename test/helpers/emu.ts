import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createEmulatedDevice } from '../../src/device/emulated.js';
import { removeCaches } from '../../src/device/noncoherent.js';
import { RUN_DIR_ENV } from '../../src/mounts/registry.js';
import { parseUuid } from '../../src/format/uuid.js';

/**
 * Mount records and daemon logs of this test process go to a private directory, never to
 * /run/famfs/mounts: set before any CLI child or daemon starts, so they all inherit it, and
 * removed at exit (after mounts.ts has unmounted; it puts its exit hook first).
 */
export const TEST_RUN_DIR = mkdtempSync(join(tmpdir(), 'famfs-test-run-'));
process.env[RUN_DIR_ENV] = TEST_RUN_DIR;
process.on('exit', () => rmSync(TEST_RUN_DIR, { recursive: true, force: true }));

export const GiB = 1024 ** 3;
export const MiB = 1024 ** 2;
export const MASTER_UUID = '11111111-1111-4111-8111-111111111111';
export const CLIENT_UUID = '22222222-2222-4222-8222-222222222222';
export const master = parseUuid(MASTER_UUID);
export const client = parseUuid(CLIENT_UUID);

const made = new Set<string>();

/** A fresh emulated device on /dev/shm; removed by cleanupDevices(). */
export function emuDevice(size = 8 * GiB, tag = 'test'): string {
  const path = `/dev/shm/famfs-${tag}-${process.pid}-${randomBytes(4).toString('hex')}`;
  createEmulatedDevice(path, size);
  made.add(path);
  return path;
}

export function cleanupDevices(): void {
  for (const p of made) {
    if (existsSync(p)) rmSync(p);
    removeCaches(p);
  }
  made.clear();
}

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const FAMFS_BIN = join(root, 'bin', 'famfs.cjs');
export const MKFS_BIN = join(root, 'bin', 'mkfs.famfs.cjs');

/** Run a CLI as a given host; stdout/stderr as text. */
export function cli(bin: string, args: string[], host = MASTER_UUID, env: Record<string, string> = {}): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [bin, ...args], {
    encoding: 'utf8',
    env: { ...process.env, FAMFS_SYSTEM_UUID: host, FAMFS_DEVICE: '', ...env },
  });
}

export const famfs = (args: string[], host = MASTER_UUID, env: Record<string, string> = {}) => cli(FAMFS_BIN, args, host, env);
export const mkfsCli = (args: string[], host = MASTER_UUID) => cli(MKFS_BIN, args, host);

/** The independent reader written from the spec (test/independent/famfs_read.py). */
export const PY_READER = join(root, '..', 'test', 'independent', 'famfs_read.py');
