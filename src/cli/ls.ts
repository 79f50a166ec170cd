// `shmex ls`: the segments of this project in a directory, one per line (or JSON).
import { listSegmentNames } from '../shm/sweep.js';
import { type SegmentInfo, segmentInfo } from './segment-info.js';

function humanBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

function humanAge(seconds: number): string {
  if (seconds < 60) return `${Math.floor(seconds)}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)}h`;
  return `${Math.floor(seconds / 86400)}d`;
}

export function listSegments(dir: string): SegmentInfo[] {
  const now = Date.now();
  return listSegmentNames(dir)
    .map((name) => segmentInfo(dir, name, now))
    .filter((info) => info !== undefined)
    .sort((a, b) => a.pid - b.pid || a.name.localeCompare(b.name));
}

/** A shape as numpy prints it: `(5,)` for one dimension, `()` for none. */
function pythonTuple(shape: readonly number[]): string {
  return shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
}

/** The table `shmex ls` prints. */
export function formatSegments(infos: readonly SegmentInfo[], dir: string): string {
  if (infos.length === 0) return `no shmex segments in ${dir}\n`;
  const rows = infos.map((s) => [
    s.name,
    String(s.pid),
    s.alive ? 'alive' : 'dead',
    humanBytes(s.bytes),
    s.dtype ?? '-',
    s.shape === undefined ? '-' : pythonTuple(s.shape),
    humanAge(s.ageSeconds),
  ]);
  const header = ['NAME', 'PID', 'OWNER', 'SIZE', 'DTYPE', 'SHAPE', 'AGE'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === 3 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  const total = infos.reduce((sum, s) => sum + s.bytes, 0);
  const dead = infos.filter((s) => !s.alive).length;
  return `${[line(header), ...rows.map(line)].join('\n')}\n${infos.length} segments, ${humanBytes(total)}; ${dead} of dead processes (shmex clear removes them)\n`;
}
