// The report: bench/results.md (tables) and bench/results.json (everything), or
// bench/results-quick.{md,json} for --quick runs.
import { writeFileSync } from 'node:fs';
import type { BigArraysResult } from '../workloads/big-arrays.js';
import type { ComputeResult } from '../workloads/compute.js';
import type { ReductionResult } from '../workloads/reduction.js';
import type { ReleaseLoopResult } from '../workloads/release-loop.js';
import type { StripsResult } from '../workloads/strips.js';
import type { BurstResult } from '../workloads/submit-burst.js';
import type { TinyTasksResult } from '../workloads/tiny-tasks.js';
import type { ViewsResult } from '../workloads/views.js';
import { ratioChart } from './chart.js';
import type { MachineInfo } from './machine.js';
import type { VariantResult } from './measure.js';
import { burstTable, interleavedTable, summaryLines, tinyRatioLines } from './report-cases.js';
import { type ClusterSection, clusterLines } from './report-cluster.js';
import { checksCell, f0, ms, ratio, table } from './report-format.js';

/** Percent of the machine's CPU time used by other processes while a section ran. */
interface Disturbance {
  othersCpuPercent: number;
}

export interface BigArraysSection extends BigArraysResult, Disturbance {
  id: string;
  releaseLoops: ReleaseLoopResult[];
}

export interface Results {
  mode: 'full' | 'quick';
  /** The sections run, when --only narrowed the run. */
  sections?: string[];
  ok: boolean;
  machine: MachineInfo;
  durationS: number;
  config: Record<string, unknown>;
  bigArrays: BigArraysSection[];
  tinyTasks?: TinyTasksResult & Disturbance;
  compute?: ComputeResult & Disturbance;
  views?: ViewsResult & Disturbance;
  reduction?: ReductionResult & Disturbance;
  strips?: StripsResult & Disturbance;
  burst?: BurstResult & Disturbance;
  cluster?: ClusterSection;
  checks: { passed: number; failed: number; failures: string[] };
  leftoverSegments: string[];
  /** Over the whole run. */
  othersCpuPercent: number;
  notes: string[];
}

/** Above this share of the machine's CPU used by others, a section's timings are flagged. */
const DISTURBED_PERCENT = 5;

function disturbance(d: Disturbance): string {
  const text = `Other processes used ${d.othersCpuPercent}% of the machine's CPU time during this section`;
  return d.othersCpuPercent > DISTURBED_PERCENT ? `**${text}: its timings were disturbed.**` : `${text}.`;
}

const sci = (n: number) => n.toExponential(0).replace('e+', 'e');

/** The faster of the in-process blocks (the first row and the drift check at the end): the conservative base. */
export function inProcessBase(variants: VariantResult[]): number | undefined {
  const medians = variants
    .filter((v) => v.id === 'in-process' || v.id === 'in-process-again')
    .flatMap((v) => (v.steady === undefined ? [] : [v.steady.median]));
  return medians.length === 0 ? undefined : Math.min(...medians);
}

function bigArraysTable(section: BigArraysSection): string {
  const base = inProcessBase(section.variants);
  const rows = section.variants.map((v: VariantResult) => [
    v.label,
    ms(v.coldMs),
    ms(v.steady?.median),
    v.steady === undefined ? '–' : `${ms(v.steady.min)}–${ms(v.steady.max)}`,
    ratio(v.steady === undefined || base === undefined ? undefined : v.steady.median / base),
    v.memory === undefined ? '–' : f0(v.memory.addedPeakMB),
    v.memory === undefined ? '–' : ratio(v.memory.addedPeakMB / section.arrayMB),
    v.memory === undefined ? '–' : `${f0(v.memory.addedPrivatePeakMB)} / ${f0(v.memory.addedShmPeakMB)}`,
    checksCell(v),
  ]);
  return table(
    [
      'variant',
      'cold first call (ms)',
      'steady median (ms)',
      'min–max (ms)',
      '× in-process (faster block)',
      'added peak memory (MB)',
      '× array',
      'of which processes / /dev/shm (MB)',
      'checks',
    ],
    rows,
  );
}

function releaseTable(section: BigArraysSection): string {
  const rows = section.releaseLoops.map((r) => [
    r.label,
    String(r.iterations),
    ms(r.perIteration?.median),
    r.perIteration === undefined ? '–' : `${ms(r.perIteration.min)}–${ms(r.perIteration.max)}`,
    r.memory === undefined ? '–' : f0(r.memory.addedPeakMB),
    r.memory === undefined ? '–' : ratio(r.memory.addedPeakMB / section.arrayMB),
    r.memory === undefined ? '–' : f0(r.memory.addedAtEndMB),
    checksCell(r),
  ]);
  return table(
    [
      'loop',
      'iterations',
      'ms/iteration, median',
      'min–max (ms)',
      'added peak memory (MB)',
      '× array',
      'still held after the loop (MB)',
      'checks',
    ],
    rows,
  );
}

function tinyTable(t: TinyTasksResult): string {
  const shmex = t.peers.find((p) => p.id === 'shmex');
  const rows = t.peers.map((p) => [
    p.label,
    p.throughput === undefined ? '–' : f0(p.throughput.median),
    p.throughput === undefined ? '–' : `${f0(p.throughput.min)}–${f0(p.throughput.max)}`,
    ratio(p.throughput && shmex?.throughput ? p.throughput.median / shmex.throughput.median : undefined),
    p.latencyAll === undefined ? '–' : f0(p.latencyAll.median),
    p.latency === undefined ? '–' : `${f0(p.latency.min)}–${f0(p.latency.max)}`,
    p.latencyAll === undefined ? '–' : `${f0(p.latencyAll.p90)} / ${f0(p.latencyAll.p99)}`,
    checksCell(p),
  ]);
  return table(
    [
      'peer',
      'throughput (tasks/s), median of rounds',
      'min–max',
      'throughput × shmex',
      'latency median (µs)',
      'min–max of round medians (µs)',
      'p90 / p99 (µs)',
      'checks',
    ],
    rows,
  );
}

function computeTable(c: ComputeResult): string {
  const base = inProcessBase(c.variants);
  const rows = c.variants.map((v) => [
    v.label,
    ms(v.steady?.median),
    v.steady === undefined ? '–' : `${ms(v.steady.min)}–${ms(v.steady.max)}`,
    ratio(v.steady === undefined || base === undefined ? undefined : base / v.steady.median),
    checksCell(v),
  ]);
  return table(
    ['variant', 'median (ms)', 'min–max (ms)', 'speedup vs in-process (faster block)', 'checks'],
    rows,
  );
}

export function toMarkdown(r: Results): string {
  const m = r.machine;
  const out: string[] = [];
  out.push(`# shmex benchmark${r.mode === 'quick' ? ' (quick smoke run: few iterations, small sizes)' : ''}`);
  out.push('');
  out.push(
    `Generated by \`npm run bench${r.mode === 'quick' ? ' -- --quick' : ''}\` on ${m.date.slice(0, 10)} (${m.date}), in ${r.durationS.toFixed(0)} s.`,
  );
  out.push('');
  out.push(
    `Machine: ${m.cores} cores (${m.cpuModel}), ${m.totalMemoryGB} GB RAM, /dev/shm ${m.shmSizeGB} GB, Linux ${m.kernel}, transparent huge pages: ${m.transparentHugePages}, load average (1/5/15 min) at start ${m.loadAverageAtStart.join(' ')}, at end ${m.loadAverageAtEnd?.join(' ') ?? '?'}. Node.js ${m.node} (V8 ${m.v8}). shmex at commit ${m.shmex.commit}${m.shmex.srcModified ? ' with uncommitted changes in src/ (dist/ is built from the working tree)' : ''}.`,
  );
  out.push('');
  out.push(
    `Result checks: **${r.checks.passed} passed, ${r.checks.failed} failed**${r.ok ? '' : ' — THIS RUN FAILED'}. Leftover shmex segments at the end: ${r.leftoverSegments.length}. Other processes used ${r.othersCpuPercent}% of the machine's CPU time during the run${r.othersCpuPercent > DISTURBED_PERCENT ? ' (**disturbed**: compare rows within a section, and rerun on a quiet machine)' : ''}.`,
  );
  if (r.checks.failures.length > 0) {
    out.push('');
    for (const f of r.checks.failures.slice(0, 20)) out.push(`- FAILED: ${f.split('\n')[0]}`);
  }
  if (r.sections !== undefined) out.push('', `Sections run (--only): ${r.sections.join(', ')}.`);
  const summary = summaryLines(r);
  if (summary.length > 0) out.push('', ...summary);
  out.push('');
  out.push('## How it was measured');
  out.push('');
  for (const note of r.notes) out.push(`- ${note}`);
  for (const section of r.bigArrays) {
    out.push('');
    out.push(
      `## ${section.id} addOne on ${sci(section.n)} float64 (${section.arrayMB} MB): y[i] = x[i] + 1 into a new array`,
    );
    out.push('');
    out.push(disturbance(section));
    out.push('');
    out.push(bigArraysTable(section));
    const notes = section.variants
      .filter((v) => v.note !== undefined)
      .map((v) => `- *${v.label}*: ${v.note}`);
    if (notes.length > 0) out.push('', ...notes);
    out.push('');
    out.push(
      `### ${section.id} shmex: dropping results vs release(result), zero-copy input, ${sci(section.n)}`,
    );
    out.push('');
    out.push(releaseTable(section));
  }
  if (r.tinyTasks !== undefined) {
    const t = r.tinyTasks;
    out.push('');
    out.push(
      `## (c) ${t.tasks} tiny tasks (Float64Array of ${t.elements}, returns its sum), ${t.workers} workers`,
    );
    out.push('');
    out.push(
      `${t.rounds} rounds, peers interleaved (rotated order), after ${t.warmupTasks} warm-up tasks each. Throughput: all ${t.tasks} submitted at once, awaited together. Latency: one task at a time, each awaited before the next submit. The section runs in a node process of its own, started for it, as a program that submits tiny tasks would: run in the benchmark's process after (a), it measured shmex at 0.61–0.80× the floor in four runs of five, with shmex's side taking up to 38% more CPU per burst (bench/workloads/tiny-tasks.ts). ${disturbance(t)}`,
    );
    out.push('');
    out.push(tinyTable(t));
    out.push('', ...tinyRatioLines(t));
  }
  if (r.compute !== undefined) {
    const c = r.compute;
    out.push('');
    out.push(
      `## (d) compute-bound kernel over ${sci(c.n)} float64: y[i] = sin(x) · exp(−x²) + sqrt(|x|), split in 2 halves over 2 workers`,
    );
    out.push('');
    out.push(disturbance(c));
    out.push('');
    out.push(computeTable(c));
    const [alone, two] = c.ceiling;
    if (alone?.steady !== undefined && two?.steady !== undefined) {
      out.push('');
      out.push(
        `Ceiling of this machine: the same arithmetic with no arrays at all (kernelSpin) takes ${ms(alone.steady.median)} ms in-process and ${ms(two.steady.median)} ms as 2 halves in 2 fork children at once (min–max ${ms(two.steady.min)}–${ms(two.steady.max)}): **2 CPU-bound processes run ${(alone.steady.median / two.steady.median).toFixed(2)}× as fast as 1 here** (ideally 2×). No split above can beat that. Checks: ${checksCell(alone)}, ${checksCell(two)}.`,
      );
    }
  }
  out.push(...caseSections(r));
  if (r.cluster !== undefined) out.push(...clusterLines(r.cluster));
  out.push('');
  return out.join('\n');
}

function noteLines(rows: Array<{ label: string; note?: string }>): string[] {
  const notes = rows.filter((v) => v.note !== undefined).map((v) => `- *${v.label}*: ${v.note}`);
  return notes.length > 0 ? ['', ...notes] : [];
}

/** Sections (e) to (h). */
function caseSections(r: Results): string[] {
  const out: string[] = [];
  const speedup = (m: number, base: number) => base / m;
  if (r.views !== undefined) {
    const v = r.views;
    out.push(
      '',
      `## (e) 10-element views of a ${sci(v.n)} float64 array (${v.arrayMB} MB): subarray vs slice, round-trip latency`,
      '',
      `Arguments: \`submit(sum, big.subarray(k, k + 10))\` against \`submit(sum, big.slice(k, k + 10))\`, big a heap array in this process. Results: a task returning a 10-element \`subarray\` of a big array the worker made, against one returning a \`slice\` of it. One call of each per round, ${v.variants[0]?.steady?.n ?? 0} rounds, interleaved (rotated order), with a garbage collection before each call (outside the timing) so that one row's dropped 160 MB results are not freed during the next row's call. ${disturbance(v)}`,
      '',
      interleavedTable(v.variants, 'arg-slice', '× argument slice', (m, base) => m / base, false),
      ...noteLines(v.variants),
    );
  }
  if (r.reduction !== undefined) {
    const f = r.reduction;
    out.push(
      '',
      `## (f) sum of ${sci(f.n)} float64 (${f.arrayMB} MB) in ${f.chunks} subarray chunks through ex.map, 2 workers`,
      '',
      `One call of each per round, interleaved (rotated order). The /dev/shm column is the peak growth of the space used in /dev/shm during the warm-up calls (statfs every ~1 ms in a worker thread), above what was in use before (the from() array itself is not counted). ${disturbance(f)}`,
      '',
      interleavedTable(f.variants, 'in-process', 'speedup (in-process / row)', speedup, true),
      ...noteLines(f.variants),
    );
  }
  if (r.strips !== undefined) {
    const g = r.strips;
    out.push(
      '',
      `## (g) ${g.width}×${g.height} RGBA image (${g.imageMB} MB) in ${g.strips} strips: grayscale then 3×3 box blur`,
      '',
      `Each task gets its strip with one halo row above and below (where the image has one) and returns the strip's blurred grayscale Uint8Array; the result is checked byte for byte (a digest) against the whole image done in-process. One call of each per round, interleaved (rotated order) after warm-up calls interleaved the same way, with a garbage collection and then an untimed call of the same row before each timed call (outside the timing): one row's dead arrays (32 MB from the in-process call, 64 MB of slices) are not collected during the next row's call, and each timed call pays for collecting what its own row's previous call left, as a caller's loop does. ${disturbance(g)}`,
      '',
      interleavedTable(g.variants, 'in-process', 'speedup (in-process / row)', speedup, false),
      ...noteLines(g.variants),
    );
  }
  if (r.burst !== undefined) {
    const b = r.burst;
    out.push(
      '',
      `## (h) submit burst: ${b.count} × submit(sum, x) with x a heap Float64Array of ${sci(b.n)} (${b.arrayMB} MB), then all awaited`,
      '',
      `${b.rounds.length} rounds on one pool of 2 workers. The loop's time is how long it blocks the event loop; the max delay comes from perf_hooks.monitorEventLoopDelay (1 ms resolution) over the whole burst; /dev/shm growth is sampled every ~1 ms (statfs). Checks: ${checksCell(b)}. ${disturbance(b)}`,
      '',
      burstTable(b),
    );
  }
  return out;
}

export function writeReport(r: Results): { md: string; json: string; svg?: string } {
  const only = r.sections === undefined ? '' : `-only-${r.sections.join('-')}`;
  const suffix = `${only}${r.mode === 'quick' ? '-quick' : ''}`;
  const md = new URL(`../results${suffix}.md`, import.meta.url);
  const json = new URL(`../results${suffix}.json`, import.meta.url);
  writeFileSync(md, toMarkdown(r));
  writeFileSync(json, `${JSON.stringify(r, null, 2)}\n`);
  const first = r.bigArrays[0];
  // The chart is made from section (a) of a full suite only (the README shows it).
  const chart = first === undefined || only !== '' ? undefined : ratioChart(first);
  if (chart === undefined) return { md: md.pathname, json: json.pathname };
  const svg = new URL(`../results${suffix}.svg`, import.meta.url);
  writeFileSync(svg, chart);
  return { md: md.pathname, json: json.pathname, svg: svg.pathname };
}
