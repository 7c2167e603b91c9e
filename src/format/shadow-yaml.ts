import { parseDocument, isMap, isScalar, isSeq, type YAMLMap } from 'yaml';
import { FormatError } from '../errors.js';
import type { FileMeta } from './file-meta.js';
import { type Fmap, MAX_SIMPLE_EXTENTS, MAX_STRIPS } from './fmap.js';
import type { DeviceRange } from './device-range.js';

/**
 * upstream famfs's shadow file (FUSE mode): one YAML document per famfs file, holding the log
 * entry's struct famfs_log_file_meta, which upstream's daemon reads back to serve the file.
 *
 * Written here the way upstream's libyaml emitter writes it, byte for byte: explicit `---` and
 * `...`, block style, two-space indents with sequences not indented under their key, plain
 * scalars, sizes and counts in decimal, offsets, lengths and chunk sizes as 0x hex, the mode as
 * `0` followed by its octal digits. Read back with the `yaml` package under upstream's parser's
 * rules (src/famfs_yaml.c): the keys it knows and no others, numbers as strtoull(…, 0) reads them,
 * extent counts that match, at most 16 extents or strips.
 */

/** The most bytes upstream's daemon reads of a shadow file (FAMFS_YAML_MAX). */
export const SHADOW_YAML_MAX = 16384;
/** upstream truncates a shadow file's path to its 80-byte buffer. */
const PATH_MAX_CHARS = 79;

const hex = (n: number): string => `0x${n.toString(16)}`;

/**
 * A path as libyaml (block context, ASCII output) writes a scalar: plain unless an indicator,
 * a leading or trailing space, ": " or " #" forbids it (libyaml does not care whether the text
 * would read back as a number: the reader here takes every scalar as text); then single-quoted
 * (a quote doubled); double-quoted with escapes for control and non-ASCII characters.
 */
function scalar(text: string): string {

  if (/[^\x20-\x7e]/.test(text)) return doubleQuoted(text);
  const plain = text !== ''
    && !/^[#,[\]{}&*!|>'"%@`]/.test(text)
    && !/^[-?:]( |$)/.test(text)
    && !/^(---|\.\.\.)( |$)/.test(text)
    && !/^ | $/.test(text)
    && !/: |:$| #/.test(text);
  return plain ? text : `'${text.replace(/'/g, "''")}'`;
}

function doubleQuoted(text: string): string {
  const named: Record<string, string> = { '\0': '0', '\x07': 'a', '\b': 'b', '\t': 't', '\n': 'n', '\v': 'v', '\f': 'f', '\r': 'r', '\x1b': 'e', '"': '"', '\\': '\\' };
  let out = '"';
  for (const ch of text) {
    const c = ch.codePointAt(0)!;
    if (named[ch] !== undefined) out += `\\${named[ch]}`;
    else if (c >= 0x20 && c <= 0x7e) out += ch;
    else if (c <= 0xff) out += `\\x${c.toString(16).toUpperCase().padStart(2, '0')}`;
    else if (c <= 0xffff) out += `\\u${c.toString(16).toUpperCase().padStart(4, '0')}`;
    else out += `\\U${c.toString(16).toUpperCase().padStart(8, '0')}`;
  }
  return `${out}"`;
}

function extentLines(list: readonly DeviceRange[], indent: string): string[] {
  const out = [`${indent}simple_ext_list:`];
  for (const e of list) {
    out.push(`${indent}- devindex: ${e.devIndex}`, `${indent}  offset: ${hex(e.offset)}`, `${indent}  length: ${hex(e.len)}`);
  }
  return out;
}

/** The shadow file for `m`, exactly as upstream's famfs_emit_file_yaml writes it. */
export function emitShadowYaml(m: FileMeta): string {
  const lines = [
    '---',
    'file:',
    `  path: ${scalar(m.path)}`,
    `  size: ${m.size}`,
    `  flags: ${m.flags}`,
    `  mode: 0${m.mode.toString(8)}`,
    `  uid: ${m.uid}`,
    `  gid: ${m.gid}`,
  ];
  if (m.fmap.kind === 'simple') {
    lines.push(`  nextents: ${m.fmap.extents.length}`, ...extentLines(m.fmap.extents, '  '));
  } else {
    // An interleaved map is one interleaved extent: upstream writes that count (fmap_niext).
    lines.push('  nextents: 1', '  striped_ext_list:', `  - nstrips: ${m.fmap.nstrips}`, `    chunk_size: ${hex(m.fmap.chunkSize)}`,
      ...extentLines(m.fmap.strips, '    '));
  }
  lines.push('...');
  return `${lines.join('\n')}\n`;
}

/** A number as strtoull(text, NULL, 0) reads it, but the whole text must be the number. */
function number(text: unknown, what: string): number {
  const t = String(text).trim();
  let v: number;
  if (/^0[xX][0-9a-fA-F]+$/.test(t)) v = parseInt(t.slice(2), 16);
  else if (/^0[0-7]*$/.test(t)) v = t.length > 1 ? parseInt(t.slice(1), 8) : 0;
  else if (/^[1-9][0-9]*$/.test(t)) v = Number(t);
  else throw new FormatError(`shadow yaml: ${what} '${t}' is not a number`);
  if (!Number.isSafeInteger(v)) throw new FormatError(`shadow yaml: ${what} '${t}' is too large`);
  return v;
}

function entries(map: unknown, what: string): Array<[string, unknown]> {
  if (!isMap(map)) throw new FormatError(`shadow yaml: ${what} is not a mapping`);
  return (map as YAMLMap).items.map((p) => [String(isScalar(p.key) ? p.key.value : p.key), p.value]);
}

function value(v: unknown, what: string): string {
  if (!isScalar(v)) throw new FormatError(`shadow yaml: ${what} is not a scalar`);
  return String(v.value);
}

function extentList(seq: unknown, max: number, what: string): DeviceRange[] {
  if (!isSeq(seq) || seq.items.length === 0) throw new FormatError(`shadow yaml: ${what} is not a list of extents`);
  if (seq.items.length > max) throw new FormatError(`shadow yaml: ${what} has more than ${max} extents`, 'EOVERFLOW');
  return seq.items.map((item, i) => {
    let devIndex = 0;
    let offset: number | undefined;
    let len: number | undefined;
    for (const [k, v] of entries(item, `${what}[${i}]`)) {
      // upstream only warns about other keys in an extent.
      if (k === 'devindex') devIndex = number(value(v, k), k);
      else if (k === 'offset') offset = number(value(v, k), k);
      else if (k === 'length') len = number(value(v, k), k);
    }
    if (offset === undefined || len === undefined) throw new FormatError(`shadow yaml: ${what}[${i}] lacks offset or length`);
    return { devIndex, offset, len };
  });
}

/** Reads a shadow file back into the log entry's fields; a FormatError for anything upstream refuses. */
export function parseShadowYaml(text: string): FileMeta {
  const doc = parseDocument(text, { schema: 'failsafe', uniqueKeys: false });
  if (doc.errors.length > 0) throw new FormatError(`shadow yaml: ${doc.errors[0]!.message.split('\n')[0]}`);
  const top = entries(doc.contents, 'the document');
  const file = top.find(([k]) => k === 'file');
  if (!file || top.length !== 1) throw new FormatError("shadow yaml: the document must be one mapping with the key 'file'");
  const m: Partial<FileMeta> & { nextents?: number } = {};
  let fmap: Fmap | undefined;
  for (const [k, v] of entries(file[1], 'file')) {
    switch (k) {
      case 'path': m.path = value(v, k).slice(0, PATH_MAX_CHARS); break;
      case 'size': m.size = number(value(v, k), k); break;
      case 'flags': m.flags = number(value(v, k), k); break;
      case 'mode': m.mode = number(value(v, k), k); break;
      case 'uid': m.uid = number(value(v, k), k); break;
      case 'gid': m.gid = number(value(v, k), k); break;
      case 'nextents': m.nextents = number(value(v, k), k); break;
      case 'simple_ext_list': fmap = { kind: 'simple', extents: extentList(v, MAX_SIMPLE_EXTENTS, k) }; break;
      case 'striped_ext_list': {
        if (!isSeq(v) || v.items.length !== 1) throw new FormatError('shadow yaml: striped_ext_list must hold one interleaved extent');
        let nstrips: number | undefined;
        let chunkSize: number | undefined;
        let strips: DeviceRange[] | undefined;
        for (const [sk, sv] of entries(v.items[0], 'striped_ext_list[0]')) {
          if (sk === 'nstrips') nstrips = number(value(sv, sk), sk);
          else if (sk === 'chunk_size') chunkSize = number(value(sv, sk), sk);
          else if (sk === 'simple_ext_list') strips = extentList(sv, MAX_STRIPS, 'strips');
          else throw new FormatError(`shadow yaml: unknown key '${sk}' in striped_ext_list`);
        }
        if (nstrips === undefined || chunkSize === undefined || !strips) throw new FormatError('shadow yaml: an interleaved extent needs nstrips, chunk_size and simple_ext_list');
        if (strips.length !== nstrips) throw new FormatError(`shadow yaml: nstrips is ${nstrips} but ${strips.length} strips are listed`);
        fmap = { kind: 'interleaved', nstrips, chunkSize, strips };
        break;
      }
      default: throw new FormatError(`shadow yaml: unknown key '${k}'`);
    }
  }
  if (m.path === undefined || m.size === undefined || m.mode === undefined || !fmap) {
    throw new FormatError('shadow yaml: path, size, mode and an extent list are required');
  }
  const count = fmap.kind === 'simple' ? fmap.extents.length : 1;
  if (m.nextents !== undefined && m.nextents !== count) throw new FormatError(`shadow yaml: nextents is ${m.nextents} but ${count} are listed`);
  return { path: m.path, size: m.size, flags: m.flags ?? 0, mode: m.mode, uid: m.uid ?? 0, gid: m.gid ?? 0, fmap };
}
