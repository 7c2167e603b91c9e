import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, rmdirSync, rmSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { readRecord } from '../../src/mounts/registry.js';
import { createEmulatedDevice } from '../../src/device/emulated.js';
import { removeCaches } from '../../src/device/noncoherent.js';
import { GiB } from '../helpers/emu.js';
import { isMounted } from '../helpers/mounts.js';
import { FAMFS_BIN, mkfsCli, runCli, runCliAsync, type RunResult } from '../helpers/run.js';

/**
 * Several famfs "hosts" on one machine: one master and N clients over the same emulated memory
 * device, each with its own system UUID, mount point and daemon process. A cluster is torn down
 * by down(), and — because a test that throws or a Ctrl-C must not leave mounts, daemons or
 * /dev/shm files behind — also when the process exits or is signalled.
 */

export type HostRole = 'master' | 'client';

export interface ClusterOptions {
  clients: number;
  /** Emulated device size; sparse, so 8 GiB costs nothing until written. */
  devSize?: number;
  /** Clients' --follow period in ms. */
  followMs?: number;
  /** Extra `famfs mount` flags for every host (e.g. ['-c', 'never']). */
  mountArgs?: string[];
  /** Make the file system but mount nothing (crash tests drive the device directly). */
  noMount?: boolean;
  /** A tag in the /dev/shm name, so a leftover says who made it. */
  tag?: string;
}

const DEFAULT_FOLLOW_MS = 100;
const CLUSTERS = new Set<Cluster>();

export class Host {
  /** Mount point while mounted, '' otherwise. */
  mnt = '';

  constructor(readonly name: string, readonly uuid: string, readonly role: HostRole, readonly device: string) {}

  /** `famfs <args>` run as this host; paths in args may be inside this host's mount. */
  famfs(args: string[], env: Record<string, string> = {}): RunResult {
    return runCli(FAMFS_BIN, args, { host: this.uuid, env });
  }

  /** `famfs <args>` addressing the device directly (no mount needed). */
  onDevice(args: string[]): RunResult {
    return this.famfs(args, { FAMFS_DEVICE: this.device });
  }

  async mount(args: string[] = []): Promise<string> {
    if (this.mnt) throw new Error(`${this.name} is already mounted at ${this.mnt}`);
    const mnt = mkdtempSync(`/tmp/famfs-host-${this.name}-`);
    this.mnt = mnt;
    // Not blocking the event loop: the clients of a cluster mount at once.
    const r = await runCliAsync(FAMFS_BIN, ['mount', ...args, this.device, mnt], { host: this.uuid });
    if (r.status !== 0) throw new Error(`${this.name}: famfs mount failed (${r.status}): ${r.stderr.trim()}`);
    return mnt;
  }

  /** The daemon's pid, from the mount registry. */
  daemonPid(): number | undefined {
    return this.mnt ? readRecord(this.mnt)?.pid : undefined;
  }

  /** Unmount (also recovers a mount whose daemon died) and remove the mount point. Never throws. */
  umount(): void {
    if (!this.mnt) return;
    const mnt = this.mnt;
    if (isMounted(mnt)) {
      this.famfs(['umount', mnt]);
      if (isMounted(mnt)) spawnSync('umount', ['-l', mnt]);
    }
    try {
      rmdirSync(mnt);
    } catch {
      // Busy (a lazy unmount still draining) or gone: nothing more to do without risking data.
    }
    this.mnt = '';
  }
}

export class Cluster {
  readonly master: Host;
  readonly clients: Host[] = [];
  private torn = false;

  private constructor(readonly device: string, opts: ClusterOptions) {
    this.master = new Host('master', randomUUID(), 'master', device);
    for (let i = 0; i < opts.clients; i++) this.clients.push(new Host(`client${i}`, randomUUID(), 'client', device));
  }

  get hosts(): Host[] {
    return [this.master, ...this.clients];
  }

  /** Make the device and the file system (the master runs mkfs), then mount every host. */
  static async up(opts: ClusterOptions): Promise<Cluster> {
    installExitHooks();
    const device = `/dev/shm/famfs-hosts-${opts.tag ?? 'cluster'}-${process.pid}-${randomUUID().slice(0, 8)}`;
    createEmulatedDevice(device, opts.devSize ?? 8 * GiB);
    const c = new Cluster(device, opts);
    CLUSTERS.add(c);
    try {
      const mk = mkfsCli([device], c.master.uuid);
      if (mk.status !== 0) throw new Error(`mkfs.famfs failed: ${mk.stderr.trim()}`);
      if (!opts.noMount) {
        const args = opts.mountArgs ?? [];
        await c.master.mount(args);
        const follow = ['--follow', String(opts.followMs ?? DEFAULT_FOLLOW_MS)];
        await Promise.all(c.clients.map((h) => h.mount([...args, ...follow])));
      }
      return c;
    } catch (err) {
      c.down();
      throw err;
    }
  }

  /** Unmount every host, stop their daemons, remove the device. Idempotent, never throws. */
  down(): void {
    if (this.torn) return;
    this.torn = true;
    for (const h of this.hosts) h.umount();
    if (existsSync(this.device)) rmSync(this.device, { force: true });
    removeCaches(this.device);
    CLUSTERS.delete(this);
  }
}

let hooked = false;

/** Tear down every cluster still up when the process ends, however it ends. */
function installExitHooks(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', () => {
    for (const c of [...CLUSTERS]) c.down();
  });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      for (const c of [...CLUSTERS]) c.down();
      // The shell's convention for death by signal.
      process.exit(128 + osConstants.signals[sig]);
    });
  }
}
