import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
