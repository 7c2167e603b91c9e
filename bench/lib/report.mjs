// The one table of `npm run bench`, as terminal text, as Markdown for bench/README.md, and as an
// SVG bar chart (a small writer: one bar per case, scaled so that 1.0 is the goal).
import { spawnSync } from 'node:child_process';
import { cpus, release, totalmem } from 'node:os';
import { GIB, fmt, goalText } from './common.mjs';

export function machine() {
  const fuse = spawnSync('pkg-config', ['--modversion', 'fuse3'], { encoding: 'utf8' }).stdout?.trim() || 'unknown';
  return {
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    kernel: `Linux ${release()}`,
    cpus: cpus().length,
    cpu: cpus()[0]?.model ?? 'unknown',
    memGiB: Math.round(totalmem() / GIB),
    node: process.version,
    libfuse: fuse,
  };
}

export function machineLine(m, quick) {
  return `${m.date}, ${m.kernel}, ${m.cpus} × ${m.cpu}, ${m.memGiB} GiB RAM, Node ${m.node}, libfuse ${m.libfuse} (C anchor); ${quick ? 'quick' : 'full'} run`;
}

function refText(r) {
  return r.ref ? `${fmt(r.ref.median)} ${r.unit} (${r.refName})` : '—';
}

/** Most decimals a ratio is printed with. */
const MAX_RATIO_DIGITS = 4;

/**
 * A ratio with two decimals, or more when two would put it on the other side of its goal (0.996
 * against a ≥ 1.0 goal is "0.996×", never a "1.00×" drawn as not met).
 */
export function ratioText(r) {
  const target = r.goal.kind === 'ratio' ? r.goal.target : null;
  let digits = 2;
  for (; digits < MAX_RATIO_DIGITS && target !== null; digits++) {
    const shown = Number(r.ratio.toFixed(digits));
    if ((r.goal.op === '>=' ? shown >= target : shown <= target) === r.met) break;
  }
  return `${r.ratio.toFixed(digits)}×`;
}

function cells(r) {
  if (r.failed) return [r.name, 'failed', '—', '—', '—', 'no'];
  return [
    r.name,
    `${fmt(r.value.median)} ${r.unit}`,
    refText(r),
    r.ratio === null ? '—' : ratioText(r),
    goalText(r.goal) + (r.goal.kind === 'value' ? ` ${r.unit}` : ''),
    r.met ? 'yes' : 'NO',
  ];
}

const HEAD = ['case', 'this project', 'reference', 'ratio', 'goal', 'met'];

export function textTable(rows) {
  const all = [HEAD, ...rows.map(cells)];
  const widths = HEAD.map((_, i) => Math.max(...all.map((c) => c[i].length)));
  return all.map((c) => c.map((x, i) => x.padEnd(widths[i])).join('  ')).join('\n');
}

export function markdownTable(rows) {
  const line = (c) => `| ${c.join(' | ')} |`;
  return [line(HEAD), line(HEAD.map(() => '---')), ...rows.map((r) => line(cells(r)))].join('\n');
}

/** How far a case is from its goal: 1 is exactly the goal, above 1 better than the goal. */
export function score(r) {
  if (r.failed) return 0;
  const measured = r.goal.kind === 'ratio' ? r.ratio : r.value.median;
  return r.goal.op === '>=' ? measured / r.goal.target : r.goal.target / measured;
}

const SVG = { minWidth: 900, margin: 10, labelGap: 8, bar: 22, gap: 8, top: 66, plot: 420, maxScore: 2, font: 12, titleFont: 14 };
/** Average advance of a sans-serif glyph, as a fraction of the font size (no font metrics in an SVG writer). */
const GLYPH_EM = 0.62;

function esc(s) {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function textWidth(s, size) {
  return Math.ceil(s.length * size * GLYPH_EM);
}

/**
 * The bar chart. Every column is as wide as its longest text (estimated from the glyph count), so
 * no title, case name or bar label runs past the edge; the title and the machine line are two lines.
 */
export function svgChart(rows, title, subtitle = '') {
  const labelOf = (r) => (r.failed ? 'failed' : r.ratio !== null ? ratioText(r) : `${fmt(r.value.median)} ${r.unit}`);
  const legend = `bar = distance to goal (1.0 = goal met exactly; capped at ${SVG.maxScore}); label = ratio or value`;
  const nameWidth = Math.max(0, ...rows.map((r) => textWidth(r.name, SVG.font)));
  const barLabelWidth = Math.max(0, ...rows.map((r) => textWidth(labelOf(r), SVG.font)));
  const left = SVG.margin + nameWidth + SVG.labelGap;
  const width = Math.max(SVG.minWidth, left + SVG.plot + SVG.labelGap / 2 + barLabelWidth + SVG.margin,
    SVG.margin * 2 + textWidth(title, SVG.titleFont), SVG.margin * 2 + textWidth(subtitle, SVG.font), SVG.margin * 2 + textWidth(legend, SVG.font));
  const x = (s) => left + (Math.min(s, SVG.maxScore) / SVG.maxScore) * SVG.plot;
  const height = SVG.top + rows.length * (SVG.bar + SVG.gap) + 30;
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="${SVG.font}">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${SVG.margin}" y="20" font-size="${SVG.titleFont}" font-weight="bold">${esc(title)}</text>`,
    `<text x="${SVG.margin}" y="37">${esc(subtitle)}</text>`,
    `<text x="${SVG.margin}" y="54" fill="#555">${esc(legend)}</text>`,
  ];
  rows.forEach((r, i) => {
    const y = SVG.top + i * (SVG.bar + SVG.gap);
    const s = score(r);
    out.push(`<text x="${left - SVG.labelGap}" y="${y + 15}" text-anchor="end">${esc(r.name)}</text>`);
    out.push(`<rect x="${left}" y="${y}" width="${Math.max(1, x(s) - left).toFixed(1)}" height="${SVG.bar}" fill="${r.met ? '#3a9a4a' : '#c8453a'}"/>`);
    out.push(`<text x="${(x(s) + 4).toFixed(1)}" y="${y + 15}">${esc(labelOf(r))}</text>`);
  });
  const g = x(1).toFixed(1);
  out.push(`<line x1="${g}" y1="${SVG.top - 6}" x2="${g}" y2="${height - 24}" stroke="black" stroke-dasharray="4 3"/>`);
  out.push(`<text x="${g}" y="${height - 10}" text-anchor="middle">goal</text>`);
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
