import { readFileSync } from 'node:fs';

const MAX_MAP_COUNT_PATH = '/proc/sys/vm/max_map_count';
const SELF_MAPS_PATH = '/proc/self/maps';
/** The kernel default, for when /proc cannot be read. */
const DEFAULT_MAX_MAP_COUNT = 65530;
/** Mappings left for everything else in the process (the V8 heap grows by mapping). */
const VMA_HEADROOM = 4096;
/** Up to this many pieces a mapping is assumed to fit without reading /proc (a simple-extent file
 * has at most 16). */
export const FEW_PIECES = 64;

export function maxMapCount(): number {
  try {
    const n = Number(readFileSync(MAX_MAP_COUNT_PATH, 'utf8').trim());
    return Number.isSafeInteger(n) && n > 0 ? n : DEFAULT_MAX_MAP_COUNT;
  } catch {
    return DEFAULT_MAX_MAP_COUNT;
  }
}

/** Mappings the process has now: one line each in /proc/self/maps. */
function mappingsInUse(): number {
  try {
    const text = readFileSync(SELF_MAPS_PATH, 'latin1');
    let lines = 0;
    for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) lines++;
    return lines;
  } catch {
    return 0;
  }
}

/** Kernel mappings one more file mapping may take without starving the rest of the process. */
export function mappingBudget(): number {
  return Math.max(0, maxMapCount() - mappingsInUse() - VMA_HEADROOM);
}
