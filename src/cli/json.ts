/**
 * The one vocabulary of every `--json` output (README, "JSON output"): a file or directory is
 * always the same record, whichever command prints it.
 *
 * - `path`: the path inside the file system, from its root, without a leading '/' ('' is the root)
 * - `kind`: 'file' or 'dir'
 * - `ino`, `mode`, `uid`, `gid`; `size` (bytes, files only); `logIndex` (the log entry that made it)
 * - `fmap`: a file's extent map; `devices`: device index → the path this host sees it at
 * - `created`: a boolean, whether this command created the object (false: it already existed);
 *   `logEntries`: how many log entries the command appended
 * - counts are plural nouns (`files`, `directories`, `entries`)
 */
import type { Fmap } from '../format/fmap.js';
import { type FsNode, pathOf } from '../fs/namespace.js';

export interface NodeJson {
  path: string;
  kind: FsNode['kind'];
  ino: number;
  mode: number;
  uid: number;
  gid: number;
  logIndex: number;
  size?: number;
  fmap?: Fmap;
}

/** A node as every command prints it; `withFmap` adds a file's extent map. */
export function nodeJson(n: FsNode, opts: { withFmap?: boolean } = {}): NodeJson {
  const base: NodeJson = { path: pathOf(n), kind: n.kind, ino: n.ino, mode: n.mode, uid: n.uid, gid: n.gid, logIndex: n.logIndex };
  if (n.kind !== 'file') return base;
  return { ...base, size: n.size, ...(opts.withFmap ? { fmap: n.fmap } : {}) };
}
