// How the report's parts write numbers and tables: one format for every section.
import type { Summary } from './stats.js';

export const f0 = (x: number) => x.toFixed(0);
export const ms = (x: number | undefined) =>
  x === undefined ? '–' : x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2);
export const ratio = (x: number | undefined) =>
  x === undefined || !Number.isFinite(x) ? '–' : `${x.toFixed(2)}×`;
export const range = (s: Summary | undefined, fmt: (x: number) => string = ms) =>
  s === undefined ? '–' : `${fmt(s.min)}–${fmt(s.max)}`;

export function checksCell(r: { checksPassed: number; failures: string[] }): string {
  return r.failures.length === 0
    ? `${r.checksPassed} ok`
    : `**${r.failures.length} FAILED** (${r.checksPassed} ok)`;
}

export function table(header: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}
