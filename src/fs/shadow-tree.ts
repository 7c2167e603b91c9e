import { chownSync, closeSync, constants, existsSync, mkdirSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { FamfsError, FsError } from '../errors.js';
import { encodeFileMeta, type FileMeta, FILE_META_SIZE } from '../format/file-meta.js';
import { LOG_OFFSET, SUPERBLOCK_REGION_SIZE } from '../format/layout.js';
import { emitShadowYaml, parseShadowYaml, SHADOW_YAML_MAX } from '../format/shadow-yaml.js';
import type { FamfsHandle } from './famfs.js';
import { type FsNode, pathOf } from './namespace.js';

/**
 * upstream's shadow tree (FUSE mode): under `<shadow>/root`, a directory per famfs directory and a
 * YAML file (format/shadow-yaml.ts) per famfs file, which upstream's daemon serves from. Written
 * by `famfs logplay -S` and, with `famfs mount -S`, by the daemon. Like upstream's replay it is
 * idempotent: what exists is counted as existing and left alone (with `test`, a file that exists
 * is read back and compared with its log entry byte for byte).
 */

export interface ShadowPlayOptions {
  /** Count what would be made, make nothing (`logplay -n`). */
  dryRun?: boolean;
  /** Read every shadow file back and compare it with its log entry (`--shadowtest`). */
  test?: boolean;
  /** Play only the nodes logged at or after this slot (a daemon following the log). */
  fromIndex?: number;
  /** Each line upstream prints with -v (creations, yaml checks). */
  say?: (line: string) => void;
}

export interface ShadowPlayStats {
  entries: number;
  filesCreated: number;
  dirsCreated: number;
  filesExisted: number;
  dirsExisted: number;
  fileErrors: number;
  dirErrors: number;
  yamlChecked: number;
  yamlErrors: number;
}

const SHADOW_FILE_MODE = 0o644;
const ROOT_NAME = 'root';

/** upstream's rule: a shadow path that ends in /root is the root; else `<path>/root`, which must exist. */
export function shadowRootOf(shadowPath: string): string {
  let st;
  try {
    st = statSync(shadowPath);
  } catch {
    throw new FsError('ENOENT', `shadow path ${shadowPath} does not exist`, 1);
  }
  if (!st.isDirectory()) throw new FsError('ENOTDIR', `shadow path ${shadowPath} is not a directory`, 1);
  const trimmed = shadowPath.replace(/\/+$/, '');
  if (trimmed.endsWith(`/${ROOT_NAME}`) || trimmed === ROOT_NAME) return trimmed;
  const root = join(trimmed, ROOT_NAME);
  if (!existsSync(root) || !statSync(root).isDirectory()) throw new FsError('ENOENT', `shadow_path=${shadowPath} exists, but not shadow_path/root`, 1);
  return root;
}

function fileMetaOf(n: Extract<FsNode, { kind: 'file' }>): FileMeta {
  return { path: pathOf(n).replace(/^\//, ''), size: n.size, flags: n.flags, uid: n.uid, gid: n.gid, mode: n.mode, fmap: n.fmap };
}

function sameMeta(a: FileMeta, b: FileMeta): boolean {
  const ba = Buffer.alloc(FILE_META_SIZE);
  const bb = Buffer.alloc(FILE_META_SIZE);
  encodeFileMeta(ba, 0, a);
  encodeFileMeta(bb, 0, b);
  return ba.equals(bb);
}

/** The shadow files of the meta files, which upstream's famfs mount writes before its logplay. */
function metaShadowFiles(fs: FamfsHandle): FileMeta[] {
  return [
    { path: '.meta/.superblock', size: SUPERBLOCK_REGION_SIZE, flags: 0, uid: 0, gid: 0, mode: 0o444, fmap: { kind: 'simple', extents: [{ devIndex: 0, offset: 0, len: SUPERBLOCK_REGION_SIZE }] } },
    { path: '.meta/.log', size: fs.sb.logLen, flags: 0, uid: 0, gid: 0, mode: fs.role === 'master' ? 0o644 : 0o444, fmap: { kind: 'simple', extents: [{ devIndex: 0, offset: LOG_OFFSET, len: fs.sb.logLen }] } },
  ];
}

/** Write the meta files' shadow YAML under `root/.meta` (a mount's shadow, not logplay's). */
export function writeMetaShadow(fs: FamfsHandle, root: string): void {
  mkdirSync(join(root, '.meta'), { recursive: true, mode: 0o755 });
  for (const m of metaShadowFiles(fs)) writeNew(join(root, m.path), emitShadowYaml(m));
}

function writeNew(path: string, text: string): void {
  const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, SHADOW_FILE_MODE);
  try {
    writeSync(fd, text);
  } finally {
    closeSync(fd);
  }
}

/** Play the file system's namespace into the shadow tree at `root` (from shadowRootOf). */
export function playShadow(fs: FamfsHandle, root: string, opts: ShadowPlayOptions = {}): ShadowPlayStats {
  const st: ShadowPlayStats = { entries: 0, filesCreated: 0, dirsCreated: 0, filesExisted: 0, dirsExisted: 0, fileErrors: 0, dirErrors: 0, yamlChecked: 0, yamlErrors: 0 };
  const from = opts.fromIndex ?? 0;
  const nodes = [...fs.ns.walk()].filter((n) => n.logIndex >= from).sort((a, b) => a.logIndex - b.logIndex);
  st.entries = fs.stats.entries - from;
  const say = opts.say ?? (() => undefined);
  for (const n of nodes) {
    const rel = pathOf(n).replace(/^\//, '');
    const target = join(root, rel);
    let existing;
    try {
      existing = statSync(target);
    } catch {
      existing = undefined;
    }
    if (n.kind === 'dir') {
      if (existing?.isDirectory()) {
        st.dirsExisted++;
      } else if (existing) {
        say(`famfs_logplay: file (${target}) exists where dir should be`);
        st.dirErrors++;
      } else if (!opts.dryRun) {
        say(`famfs_logplay: creating directory ${rel}`);
        mkdirSync(target, n.mode);
        // upstream chowns only when both ids are non-zero.
        if (n.uid !== 0 && n.gid !== 0) chownSync(target, n.uid, n.gid);
        st.dirsCreated++;
      } else {
        st.dirsCreated++;
      }
      continue;
    }
    const meta = fileMetaOf(n);
    if (existing && !existing.isFile()) {
      say(`famfs_shadow_file_create: directory where file ${target} expected`);
      st.fileErrors++;
      continue;
    }
    let text: string;
    if (existing) {
      st.filesExisted++;
      if (!opts.test) continue;
      text = readFileSync(target, 'utf8').slice(0, SHADOW_YAML_MAX);
    } else {
      text = emitShadowYaml(meta);
      st.filesCreated++;
      if (opts.dryRun) continue;
      writeNew(target, text);
    }
    if (!opts.test) continue;
    st.yamlChecked++;
    let good: boolean;
    try {
      good = sameMeta(parseShadowYaml(text), meta);
    } catch (err) {
      if (!(err instanceof FamfsError)) throw err;
      good = false;
    }
    if (good) {
      say(`${rel}: shadow yaml good!`);
    } else {
      say(`${rel}: famfs_log_file_meta miscompare`);
      st.yamlErrors++;
      st.fileErrors++;
    }
  }
  return st;
}

/** upstream's famfs_print_log_stats for a shadow replay. */
export function shadowStatsText(s: ShadowPlayStats, verbose: boolean): string {
  const lines = [`famfs_logplay(shadow): ${s.entries} log entries; ${s.filesCreated} new files; ${s.dirsCreated} new directories`];
  if (verbose) {
    lines.push(`\tCreated:  ${s.filesCreated} files, ${s.dirsCreated} directories`);
    lines.push(`\tExisted: ${s.filesExisted} files, ${s.dirsExisted} directories`);
  }
  if (s.fileErrors || s.dirErrors) lines.push(`\t${s.fileErrors} file errors and ${s.dirErrors} dir errors`);
  if (s.yamlChecked) {
    lines.push(`\tshadow yaml checked for ${s.yamlChecked} files`);
    lines.push(`\tthere were ${s.yamlErrors} yaml errors detected`);
  }
  return `${lines.join('\n')}\n`;
}
