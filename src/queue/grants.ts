import { closeSync, mkdirSync, openSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runDir } from '../mounts/registry.js';
import { loadNative } from '../addon.js';
import { nodeCrypto } from '../lazy-crypto.js';
import { QueueAccessError } from './errors.js';

/**
 * Which of a queue's two files this host may write: upstream's `pcq --setperm p|c|b|n`, which
 * chmods the files on the host that runs it (a host-local change: famfs logs no mode changes).
 * famfs clients here map files read-only, so the grant is recorded instead, in the run directory
 * (like a chmod of a mounted famfs, it lasts until reboot), per host (system UUID) and queue.
 * Without a grant the master may write both files (upstream creates both 0644) and a client neither.
 */
export type QueuePerm = 'p' | 'c' | 'b' | 'n';
export const QUEUE_PERMS: readonly QueuePerm[] = ['p', 'c', 'b', 'n'];

export interface QueueKey {
  fsUuid: string;
  systemUuid: string;
  /** The queue's path in the file system, as the namespace spells it. */
  path: string;
}

function grantsDir(): string {
  return join(runDir(), 'pcq-grants');
}

function grantsFile(systemUuid: string): string {
  return join(grantsDir(), `${systemUuid}.grants`);
}

function readGrants(systemUuid: string): Record<string, QueuePerm> {
  try {
    return JSON.parse(readFileSync(grantsFile(systemUuid), 'utf8')) as Record<string, QueuePerm>;
  } catch {
    return {};
  }
}

const keyOf = (k: QueueKey): string => `${k.fsUuid}:${k.path}`;

export function queuePerm(k: QueueKey, role: 'master' | 'client'): QueuePerm {
  return readGrants(k.systemUuid)[keyOf(k)] ?? (role === 'master' ? 'b' : 'n');
}

export function setQueuePerm(k: QueueKey, perm: QueuePerm): void {
  mkdirSync(grantsDir(), { recursive: true });
  const grants = readGrants(k.systemUuid);
  grants[keyOf(k)] = perm;
  const file = grantsFile(k.systemUuid);
  const tmp = `${file}.${process.pid}`;
  writeFileSync(tmp, `${JSON.stringify(grants, null, 1)}\n`);
  renameSync(tmp, file);
}

export function mayWrite(perm: QueuePerm, side: 'producer' | 'consumer'): boolean {
  return perm === 'b' || perm === (side === 'producer' ? 'p' : 'c');
}

/**
 * The one producer (or consumer) of a queue on this host: an exclusive flock on a file in the run
 * directory, held until release. Two producers would both write producer_index; upstream does not
 * support it and neither do we. Across hosts there is no lock to take: that is documented.
 */
export function lockRole(k: QueueKey, side: 'producer' | 'consumer'): () => void {
  const native = loadNative();
  mkdirSync(grantsDir(), { recursive: true });
  const name = nodeCrypto().createHash('sha1').update(`${k.fsUuid}:${k.path}`).digest('hex');
  const fd = openSync(join(grantsDir(), `${name}.${side}.lock`), 'w');
  if (!native.flock(fd, native.LOCK_EX | native.LOCK_NB)) {
    closeSync(fd);
    throw new QueueAccessError('EBUSY', `'${k.path}': another ${side} of this queue is running on this host; a queue has one ${side}`);
  }
  let held = true;
  return () => {
    if (!held) return;
    held = false;
    closeSync(fd);
  };
}
