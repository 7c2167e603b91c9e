import type { DeviceRange } from '../format/device-range.js';
import type { Fmap } from '../format/fmap.js';
import { resolveRange } from '../fs/resolve.js';

/** A run of file bytes stored contiguously on one device: the device range, and where it starts in the file. */
export interface MapPiece extends Readonly<DeviceRange> {
  readonly fileOffset: number;
}

/**
 * The device pieces holding file bytes [0, size), in file order (spec §3 math, via resolveRange),
 * with their file offsets. `tail` extra bytes are added to the last piece: a mapping covers whole
 * pages, and the rest of the file's last page lies in the same allocation unit, right after it.
 */
export function filePieces(fmap: Fmap, size: number, tail = 0): MapPiece[] {
  const out: MapPiece[] = [];
  let at = 0;
  for (const p of resolveRange(fmap, size, 0, size)) {
    out.push({ fileOffset: at, devIndex: p.devIndex, offset: p.offset, len: p.len });
    at += p.len;
  }
  if (tail > 0 && out.length > 0) {
    const last = out[out.length - 1]!;
    out[out.length - 1] = { ...last, len: last.len + tail };
  }
  return out;
}
