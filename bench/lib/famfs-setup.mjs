// Emulated devices with a file system made by the master, as every famfs case needs.
import { closeSync, openSync, writeSync } from 'node:fs';
import { createEmulatedDevice } from '../../dist/src/device/emulated.js';
import { mkfs } from '../../dist/src/fs/mkfs.js';
import { parseUuid } from '../../dist/src/format/uuid.js';
import { Famfs } from '../../dist/src/api/index.js';
import { MASTER_UUID, MIB, shmPath } from './common.mjs';

/** The superblock and the 8 MiB log take the first 10 MiB; room for them, rounded to 2 MiB units. */
export const METADATA_RESERVE = 16 * MIB;
/** mkfs refuses devices under 4 GiB; emulated devices are sparse, so a large one costs nothing. */
export const MIN_DEVICE = 4 * 1024 * MIB;

/** A fresh emulated device of at least `size` bytes with an empty famfs on it (removed on cleanup). */
export function makeFs(tag, size) {
  const dev = shmPath(tag);
  createEmulatedDevice(dev, Math.max(MIN_DEVICE, size));
  mkfs(dev, { systemUuid: parseUuid(MASTER_UUID) });
  return dev;
}

/** The public API, opened as the master. */
export function openApi(dev) {
  return Famfs.open(dev, { systemUuid: MASTER_UUID });
}

/**
 * Gives a file real pages, so every later read touches resident memory: the pattern is written with
 * pwrite(2) to the device file, which allocates tmpfs pages in bulk; writing through a mapping
 * would take one write fault per 4 KiB page, several seconds per GiB on this VM.
 */
export function fillFile(fs, dev, path) {
  const chunk = patternChunk();
  const fd = openSync(dev, 'r+');
  try {
    for (const p of fs.getmap(path).pieces) {
      for (let at = 0; at < p.len; at += MIB) writeSync(fd, chunk, 0, Math.min(MIB, p.len - at), p.offset + at);
    }
  } finally {
    closeSync(fd);
  }
}

/**
 * A fresh device holding one filled file `big` of `size` bytes, the data every read case serves:
 * its device and the file's offset in it (where the C anchor, serving the whole device, reads it).
 */
export function makeDataFile(tag, size) {
  const dev = makeFs(tag, size + METADATA_RESERVE);
  const api = openApi(dev);
  try {
    api.creat('big', { size });
    fillFile(api, dev, 'big');
    return { dev, offset: api.getmap('big').pieces[0].offset };
  } finally {
    api.close();
  }
}

function patternChunk() {
  const pattern = Buffer.alloc(MIB);
  for (let i = 0; i < MIB; i++) pattern[i] = i % PATTERN_MOD;
  return pattern;
}

/** Nonzero bytes in every page. Buffer.copy is a memcpy; fill(number) is a slow element loop in Node 20. */
export function fillBuffer(buf) {
  const pattern = patternChunk();
  for (let i = 0; i < buf.length; i += MIB) pattern.copy(buf, i, 0, Math.min(MIB, buf.length - i));
}

/** A prime, so the pattern does not repeat on page boundaries. */
const PATTERN_MOD = 251;
