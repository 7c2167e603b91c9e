import { daemonStatusOf } from '../daemon/diag-client.js';
import { processAlive } from '../mounts/process-state.js';
import { type MountRecord, liveRecords } from '../mounts/registry.js';
import { ALLOC_UNIT } from '../format/layout.js';
import { formatUuid } from '../format/uuid.js';
import type { FamfsHandle } from '../fs/famfs.js';
import { fsck } from '../fs/fsck.js';
import type { Role } from '../fs/role.js';

/**
 * `famfs status --json`: one file system as seen from this machine. The schema is versioned:
 * `version` changes when a field changes meaning or goes away; new fields may appear without it.
 * README.md ("famfs status") documents every field.
 */
const STATUS_VERSION = 1;

interface StatusDevice {
  index: number;
  /** Where this host finds it; null when it cannot (a problem is listed). */
  path: string | null;
  uuid: string;
  size: number;
  /** Bytes famfs can allocate (whole 2 MiB units), allocated (superblock and log included), free. */
  capacity: number;
  allocated: number;
  free: number;
  /** Bytes in the longest run of free units: the largest extent one allocation can get. */
  largestFreeRun: number;
}

interface StatusMount {
  mountpoint: string;
  systemUuid: string;
  role: Role;
  pid: number;
  daemonAlive: boolean;
  startedAt: string;
  uptimeSeconds: number;
  diagSocket: string | null;
  /** From the daemon's /status; null when it did not answer. */
  followLag: { entries: number; ms: number } | null;
  requestsPerSecond: number | null;
}

type ProblemKind = 'bad-log-entry' | 'skipped-log-entry' | 'collision' | 'missing-device' | 'dead-daemon' | 'daemon-unreachable';

interface StatusProblem {
  kind: ProblemKind;
  message: string;
  /** A command that fixes it, when there is one. */
  fix?: string;
}

export interface FsStatus {
  version: typeof STATUS_VERSION;
  fsUuid: string;
  /** The master's system UUID (the superblock's). */
  masterSystemUuid: string;
  /** This host's, and the role it gives it. */
  systemUuid: string;
  role: Role;
  device: string;
  log: { entriesUsed: number; slots: number; percentUsed: number };
  devices: StatusDevice[];
  files: number;
  directories: number;
  mounts: StatusMount[];
  problems: StatusProblem[];
}

const PERCENT = 100;
/** How long after its start a daemon may still be opening its diagnostics socket. */
const SOCKET_GRACE_S = 5;
const MS_PER_S = 1000;

async function mountStatus(r: MountRecord, problems: StatusProblem[]): Promise<StatusMount> {
  const alive = processAlive(r.pid);
  const m: StatusMount = {
    mountpoint: r.mountpoint, systemUuid: r.systemUuid, role: r.role, pid: r.pid, daemonAlive: alive, startedAt: r.startedAt,
    uptimeSeconds: Math.max(0, (Date.now() - Date.parse(r.startedAt)) / MS_PER_S), diagSocket: r.diagSocket ?? null,
    followLag: null, requestsPerSecond: null,
  };
  if (!alive) {
    problems.push({ kind: 'dead-daemon', message: `the daemon (pid ${r.pid}) of ${r.mountpoint} is gone; the mount answers ENOTCONN`, fix: `famfs umount ${r.mountpoint}` });
    return m;
  }
  if (r.diagSocket) {
    try {
      const s = await daemonStatusOf(r.diagSocket);
      m.followLag = { entries: s.follow.entries, ms: s.follow.ms };
      m.requestsPerSecond = s.requests.perSecond;
    } catch (err) {
      // A daemon opens its socket just after reporting the mount: not there yet is not a problem.
      const code = (err as NodeJS.ErrnoException).code;
      if (m.uptimeSeconds < SOCKET_GRACE_S && (code === 'ENOENT' || code === 'ECONNREFUSED')) return m;
      problems.push({ kind: 'daemon-unreachable', message: `the daemon (pid ${r.pid}) of ${r.mountpoint} does not answer on ${r.diagSocket}: ${(err as Error).message}` });
    }
  }
  return m;
}

/** The status of the file system `fs` (opened by the caller), as this host (`systemUuid`) sees it. */
export async function fsStatus(fs: FamfsHandle, systemUuid: string): Promise<FsStatus> {
  const report = fsck(fs);
  const problems: StatusProblem[] = [];
  for (const b of report.badEntries) problems.push({ kind: 'bad-log-entry', message: b.reason });
  for (const s of report.skipped) problems.push({ kind: 'skipped-log-entry', message: s.reason });
  if (report.collisions > 0) {
    problems.push({ kind: 'collision', message: `${report.collisions} allocation units are claimed by more than one file`, fix: `famfs fsck -v ${fs.device.path}` });
  }
  const devices = report.deviceTable.map((d): StatusDevice => {
    if (d.problem) problems.push({ kind: 'missing-device', message: `device ${d.index} (${d.uuid}): ${d.problem}`, fix: `famfs status --device-map ${d.index}=<path>` });
    return {
      index: d.index, path: d.path ?? null, uuid: d.uuid, size: d.size, capacity: d.bitmap, allocated: d.allocated,
      free: d.bitmap - d.allocated, largestFreeRun: fs.largestFreeRun(d.index) * ALLOC_UNIT,
    };
  });
  const mine = liveRecords().filter((r) => r.fsUuid === fs.uuid).sort((a, b) => a.mountpoint.localeCompare(b.mountpoint));
  const mounts = await Promise.all(mine.map((r) => mountStatus(r, problems)));
  return {
    version: STATUS_VERSION,
    fsUuid: fs.uuid,
    masterSystemUuid: formatUuid(fs.sb.systemUuid),
    systemUuid,
    role: fs.role,
    device: fs.device.path,
    log: { entriesUsed: report.log.entriesUsed, slots: report.log.slots, percentUsed: (PERCENT * report.log.entriesUsed) / report.log.slots },
    devices,
    files: report.files,
    directories: report.directories,
    mounts,
    problems,
  };
}
