import { resolve } from 'node:path';
import type { Command } from 'commander';
import { processAlive, waitProcessGone } from '../../mounts/process-state.js';
import { readRecord, removeRecord } from '../../mounts/registry.js';
import { FsError } from '../../errors.js';
import { findFuseMount, recoverMount, unmount } from '../../fuse/index.js';
import { runCommand } from '../run.js';

const DAEMON_EXIT_WAIT_MS = 5000;
const POLL_MS = 50;

/** Not in upstream (which says to use umount): also recovers a mount whose daemon died. */
export function register(program: Command): void {
  program
    .command('umount')
    .description('unmount a famfs mount and stop its daemon; recovers a mount whose daemon was killed')
    .argument('<mountpoint>', 'the mount point')
    .action((mnt: string) =>
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
        if (rec && processAlive(rec.pid)) {
          await unmount(mountpoint);
          if (!(await waitProcessGone(rec.pid, DAEMON_EXIT_WAIT_MS, POLL_MS))) process.kill(rec.pid, 'SIGKILL');
        } else {
          await recoverMount(mountpoint);
        }
        // A daemon that was killed could not take its BPF pins down; removing them twice is harmless.
        if (rec?.bpfFmap) (await import('../../bpf/publish.js')).unpublish(rec.fsUuid);
        removeRecord(mountpoint);
      }));
}
