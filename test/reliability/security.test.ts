import assert from 'node:assert/strict';
import { chmodSync, closeSync, mkdirSync, openSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Cluster } from '../hosts/harness.js';
import { addTestUser, removeTestUser, runAsUser, tryAsIds, type TestUser } from '../helpers/users.js';
import { inspect } from './support.js';

/**
 * What a host and a user may do: a client cannot append to the log, write a file's memory or
 * change modes; mounts carry upstream's allow_other and default_permissions; an unprivileged
 * user gets exactly what the modes say, on the master's mount and on a client's.
 */

const NOBODY = 65534;

/** Try `op` on `path` as uid/gid 65534; returns 'ok' or the errno code. */
const asNobody = (op: 'read' | 'write' | 'list' | 'stat', path: string): string => tryAsIds({ uid: NOBODY, gid: NOBODY }, op, path);

function errCode(fn: () => void): string {
  try {
    fn();
    return 'ok';
  } catch (e) {
    return (e as NodeJS.ErrnoException).code ?? String(e);
  }
}

describe('security', () => {
  let c: Cluster;
  let m = '';
  let cl = '';

  before(async () => {
    c = await Cluster.up({ clients: 2, noMount: true, tag: 'sec' });
    const steps: string[][] = [
      ['mkdir', '-m', '0755', 'pub'], ['mkdir', '-m', '0700', 'priv'],
      ['creat', '-s', '1m', '-m', '0644', 'pub/world'], ['creat', '-s', '1m', '-m', '0600', 'pub/rootonly'],
      ['creat', '-s', '1m', '-m', '0640', 'pub/group0'], ['creat', '-s', '1m', '-m', '0600', '-u', String(NOBODY), '-g', String(NOBODY), 'pub/nobodys'],
      ['creat', '-s', '1m', '-m', '0644', 'priv/hidden'],
      // A set-user-id root program in the shared log: exec on a mount must not make anyone root.
      ['cp', '-m', '04755', '-u', '0', '-g', '0', '/usr/bin/id', 'pub/suid-id'],
    ];
    for (const s of steps) {
      const r = c.master.onDevice(s);
      assert.equal(r.status, 0, `${s.join(' ')}: ${r.stderr}`);
    }
    m = await c.master.mount();
    cl = await c.clients[0]!.mount();
  });
  let user: TestUser;
  after(() => {
    c?.down();
    removeTestUser(user);
  });

  it('a client cannot append to the log: famfs creat/mkdir, shell mkdir, writes to .meta/.log all fail and the log is unchanged', () => {
    const before = inspect(c.device).report.log.entriesUsed;
    const client = c.clients[0]!;
    assert.notEqual(client.famfs(['creat', '-s', '1m', join(cl, 'x')]).status, 0);
    assert.notEqual(client.famfs(['mkdir', join(cl, 'd')]).status, 0);
    assert.notEqual(client.onDevice(['creat', '-s', '1m', 'y']).status, 0);
    assert.notEqual(client.onDevice(['mkdir', '-p', 'z/z']).status, 0);
    assert.equal(errCode(() => mkdirSync(join(cl, 'shell'))), 'EROFS');
    assert.equal(errCode(() => writeFileSync(join(cl, 'new'), 'x')), 'EROFS');
    assert.notEqual(errCode(() => closeSync(openSync(join(cl, '.meta', '.log'), 'r+'))), 'ok');
    assert.equal(inspect(c.device).report.log.entriesUsed, before);
  });

  it("a client cannot write a file's memory through FUSE", () => {
    const f = join(cl, 'pub', 'world');
    const before = readFileSync(join(m, 'pub', 'world'));
    assert.notEqual(errCode(() => closeSync(openSync(f, 'r+'))), 'ok');
    assert.notEqual(errCode(() => writeFileSync(f, 'overwrite', { flag: 'r+' })), 'ok');
    assert.ok(readFileSync(join(m, 'pub', 'world')).equals(before));
    assert.equal(statSync(f).mode & 0o222, 0, 'a client shows write bits');
  });

  it('modes cannot be changed: chmod fails on a client, and on the master leaves the logged mode', () => {
    assert.equal(errCode(() => chmodSync(join(cl, 'pub', 'world'), 0o666)), 'EROFS');
    const r = errCode(() => chmodSync(join(m, 'pub', 'world'), 0o666));
    const logged = inspect(c.device).nodes.get('pub/world')!;
    assert.equal(logged.mode, 0o644);
    if (r === 'ok') assert.equal(statSync(join(m, 'pub', 'world')).mode & 0o7777, 0o644, 'chmod "succeeded" and the mount shows a mode the log does not hold');
  });

  it('mounts carry allow_other and default_permissions, as upstream; -u drops allow_other', async () => {
    const opts = (mnt: string): string[] => readFileSync('/proc/self/mountinfo', 'utf8').split('\n').find((l) => l.split(' ')[4] === mnt)!.split(' ').at(-1)!.split(',');
    for (const mnt of [m, cl]) assert.ok(opts(mnt).includes('allow_other') && opts(mnt).includes('default_permissions'), opts(mnt).join(','));
    const h = c.clients[1]!;
    const mnt = await h.mount(['-u']);
    try {
      assert.equal(opts(mnt).includes('allow_other'), false);
      assert.equal(asNobody('stat', join(mnt, 'pub', 'world')), 'EACCES');
    } finally {
      h.umount();
    }
  });

  it('an unprivileged user gets what the modes say, on the master and on a client', () => {
    for (const [mnt, role] of [[m, 'master'], [cl, 'client']] as const) {
      const p = (rel: string): string => join(mnt, rel);
      assert.equal(asNobody('read', p('pub/world')), 'ok', role);
      assert.equal(asNobody('read', p('pub/rootonly')), 'EACCES', role);
      assert.equal(asNobody('read', p('pub/group0')), 'EACCES', role);
      assert.equal(asNobody('read', p('pub/nobodys')), 'ok', role);
      assert.equal(asNobody('list', p('priv')), 'EACCES', role);
      assert.equal(asNobody('stat', p('priv/hidden')), 'EACCES', role);
      // On a client the kernel refuses first: default_permissions sees no write bits.
      assert.equal(asNobody('write', p('pub/world')), 'EACCES', role);
    }
    // The owner may write its file's memory on the master; a client stays read-only.
    assert.equal(asNobody('write', join(m, 'pub/nobodys')), 'ok');
    assert.match(asNobody('write', join(cl, 'pub/nobodys')), /^(EACCES|EROFS)$/);
    assert.equal(readFileSync(join(m, 'pub/nobodys')).subarray(0, 1).toString(), 'x');
  });

  /** The per-mount flags of /proc/self/mountinfo (rw, nosuid, nodev, ...). */
  const mountFlags = (mnt: string): string[] =>
    readFileSync('/proc/self/mountinfo', 'utf8').split('\n').find((l) => l.split(' ')[4] === mnt)!.split(' ')[5]!.split(',');

  it('mounts are nosuid,nodev: a set-user-id root file in the log does not make an ordinary user root; -o suid opts in', async () => {
    user ??= addTestUser();
    const idAs = (mnt: string): string => {
      const r = runAsUser(user, join(mnt, 'pub', 'suid-id'), ['-u']);
      assert.equal(r.status, 0, r.stderr);
      return r.stdout.trim();
    };
    for (const mnt of [m, cl]) {
      assert.ok(mountFlags(mnt).includes('nosuid') && mountFlags(mnt).includes('nodev'), mountFlags(mnt).join(','));
      assert.equal(idAs(mnt), String(user.uid), `exec on ${mnt} changed the user's identity`);
    }
    assert.equal(statSync(join(m, 'pub', 'suid-id')).mode & 0o7777, 0o4755, 'the master shows what it logged');
    assert.equal(statSync(join(cl, 'pub', 'suid-id')).mode & 0o7777, 0o555, 'a client shows no set-id (nor write) bits');
    const h = c.clients[1]!;
    const mnt = await h.mount(['-o', 'suid,dev']);
    try {
      assert.equal(mountFlags(mnt).includes('nosuid') || mountFlags(mnt).includes('nodev'), false, mountFlags(mnt).join(','));
      assert.equal(statSync(join(mnt, 'pub', 'suid-id')).mode & 0o7777, 0o4555);
      assert.equal(idAs(mnt), '0', 'with -o suid the set-id bit is honoured, as asked');
    } finally {
      h.umount();
    }
  });

  it('.meta/.log and .meta/.superblock are 0400 root: an ordinary user cannot read the names they hold', () => {
    user ??= addTestUser();
    for (const mnt of [m, cl]) {
      for (const f of ['.log', '.superblock']) {
        const st = statSync(join(mnt, '.meta', f));
        assert.equal(st.mode & 0o7777, 0o400, `${mnt}/.meta/${f}`);
        assert.equal(st.uid, 0);
        const r = runAsUser(user, 'cat', [join(mnt, '.meta', f)]);
        assert.notEqual(r.status, 0);
        assert.match(r.stderr, /Permission denied/);
      }
      assert.ok(readFileSync(join(mnt, '.meta', '.log')).length > 0, 'root still reads the log');
    }
  });

  it('-p (no default_permissions) is refused with allow_other; with -u only root gets in', async () => {
    user ??= addTestUser();
    const h = c.clients[1]!;
    const refused = h.famfs(['mount', '-p', c.device, '/tmp']);
    assert.equal(refused.status, 1);
    assert.match(refused.stderr, /^famfs mount: -p \(no default_permissions\) .* use -p -u\n$/);
    const mnt = await h.mount(['-p', '-u']);
    try {
      const flags = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').find((l) => l.split(' ')[4] === mnt)!.split(' ').at(-1)!.split(',');
      assert.equal(flags.includes('allow_other') || flags.includes('default_permissions'), false, flags.join(','));
      const r = runAsUser(user, 'cat', [join(mnt, 'pub', 'rootonly')]);
      assert.notEqual(r.status, 0);
      assert.match(r.stderr, /Permission denied/);
      assert.equal(readFileSync(join(mnt, 'pub', 'rootonly')).length, 1024 * 1024, 'root reads');
    } finally {
      h.umount();
    }
  });
});
