import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { InterleaveParams } from '../alloc/interleave.js';
import { mountOf } from '../mounts/registry.js';
import { FamfsError } from '../errors.js';

/** Where upstream keeps the file-system-wide default interleave, relative to the (shadow) root. */
const ALLOC_CFG_RELPATH = '.meta/.alloc.cfg';

/**
 * The default interleave of the mount `path` is in: upstream's `.meta/.alloc.cfg`, which in FUSE
 * mode lives in the mount's shadow tree (`<shadow>/root/.meta/.alloc.cfg`, the `.meta` of the
 * mount itself being the daemon's). Absent: undefined. A file that does not parse is warned about
 * in one line and ignored, as upstream.
 */
export async function mountAllocCfg(prog: string, path: string | undefined): Promise<InterleaveParams | undefined> {
  const shadow = path === undefined ? undefined : mountOf(path)?.record.shadowPath;
  if (shadow === undefined) return undefined;
  const file = join(shadow, 'root', ALLOC_CFG_RELPATH);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  try {
    return (await import('../alloc/alloc-cfg.js')).parseAllocCfg(text);
  } catch (err) {
    if (!(err instanceof FamfsError)) throw err;
    process.stderr.write(`${prog}: ignoring ${file}: ${err.message}\n`);
    return undefined;
  }
}
