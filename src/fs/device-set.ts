import { readdirSync, realpathSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { MemoryDevice } from '../device/device.js';
import { DeviceError, FamfsError, UsageError } from '../errors.js';
import { SUPERBLOCK_REGION_SIZE } from '../format/layout.js';
import { secondaryMismatch } from '../format/secondary-superblock.js';
import { decodeSuperblock } from '../format/superblock.js';
import { formatUuid } from '../format/uuid.js';
import type { DeviceRecord } from './replay.js';

/** Environment variable naming where this host sees added devices: `1=/dev/dax1.0,2=/dev/dax2.0`. */
export const DEVICE_MAP_ENV = 'FAMFS_DEVICE_MAP';

/** Device index → path on this host, for devices added with `famfs adddev`. */
export type DeviceMap = ReadonlyMap<number, string>;

/** Names under /dev that can be memory devices; nothing else there is ever opened while looking. */
const DEV_DIR = '/dev';
const MEMORY_DEVICE_NAME = /^(dax\d+\.\d+|pmem\d+(\.\d+)?)$/;
/** A device not found is not looked for again this soon: a data path must not rescan per read. */
const MISSING_RETRY_MS = 5000;

/** `idx=path` items (comma-separated, or one per repeated option) into a map; index 0 is the primary. */
export function parseDeviceMap(items: readonly string[]): Map<number, string> {
  const out = new Map<number, string>();
  for (const item of items.flatMap((s) => s.split(',')).map((s) => s.trim()).filter((s) => s !== '')) {
    const m = /^(\d+)=(.+)$/.exec(item);
    if (!m) throw new UsageError(`bad device map item '${item}': expected <index>=<path>`);
    const index = Number(m[1]);
    if (index < 1) throw new UsageError(`bad device map item '${item}': device 0 is the primary, named by the device argument`);
    if (out.has(index)) throw new UsageError(`device ${index} is mapped twice`);
    out.set(index, m[2]!);
  }
  return out;
}

/** The map from $FAMFS_DEVICE_MAP, empty when unset. */
export function deviceMapFromEnv(): Map<number, string> {
  return parseDeviceMap([process.env[DEVICE_MAP_ENV] ?? '']);
}

/** Why the device at `path` is not the added device `rec` of file system `fsUuid`; undefined when it is. */
function checkAddedDevice(device: MemoryDevice, rec: DeviceRecord, fsUuid: Buffer): string | undefined {
  if (device.size < rec.size) return `it has ${device.size} bytes, but device ${rec.index} was added with ${rec.size}`;
  const m = device.map(0, SUPERBLOCK_REGION_SIZE, { writable: false });
  try {
    m.invalidate();
    return secondaryMismatch(decodeSuperblock(m.buffer), fsUuid, rec.uuid);
  } catch (err) {
    if (err instanceof FamfsError) return err.message;
    throw err;
  } finally {
    m.unmap();
  }
}

/**
 * The memory devices of one file system on this host. The log records an added device by its
 * UUID and size, never by path (each host may see it under another name), so a device is found
 * here: at the path the device map gives (`--device-map N=path` or $FAMFS_DEVICE_MAP), else by
 * looking for the device whose secondary superblock carries that UUID — among the DAX and pmem
 * devices in /dev and the files next to the primary (where emulated devices live). Whatever path
 * is used, the superblock is checked, so a wrong map entry is an error, never a silent misread.
 * Devices are opened on first use and kept until close().
 */
export class DeviceSet {
  private readonly opened = new Map<number, MemoryDevice>();
  private readonly missing = new Map<number, { at: number; error: DeviceError }>();

  constructor(
    primary: MemoryDevice,
    private readonly fsUuid: Buffer,
    private readonly map: DeviceMap,
    private readonly writable: boolean,
    /** Whose view of a non-coherent emulated device to open (MemoryDevice.open's `host`). */
    private readonly host?: Uint8Array,
  ) {
    this.opened.set(0, primary);
  }

  get primary(): MemoryDevice {
    return this.opened.get(0)!;
  }

  /** The device indexes the device map names, in order. */
  mappedIndexes(): number[] {
    return [...this.map.keys()].sort((a, b) => a - b);
  }

  /** The device `rec` describes, opened (writable when the set is); a DeviceError when it cannot be found. */
  get(rec: DeviceRecord): MemoryDevice {
    const have = this.opened.get(rec.index);
    if (have) return have;
    const miss = this.missing.get(rec.index);
    if (miss && Date.now() - miss.at < MISSING_RETRY_MS) throw miss.error;
    let device: MemoryDevice;
    try {
      device = this.find(rec);
    } catch (err) {
      if (err instanceof DeviceError) this.missing.set(rec.index, { at: Date.now(), error: err });
      throw err;
    }
    this.missing.delete(rec.index);
    this.opened.set(rec.index, device);
    return device;
  }

  private find(rec: DeviceRecord): MemoryDevice {
    const what = `device ${rec.index} of famfs ${formatUuid(this.fsUuid)} (device UUID ${formatUuid(rec.uuid)}, ${rec.size} bytes)`;
    const mapped = this.map.get(rec.index);
    if (mapped !== undefined) {
      const device = this.tryOpen(mapped);
      if (!device) throw new DeviceError('ENODEV', `${what}: ${mapped} given in the device map cannot be opened`);
      const problem = checkAddedDevice(device, rec, this.fsUuid);
      device.close();
      if (problem) throw new DeviceError('ENODEV', `${what}: ${mapped} given in the device map is not it: ${problem}`);
      return MemoryDevice.open(mapped, { writable: this.writable, host: this.host });
    }
    for (const path of this.candidates()) {
      const device = this.tryOpen(path);
      if (!device) continue;
      const problem = checkAddedDevice(device, rec, this.fsUuid);
      device.close();
      if (problem === undefined) return MemoryDevice.open(path, { writable: this.writable, host: this.host });
    }
    throw new DeviceError('ENODEV', `${what} was not found on this host; name it with --device-map ${rec.index}=<path> or $${DEVICE_MAP_ENV}`);
  }

  /** Read-only: a candidate is only looked at until its superblock says it is the one. */
  private tryOpen(path: string): MemoryDevice | undefined {
    try {
      return MemoryDevice.open(path, { writable: false, host: this.host });
    } catch (err) {
      if (err instanceof FamfsError) return undefined;
      throw err;
    }
  }

  /** Paths that may be an added device, skipping the devices already open. */
  private candidates(): string[] {
    const taken = new Set([...this.opened.values()].map((d) => realOrSelf(d.path)));
    const out: string[] = [];
    const consider = (path: string, memoryName: boolean): void => {
      if (taken.has(realOrSelf(path))) return;
      try {
        const st = statSync(path);
        // In /dev only memory devices; elsewhere only regular files (emulated devices).
        if (memoryName ? st.isCharacterDevice() || st.isBlockDevice() : st.isFile() && st.size > SUPERBLOCK_REGION_SIZE) out.push(path);
      } catch {
        // Gone while looking: not a candidate.
      }
    };
    for (const name of listDir(DEV_DIR)) if (MEMORY_DEVICE_NAME.test(name)) consider(join(DEV_DIR, name), true);
    const home = dirname(realOrSelf(this.primary.path));
    if (home !== DEV_DIR) for (const name of listDir(home)) consider(join(home, name), false);
    return out;
  }

  close(): void {
    for (const d of this.opened.values()) d.close();
    this.opened.clear();
  }
}

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir).sort();
  } catch {
    return [];
  }
}

function realOrSelf(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}
