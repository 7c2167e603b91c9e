import { readFileSync } from 'node:fs';

/**
 * The kernel's mount table as this process sees it, parsed in one place for every layer: the FUSE
 * server (is a mount point taken, which connection serves it), the mount registry (which famfs
 * mounts exist) and the CLI (a mount whose daemon died). Reading it never touches a mounted path,
 * so it is safe while a daemon hangs.
 */
export const MOUNTINFO = '/proc/self/mountinfo';

/** One line of /proc/self/mountinfo. */
export interface MountInfo {
  readonly mountId: number;
  readonly major: number;
  readonly minor: number;
  readonly mountpoint: string;
  readonly fstype: string;
  readonly source: string;
}

/** mountinfo escapes space, tab, newline and backslash as \ooo. */
function unescapeMountField(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

export function parseMountinfo(text: string): MountInfo[] {
  const out: MountInfo[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const fields = line.split(' ');
    const sep = fields.indexOf('-');
    if (sep < 0 || fields.length < sep + 3) continue;
    const [major, minor] = (fields[2] ?? '0:0').split(':').map(Number);
    out.push({
      mountId: Number(fields[0]),
      major: major ?? 0,
      minor: minor ?? 0,
      mountpoint: unescapeMountField(fields[4] ?? ''),
      fstype: fields[sep + 1] ?? '',
      source: unescapeMountField(fields[sep + 2] ?? ''),
    });
  }
  return out;
}

/** The mount table now. */
export function readMountinfo(): MountInfo[] {
  return parseMountinfo(readFileSync(MOUNTINFO, 'utf8'));
}
