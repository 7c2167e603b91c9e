import { LOG_ENTRY_SIZE } from '../format/log-entry.js';
import { LOG_HEADER_SIZE } from '../format/log-header.js';
import { ALLOC_UNIT } from '../format/layout.js';
import type { bucketStats, FsckReport } from '../fs/fsck.js';
import { ROLE_LABEL } from '../fs/role.js';

const GIB = 1024 ** 3;

/**
 * fsck's report in upstream's layout: scripts parse these labels and columns
 * (`grep log_len | awk '{print $2}'`, `awk '{print $3}'` on capacity lines).
 */
export function fsckText(r: FsckReport, o: { human: boolean; verbose: number; buckets?: ReturnType<typeof bucketStats> }): string {
  const sb = r.superblock;
  const L: string[] = [];
  const g = (n: number): string => `${(n / GIB).toFixed(2)}G`;
  L.push('Famfs Superblock:');
  L.push(`  Filesystem UUID:   ${sb.uuid}`);
  L.push(`  Device UUID:       ${sb.devUuid}`);
  L.push(`  System UUID:       ${sb.systemUuid}`);
  L.push(`  role of this node: ${ROLE_LABEL[sb.role]}`);
  L.push(`  alloc_unit:        0x${sb.allocUnit.toString(16)}`);
  L.push(`  OMF major version: ${sb.omfMajor}`);
  L.push(`  OMF minor version: ${sb.omfMinor}`);
  L.push(`  sizeof superblock: ${sb.size}`);
  L.push(`  log size (bytes):  ${sb.logLen}`);
  L.push(`  primary: ${sb.devName}   ${sb.devSize}`);
  // Added devices (famfs adddev), in upstream's "primary:" style; absent on a one-device file system.
  for (const d of r.deviceTable.slice(1)) {
    L.push(`  device ${d.index}: ${d.path ?? 'NOT FOUND'}   ${d.size}   ${d.uuid}`);
    if (d.problem) L.push(`  ERROR: ${d.problem}`);
  }
  if (r.devices > 1 || !r.deviceZeroOnly.safe) {
    // Upstream famfs ignores the device index: a file on another device is, to it, device 0's memory.
    L.push(r.deviceZeroOnly.safe
      ? '  hosts that know only device 0 (upstream famfs): safe, no file is on another device'
      : `  hosts that know only device 0 (upstream famfs): NOT SAFE, ${r.deviceZeroOnly.filesOffPrimary} files have extents on other devices, which they misread`);
  }
  L.push('');
  L.push('Log stats:');
  L.push(`  # of log entries in use: ${r.log.entriesUsed} of ${r.log.slots}`);
  L.push(`  Log size in use:          ${r.log.sizeInUse}`);
  L.push(`  Log size (total bytes)    ${sb.logLen}`);
  const allocation = r.errors.filter((e) => e.about === 'allocation');
  if (allocation.length) {
    for (const e of allocation) L.push(`ERROR: ${e.message}`);
  } else {
    const c = r.capacity;
    L.push('  No allocation errors found');
    L.push('');
    L.push('Capacity:');
    if (o.human) {
      L.push(`  Device capacity:        ${g(c.device)}`);
      L.push(`  Bitmap capacity:        ${g(c.bitmap)}`);
      L.push(`  Sum of file sizes:      ${g(c.fileBytes)}`);
      L.push(`  Allocated space:        ${g(c.allocated)}`);
      L.push(`  Free space:             ${g(c.free)}`);
    } else {
      L.push(`  Device capacity:        ${c.device}`);
      L.push(`  Bitmap capacity:        ${c.bitmap}`);
      L.push(`  Sum of file sizes:      ${c.fileBytes}`);
      L.push(`  Allocated bytes:        ${c.allocated}`);
      L.push(`  Free space:             ${c.free}`);
    }
    L.push(`  Space amplification:     ${c.amplification.toFixed(2)}`);
    L.push(`  Percent used:            ${c.percentUsed.toFixed(1)}%`);
  }
  L.push('');
  L.push('Famfs log:');
  L.push(`  ${r.log.entriesUsed} of ${r.log.slots} entries used`);
  L.push(`  ${r.badEntries.length} bad log entries detected`);
  if (r.skipped.length) L.push(`  ${r.skipped.length} log entries could not be applied`);
  L.push(`  ${r.files} files`);
  L.push(`  ${r.directories} directories`);
  for (const e of r.errors) if (e.about === 'log') L.push(`ERROR: ${e.message}`);
  L.push('');
  if (o.buckets) L.push(...bucketLines(o.buckets, o.human));
  if (o.verbose) {
    L.push('Verbose:');
    L.push(`  log_offset:        ${sb.logOffset}`);
    L.push(`  log_len:           ${sb.logLen}`);
    L.push(`  sizeof(log header) ${LOG_HEADER_SIZE}`);
    L.push(`  sizeof(log_entry)  ${LOG_ENTRY_SIZE}`);
    L.push(`  last_log_index:    ${r.log.lastIndex}`);
    L.push(`  usable log size:   ${r.log.usableSize}`);
    L.push('');
  }
  return `${L.join('\n')}\n`;
}

/** `fsck -B`: upstream's "Stripe bucket info" layout (its lower-case "g" on In use included). */
function bucketLines(b: ReturnType<typeof bucketStats>, human: boolean): string[] {
  const g = (n: number): string => (n / GIB).toFixed(2);
  const L = ['Stripe bucket info:', `  Wasted overhang: ${b.overhang} bytes (${Math.floor(b.overhang / ALLOC_UNIT)} au)`];
  b.buckets.forEach((k, i) => {
    L.push(`  Bitmap range ${i}`);
    if (human) {
      L.push(`    Size:   ${g(k.size)}G`, `    In use: ${g(k.inUse)}g`, `    Free:   ${g(k.free)}G`, `    Free fragments: ${k.freeFragments}`,
        `    Largest frag:   ${g(k.largestFragment)}G`, `    Smallest frag:  ${g(k.smallestFragment)}G`);
    } else {
      L.push(`    Size:   ${k.size}`, `    In use: ${k.inUse}`, `    Free:   ${k.free}`, `    Free fragments: ${k.freeFragments}`,
        `    Largest frag:   ${k.largestFragment}`, `    Smallest frag:  ${k.smallestFragment}`);
    }
  });
  return L;
}
