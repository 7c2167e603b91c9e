import { getSystemUuid } from '../format/system-uuid.js';
import type { Superblock } from '../format/superblock.js';
import { uuidEquals } from '../format/uuid.js';

/**
 * The master is the host whose system UUID the superblock records: the only one that may
 * allocate and append. Every other host is a client and only reads.
 */
export type Role = 'master' | 'client';

/** Upstream's printed names, which scripts parse from fsck. */
export const ROLE_LABEL: Record<Role | 'nosuper', string> = {
  master: 'Owner',
  client: 'Client',
  nosuper: 'Invalid superblock',
};

/** A host that cannot read its own identity is a client, as upstream decides. */
export function roleOf(sb: Superblock, systemUuid?: Buffer): Role {
  let mine: Buffer;
  try {
    mine = systemUuid ?? getSystemUuid();
  } catch {
    return 'client';
  }
  return uuidEquals(mine, sb.systemUuid) ? 'master' : 'client';
}
