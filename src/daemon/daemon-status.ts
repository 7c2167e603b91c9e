import { ALLOC_UNIT } from '../format/layout.js';
import type { FamfsHandle } from '../fs/famfs.js';
import type { FuseSession } from '../fuse/index.js';
import type { DaemonConfig } from '../mounts/daemon-protocol.js';
import type { FamfsFuse } from './famfs-fs.js';
import type { FollowLag, LogFollower } from './follow.js';

/** What a serving daemon is made of, for its diagnostics (the socket, /status, /metrics). */
export interface DaemonContext {
  readonly fs: FamfsHandle;
  readonly ffs: FamfsFuse;
  readonly session: FuseSession;
  readonly config: DaemonConfig;
  readonly mountpoint: string;
  readonly startedAt: Date;
  readonly follower: LogFollower;
}

/** The version of DaemonStatus; bumped when a field changes meaning or goes (README, "famfs status"). */
const DAEMON_STATUS_VERSION = 1;

export interface DeviceFill {
  index: number;
  /** Where this daemon sees it; absent when it cannot find it. */
  path?: string;
  /** Bytes its bitmap covers (whole allocation units). */
  capacity: number;
  allocated: number;
}

/** The daemon's /status reply. */
export interface DaemonStatus {
  version: typeof DAEMON_STATUS_VERSION;
  pid: number;
  role: 'master' | 'client';
  device: string;
  mountpoint: string;
  systemUuid: string;
  fsUuid: string;
  startedAt: string;
  uptimeSeconds: number;
  log: { entriesUsed: number; slots: number; played: number };
  follow: FollowLag & { intervalMs: number };
  requests: { total: number; perSecond: number; errors: number; byOpcode: Record<string, { requests: number; errors: number }> };
  bytes: { read: number; written: number };
  devices: DeviceFill[];
}

const MS_PER_S = 1000;

/** Per device of the file system: its capacity and what the replayed log allocated on it. */
export function deviceFill(fs: FamfsHandle): DeviceFill[] {
  return fs.deviceUsage().map((d) => ({
    index: d.index, path: pathOf(fs, d.index), capacity: d.units * ALLOC_UNIT, allocated: d.allocatedUnits * ALLOC_UNIT,
  }));
}

function pathOf(fs: FamfsHandle, index: number): string | undefined {
  try {
    return fs.deviceAt(index).path;
  } catch {
    return undefined; // not found on this host: the status says so by leaving the path out
  }
}

export function daemonStatus(c: DaemonContext): DaemonStatus {
  const h = c.fs.logHeader();
  const byOpcode: Record<string, { requests: number; errors: number }> = {};
  let errors = 0;
  for (const f of c.session.requestStats.figures()) {
    byOpcode[c.session.opName(f.opcode)] = { requests: f.requests, errors: f.errors };
    errors += f.errors;
  }
  return {
    version: DAEMON_STATUS_VERSION,
    pid: process.pid,
    role: c.fs.role,
    device: c.config.device,
    mountpoint: c.mountpoint,
    systemUuid: c.config.systemUuid,
    fsUuid: c.fs.uuid,
    startedAt: c.startedAt.toISOString(),
    uptimeSeconds: (Date.now() - c.startedAt.getTime()) / MS_PER_S,
    log: { entriesUsed: h.nextIndex, slots: h.lastIndex + 1, played: c.fs.nextSlot },
    follow: { ...c.follower.lag(), intervalMs: c.config.followMs },
    requests: { total: c.session.requestStats.total, perSecond: c.follower.requestRate(), errors, byOpcode },
    bytes: { read: c.ffs.counters.bytesRead, written: c.ffs.counters.bytesWritten },
    devices: deviceFill(c.fs),
  };
}
