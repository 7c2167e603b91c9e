/**
 * The C code that mirrors this project's struct declarations, held to them: the BPF program's
 * header (bpf/famfs_bpf_fmap.h) through gcc's sizeof/offsetof, and the native replay's offsets
 * (the #defines of native/replay.c) by value. A layout changed on one side only fails here.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { PUBLISHED_FMAP } from '../src/bpf/fmap-layout.js';
import { RESOLVE_RECORD } from '../src/bpf/resolve-record.js';
import { FILE_META } from '../src/format/file-meta.js';
import { EXTENT_TYPE, FMAP, INTERLEAVED_EXTENT, MAX_SIMPLE_EXTENTS, SIMPLE_EXTENT } from '../src/format/fmap.js';
import { RELPATH_FIELD_SIZE } from '../src/format/layout.js';
import { LOG_ENTRY } from '../src/format/log-entry.js';
import { MKDIR_ENTRY } from '../src/format/mkdir-entry.js';
import { UAPI_SIMPLE_EXTENT } from '../src/format/uapi-extent.js';

/** The checkout's root, from dist/test/ or test/. */
const ROOT = [join(dirname(fileURLToPath(import.meta.url)), '..', '..'), join(dirname(fileURLToPath(import.meta.url)), '..')]
  .find((d) => { try { return readFileSync(join(d, 'package.json'), 'utf8').includes('"famfs-ts"'); } catch { return false; } })!;

describe('C mirrors of the struct declarations', () => {
  it('bpf/famfs_bpf_fmap.h lays out the published record and the resolve record as the TypeScript declarations do', () => {
    const probes: Array<[string, number]> = [
      ['sizeof(struct famfs_bpf_fmap)', PUBLISHED_FMAP.SIZE],
      ['offsetof(struct famfs_bpf_fmap, file_size)', PUBLISHED_FMAP.OFF.fileSize],
      ['offsetof(struct famfs_bpf_fmap, ext_type)', PUBLISHED_FMAP.OFF.extType],
      ['offsetof(struct famfs_bpf_fmap, nextents)', PUBLISHED_FMAP.OFF.nextents],
      ['offsetof(struct famfs_bpf_fmap, chunk_size)', PUBLISHED_FMAP.OFF.chunkSize],
      ['offsetof(struct famfs_bpf_fmap, version)', PUBLISHED_FMAP.OFF.version],
      ['offsetof(struct famfs_bpf_fmap, ext)', PUBLISHED_FMAP.OFF.extents],
      ['sizeof(struct famfs_bpf_extent)', UAPI_SIMPLE_EXTENT.SIZE],
      ['offsetof(struct famfs_bpf_extent, dev_index)', UAPI_SIMPLE_EXTENT.OFF.devIndex],
      ['offsetof(struct famfs_bpf_extent, offset)', UAPI_SIMPLE_EXTENT.OFF.offset],
      ['offsetof(struct famfs_bpf_extent, len)', UAPI_SIMPLE_EXTENT.OFF.len],
      ['sizeof(struct famfs_bpf_resolve)', RESOLVE_RECORD.SIZE],
      ['offsetof(struct famfs_bpf_resolve, ino)', RESOLVE_RECORD.OFF.ino],
      ['offsetof(struct famfs_bpf_resolve, offset)', RESOLVE_RECORD.OFF.offset],
      ['offsetof(struct famfs_bpf_resolve, length)', RESOLVE_RECORD.OFF.length],
      ['offsetof(struct famfs_bpf_resolve, dev_offset)', RESOLVE_RECORD.OFF.devOffset],
      ['offsetof(struct famfs_bpf_resolve, rc)', RESOLVE_RECORD.OFF.rc],
      ['offsetof(struct famfs_bpf_resolve, dev_index)', RESOLVE_RECORD.OFF.devIndex],
      ['FAMFS_BPF_EXT_SIMPLE', EXTENT_TYPE.SIMPLE],
      ['FAMFS_BPF_EXT_INTERLEAVE', EXTENT_TYPE.INTERLEAVE],
    ];
    const dir = mkdtempSync(join(tmpdir(), 'famfs-c-mirrors-'));
    try {
      const src = join(dir, 'probe.c');
      const exe = join(dir, 'probe');
      const body = probes.map(([expr]) => `  printf("%zu\\n", (size_t)(${expr}));`).join('\n');
      writeFileSync(src, `#include <stddef.h>\n#include <stdio.h>\n#include "famfs_bpf_fmap.h"\nint main(void) {\n${body}\n  return 0;\n}\n`);
      const cc = spawnSync('gcc', ['-std=gnu11', '-I', join(ROOT, 'bpf'), '-o', exe, src], { encoding: 'utf8' });
      assert.equal(cc.status, 0, `gcc failed: ${cc.stderr}`);
      const run = spawnSync(exe, { encoding: 'utf8' });
      const got = run.stdout.trim().split('\n').map(Number);
      assert.deepEqual(probes.map(([expr], i) => [expr, got[i]]), probes);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("native/replay.c's offsets are the log entry, FILE, MKDIR and fmap declarations'", () => {
    const text = readFileSync(join(ROOT, 'native', 'replay.c'), 'utf8');
    const defines = new Map([...text.matchAll(/^#define (\w+) (\d+)\b/gm)].map((m) => [m[1]!, Number(m[2])]));
    const expected: Record<string, number> = {
      ENTRY_SIZE: LOG_ENTRY.SIZE, ENTRY_CRC_COVERED: LOG_ENTRY.OFF.crc, ENTRY_SEQNUM: LOG_ENTRY.OFF.seqnum, ENTRY_TYPE: LOG_ENTRY.OFF.type,
      ENTRY_PAYLOAD: LOG_ENTRY.OFF.payload, ENTRY_CRC: LOG_ENTRY.OFF.crc,
      FM_SIZE: FILE_META.OFF.size, FM_FLAGS: FILE_META.OFF.flags, FM_UID: FILE_META.OFF.uid, FM_GID: FILE_META.OFF.gid,
      FM_MODE: FILE_META.OFF.mode, FM_RELPATH: FILE_META.OFF.relpath, FM_FMAP: FILE_META.OFF.fmap,
      MD_UID: MKDIR_ENTRY.OFF.uid, MD_GID: MKDIR_ENTRY.OFF.gid, MD_MODE: MKDIR_ENTRY.OFF.mode, MD_RELPATH: MKDIR_ENTRY.OFF.relpath,
      RELPATH_FIELD: RELPATH_FIELD_SIZE,
      FMAP_EXT_TYPE: FMAP.OFF.extType, FMAP_COUNT: FMAP.OFF.count, FMAP_UNION: FMAP.OFF.extents,
      EXT_SIMPLE: EXTENT_TYPE.SIMPLE, EXT_INTERLEAVE: EXTENT_TYPE.INTERLEAVE,
      SEXT_SIZE: SIMPLE_EXTENT.SIZE, SEXT_DEV: SIMPLE_EXTENT.OFF.devIndex, SEXT_OFFSET: SIMPLE_EXTENT.OFF.offset, SEXT_LEN: SIMPLE_EXTENT.OFF.len,
      IEXT_NSTRIPS: INTERLEAVED_EXTENT.OFF.nstrips, IEXT_CHUNK: INTERLEAVED_EXTENT.OFF.chunkSize, IEXT_STRIPS: INTERLEAVED_EXTENT.OFF.strips,
      MAX_EXTENTS: MAX_SIMPLE_EXTENTS,
    };
    assert.deepEqual(Object.fromEntries(Object.keys(expected).map((k) => [k, defines.get(k)])), expected);
  });
});
