import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { mkfs } from '../src/fs/mkfs.js';
import { cleanupDevices, emuDevice, GiB, master, MASTER_UUID, MiB } from './helpers/emu.js';
import { famfs, FAMFS_BIN, hostEnv } from './helpers/run.js';

/** The figure: a 2 GiB tree, in files big enough that a kill lands mid-file. */
const TREE_BYTES = 2 * GiB;
const FILE_BYTES = 128 * MiB;
const FILES_PER_DIR = 4;
/** Copy lines seen before the kill: about half the tree. */
const KILL_AFTER_FILES = TREE_BYTES / FILE_BYTES / 2;
const WORD = 8;
const PAGE = 4096;

const src = mkdtempSync('/dev/shm/famfs-cp-src-');
after(() => {
  rmSync(src, { recursive: true, force: true });
  cleanupDevices();
});

/** Every word holds its index, and each page starts with its file's number: a misplaced or stale page shows. */
function makeTree(): number {
  const block = Buffer.alloc(FILE_BYTES);
  for (let o = 0; o < FILE_BYTES; o += WORD) block.writeUInt32LE(o / WORD, o + 4);
  const n = TREE_BYTES / FILE_BYTES;
  for (let i = 0; i < n; i++) {
    for (let o = 0; o < FILE_BYTES; o += PAGE) block.writeUInt32LE(i, o);
    const dir = join(src, `d${Math.floor(i / FILES_PER_DIR)}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `f${i}`), block);
  }
  return n;
}

describe('famfs cp -r of a 2 GiB tree, killed halfway', () => {
  it('a re-run completes the copy, cp -c passes and fsck is clean', async () => {
    const n = makeTree();
    const dev = emuDevice(8 * GiB, 'cp-restart');
    mkfs(dev, { systemUuid: master });

    const child = spawn(process.execPath, [FAMFS_BIN, 'cp', '-r', '-t', '4', src, 'tree', '--device', dev], {
      env: hostEnv(MASTER_UUID), stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    const killed = await new Promise<boolean>((resolve) => {
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.split('\n').filter((l) => l.startsWith('famfs cp: 100%')).length >= KILL_AFTER_FILES) child.kill('SIGKILL');
      });
      child.on('exit', (_code, signal) => resolve(signal === 'SIGKILL'));
    });
    assert.ok(killed, `the copy finished before it could be killed:\n${out}`);
    const copiedBefore = out.split('\n').filter((l) => l.startsWith('famfs cp: 100%')).length;
    assert.ok(copiedBefore < n, 'killed with files still to copy');

    let r = famfs(['fsck', dev]);
    assert.equal(r.status, 0, `fsck after the kill: ${r.stdout}${r.stderr}`);
    r = famfs(['cp', '-c', '-r', src, 'tree', '--device', dev]);
    assert.notEqual(r.status, 0, 'the interrupted copy does not compare equal');

    r = famfs(['cp', '-r', '-t', '4', src, 'tree', '--device', dev]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.split('\n').filter((l) => l.startsWith('famfs cp: 100%')).length, n);
    r = famfs(['cp', '-c', '-r', src, 'tree', '--device', dev]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.split('\n').filter((l) => l.startsWith('famfs cp: compare ok: ')).length, n);
    r = famfs(['fsck', dev]);
    assert.equal(r.status, 0, r.stdout + r.stderr);
  });
});
