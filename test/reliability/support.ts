import { appendFileSync } from 'node:fs';
import { fsck, type FsckReport } from '../../src/fs/fsck.js';
import { FamfsHandle } from '../../src/fs/famfs.js';
import { filePieces } from '../../src/map/pieces.js';
import type { FileNode, FsNode } from '../../src/fs/namespace.js';
import { pathOf } from '../../src/fs/namespace.js';
import { parseUuid } from '../../src/format/uuid.js';
import { readPlaced } from '../helpers/device-io.js';

/**
 * Shared by the reliability tests: run lengths from the environment (CI defaults, bench/torture
 * raises them), the run's seed so a failure can be replayed (test/helpers/prng.ts draws from
 * it), figures reported to the torture bench, and an independent look at a device (its bytes read
 * from the file, not through a mapping).
 */

/** A positive integer from the environment, or the CI default. */
export function envInt(name: string, ciDefault: number): number {
  const v = process.env[name];
  if (v === undefined || v === '') return ciDefault;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${name}=${v} is not a non-negative integer`);
  return n;
}

/** The seed of this run: FAMFS_TORTURE_SEED to replay a failure, else the clock. */
export const RUN_SEED = envInt('FAMFS_TORTURE_SEED', Date.now() % 0x7fffffff);

/** Figures for bench/torture: one JSON line per test appended to $FAMFS_TORTURE_REPORT. */
export function reportFigure(name: string, value: number): void {
  const file = process.env.FAMFS_TORTURE_REPORT;
  if (file) appendFileSync(file, `${JSON.stringify({ name, value })}\n`);
}

/** An observer with no claim on the file system: any UUID but the master's. */
export const OBSERVER_UUID = parseUuid('33333333-3333-4333-8333-333333333333');

/** Replay the device as a client and run fsck. */
export function inspect(device: string): { report: FsckReport; nodes: Map<string, FsNode> } {
  const fs = FamfsHandle.open(device, { systemUuid: OBSERVER_UUID });
  try {
    const report = fsck(fs);
    const nodes = new Map<string, FsNode>();
    const walk = (n: FsNode): void => {
      if (n.kind === 'dir') for (const c of n.children.values()) walk(c);
      if (n !== fs.ns.root) nodes.set(pathOf(n), n);
    };
    walk(fs.ns.root);
    return { report, nodes };
  } finally {
    fs.close();
  }
}

/** What makes an fsck report clean: no collision, no bad or skipped entry. */
export function cleanProblems(r: FsckReport): string[] {
  const out: string[] = [];
  if (r.collisions !== 0) out.push(`${r.collisions} allocation collisions`);
  for (const b of r.badEntries) out.push(`bad entry ${b.index}: ${b.reason}`);
  for (const s of r.skipped) out.push(`skipped entry ${s.index}: ${s.reason}`);
  return out;
}

/** A file's bytes read from the device file with pread at its fmap's offsets (single-device file systems). */
export function readFileBytes(device: string, node: FileNode): Buffer {
  const pieces = filePieces(node.fmap, node.size);
  for (const p of pieces) if (p.devIndex !== 0) throw new Error(`piece on device ${p.devIndex}: only single-device images are read here`);
  return readPlaced(device, node.size, pieces);
}
