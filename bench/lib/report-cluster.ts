// The report's cluster section (i): its two tables, and its two target
// ratios for the summary at the top of the report.
import type { ClusterResult } from '../workloads/cluster.js';
import { f0, range, ratio, table } from './report-format.js';
import type { Summary } from './stats.js';

/** The section as the report holds it: measured, or skipped with the reason. */
export type ClusterSection = (ClusterResult & { othersCpuPercent: number }) | { skipped: string };

const cells = (s: Summary, fmt = f0) => [fmt(s.median), range(s, fmt)];

export function clusterLines(c: ClusterSection): string[] {
  const out = ['', '## (i) cluster: ClusterExecutor on 2 local machines through Redis', ''];
  if ('skipped' in c) return [...out, `Skipped: ${c.skipped}.`];
  const mb = (c.config.n * 8) / 1e6;
  const b = c.big;
  const t = c.tiny;
  out.push(
    `A redis-server of the benchmark's own on loopback and a LocalCluster of 2 \`shmex worker\` machines (1 pool process each, separate shared-memory directories, so arrays cross through Redis). Big: addOne on ${mb} MB, ${b.clusterMs.n} rounds, the rows interleaved in each round. The floor is 4 raw Redis transfers of the same bytes through ioredis in 8 MiB chunks (SET, GET, SET, GET: the argument up and down, the result up and down). Tiny: a Float64Array of 1e3 summed, ${c.config.tinyTasks} submitted at once (throughput) and ${c.config.latencyTasks} one at a time (latency), ${t.clusterPerS.n} rounds; the floor is BullMQ's own throughput for empty jobs (addBulk, one Worker, concurrency 4). Other processes used ${c.othersCpuPercent}% of the machine's CPU time during this section.`,
    '',
    table(
      ['big round trip', 'median (ms)', 'min–max (ms)', '× raw floor'],
      [
        ['4 raw Redis transfers (2 SET + 2 GET)', ...cells(b.rawFloorMs), '1.00×'],
        ['ClusterExecutor', ...cells(b.clusterMs), ratio(c.bigVsFloor)],
        ['local ProcessPoolExecutor', ...cells(b.localMs), ratio(b.localMs.median / b.rawFloorMs.median)],
      ],
    ),
    '',
    table(
      ['tiny tasks', 'throughput (tasks/s)', 'min–max', '× BullMQ', 'latency median (µs)', 'min–max (µs)'],
      [
        ['BullMQ, empty jobs', ...cells(t.bullPerS), '1.00×', '–', '–'],
        ['ClusterExecutor', ...cells(t.clusterPerS), ratio(c.tinyVsBull), ...cells(t.clusterLatencyUs)],
        [
          'local ProcessPoolExecutor',
          ...cells(t.localPerS),
          ratio(t.localPerS.median / t.bullPerS.median),
          ...cells(t.localLatencyUs),
        ],
      ],
    ),
  );
  return out;
}
