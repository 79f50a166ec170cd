// An SVG chart of the steady-state ratios of section (a): each variant's
// median time over in-process, on a log scale (left of 1 = faster than doing
// the work in-process). Written next to results.md; README embeds it.
import { type BigArraysSection, inProcessBase } from './report.js';

const WIDTH = 960;
const LABEL_WIDTH = 520;
const BAR_HEIGHT = 18;
const GAP = 6;
const TOP = 46;
const MIN_RATIO = 0.125;
const MAX_RATIO = 16;
const TICKS = [0.125, 0.25, 0.5, 1, 2, 4, 8, 16];

function xmlText(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function ratioChart(section: BigArraysSection): string | undefined {
  const b = inProcessBase(section.variants);
  if (b === undefined) return undefined;
  const rows = section.variants
    .filter((v) => v.steady !== undefined && v.id !== 'in-process-again')
    .map((v) => ({ label: v.label, ratio: v.steady!.median / b, ours: v.label.startsWith('shmex') }));
  const plot = WIDTH - LABEL_WIDTH - 60;
  const x = (r: number) =>
    LABEL_WIDTH +
    (plot * (Math.log2(Math.min(Math.max(r, MIN_RATIO), MAX_RATIO)) - Math.log2(MIN_RATIO))) /
      (Math.log2(MAX_RATIO) - Math.log2(MIN_RATIO));
  const height = TOP + rows.length * (BAR_HEIGHT + GAP) + 30;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="sans-serif" font-size="12">`,
    `<title>shmex benchmark: median time of addOne over in-process, per variant</title>`,
    `<rect width="${WIDTH}" height="${height}" fill="#fff"/>`,
    `<text x="10" y="18" font-size="14" font-weight="bold">addOne on ${section.n.toExponential(0).replace('e+', 'e')} float64 (${section.arrayMB} MB): median time / in-process (log scale)</text>`,
    `<text x="10" y="34" fill="#555">left of 1: faster than the same work in-process; shmex rows in blue</text>`,
  );
  for (const tick of TICKS) {
    const tx = x(tick).toFixed(1);
    out.push(
      `<line x1="${tx}" y1="${TOP - 6}" x2="${tx}" y2="${height - 24}" stroke="${tick === 1 ? '#000' : '#ddd'}"/>`,
      `<text x="${tx}" y="${height - 10}" text-anchor="middle" fill="#555">${tick}×</text>`,
    );
  }
  rows.forEach((row, i) => {
    const y = TOP + i * (BAR_HEIGHT + GAP);
    const x0 = x(1);
    const x1 = x(row.ratio);
    out.push(
      `<text x="${LABEL_WIDTH - 8}" y="${y + 13}" text-anchor="end">${xmlText(row.label)}</text>`,
      `<rect x="${Math.min(x0, x1).toFixed(1)}" y="${y}" width="${Math.max(1, Math.abs(x1 - x0)).toFixed(1)}" height="${BAR_HEIGHT}" fill="${row.ours ? '#2b6cb0' : '#a0aec0'}"/>`,
      `<text x="${(Math.max(x0, x1) + 4).toFixed(1)}" y="${y + 13}">${row.ratio.toFixed(2)}×</text>`,
    );
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
