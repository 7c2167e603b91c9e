import { FormatError, formatRangeFault } from '../errors.js';
import { readFixedString, readU64n, writeU64n } from '../struct/le.js';
import { bytes, defineStruct } from '../struct/struct.js';
import { famfsCrc } from './crc.js';
import { ALLOC_UNIT, DEVNAME_FIELD_SIZE, LOG_OFFSET, VALID_ALLOC_UNITS } from './layout.js';
import { UUID_SIZE } from './uuid.js';

/**
 * struct famfs_superblock: 200 bytes at device offset 0; its last three fields are the primary
 * device's record (struct famfs_daxdev: size, UUID, path).
 */
const SUPERBLOCK = defineStruct('famfs_superblock', 200, {
  magic: 'u64n',
  version: 'u64n',
  logOffset: 'u64',
  logLen: 'u64',
  allocUnit: 'u64',
  omfMajor: 'u32',
  omfMinor: 'u32',
  uuid: bytes(UUID_SIZE),
  devUuid: bytes(UUID_SIZE),
  systemUuid: bytes(UUID_SIZE),
  crc: 'u64n',
  flags: 'u32',
  devSize: 'u64',
  ddUuid: bytes(UUID_SIZE),
  devName: bytes(DEVNAME_FIELD_SIZE),
}, { fault: formatRangeFault });
export const SUPERBLOCK_SIZE = SUPERBLOCK.SIZE;
const SUPER_MAGIC = 0x87b282ffn;
export const CURRENT_VERSION = 48;
export const OMF_VER_MAJOR = 2;
export const OMF_VER_MINOR = 2;
/** The CRC covers the fields before it, not the flags nor the device record. */
export const SB_CRC_COVERED = SUPERBLOCK.OFF.crc;
/**
 * ts_sb_flags bits (upstream defines them, never writes them). A primary keeps 0 as upstream
 * writes it; a device added with `famfs adddev` carries SECONDARY and no log (offset and length 0).
 */
export const SB_FLAG = { PRIMARY: 1 << 0, SECONDARY: 1 << 1 } as const;

const OFF = SUPERBLOCK.OFF;

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
  const b = SUPERBLOCK.alloc({
    ...sb, magic: SUPER_MAGIC, version: BigInt(sb.version), crc: 0n, ddUuid: Buffer.alloc(UUID_SIZE), devName: Buffer.from(sb.devName),
  });
  writeU64n(b, OFF.crc, BigInt(famfsCrc(b, 0, SB_CRC_COVERED)));
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
  if (readU64n(bytes, OFF.magic) !== SUPER_MAGIC) {
    throw new SuperblockError('no famfs superblock (bad magic)', 'magic');
  }
  const versionBig = readU64n(bytes, OFF.version);
  if (versionBig !== BigInt(CURRENT_VERSION)) {
    const v = Number(versionBig);
    throw new SuperblockError(
      `unsupported superblock version ${versionBig} (this famfs reads version ${CURRENT_VERSION})`, 'version', v);
  }
  const stored = readU64n(bytes, OFF.crc);
  const computed = famfsCrc(bytes, 0, SB_CRC_COVERED);
  if (stored !== BigInt(computed)) {
    throw new SuperblockError(
      `superblock CRC mismatch (stored 0x${stored.toString(16)}, computed 0x${computed.toString(16)})`, 'crc');
  }
  const f = SUPERBLOCK.decode(bytes);
  const sb: Superblock = {
    version: CURRENT_VERSION,
    logOffset: f.logOffset,
    logLen: f.logLen,
    allocUnit: f.allocUnit,
    omfMajor: f.omfMajor,
    omfMinor: f.omfMinor,
    uuid: f.uuid,
    devUuid: f.devUuid,
    systemUuid: f.systemUuid,
    flags: f.flags,
    devSize: f.devSize,
    devName: readFixedString(bytes, OFF.devName, DEVNAME_FIELD_SIZE, 'latin1'),
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
  return bytes.length >= 8 && readU64n(bytes, OFF.magic) === SUPER_MAGIC;
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
