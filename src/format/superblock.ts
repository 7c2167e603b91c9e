import { FormatError } from '../errors.js';
import { readCString, readU32, readU64, readU64Big, writeCString, writeU32, writeU64 } from './bytes.js';
import { famfsCrc } from './crc.js';
import { ALLOC_UNIT, DEVNAME_FIELD_SIZE, LOG_OFFSET, VALID_ALLOC_UNITS } from './layout.js';
import { UUID_SIZE, readUuid } from './uuid.js';

/** struct famfs_superblock: 200 bytes at device offset 0. */
export const SUPERBLOCK_SIZE = 200;
const SUPER_MAGIC = 0x87b282ffn;
export const CURRENT_VERSION = 48;
export const OMF_VER_MAJOR = 2;
export const OMF_VER_MINOR = 2;
/** The CRC covers the fields before it, not the flags nor the device record. */
export const SB_CRC_COVERED = 96;
/**
 * ts_sb_flags bits (upstream defines them, never writes them). A primary keeps 0 as upstream
 * writes it; a device added with `famfs adddev` carries SECONDARY and no log (offset and length 0).
 */
export const SB_FLAG = { PRIMARY: 1 << 0, SECONDARY: 1 << 1 } as const;

const OFF = {
  magic: 0,
  version: 8,
  logOffset: 16,
  logLen: 24,
  allocUnit: 32,
  omfMajor: 40,
  omfMinor: 44,
  uuid: 48,
  devUuid: 64,
  systemUuid: 80,
  crc: 96,
  flags: 104,
  devSize: 112,
  ddUuid: 120,
  devName: 136,
} as const;

export interface Superblock {
  version: number;
  logOffset: number;
  logLen: number;
  allocUnit: number;
  omfMajor: number;
  omfMinor: number;
  uuid: Buffer;
  devUuid: Buffer;
  systemUuid: Buffer;
  flags: number;
  /** Primary device size in bytes (not CRC-protected on media). */
  devSize: number;
  /** Device path as given to mkfs. */
  devName: string;
}

export function encodeSuperblock(sb: Superblock): Buffer {
  const b = Buffer.alloc(SUPERBLOCK_SIZE);
  writeU64(b, OFF.magic, SUPER_MAGIC);
  writeU64(b, OFF.version, sb.version);
  writeU64(b, OFF.logOffset, sb.logOffset);
  writeU64(b, OFF.logLen, sb.logLen);
  writeU64(b, OFF.allocUnit, sb.allocUnit);
  writeU32(b, OFF.omfMajor, sb.omfMajor);
  writeU32(b, OFF.omfMinor, sb.omfMinor);
  b.set(sb.uuid.subarray(0, UUID_SIZE), OFF.uuid);
  b.set(sb.devUuid.subarray(0, UUID_SIZE), OFF.devUuid);
  b.set(sb.systemUuid.subarray(0, UUID_SIZE), OFF.systemUuid);
  writeU64(b, OFF.crc, famfsCrc(b, 0, SB_CRC_COVERED));
  writeU32(b, OFF.flags, sb.flags);
  writeU64(b, OFF.devSize, sb.devSize);
  writeCString(b, OFF.devName, DEVNAME_FIELD_SIZE, Buffer.from(sb.devName));
  return b;
}

/** Why a superblock was refused; `version` is set when only the version is wrong. */
export class SuperblockError extends FormatError {
  constructor(message: string, readonly reason: 'magic' | 'version' | 'crc' | 'field', readonly version?: number) {
    super(message);
  }
}

/**
 * Decode and validate, in upstream's order: magic, version (exactly 48), CRC, allocation
 * unit; then the fields upstream trusts blindly (log offset and length), because a
 * corrupt value there would send every later read astray.
 */
export function decodeSuperblock(bytes: Buffer): Superblock {
  if (bytes.length < SUPERBLOCK_SIZE) throw new SuperblockError('superblock is truncated', 'field');
  if (readU64Big(bytes, OFF.magic) !== SUPER_MAGIC) {
    throw new SuperblockError('no famfs superblock (bad magic)', 'magic');
  }
  const versionBig = readU64Big(bytes, OFF.version);
  if (versionBig !== BigInt(CURRENT_VERSION)) {
    const v = Number(versionBig);
    throw new SuperblockError(
      `unsupported superblock version ${versionBig} (this famfs reads version ${CURRENT_VERSION})`, 'version', v);
  }
  const stored = readU64Big(bytes, OFF.crc);
  const computed = famfsCrc(bytes, 0, SB_CRC_COVERED);
  if (stored !== BigInt(computed)) {
    throw new SuperblockError(
      `superblock CRC mismatch (stored 0x${stored.toString(16)}, computed 0x${computed.toString(16)})`, 'crc');
  }
  const sb: Superblock = {
    version: CURRENT_VERSION,
    logOffset: readU64(bytes, OFF.logOffset, 'log offset'),
    logLen: readU64(bytes, OFF.logLen, 'log length'),
    allocUnit: readU64(bytes, OFF.allocUnit, 'allocation unit'),
    omfMajor: readU32(bytes, OFF.omfMajor),
    omfMinor: readU32(bytes, OFF.omfMinor),
    uuid: readUuid(bytes, OFF.uuid),
    devUuid: readUuid(bytes, OFF.devUuid),
    systemUuid: readUuid(bytes, OFF.systemUuid),
    flags: readU32(bytes, OFF.flags),
    devSize: readU64(bytes, OFF.devSize, 'device size'),
    devName: readCString(bytes, OFF.devName, DEVNAME_FIELD_SIZE, 'latin1'),
  };
  if (!VALID_ALLOC_UNITS.includes(sb.allocUnit)) {
    throw new SuperblockError(`superblock has an invalid allocation unit 0x${sb.allocUnit.toString(16)}`, 'field');
  }
  if (sb.omfMajor !== OMF_VER_MAJOR) {
    throw new SuperblockError(`unsupported on-media format ${sb.omfMajor}.${sb.omfMinor}`, 'field');
  }
  // A secondary device's superblock has no log (offset and length 0); its readers check that.
  if (sb.logOffset !== LOG_OFFSET && (sb.flags & SB_FLAG.SECONDARY) === 0) {
    throw new SuperblockError(`superblock has an invalid log offset 0x${sb.logOffset.toString(16)}`, 'field');
  }
  return sb;
}

/** The magic alone: is there any famfs here (perhaps of another version, perhaps corrupt)? */
export function hasSuperMagic(bytes: Buffer): boolean {
  return bytes.length >= 8 && readU64Big(bytes, OFF.magic) === SUPER_MAGIC;
}

/** Offset of the magic, for `mkfs -k` which kills a file system by zeroing just that. */
export const SUPER_MAGIC_OFFSET = OFF.magic;

export function newSuperblock(p: {
  logLen: number; devSize: number; devName: string; uuid: Buffer; devUuid: Buffer; systemUuid: Buffer;
}): Superblock {
  return {
    version: CURRENT_VERSION,
    logOffset: LOG_OFFSET,
    logLen: p.logLen,
    allocUnit: ALLOC_UNIT,
    omfMajor: OMF_VER_MAJOR,
    omfMinor: OMF_VER_MINOR,
    uuid: p.uuid,
    devUuid: p.devUuid,
    systemUuid: p.systemUuid,
    flags: 0,
    devSize: p.devSize,
    devName: p.devName,
  };
}
