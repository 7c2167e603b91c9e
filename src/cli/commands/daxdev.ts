import type { Command } from 'commander';
import { liveRecords } from '../../mounts/registry.js';
import { FamfsError, FsError, UsageError } from '../../errors.js';
import type { FamfsHandle } from '../../fs/famfs.js';
import { formatUuid } from '../../format/uuid.js';
import { addDeviceMapOption, type DeviceMapOption, deviceMapOf } from '../device-map.js';
import { printJson, runCommand } from '../run.js';
import { addDeviceOption, DEVICE_ENV, type DeviceOption, withTarget } from '../target.js';

/**
 * `famfs daxdev list|resolve`, upstream's multi-device roadmap helper: which local device backs
 * each device of a file system. The log names an added device by UUID only; every host finds it
 * (src/fs/device-set.ts), and these print what this host found.
 */

type Opts = DeviceOption & DeviceMapOption & { json?: boolean };

interface DeviceLine {
  index: number;
  uuid: string;
  size: number;
  /** Where this host sees it; undefined when it cannot be found here. */
  path?: string;
  error?: string;
}

function deviceLines(fs: FamfsHandle): DeviceLine[] {
  return fs.deviceRecords().map((r) => {
    const line: DeviceLine = { index: r.index, uuid: formatUuid(r.uuid), size: r.size };
    try {
      line.path = fs.deviceAt(r.index).path;
    } catch (err) {
      if (!(err instanceof FamfsError)) throw err;
      line.error = err.message;
    }
    return line;
  });
}

/** A path argument, --device, $FAMFS_DEVICE, or (resolve only) the live mount of `fsUuid`. */
function targetPaths(path: string | undefined, o: Opts, fsUuid?: string): { paths: string[]; opts: Opts } {
  if (path !== undefined || o.device || process.env[DEVICE_ENV]) return { paths: path === undefined ? [] : [path], opts: o };
  const m = fsUuid === undefined ? undefined : liveRecords().find((r) => r.fsUuid === fsUuid);
  if (!m) throw new UsageError(`name the file system: a path in its mount, --device <primary> or $${DEVICE_ENV}`);
  return { paths: [m.mountpoint], opts: o };
}

export function register(program: Command): void {
  const daxdev = program
    .command('daxdev')
    .description("the devices of a file system and where this host sees them (upstream's multi-device helper)");

  addDeviceMapOption(addDeviceOption(daxdev
    .command('list')
    .description('each device of the file system: index, device UUID, size and the local path')
    .argument('[path]', 'a path in a famfs mount (else --device / $FAMFS_DEVICE)')
    .option('--json', 'print the devices as JSON')))
    .action((path: string | undefined, o: Opts) =>
      runCommand('famfs daxdev', () => {
        const t = targetPaths(path, o);
        return withTarget(t.paths, t.opts, { writable: false, deviceMap: deviceMapOf(o) }, (fs) => {
          const lines = deviceLines(fs);
          if (o.json) {
            printJson({ fsUuid: fs.uuid, devices: lines });
            return 0;
          }
          process.stdout.write(`famfs ${fs.uuid}: ${lines.length} device${lines.length === 1 ? '' : 's'}\n`);
          for (const l of lines) process.stdout.write(`${l.index}\t${l.uuid}\t${l.size}\t${l.path ?? '(not found on this host)'}\n`);
          return lines.some((l) => l.path === undefined) ? 1 : 0;
        });
      }));

  addDeviceMapOption(addDeviceOption(daxdev
    .command('resolve')
    .description('print the local path of the device with this UUID (non-zero exit when this host does not have it)')
    .argument('<fs_uuid>', 'the file system UUID (fsck prints it)')
    .argument('<dev_uuid>', 'the device UUID')
    .argument('[path]', 'a path in a famfs mount (else --device / $FAMFS_DEVICE / the mount of fs_uuid)')))
    .action((fsUuid: string, devUuid: string, path: string | undefined, o: Opts) =>
      runCommand('famfs daxdev', () => {
        const want = fsUuid.toLowerCase();
        const t = targetPaths(path, o, want);
        return withTarget(t.paths, t.opts, { writable: false, deviceMap: deviceMapOf(o) }, (fs) => {
          if (fs.uuid !== want) throw new FsError('ENOENT', `the file system there is famfs ${fs.uuid}, not ${fsUuid}`);
          const rec = fs.deviceRecords().find((r) => formatUuid(r.uuid) === devUuid.toLowerCase());
          if (!rec) throw new FsError('ENOENT', `famfs ${fs.uuid} has no device with UUID ${devUuid}`);
          process.stdout.write(`${fs.deviceAt(rec.index).path}\n`);
          return 0;
        });
      }));
}
