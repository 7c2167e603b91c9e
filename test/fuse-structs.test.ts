/**
 * The FUSE struct declarations (src/fuse/abi/structs.ts) against the C compiler's reading of the
 * system's <linux/fuse.h>: sizeof and offsetof of every field both have, so a layout this
 * project derives from a field list is checked against the kernel's header, not against itself.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import * as S from '../src/fuse/abi/structs.js';

interface Declared {
  readonly name: string;
  readonly SIZE: number;
  readonly OFF: Readonly<Record<string, number>>;
}

/** [declaration, C struct, the C names of fields whose camelCase name is not the C name in snake_case]. */
const CASES: ReadonlyArray<readonly [Declared, string, Readonly<Record<string, string>>?]> = [
  [S.IN_HEADER, 'fuse_in_header'], [S.OUT_HEADER, 'fuse_out_header'], [S.ATTR, 'fuse_attr'], [S.ENTRY_OUT, 'fuse_entry_out'],
  [S.ATTR_OUT, 'fuse_attr_out'], [S.INIT_IN, 'fuse_init_in'], [S.INIT_OUT, 'fuse_init_out'], [S.OPEN_IN, 'fuse_open_in'],
  [S.OPEN_OUT, 'fuse_open_out'], [S.GETATTR_IN, 'fuse_getattr_in'], [S.SETATTR_IN, 'fuse_setattr_in'],
  [S.READ_IN, 'fuse_read_in', { ioFlags: 'read_flags' }], [S.WRITE_IN, 'fuse_write_in', { ioFlags: 'write_flags' }],
  [S.WRITE_OUT, 'fuse_write_out'], [S.KSTATFS, 'fuse_kstatfs'], [S.STATFS_OUT, 'fuse_statfs_out'], [S.RELEASE_IN, 'fuse_release_in'],
  [S.FLUSH_IN, 'fuse_flush_in'], [S.FSYNC_IN, 'fuse_fsync_in'], [S.SETXATTR_IN, 'fuse_setxattr_in'], [S.GETXATTR_IN, 'fuse_getxattr_in'],
  [S.GETXATTR_OUT, 'fuse_getxattr_out'], [S.ACCESS_IN, 'fuse_access_in'], [S.FORGET_IN, 'fuse_forget_in'],
  [S.BATCH_FORGET_IN, 'fuse_batch_forget_in'], [S.FORGET_ONE, 'fuse_forget_one'], [S.MKNOD_IN, 'fuse_mknod_in'],
  [S.MKDIR_IN, 'fuse_mkdir_in'], [S.CREATE_IN, 'fuse_create_in'], [S.RENAME_IN, 'fuse_rename_in'], [S.RENAME2_IN, 'fuse_rename2_in'],
  [S.LINK_IN, 'fuse_link_in'], [S.INTERRUPT_IN, 'fuse_interrupt_in'], [S.LSEEK_IN, 'fuse_lseek_in'], [S.LSEEK_OUT, 'fuse_lseek_out'],
  [S.FALLOCATE_IN, 'fuse_fallocate_in'], [S.DIRENT, 'fuse_dirent'], [S.DIRENTPLUS, 'fuse_direntplus'],
  [S.NOTIFY_INVAL_INODE_OUT, 'fuse_notify_inval_inode_out'], [S.NOTIFY_INVAL_ENTRY_OUT, 'fuse_notify_inval_entry_out'],
  [S.NOTIFY_DELETE_OUT, 'fuse_notify_delete_out'],
];

/**
 * Fields newer than the oldest header this test must build against (7.38, Linux 6.5: what the
 * distribution's linux-libc-dev ships): where 7.38 has padding or unused words they hold.
 */
const NEWER_THAN_738 = new Set(['fuse_init_out.maxStackDepth', 'fuse_init_out.requestTimeout', 'fuse_open_out.backingId']);
/** Sizes that differ by design: setxattr_in is sent without SETXATTR_EXT (FUSE_COMPAT_SETXATTR_IN_SIZE). */
const SIZE_OF: Readonly<Record<string, string>> = { fuse_setxattr_in: 'FUSE_COMPAT_SETXATTR_IN_SIZE' };

const snake = (name: string): string => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/** What the C compiler says: "struct size" and "struct.field offset" lines, by key. */
function compilerLayout(): Map<string, number> {
  const lines: string[] = [];
  for (const [decl, cName, renamed] of CASES) {
    lines.push(`  printf("%s %zu\\n", "${cName}", (size_t)(${SIZE_OF[cName] ?? `sizeof(struct ${cName})`}));`);
    for (const field of Object.keys(decl.OFF)) {
      if (field.startsWith('_') || NEWER_THAN_738.has(`${cName}.${field}`)) continue;
      const cField = renamed?.[field] ?? snake(field);
      lines.push(`  printf("%s %zu\\n", "${cName}.${field}", offsetof(struct ${cName}, ${cField}));`);
    }
  }
  const dir = mkdtempSync(join(tmpdir(), 'famfs-fuse-structs-'));
  try {
    const src = join(dir, 'layout.c');
    const exe = join(dir, 'layout');
    writeFileSync(src, `#include <stddef.h>\n#include <stdio.h>\n#include <linux/fuse.h>\nint main(void) {\n${lines.join('\n')}\n  return 0;\n}\n`);
    const cc = spawnSync('gcc', ['-std=gnu11', '-o', exe, src], { encoding: 'utf8' });
    assert.equal(cc.status, 0, `gcc failed: ${cc.stderr}`);
    const run = spawnSync(exe, { encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
    return new Map(run.stdout.trim().split('\n').map((l) => {
      const [key, value] = l.split(' ');
      return [key!, Number(value)];
    }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('FUSE struct declarations', () => {
  it('have the sizes and field offsets the C compiler gives the kernel header', () => {
    const c = compilerLayout();
    let fields = 0;
    for (const [decl, cName] of CASES) {
      assert.equal(decl.SIZE, c.get(cName), `sizeof(struct ${cName})`);
      for (const [field, off] of Object.entries(decl.OFF)) {
        const key = `${cName}.${field}`;
        if (!c.has(key)) continue;
        assert.equal(off, c.get(key), `offsetof(struct ${cName}, ${field})`);
        fields++;
      }
    }
    // Every field the compiler was asked about was compared: 148 offsets in 41 structs.
    assert.equal(fields, c.size - CASES.length);
    assert.equal(fields, 148);
  });
});
