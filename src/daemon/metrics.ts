/**
 * The daemon's Prometheus metrics, in the text exposition format written by prom-client (the
 * maintained Prometheus client for Node: its registry, metric types, default process metrics such
 * as the resident set size, and the format itself, escaping included). prom-client is loaded at the
 * first scrape, never at mount: every mount would otherwise pay for parsing it.
 *
 * The request path only increments plain counters (RequestStats, FamfsFuse.counters); every value
 * here is read from them when Prometheus scrapes, in each metric's collect().
 */
import type { Metric, Registry } from 'prom-client';
import { LATENCY_BOUNDS_US } from '../fuse/index.js';
import { type DaemonContext, deviceFill } from './daemon-status.js';

const US_PER_S = 1e6;
const MS_PER_S = 1000;

let registry: Promise<Registry> | undefined;

/** The metrics text for this daemon, and its content type. */
export async function metricsText(c: DaemonContext): Promise<{ text: string; contentType: string }> {
  registry ??= makeRegistry(c);
  const r = await registry;
  return { text: await r.metrics(), contentType: r.contentType };
}

async function makeRegistry(c: DaemonContext): Promise<Registry> {
  const prom = await import('prom-client');
  const r = new prom.Registry();
  prom.collectDefaultMetrics({ register: r });
  const registers = [r];
  const stats = c.session.requestStats;
  const opName = (opcode: number): string => c.session.opName(opcode);

  new prom.Counter({
    name: 'famfs_fuse_requests_total', help: 'FUSE requests received, by opcode', labelNames: ['opcode'], registers,
    collect() {
      this.reset();
      for (const f of stats.figures()) this.inc({ opcode: opName(f.opcode) }, f.requests);
    },
  });
  new prom.Counter({
    name: 'famfs_fuse_errors_total', help: 'FUSE requests answered with an error, by opcode', labelNames: ['opcode'], registers,
    collect() {
      this.reset();
      for (const f of stats.figures()) if (f.errors > 0) this.inc({ opcode: opName(f.opcode) }, f.errors);
    },
  });
  r.registerMetric(requestLatency(stats, opName));

  const counter = (name: string, help: string, value: () => number): void => {
    new prom.Counter({ name, help, registers, collect() { this.reset(); this.inc(value()); } });
  };
  const gauge = (name: string, help: string, value: () => number): void => {
    new prom.Gauge({ name, help, registers, collect() { this.set(value()); } });
  };
  counter('famfs_read_bytes_total', 'bytes served by READ requests', () => c.ffs.counters.bytesRead);
  counter('famfs_written_bytes_total', 'bytes stored by WRITE requests', () => c.ffs.counters.bytesWritten);
  counter('famfs_log_entries_played_total', 'log entries this daemon has played', () => c.fs.nextSlot);
  gauge('famfs_log_entries_used', 'log entries in use (the log header\'s next index)', () => c.fs.logHeader().nextIndex);
  gauge('famfs_log_entries', 'log entries the log can hold', () => c.fs.logHeader().lastIndex + 1);
  gauge('famfs_follow_lag_entries', 'log entries appended that this daemon has not played yet', () => c.follower.lag().entries);
  gauge('famfs_follow_lag_seconds', 'seconds since this daemon was last caught up with the log (0 when it is)', () => c.follower.lag().ms / MS_PER_S);
  gauge('famfs_open_files', 'files open through this mount', () => c.ffs.openFiles);

  const perDevice = (name: string, help: string, pick: (d: ReturnType<typeof deviceFill>[number]) => number): void => {
    new prom.Gauge({
      name, help, labelNames: ['index', 'device'], registers,
      collect() {
        this.reset();
        for (const d of deviceFill(c.fs)) this.set({ index: String(d.index), device: d.path ?? '' }, pick(d));
      },
    });
  };
  perDevice('famfs_device_capacity_bytes', 'bytes of the device famfs can allocate (whole 2 MiB units)', (d) => d.capacity);
  perDevice('famfs_device_allocated_bytes', 'bytes of the device allocated (superblock and log included)', (d) => d.allocated);

  const info = new prom.Gauge({
    name: 'famfs_mount_info', help: 'this mount: always 1, its identity in the labels',
    labelNames: ['role', 'fs_uuid', 'system_uuid', 'device', 'mountpoint'], registers,
  });
  info.set({ role: c.fs.role, fs_uuid: c.fs.uuid, system_uuid: c.config.systemUuid, device: c.config.device, mountpoint: c.mountpoint }, 1);
  return r;
}

/**
 * The request latency histogram, from RequestStats' buckets. prom-client's Histogram observes one
 * value per call (a label hash and a bucket search on the request path); this metric hands the
 * registry values already bucketed, in the same shape prom-client's own histograms produce, so the
 * library still writes the exposition text.
 */
function requestLatency(stats: DaemonContext['session']['requestStats'], opName: (opcode: number) => string): Metric {
  const name = 'famfs_fuse_request_duration_seconds';
  const help = 'time from handing a FUSE request to the file system to writing its reply, by opcode';
  const metric = {
    name, help, type: 'histogram', aggregator: 'sum',
    get: () => {
      const values: { metricName: string; labels: Record<string, string | number>; value: number }[] = [];
      for (const f of stats.figures()) {
        const opcode = opName(f.opcode);
        let cumulative = 0;
        LATENCY_BOUNDS_US.forEach((us, i) => {
          cumulative += f.buckets[i]!;
          values.push({ metricName: `${name}_bucket`, labels: { opcode, le: us / US_PER_S }, value: cumulative });
        });
        cumulative += f.buckets[LATENCY_BOUNDS_US.length]!;
        values.push({ metricName: `${name}_bucket`, labels: { opcode, le: '+Inf' }, value: cumulative });
        values.push({ metricName: `${name}_sum`, labels: { opcode }, value: f.latencySum });
        values.push({ metricName: `${name}_count`, labels: { opcode }, value: cumulative });
      }
      return { name, help, type: 'histogram', values, aggregator: 'sum' };
    },
    reset: () => undefined,
  };
  return metric as unknown as Metric;
}
