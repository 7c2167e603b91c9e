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

function cells(r) {
  if (r.failed) return [r.name, 'failed', '—', '—', '—', 'no'];
  return [
    r.name,
    `${fmt(r.value.median)} ${r.unit}`,
    refText(r),
    r.ratio === null ? '—' : `${r.ratio.toFixed(2)}×`,
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

const SVG = { width: 900, label: 380, bar: 22, gap: 8, top: 50, right: 80, maxScore: 2 };

function esc(s) {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function svgChart(rows, title) {
  const plot = SVG.width - SVG.label - SVG.right;
  const x = (s) => SVG.label + (Math.min(s, SVG.maxScore) / SVG.maxScore) * plot;
  const height = SVG.top + rows.length * (SVG.bar + SVG.gap) + 30;
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${SVG.width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="10" y="20" font-size="14" font-weight="bold">${esc(title)}</text>`,
    `<text x="10" y="38" fill="#555">bar = distance to goal (1.0 = goal met exactly; capped at ${SVG.maxScore}); label = ratio or value</text>`,
  ];
  rows.forEach((r, i) => {
    const y = SVG.top + i * (SVG.bar + SVG.gap);
    const s = score(r);
    const label = r.failed ? 'failed' : r.ratio !== null ? `${r.ratio.toFixed(2)}×` : `${fmt(r.value.median)} ${r.unit}`;
    out.push(`<text x="${SVG.label - 8}" y="${y + 15}" text-anchor="end">${esc(r.name)}</text>`);
    out.push(`<rect x="${SVG.label}" y="${y}" width="${Math.max(1, x(s) - SVG.label).toFixed(1)}" height="${SVG.bar}" fill="${r.met ? '#3a9a4a' : '#c8453a'}"/>`);
    out.push(`<text x="${(x(s) + 4).toFixed(1)}" y="${y + 15}">${esc(label)}</text>`);
  });
  const g = x(1).toFixed(1);
  out.push(`<line x1="${g}" y1="${SVG.top - 6}" x2="${g}" y2="${height - 24}" stroke="black" stroke-dasharray="4 3"/>`);
  out.push(`<text x="${g}" y="${height - 10}" text-anchor="middle">goal</text>`);
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
