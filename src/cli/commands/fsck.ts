import { realpathSync, statSync } from 'node:fs';
import type { Command } from 'commander';
import { liveRecords, mountOf } from '../../mounts/registry.js';
import { FsError, UsageError } from '../../errors.js';
import { FamfsHandle } from '../../fs/famfs.js';
import { getSystemUuid } from '../../format/system-uuid.js';
import { formatUuid, parseUuid } from '../../format/uuid.js';
import { bucketStats, fsck, fsckExitStatus } from '../../fs/fsck.js';
import { parseUint } from '../args.js';
import { fsckText } from '../fsck-text.js';
import { addDeviceMapOption, type DeviceMapOption, deviceMapOf } from '../device-map.js';
import { refuseDeadMounts } from '../dead-mount.js';
import { printJson, runCommand } from '../run.js';
import { addModeOptions, type ModeOptions, readOptionWarning, requireFuseMode } from '../upstream-modes.js';

/** upstream's status for a usage error or an unreadable file system (its -1). */
const EXIT_FAILED = 1;
/** upstream's -EBUSY: fsck by device while this host has it mounted. */
const EXIT_BUSY = 16;
/** Buckets `-B` may ask for: interleaved allocation's own limit. */
const MAX_BUCKETS = 64;

interface FsckOpts extends DeviceMapOption, ModeOptions {
  human?: boolean; verbose: number; json?: boolean; nbuckets?: number;
  mmap?: boolean; read?: boolean; force?: boolean; nodax?: boolean;
}

function realOrSelf(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return p;
  }
}

/** Permission bits that let users other than the owner (and its group) read a device. */
const OTHERS_READ = 0o004;

/** A device others can read hands them every file's bytes and, through the log, every name. */
function warnIfReadableByOthers(device: string): void {
  let mode: number;
  try {
    mode = statSync(device).mode;
  } catch {
    return; // opened a moment ago; a device that vanished since is not this check's to report
  }
  if (mode & OTHERS_READ) {
    process.stderr.write(`famfs fsck: warning: ${device} is readable by other users (mode ${(mode & 0o777).toString(8).padStart(4, '0')}): they can read every file and name on it\n`);
  }
}

export function register(program: Command): void {
  addDeviceMapOption(addModeOptions(program
    .command('fsck')
    .description('check a famfs file system and report its superblock, log and capacity')
    .argument('<device|path>', 'memory device holding the file system, or a path in a famfs mount')
    // -h is --human here, as upstream; help is -?.
    .helpOption('-?, --help', 'display help')
    .option('-h, --human', 'sizes in GiB')
    .option('-v, --verbose', 'more detail (repeatable)', (_v: string, prev: number) => prev + 1, 0)
    .option('-B, --nbuckets <n>', 'also report allocation per bucket, the device cut into n (1..64) as interleaving cuts it', parseUint)
    .option('-m, --mmap', 'read the superblock and log through mmap (the default)')
    .option('-r, --read', 'read the superblock and log with read(2) (upstream warns: cache coherency)')
    .option('-f, --force', 'accepted (upstream parses it and does nothing)')
    .option('-D, --nodax', 'accepted (upstream: reach an unmounted device through a mount instead of mapping it)')
    .option('--json', 'machine-readable report'), { nofuse: true, setDaxmode: true, loadModule: true }))
    .action((device: string, o: FsckOpts) =>
      runCommand('famfs fsck', () => {
        requireFuseMode('famfs fsck', o, EXIT_FAILED);
        if (o.read && o.mmap) throw new UsageError('Error: The --mmap and --read arguments are mutually exclusive');
        if (o.read) readOptionWarning('do_famfs_cli_fsck');
        if (o.nbuckets !== undefined && (o.nbuckets < 1 || o.nbuckets > MAX_BUCKETS)) throw new UsageError(`-B must be 1..${MAX_BUCKETS}`);
        refuseDeadMounts([device]);
        const m = mountOf(device);
        if (!m) {
          // As upstream: a device this host has mounted is checked through its mount, not under it.
          const me = formatUuid(getSystemUuid());
          const real = realOrSelf(device);
          if (liveRecords().some((r) => realOrSelf(r.device) === real && r.systemUuid === me)) {
            throw new FsError('EBUSY', `error: cannot fsck by device (${device}) when mounted`, EXIT_BUSY);
          }
        }
        const deviceMap = deviceMapOf(o);
        const fs = m
          ? FamfsHandle.open(m.record.device, { systemUuid: parseUuid(m.record.systemUuid), deviceMap })
          : FamfsHandle.open(device, { writable: false, deviceMap });
        warnIfReadableByOthers(m ? m.record.device : device);
        try {
          const report = fsck(fs);
          if (o.json) printJson(o.nbuckets ? { ...report, buckets: bucketStats(fs, o.nbuckets) } : report);
          else process.stdout.write(fsckText(report, { human: !!o.human, verbose: o.verbose, buckets: o.nbuckets ? bucketStats(fs, o.nbuckets) : undefined }));
          return fsckExitStatus(report);
        } finally {
          fs.close();
        }
      }));
}
