import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { mkfs } from '../src/fs/mkfs.js';
import { CLIENT_UUID, cleanupDevices, emuDevice, GiB, master, MASTER_UUID } from './helpers/emu.js';
import { runCli } from './helpers/run.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** Inside the package, so `import 'famfs-ts'` resolves to this build through package.json's exports. */
const scratch = mkdtempSync(join(root, 'dist', 'readme-example-'));
after(() => {
  rmSync(scratch, { recursive: true, force: true });
  cleanupDevices();
});

/** The README's one `js` block under "## Library". */
function readmeExample(): string {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Library'));
  const m = /```js\n([\s\S]*?)```/.exec(section);
  assert.ok(m, 'the README has a js example under "## Library"');
  return m[1]!;
}

describe('the README library example', () => {
  it('runs as written, as the master and then as a client', () => {
    const dev = emuDevice(4 * GiB, 'readme');
    mkfs(dev, { systemUuid: master });
    const file = join(scratch, 'example.mjs');
    writeFileSync(file, readmeExample());
    const run = (host: string) => runCli(file, [], { host, env: { FAMFS_DEVICE: dev } });
    let r = run(MASTER_UUID);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, `master ${64 << 20} 42\n`);
    r = run(CLIENT_UUID);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, `client ${64 << 20} 42\n`);
  });
});
