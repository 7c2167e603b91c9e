import type { DeviceRange } from '../format/device-range.js';
import type { Fmap } from '../format/fmap.js';

/**
 * Where the bytes [off, off + len) of a file live, in file order, clamped to the file size.
 * Simple files walk their extents; interleaved files rotate chunks round-robin across strips
 * (chunk n is in strip n % nstrips, stripe n / nstrips), the math of the kernel's famfs
 * fault path. Adjacent pieces that are contiguous on the device are merged.
 */
export function resolveRange(fmap: Fmap, size: number, off: number, len: number): DeviceRange[] {
  const end = Math.min(size, off + len);
  const out: DeviceRange[] = [];
  const push = (devIndex: number, offset: number, n: number): void => {
    const last = out[out.length - 1];
    if (last && last.devIndex === devIndex && last.offset + last.len === offset) last.len += n;
    else out.push({ devIndex, offset, len: n });
  };
  if (off >= end) return out;
  if (fmap.kind === 'simple') {
    let base = 0;
    for (const e of fmap.extents) {
      if (base >= end) break;
      const from = Math.max(off, base);
      const to = Math.min(end, base + e.len);
      if (from < to) push(e.devIndex, e.offset + (from - base), to - from);
      base += e.len;
    }
    return out;
  }
  const { chunkSize, nstrips, strips } = fmap;
  for (let pos = off; pos < end;) {
    const chunk = Math.floor(pos / chunkSize);
    const within = pos - chunk * chunkSize;
    const strip = strips[chunk % nstrips]!;
    const stripe = Math.floor(chunk / nstrips);
    const n = Math.min(chunkSize - within, end - pos);
    push(strip.devIndex, strip.offset + stripe * chunkSize + within, n);
    pos += n;
  }
  return out;
}
