import type { FsStatus } from '../status/report.js';
import { sizeText } from './size-text.js';

const BAR_WIDTH = 30;
const S_PER_MIN = 60;
const S_PER_HOUR = 3600;
const S_PER_DAY = 86400;

function bar(fraction: number): string {
  const full = Math.round(Math.min(1, Math.max(0, fraction)) * BAR_WIDTH);
  return `[${'#'.repeat(full)}${'.'.repeat(BAR_WIDTH - full)}]`;
}

function durationText(s: number): string {
  const t = Math.floor(s);
  if (t < S_PER_MIN) return `${t}s`;
  if (t < S_PER_HOUR) return `${Math.floor(t / S_PER_MIN)}m${t % S_PER_MIN}s`;
  if (t < S_PER_DAY) return `${Math.floor(t / S_PER_HOUR)}h${Math.floor((t % S_PER_HOUR) / S_PER_MIN)}m`;
  return `${Math.floor(t / S_PER_DAY)}d${Math.floor((t % S_PER_DAY) / S_PER_HOUR)}h`;
}

/** `famfs status` as one screen of text. */
export function statusText(s: FsStatus): string {
  const L: string[] = [];
  L.push(`famfs ${s.fsUuid}`);
  L.push(`  master:   ${s.masterSystemUuid}`);
  L.push(`  this host ${s.systemUuid}: ${s.role}`);
  L.push(`log       ${bar(s.log.entriesUsed / s.log.slots)} ${s.log.entriesUsed} / ${s.log.slots} entries (${s.log.percentUsed.toFixed(1)}%)`);
  for (const d of s.devices) {
    L.push(`device ${d.index}  ${bar(d.capacity ? d.allocated / d.capacity : 0)} ${d.path ?? 'NOT FOUND'}`);
    L.push(`          size ${sizeText(d.size, 'significant')}, allocated ${sizeText(d.allocated, 'significant')}, free ${sizeText(d.free, 'significant')}, largest free run ${sizeText(d.largestFreeRun, 'significant')}`);
  }
  L.push(`${s.files} files, ${s.directories} directories`);
  if (s.mounts.length === 0) L.push('mounts on this machine: none');
  else L.push('mounts on this machine:');
  for (const m of s.mounts) {
    const lag = m.followLag ? `lag ${m.followLag.entries} entries / ${m.followLag.ms} ms` : 'lag unknown';
    const rate = m.requestsPerSecond !== null ? `${m.requestsPerSecond.toFixed(1)} req/s` : '';
    const daemon = m.daemonAlive ? `pid ${m.pid}` : `pid ${m.pid} DEAD`;
    L.push(`  ${m.mountpoint}  ${m.role} ${m.systemUuid}  ${daemon}  up ${durationText(m.uptimeSeconds)}  ${lag}  ${rate}`.trimEnd());
  }
  if (s.problems.length === 0) L.push('problems: none');
  else L.push(`problems: ${s.problems.length}`);
  for (const p of s.problems) L.push(`  ${p.kind}: ${p.message}${p.fix ? `\n    fix: ${p.fix}` : ''}`);
  return `${L.join('\n')}\n`;
}
