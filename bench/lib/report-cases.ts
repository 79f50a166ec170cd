// The report's tables for sections (e) to (h), the raw-pipe floor ratios of
// (c), and the summary of target ratios at the top of the report.

import type { BurstResult } from '../workloads/submit-burst.js';
import type { TinyTasksResult } from '../workloads/tiny-tasks.js';
import type { InterleavedResult } from './interleave.js';
import type { Results } from './report.js';
import { inProcessBase } from './report.js';
import { checksCell, f0, ms, range, ratio, table } from './report-format.js';
import type { Summary } from './stats.js';

const medianOf = (rows: InterleavedResult[], id: string) => rows.find((r) => r.id === id)?.steady?.median;
const div = (a: number | undefined, b: number | undefined) =>
  a === undefined || b === undefined ? undefined : a / b;

/** Rows of interleaved variants with a ratio column relative to `baseId`. */
export function interleavedTable(
  rows: InterleavedResult[],
  baseId: string,
  ratioHeader: string,
  ratioOf: (median: number, base: number) => number,
  withShm: boolean,
): string {
  const base = medianOf(rows, baseId);
  return table(
    [
      'variant',
      'median (ms)',
      'min–max (ms)',
      ratioHeader,
      ...(withShm ? ['peak /dev/shm growth, warm-up (MB)'] : []),
      'checks',
    ],
    rows.map((r) => [
      r.label,
      ms(r.steady?.median),
      range(r.steady),
      ratio(r.steady === undefined || base === undefined ? undefined : ratioOf(r.steady.median, base)),
      ...(withShm ? [r.shmPeakMB === undefined ? '–' : f0(r.shmPeakMB)] : []),
      checksCell(r),
    ]),
  );
}

export function burstTable(b: BurstResult): string {
  const cell = (s: Summary | undefined, fmt: (x: number) => string = ms) =>
    s === undefined ? ['–', '–'] : [fmt(s.median), range(s, fmt)];
  return table(
    ['measure', 'median', 'min–max'],
    [
      ['synchronous submit loop (ms)', ...cell(b.submitLoopMs)],
      ['max event-loop delay over the burst (ms)', ...cell(b.maxEventLoopDelayMs)],
      ['until every result is in (ms)', ...cell(b.totalMs)],
      ['peak /dev/shm growth (MB)', ...cell(b.shmPeakMB, f0)],
    ],
  );
}

/** shmex's ratios to the raw-pipe floor and ThreadPoolExecutor's to piscina, from section (c). */
export function tinyRatios(t: TinyTasksResult) {
  const peer = (id: string) => t.peers.find((p) => p.id === id);
  const tput = (id: string) => peer(id)?.throughput?.median;
  const lat = (id: string) => peer(id)?.latencyAll?.median;
  const afterGc = (id: string) => peer(id)?.afterGc;
  return {
    processThroughputVsFloorAfterGc: div(
      afterGc('shmex')?.throughput?.median,
      afterGc('raw-pipe')?.throughput?.median,
    ),
    processLatencyVsFloorAfterGc: div(
      afterGc('shmex')?.latency?.median,
      afterGc('raw-pipe')?.latency?.median,
    ),
    processThroughputVsFloor: div(tput('shmex'), tput('raw-pipe')),
    processLatencyVsFloor: div(lat('shmex'), lat('raw-pipe')),
    threadsThroughputVsPiscina: div(tput('shmex-threads'), tput('piscina')),
    threadsLatencyVsPiscina: div(lat('shmex-threads'), lat('piscina')),
  };
}

export function tinyRatioLines(t: TinyTasksResult): string[] {
  const r = tinyRatios(t);
  return [
    `- shmex ProcessPoolExecutor vs the raw-pipe floor: throughput ${ratio(r.processThroughputVsFloor)}, latency ${ratio(r.processLatencyVsFloor)}.`,
    `- shmex ThreadPoolExecutor vs piscina: throughput ${ratio(r.threadsThroughputVsPiscina)}, latency ${ratio(r.threadsLatencyVsPiscina)}.`,
    `- Each timed run follows untimed runs of the same size (three bursts before a throughput run, one before a latency run): the benchmark forces full collections between runs, which discard optimized code whose objects were all dropped, and a pool re-tiers over the next few thousand tasks. The first of them, right after the collections, gave shmex vs the raw-pipe floor: throughput ${ratio(r.processThroughputVsFloorAfterGc)}, latency ${ratio(r.processLatencyVsFloorAfterGc)}.`,
    '- The raw-pipe floor: 2 plain node children; each task is an 8-byte header (id, length) and the 8,000 bytes of the array written to the child’s stdin, the child sums them (after one copy into an aligned Float64Array) and answers with the header and the 8-byte sum on stdout. Nothing is serialized.',
  ];
}

interface Target {
  what: string;
  measured: number | undefined;
  target: string;
  met: (x: number) => boolean;
}

/** The seed task's targets, for the largest array the run measured (the full run's 160 MB). */
function seedTargets(r: Results): Target[] {
  const section = [...r.bigArrays].sort((a, b) => b.n - a.n)[0];
  if (section === undefined) return [];
  const v = section.variants;
  const base = inProcessBase(v);
  const row = (id: string) => v.find((x) => x.id === id);
  const mb = `${Math.round(section.arrayMB)} MB`;
  return [
    {
      what: `(a) seed addOne ${mb}, copy-in: round trip / in-process`,
      measured: div(row('shmex-copy-in')?.steady?.median, base),
      target: '≤ 0.6×',
      met: (x) => x <= 0.6,
    },
    {
      what: `(a) seed addOne ${mb}, from() input, empty() output / in-process`,
      measured: div(row('shmex-zero-copy-in-empty-out')?.steady?.median, base),
      target: '≤ 0.35×',
      met: (x) => x <= 0.35,
    },
    {
      what: `(a) seed addOne ${mb}, copy-in: added peak memory × array`,
      measured: div(row('shmex-copy-in')?.memory?.addedPeakMB, section.arrayMB),
      target: '≤ 2.0×',
      met: (x) => Number(x.toFixed(1)) <= 2,
    },
    {
      what: `(a) seed addOne ${mb}, copy-in: ThreadPoolExecutor / ProcessPoolExecutor round trip`,
      measured: div(row('shmex-threads-copy-in')?.steady?.median, row('shmex-copy-in')?.steady?.median),
      target: '≤ 1×',
      met: (x) => x <= 1,
    },
  ];
}

function targets(r: Results): Target[] {
  const out: Target[] = seedTargets(r);
  if (r.views !== undefined) {
    const v = r.views.variants;
    out.push({
      what: '(e) argument subarray / slice, round-trip latency',
      measured: div(medianOf(v, 'arg-subarray'), medianOf(v, 'arg-slice')),
      target: '≤ 2×',
      met: (x) => x <= 2,
    });
    out.push({
      what: '(e) result subarray / slice, round-trip latency',
      measured: div(medianOf(v, 'result-subarray'), medianOf(v, 'result-slice')),
      target: '≤ 2×',
      met: (x) => x <= 2,
    });
  }
  if (r.reduction !== undefined) {
    const v = r.reduction.variants;
    const base = medianOf(v, 'in-process');
    out.push({
      what: '(f) chunked sum, heap input: speedup (in-process / shmex)',
      measured: div(base, medianOf(v, 'shmex-heap')),
      target: '≥ 0.9×',
      met: (x) => x >= 0.9,
    });
    out.push({
      what: '(f) chunked sum, from() input: speedup',
      measured: div(base, medianOf(v, 'shmex-from')),
      target: '≥ 1.6×',
      met: (x) => x >= 1.6,
    });
  }
  if (r.strips !== undefined) {
    const v = r.strips.variants;
    out.push({
      what: '(g) image strips, subarray: speedup (in-process / shmex)',
      measured: div(medianOf(v, 'in-process'), medianOf(v, 'shmex-subarray')),
      target: '≥ 1.6×',
      met: (x) => x >= 1.6,
    });
  }
  if (r.tinyTasks !== undefined) {
    const t = tinyRatios(r.tinyTasks);
    out.push(
      {
        what: '(c) shmex processes / raw-pipe floor, throughput',
        measured: t.processThroughputVsFloor,
        target: '≥ 0.9×',
        met: (x) => x >= 0.9,
      },
      {
        what: '(c) shmex processes / raw-pipe floor, latency',
        measured: t.processLatencyVsFloor,
        target: '≤ 1.1×',
        met: (x) => x <= 1.1,
      },
      {
        what: '(c) ThreadPoolExecutor / piscina, throughput',
        measured: t.threadsThroughputVsPiscina,
        target: '≥ 1×',
        met: (x) => x >= 1,
      },
      {
        what: '(c) ThreadPoolExecutor / piscina, latency',
        measured: t.threadsLatencyVsPiscina,
        target: '≤ 1×',
        met: (x) => x <= 1,
      },
    );
  }
  if (r.cluster !== undefined && !('skipped' in r.cluster)) {
    out.push(
      {
        what: `(i) cluster ${(r.cluster.config.n * 8) / 1e6} MB round trip / 4 raw Redis transfers`,
        measured: r.cluster.bigVsFloor,
        target: '≤ 1.5×',
        met: (x) => x <= 1.5,
      },
      {
        what: '(i) cluster tiny tasks / BullMQ empty jobs, throughput',
        measured: r.cluster.tinyVsBull,
        target: '≥ 0.5×',
        met: (x) => x >= 0.5,
      },
    );
  }
  return out;
}

/** The summary at the top of the report: each target ratio with its measured value. */
export function summaryLines(r: Results): string[] {
  const list = targets(r);
  const lines: string[] = [];
  if (list.length > 0) {
    lines.push(
      '## Summary: target ratios',
      '',
      table(
        ['ratio', 'measured', 'target', 'met'],
        list.map((t) => [
          t.what,
          ratio(t.measured),
          t.target,
          t.measured === undefined ? '–' : t.met(t.measured) ? 'yes' : '**no**',
        ]),
      ),
    );
  }
  if (r.cluster !== undefined && 'skipped' in r.cluster) {
    lines.push('', `(i) cluster: skipped (${r.cluster.skipped}).`);
  }
  if (r.burst?.submitLoopMs !== undefined) {
    const b = r.burst;
    lines.push(
      '',
      `(h) submit burst (reported, no target): ${b.count} × submit(sum, ${b.arrayMB} MB) blocks the event loop for ${ms(b.submitLoopMs?.median)} ms (max event-loop delay ${ms(b.maxEventLoopDelayMs?.median)} ms), peak /dev/shm growth ${f0(b.shmPeakMB?.median ?? 0)} MB.`,
    );
  }
  return lines;
}
