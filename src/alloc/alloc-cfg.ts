import { isMap, isScalar, parseDocument } from 'yaml';
import { FormatError } from '../errors.js';
import type { InterleaveParams } from './interleave.js';
import { DEFAULT_CHUNK_SIZE } from './interleave.js';

/**
 * upstream's `.meta/.alloc.cfg`: the file system's default interleave, used by creat and cp when
 * no -N/-B/-C is given.
 *
 *     ---
 *     interleaved_alloc:
 *       nbuckets: 8
 *       nstrips: 4
 *       chunk_size: 2m
 *     ...
 *
 * Keys in any order; any other key is refused, as upstream. Numbers are decimal or 0x hex, and
 * chunk_size takes a k/m/g suffix (powers of 1024).
 */
const UNIT: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

function number(text: string, key: string, suffix: boolean): number {
  const m = /^(0[xX][0-9a-fA-F]+|\d+)([kKmMgG]?)$/.exec(text.trim());
  if (!m || (!suffix && m[2] !== '')) throw new FormatError(`.alloc.cfg: ${key} '${text}' is not a number`);
  const n = Number(m[1]) * UNIT[m[2]!.toLowerCase()]!;
  if (!Number.isSafeInteger(n)) throw new FormatError(`.alloc.cfg: ${key} '${text}' is too large`);
  return n;
}

export function parseAllocCfg(text: string): InterleaveParams {
  const doc = parseDocument(text, { schema: 'failsafe' });
  if (doc.errors.length > 0) throw new FormatError(`.alloc.cfg: ${doc.errors[0]!.message.split('\n')[0]}`);
  const top = doc.contents;
  if (!isMap(top) || top.items.length === 0) throw new FormatError('.alloc.cfg: empty, or not a mapping');
  const p: InterleaveParams = { nbuckets: 0, nstrips: 0, chunkSize: DEFAULT_CHUNK_SIZE };
  for (const item of top.items) {
    const key = isScalar(item.key) ? String(item.key.value) : '';
    if (key !== 'interleaved_alloc') throw new FormatError(`.alloc.cfg: unknown key '${key}'`);
    if (!isMap(item.value)) throw new FormatError('.alloc.cfg: interleaved_alloc is not a mapping');
    for (const kv of item.value.items) {
      const k = isScalar(kv.key) ? String(kv.key.value) : '';
      const v = isScalar(kv.value) ? String(kv.value.value) : '';
      if (k === 'nbuckets') p.nbuckets = number(v, k, false);
      else if (k === 'nstrips') p.nstrips = number(v, k, false);
      else if (k === 'chunk_size') p.chunkSize = number(v, k, true);
      else throw new FormatError(`.alloc.cfg: unknown key '${k}' in interleaved_alloc`);
    }
  }
  return p;
}
