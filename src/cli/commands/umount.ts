import { rmSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { processesUsing, sameProcessAlive, waitProcessGone } from '../../mounts/process-state.js';
import { readRecord, removeRecord } from '../../mounts/registry.js';
import { FsError } from '../../errors.js';
import { errno, findFuseMount, MountError, recoverMount, unmount } from '../../fuse/index.js';
import { runCommand } from '../run.js';

const DAEMON_EXIT_WAIT_MS = 5000;
const POLL_MS = 50;
/** umount(8)'s status for a mount it could not unmount (busy). */
const EXIT_UMOUNT_FAILED = 32;
/** How many holders a busy refusal names before "and N more". */
const HOLDERS_NAMED = 8;

function busyMessage(mountpoint: string): string {
  const holders = processesUsing(mountpoint);
  const named = holders.slice(0, HOLDERS_NAMED).map((h) => `${h.pid} (${h.command})`).join(', ');
  const more = holders.length > HOLDERS_NAMED ? ` and ${holders.length - HOLDERS_NAMED} more` : '';
  const who = holders.length > 0 ? `in use by ${named}${more}` : 'in use';
  return `${mountpoint} is busy: ${who}; -l detaches it when they let go, -f now (they get ENOTCONN)`;
}

/**
 * Not in upstream (which says to use umount): also recovers a mount whose daemon died. A mount in
 * use is refused as umount(8) refuses it, naming its users; -l (lazy) and -f (force) detach it.
 * The daemon is signalled only if it is the very process that mounted (pid and start time).
 */
export function register(program: Command): void {
  program
    .command('umount')
    .description('unmount a famfs mount and stop its daemon; recovers a mount whose daemon was killed')
    .argument('<mountpoint>', 'the mount point')
    .option('-f, --force', 'a mount in use is detached at once and its daemon stopped (its users get ENOTCONN)')
    .option('-l, --lazy', 'a mount in use is detached now; its daemon serves its users until they let go')
    .action((mnt: string, o: { force?: boolean; lazy?: boolean }) =>
      runCommand('famfs umount', async () => {
        // No realpath: stat of a mount whose daemon died fails with ENOTCONN.
        const mountpoint = resolve(mnt);
        const info = await findFuseMount(mountpoint);
        const rec = readRecord(mountpoint);
        if (!info) {
          removeRecord(mountpoint);
          throw new FsError('EINVAL', `${mountpoint} is not mounted`, 1);
        }
        if (info.fstype !== 'fuse.famfs') throw new FsError('EINVAL', `${mountpoint} is not a famfs mount (${info.fstype})`, 1);
        // A record without a start time (or a pid now running something else) names no daemon of ours.
        const daemon = rec?.pidStart && sameProcessAlive(rec.pid, rec.pidStart) ? rec : undefined;
        if (daemon) {
          try {
            await unmount(mountpoint, { whenBusy: o.force ? 'detach' : o.lazy ? 'lazy' : 'refuse' });
          } catch (err) {
            if (err instanceof MountError && err.errno === errno('EBUSY') && !o.force && !o.lazy) {
              throw new FsError('EBUSY', busyMessage(mountpoint), EXIT_UMOUNT_FAILED);
            }
            throw err;
          }
          // Lazily detached: the daemon ends when the last user lets go, not now.
          const gone = await waitProcessGone(daemon.pid, DAEMON_EXIT_WAIT_MS, POLL_MS, daemon.pidStart);
          if (!gone && !o.lazy && sameProcessAlive(daemon.pid, daemon.pidStart)) process.kill(daemon.pid, 'SIGKILL');
        } else {
          await recoverMount(mountpoint);
        }
        // A daemon that was killed could not take its BPF pins down; removing them twice is harmless.
        if (rec?.bpfFmap && !o.lazy) (await import('../../bpf/publish.js')).unpublish(rec.fsUuid);
        // Likewise the shadow directory the mount made (a live daemon has removed it already).
        if (rec?.shadowMade && !o.lazy) rmSync(rec.shadowMade, { recursive: true, force: true });
        if (!o.lazy) removeRecord(mountpoint);
      }));
}
