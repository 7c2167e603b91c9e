import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { randomBytes } from 'node:crypto';

/**
 * Ordinary local users made by a test (useradd, with a group of the same name) and removed after
 * it (userdel; also at process exit, so a failed test leaves no account behind). Commands run as
 * them through setpriv with their own groups (--init-groups), as a login would give them.
 */
export interface TestUser {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
}

const made = new Set<string>();

function idOf(flag: '-u' | '-g', name: string): number {
  const r = spawnSync('id', [flag, name], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`id ${flag} ${name}: ${r.stderr.trim()}`);
  return Number(r.stdout.trim());
}

/** A new user with its own group and no home directory. */
export function addTestUser(): TestUser {
  const name = `famfs-t${randomBytes(4).toString('hex')}`;
  const r = spawnSync('useradd', ['--no-create-home', '--user-group', '--shell', '/usr/sbin/nologin', name], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`useradd ${name}: ${r.stderr.trim()}`);
  made.add(name);
  return { name, uid: idOf('-u', name), gid: idOf('-g', name) };
}

/** Removes a user addTestUser made; undefined (a test that failed before making it) is fine. */
export function removeTestUser(u: TestUser | undefined): void {
  if (!u || !made.delete(u.name)) return;
  spawnSync('userdel', [u.name]);
}

/** Runs `cmd args` as the user, with their supplementary groups. */
export function runAsUser(u: TestUser, cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): SpawnSyncReturns<string> {
  return spawnSync('setpriv', ['--reuid', String(u.uid), '--regid', String(u.gid), '--init-groups', '--', cmd, ...args], { encoding: 'utf8', env });
}

/** What tryAsUser and tryAsIds can try: read (the whole file), write (one byte at 0), list, stat, mkdir. */
export type TriedOp = 'read' | 'write' | 'list' | 'stat' | 'mkdir';

/** The child that tries one op: prints 'ok' or the errno code. Inline, so it needs no file the user may be unable to read. */
const TRY_OP = `
  const fs = require('node:fs');
  const [op, p] = process.argv.slice(1);
  try {
    if (op === 'read') fs.readFileSync(p);
    else if (op === 'write') { const fd = fs.openSync(p, 'r+'); fs.writeSync(fd, Buffer.from('x'), 0, 1, 0); fs.closeSync(fd); }
    else if (op === 'list') fs.readdirSync(p);
    else if (op === 'mkdir') fs.mkdirSync(p);
    else fs.statSync(p);
    process.stdout.write('ok');
  } catch (e) { process.stdout.write(e.code || String(e)); }`;

function triedOutcome(r: SpawnSyncReturns<string>, who: string, op: TriedOp, path: string): string {
  if (r.status !== 0) throw new Error(`as ${who}: ${op} ${path}: ${r.stderr.trim()}`);
  return r.stdout;
}

/** Tries `op` on `path` as the user (with their groups) from a Node child; the errno code, or 'ok'. */
export function tryAsUser(u: TestUser, op: TriedOp, path: string): string {
  return triedOutcome(runAsUser(u, process.execPath, ['-e', TRY_OP, op, path]), u.name, op, path);
}

/** The same as bare ids with no supplementary groups, e.g. nobody's, who has no account to add. */
export function tryAsIds(ids: { readonly uid: number; readonly gid: number }, op: TriedOp, path: string): string {
  const r = spawnSync(process.execPath, ['-e', TRY_OP, op, path], { uid: ids.uid, gid: ids.gid, encoding: 'utf8' });
  return triedOutcome(r, `uid ${ids.uid}`, op, path);
}

process.on('exit', () => {
  for (const name of made) spawnSync('userdel', [name]);
  made.clear();
});
