import { closeSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { FormatError } from '../errors.js';
import { formatUuid, parseUuid, randomUuidBytes } from './uuid.js';

/**
 * A host's identity: the master is the host whose system UUID the superblock records.
 * Upstream keeps it in /opt/famfs/system_uuid as the canonical text plus its NUL.
 * FAMFS_SYSTEM_UUID overrides the file so that one machine can play several hosts.
 */
const SYSTEM_UUID_PATH = '/opt/famfs/system_uuid';
const SYSTEM_UUID_ENV = 'FAMFS_SYSTEM_UUID';
const UUID_TEXT_LEN = 36;
/** This host's identity decides who is master: readable by root only, as the devices are. */
const FILE_MODE = 0o600;
const DIR_MODE = 0o755;

export function encodeSystemUuidFile(uuid: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from(formatUuid(uuid), 'latin1'), Buffer.alloc(1)]);
}

export function decodeSystemUuidFile(bytes: Uint8Array): Buffer {
  const text = Buffer.from(bytes).toString('latin1').replace(/\0.*$/s, '').trim().slice(0, UUID_TEXT_LEN);
  return parseUuid(text);
}

/** This host's system UUID, creating the file the way upstream does when there is none. */
export function getSystemUuid(env: NodeJS.ProcessEnv = process.env, path = SYSTEM_UUID_PATH): Buffer {
  const override = env[SYSTEM_UUID_ENV];
  if (override !== undefined && override !== '') {
    try {
      return parseUuid(override);
    } catch {
      throw new FormatError(`${SYSTEM_UUID_ENV}='${override}' is not a UUID`);
    }
  }
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    const uuid = randomUuidBytes();
    mkdirSync(dirname(path), { recursive: true, mode: DIR_MODE });
    const fd = openSync(path, 'wx', FILE_MODE);
    try {
      writeSync(fd, encodeSystemUuidFile(uuid));
    } finally {
      closeSync(fd);
    }
    return uuid;
  }
  try {
    return decodeSystemUuidFile(bytes);
  } catch {
    throw new FormatError(`${path} does not hold a UUID`);
  }
}
