import { MemoryDevice } from '../../src/device/device.js';
import { DEFAULT_LOG_LEN, LOG_OFFSET } from '../../src/format/layout.js';
import { LOG_HEADER_OFF, decodeLogHeader, entryOffset } from '../../src/format/log-header.js';
import { writeU64 } from '../../src/struct/le.js';

/**
 * Appends the entry `make` builds for the next slot straight into the device's log (default
 * length), as another writer would: no famfs checks, no log lock. The tests make entries the
 * master's own code refuses to write.
 */
export function appendForeign(dev: string, make: (seqnum: number) => Buffer): void {
  const d = MemoryDevice.open(dev, { writable: true });
  try {
    const m = d.map(LOG_OFFSET, DEFAULT_LOG_LEN, { writable: true });
    try {
      const next = decodeLogHeader(m.buffer, DEFAULT_LOG_LEN).nextIndex;
      m.buffer.set(make(next), entryOffset(next));
      writeU64(m.buffer, LOG_HEADER_OFF.nextSeqnum, next + 1);
      writeU64(m.buffer, LOG_HEADER_OFF.nextIndex, next + 1);
      m.flush();
    } finally {
      m.unmap();
    }
  } finally {
    d.close();
  }
}
