import type { DeviceMapping, MemoryDevice } from './device.js';

/**
 * Views of a device's memory for a data path that touches any part of it (the FUSE daemon):
 * the device is mapped lazily in fixed, aligned windows, each mapped once and kept, so a read
 * costs no system call and no copy. A range that crosses a window boundary comes back as two
 * views.
 */
const WINDOW_BYTES = 1024 ** 3;

export class DeviceWindows {
  private readonly windows = new Map<number, DeviceMapping>();

  constructor(private readonly device: MemoryDevice, private readonly writable: boolean) {}

  /** False when this host sees the device through its own cache (MemoryDevice.coherent). */
  get coherent(): boolean {
    return this.device.coherent;
  }

  /** Writes [offset, offset + len) back for other hosts (DeviceMapping.flush, window by window). */
  flush(offset: number, len: number): void {
    this.each(offset, len, (m, at, n) => m.flush(at, n));
  }

  /** Drops this host's copy of [offset, offset + len) (DeviceMapping.invalidate, window by window). */
  invalidate(offset: number, len: number): void {
    this.each(offset, len, (m, at, n) => m.invalidate(at, n));
  }

  /** Views covering [offset, offset + len) of the device, in order. */
  views(offset: number, len: number, out: Buffer[] = []): Buffer[] {
    this.each(offset, len, (m, at, n) => out.push(m.buffer.subarray(at, at + n)));
    return out;
  }

  /** Calls `op` for each window's part of [offset, offset + len), in order. */
  private each(offset: number, len: number, op: (m: DeviceMapping, at: number, n: number) => void): void {
    let pos = offset;
    const end = offset + len;
    while (pos < end) {
      const w = Math.floor(pos / WINDOW_BYTES);
      const start = w * WINDOW_BYTES;
      const n = Math.min(end, start + WINDOW_BYTES) - pos;
      op(this.window(w), pos - start, n);
      pos += n;
    }
  }

  private window(w: number): DeviceMapping {
    let m = this.windows.get(w);
    if (!m) {
      const start = w * WINDOW_BYTES;
      m = this.device.map(start, Math.min(WINDOW_BYTES, this.device.size - start), { writable: this.writable });
      this.windows.set(w, m);
    }
    return m;
  }

  close(): void {
    for (const m of this.windows.values()) m.unmap();
    this.windows.clear();
  }
}
