import { readdirSync, statSync, type Stats } from 'node:fs';
import { basename } from 'node:path';
import { FsError } from '../errors.js';
import type { FamfsHandle } from '../fs/famfs.js';
import { DEFAULT_DIR_MODE } from '../fs/namespace.js';
import { splitPath, toRelpath } from '../fs/paths.js';

/**
 * What a `famfs cp` will do, worked out before anything is created: every source examined, every
 * destination named and checked against what exists. The copy then allocates all new files at once
 * (and fails before logging anything if they do not fit) and only then moves data.
 */

/** Permission bits copied from a source (upstream: st_mode & 0777). */
const PERMISSION_BITS = 0o777;
/** upstream's cp aborts (rc < 0) with exit 1, whatever the errno. */
const EXIT_ABORT = 1;

interface PlannedFile {
  src: string;
  /** famfs path of the destination. */
  dest: string;
  size: number;
  /** Permission bits of the source. */
  srcMode: number;
  /** Size of the file already at dest, if there is one. */
  existingSize?: number;
}

interface PlannedDir {
  src: string;
  dest: string;
  srcMode: number;
  exists: boolean;
}

export interface CopyPlan {
  /** Parents before children. */
  dirs: PlannedDir[];
  files: PlannedFile[];
  /** Sources skipped, one line each; the copy goes on without them and exits 1. */
  skipped: string[];
  /** Destinations that clash with what exists (a directory where a file goes, or the reverse). */
  conflicts: string[];
}

export function cpAbort(message: string): FsError {
  return new FsError('EINVAL', message, EXIT_ABORT);
}

function joinFamfs(dir: string, name: string): string {
  return dir === '' ? name : `${dir}/${name}`;
}

/**
 * Upstream's destination rules: with one source and no -r, dest may be an existing directory (the
 * source's name is appended) or a file path; with several sources or -r, dest is a directory, which
 * -r creates when missing. Files go into it by name; with -r a directory's contents do.
 */
export function planCopy(fs: FamfsHandle, sources: readonly string[], destArg: string, recursive: boolean): CopyPlan {
  const plan: CopyPlan = { dirs: [], files: [], skipped: [], conflicts: [] };
  const destParts = splitPath(destArg);
  const dest = destParts.join('/');
  const destNode = fs.ns.lookup(destParts);
  const planned = new Set<string>();

  const addFile = (src: string, target: string, st: Stats): void => {
    toRelpath(splitPath(target));
    if (planned.has(target)) {
      plan.skipped.push(`will not overwrite just-created '${target}' with '${src}'`);
      return;
    }
    planned.add(target);
    const node = fs.ns.lookup(splitPath(target));
    if (node?.kind === 'dir') {
      plan.conflicts.push(`cannot overwrite directory '${target}' with non-directory '${src}'`);
      return;
    }
    plan.files.push({ src, dest: target, size: st.size, srcMode: st.mode & PERMISSION_BITS, ...(node ? { existingSize: node.size } : {}) });
  };

  const addDir = (src: string, target: string, st: Stats): void => {
    if (target !== '') {
      toRelpath(splitPath(target));
      const node = fs.ns.lookup(splitPath(target));
      if (node?.kind === 'file') {
        plan.conflicts.push(`cannot overwrite non-directory '${target}' with directory '${src}'`);
        return;
      }
      if (!planned.has(target)) {
        planned.add(target);
        plan.dirs.push({ src, dest: target, srcMode: st.mode & PERMISSION_BITS, exists: node !== undefined });
      }
    }
    let names: string[];
    try {
      names = readdirSync(src).sort();
    } catch (err) {
      plan.skipped.push(`cannot read directory '${src}': ${(err as Error).message}`);
      return;
    }
    for (const name of names) visit(`${src}/${name}`, joinFamfs(target, name));
  };

  const visit = (src: string, target: string): void => {
    let st: Stats;
    try {
      st = statSync(src);
    } catch {
      plan.skipped.push(`unable to stat srcfile (${src})`);
      return;
    }
    if (st.isDirectory()) {
      if (!recursive) plan.skipped.push(`-r not specified; omitting directory '${src}'`);
      else addDir(src, target, st);
      return;
    }
    if (!st.isFile()) throw cpAbort(`error: ${src} is not a regular file or directory; nothing was copied`);
    if (st.size === 0) {
      plan.skipped.push(`skipping empty file ${src}: a famfs file cannot be empty; the other files are copied`);
      return;
    }
    addFile(src, target, st);
  };

  const many = sources.length > 1 || recursive;
  if (!many) {
    const src = sources[0]!;
    if (destNode?.kind === 'dir') {
      visit(src, joinFamfs(dest, basename(src)));
    } else {
      const parent = fs.ns.lookup(destParts.slice(0, -1));
      if (!parent || parent.kind !== 'dir') throw cpAbort(`parent of destination '${destArg}' is not a famfs directory`);
      visit(src, dest);
    }
    return plan;
  }
  if (destNode && destNode.kind !== 'dir') throw cpAbort(`destination '${destArg}' exists and is not a directory`);
  if (!destNode) {
    if (!recursive) throw cpAbort(`destination directory '${destArg}' does not exist`);
    const parent = fs.ns.lookup(destParts.slice(0, -1));
    if (!parent || parent.kind !== 'dir') throw cpAbort(`parent of destination '${destArg}' is not a famfs directory`);
  }
  for (const src of sources) {
    let st: Stats;
    try {
      st = statSync(src);
    } catch {
      throw cpAbort(`cannot stat '${src}'; nothing was copied`);
    }
    // upstream: with -r a source directory's contents go into dest (made if missing), so
    // running the same copy again continues it rather than nesting a second tree.
    if (st.isDirectory() && recursive) addDir(src, dest, st);
    else visit(src, joinFamfs(dest, basename(src)));
  }
  if (!destNode && !planned.has(dest)) {
    plan.dirs.unshift({ src: destArg, dest, srcMode: DEFAULT_DIR_MODE, exists: false });
  }
  return plan;
}
