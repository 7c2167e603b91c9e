/** Byte counts for people, in powers of 1024: progress bars, summary lines and famfs status. */
const KIB = 1024;
const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'] as const;

/**
 * `n` bytes as text: whole bytes below 1 KiB, else in the largest unit with one decimal
 * ('tenths': 1.5 GiB, what a rate or a progress bar shows) or three significant digits
 * ('significant': 1.50 GiB, 15.0 GiB, 150 GiB, what a capacity shows).
 */
export function sizeText(n: number, precision: 'tenths' | 'significant' = 'tenths'): string {
  let v = n;
  let u = 0;
  while (v >= KIB && u < UNITS.length - 1) {
    v /= KIB;
    u++;
  }
  if (u === 0) return `${n} B`;
  const digits = precision === 'tenths' ? 1 : v >= 100 ? 0 : v >= 10 ? 1 : 2;
  return `${v.toFixed(digits)} ${UNITS[u]}`;
}
