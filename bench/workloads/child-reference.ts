// Part of (a)/(b): addOne timed inside a separate plain node process, with
// glibc's default malloc and with the tunables that keep faulted memory for
// reuse and back malloc with transparent huge pages: the physical floor of
// the task when the allocator keeps its pages (no transfer at all).
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Checks } from '../lib/check.js';
import type { VariantResult } from '../lib/measure.js';
import { fmtMs, progress } from '../lib/progress.js';
import { summarize } from '../lib/stats.js';

const CHILD = fileURLToPath(new URL('../workers/addone-child.mjs', import.meta.url));

export const TUNED_MALLOC =
  'glibc.malloc.hugetlb=1:glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=4294967295';

export const CHILD_REFERENCE_VARIANTS = ['child-default-malloc', 'child-tuned-malloc'] as const;

interface ChildReport {
  samplesMs: number[];
  length: number;
  first: number;
  last: number;
  sum: number;
}

async function runChild(
  prefix: string,
  id: string,
  label: string,
  note: string,
  tunables: string | undefined,
  n: number,
  plan: { warmupCalls: number; timedCalls: number },
  expected: { first: number; last: number; sum: number },
  checks: Checks,
): Promise<VariantResult> {
  const out: VariantResult = { id, label, note, samplesMs: [], checksPassed: 0, failures: [] };
  progress.step(`${prefix} ${label}:`);
  const env = { ...process.env };
  delete env.GLIBC_TUNABLES;
  if (tunables !== undefined) env.GLIBC_TUNABLES = tunables;
  try {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [CHILD, String(n), String(plan.warmupCalls), String(plan.timedCalls)],
      { env, maxBuffer: 1 << 20 },
    );
    const report = JSON.parse(stdout) as ChildReport;
    const problem =
      report.length !== n
        ? `length ${report.length}, expected ${n}`
        : report.first !== expected.first || report.last !== expected.last || report.sum !== expected.sum
          ? `first/last/sum ${report.first}/${report.last}/${report.sum}, expected ${expected.first}/${expected.last}/${expected.sum}`
          : undefined;
    if (checks.expect(problem === undefined, `${prefix} ${id}: ${problem}`)) out.checksPassed++;
    else out.failures.push(String(problem));
    out.samplesMs = report.samplesMs;
    out.steady = summarize(report.samplesMs);
    progress.done(`median ${fmtMs(out.steady.median)} ms (${out.steady.n} runs, timed in the child)`);
  } catch (error) {
    const message = `threw: ${(error as Error)?.stack ?? String(error)}`;
    checks.expect(false, `${prefix} ${id}: ${message}`);
    out.failures.push(message);
    progress.done('FAILED');
  }
  return out;
}

export async function runChildReferences(
  prefix: string,
  n: number,
  plan: { warmupCalls: number; timedCalls: number },
  expected: { first: number; last: number; sum: number },
  checks: Checks,
): Promise<VariantResult[]> {
  const note = 'addOne timed inside a separate plain node process (no pool, nothing transferred)';
  return [
    await runChild(
      prefix,
      'child-default-malloc',
      'in a plain child process, glibc malloc defaults (reference)',
      note,
      undefined,
      n,
      plan,
      expected,
      checks,
    ),
    await runChild(
      prefix,
      'child-tuned-malloc',
      'in a plain child process, GLIBC_TUNABLES hugetlb=1, mmap_max=0, trim_threshold=4294967295 (reference)',
      `${note}; GLIBC_TUNABLES=${TUNED_MALLOC}: freed memory is kept and reused, malloc uses transparent huge pages`,
      TUNED_MALLOC,
      n,
      plan,
      expected,
      checks,
    ),
  ];
}
